//! The admin API and its token.

use std::time::Duration;

use axum::http::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn admin_routes_need_the_configured_bearer_token() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;

    let (status, body) = app.sync_with(None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized");
    let (status, _) = app.sync_with(Some("wrong-token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(feed.hits(), 0, "a refused request never reaches the provider");
    let (status, _) = app.sync_with(Some(ADMIN_TOKEN)).await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = app.admin(reqwest::Method::GET, "/admin/providers", None).await;
    assert_eq!(status, StatusCode::OK);
    let fever = &body["data"]["providers"][0];
    assert_eq!(fever["name"], "fever");
    assert_eq!(fever["kind"], "fever-xml");
    assert_eq!(fever["enabled"], false);
    assert_eq!(fever["last_report"]["status"], "succeeded");

    let (_, body) = app
        .admin(reqwest::Method::GET, "/admin/providers/fever/runs?limit=5", None)
        .await;
    assert_eq!(body["data"]["runs"].as_array().map(Vec::len), Some(1));
    assert_eq!(body["data"]["runs"][0]["inserted"], 3);
    app.stop().await;
}

#[tokio::test]
async fn without_a_configured_token_the_admin_api_refuses_everyone() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let app = TestApp::spawn(
        &db.url,
        AppOptions {
            admin_token: None,
            ..AppOptions::manual(&feed.url)
        },
    )
    .await;
    for token in [None, Some(""), Some(ADMIN_TOKEN)] {
        let (status, body) = app.sync_with(token).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("admin.token")
        );
    }
    assert_eq!(feed.hits(), 0);
    app.stop().await;
}

#[tokio::test]
async fn syncing_an_unknown_provider_is_a_404() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual("http://127.0.0.1:9/feed")).await;
    let (status, _) = app
        .admin(reqwest::Method::POST, "/admin/providers/nope/sync", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sync_while_one_runs_is_a_409() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let feed = MockProvider::start(MockResponse {
        delay: Duration::from_millis(800),
        ..MockResponse::ok(fixture("response_1.xml"))
    })
    .await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    let first = app.sync_with(Some(ADMIN_TOKEN));
    let second = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        app.sync_with(Some(ADMIN_TOKEN)).await
    };
    let ((first, _), (second, body)) = tokio::join!(first, second);
    assert_eq!(first, StatusCode::OK);
    assert_eq!(second, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "conflict");
    app.stop().await;
}
