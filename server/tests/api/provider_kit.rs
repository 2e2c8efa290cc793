//! The provider kit through the whole server: conditional requests, compressed feeds
//! and per-instance headers whose values never show.

use axum::http::StatusCode;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_feed_answers_304_and_the_run_is_not_modified() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml")).gzip().etag("\"r1\"")).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    let (status, first) = app.sync().await;
    assert_eq!(
        (status, first["inserted"].as_u64()),
        (StatusCode::OK, Some(3)),
        "{first}"
    );
    let served = app.search(SCENARIO_WINDOW).await;
    let (status, second) = app.sync().await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["not_modified"], true, "{second}");
    assert_eq!(second["status"], "succeeded");
    assert_eq!(
        (second["inserted"].as_u64(), second["unchanged"].as_u64()),
        (Some(0), Some(3))
    );
    let sent = &feed.requests()[1].headers;
    assert_eq!(sent["if-none-match"], "\"r1\"");
    assert_eq!(
        app.search(SCENARIO_WINDOW).await,
        served,
        "a 304 changes nothing served"
    );
    let (_, runs) = app
        .admin(reqwest::Method::GET, "/admin/providers/fever/runs", None)
        .await;
    assert_eq!(runs["data"]["runs"][0]["not_modified"], true, "{runs}");
    // A changed document is fetched and stored again.
    feed.serve(MockResponse::ok(fixture("response_2.xml")).etag("\"r2\""));
    let (_, third) = app.sync().await;
    assert_eq!(third["not_modified"], serde_json::Value::Null, "{third}");
    assert!(third["updated"].as_u64().unwrap_or_default() > 0, "{third}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_secrets_are_sent_and_never_shown() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let feed = MockProvider::start(MockResponse::status(401)).await;
    let options = AppOptions {
        extra_toml: "retries = 0\n[providers.fever.headers]\nX-Api-Key = \"s3cret-value\"\n".into(),
        ..AppOptions::manual(&feed.url)
    };
    let app = TestApp::spawn(&db.url, options).await;
    let (status, body) = app.sync_with(Some(ADMIN_TOKEN)).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(feed.requests()[0].headers["x-api-key"], "s3cret-value");
    let mut shown = body.to_string();
    for path in ["/admin/providers", "/admin/providers/fever/runs"] {
        shown.push_str(&app.admin(reqwest::Method::GET, path, None).await.1.to_string());
    }
    let status_page = app
        .client
        .get(format!("{}/status", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    shown.push_str(&status_page);
    assert!(shown.contains("HTTP 401"), "the failure is told: {shown}");
    assert!(!shown.contains("s3cret"), "a secret was shown: {shown}");
    app.stop().await;
}
