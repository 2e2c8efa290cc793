//! Faults from providers, and the operations that deal with them: retries, the
//! circuit breaker, the quarantine, runtime switches and replay.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn admin_get(app: &TestApp, path: &str) -> (StatusCode, Value) {
    app.admin(reqwest::Method::GET, path, None).await
}

async fn admin_patch(app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    app.admin(reqwest::Method::PATCH, path, Some(body)).await
}

fn unavailable(retry_after: Option<&str>) -> MockResponse {
    MockResponse {
        status: StatusCode::SERVICE_UNAVAILABLE,
        headers: retry_after
            .map(|value| vec![("retry-after".to_owned(), value.to_owned())])
            .unwrap_or_default(),
        ..MockResponse::ok(b"busy".to_vec())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_within_the_run() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let feed = MockProvider::start(unavailable(None)).await;
    feed.serve_sequence(vec![
        unavailable(None),
        unavailable(Some("1")),
        MockResponse::ok(fixture("response_1.xml")),
    ]);
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    let started = std::time::Instant::now();
    let (status, report) = app.sync().await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["attempts"], 3);
    assert_eq!(report["inserted"], 3);
    assert_eq!(feed.hits(), 3);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was not honoured"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4xx_is_not_retried() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let feed = MockProvider::start(MockResponse {
        status: StatusCode::NOT_FOUND,
        ..MockResponse::ok(Vec::new())
    })
    .await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    let (status, body) = app.sync_with(Some(ADMIN_TOKEN)).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body["data"]["report"]["attempts"], 1);
    assert_eq!(feed.hits(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consecutive_failures_open_the_circuit_breaker() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let feed = MockProvider::start(MockResponse {
        status: StatusCode::NOT_FOUND,
        ..MockResponse::ok(Vec::new())
    })
    .await;
    let options = AppOptions {
        extra_toml: "breaker_threshold = 2\nbreaker_cooldown = \"1h\"\n".into(),
        ..AppOptions::manual(&feed.url)
    };
    let app = TestApp::spawn(&db.url, options).await;
    app.sync_with(Some(ADMIN_TOKEN)).await;
    let (_, body) = admin_get(&app, "/admin/providers").await;
    assert_eq!(body["data"]["providers"][0]["circuit"], "closed");
    app.sync_with(Some(ADMIN_TOKEN)).await;
    let (_, body) = admin_get(&app, "/admin/providers").await;
    let fever = &body["data"]["providers"][0];
    assert_eq!(fever["circuit"], "open");
    assert_eq!(fever["consecutive_failures"], 2);
    // A success closes it.
    feed.serve_fixture("response_1.xml");
    let (status, _) = app.sync().await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = admin_get(&app, "/admin/providers").await;
    assert_eq!(body["data"]["providers"][0]["circuit"], "closed");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_records_go_to_the_quarantine_with_their_raw_element() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_2.xml"))).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    let (status, report) = app.sync().await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(report["status"], "partial");
    let (status, body) = admin_get(&app, "/admin/providers/fever/rejects").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rejects = body["data"]["rejects"].as_array().cloned().unwrap_or_default();
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0]["run_id"], report["run_id"]);
    assert!(
        rejects[0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("2021-09-31")
    );
    assert!(
        rejects[0]["raw"]
            .as_str()
            .unwrap_or_default()
            .contains("base_event_id=\"444\""),
        "{}",
        rejects[0]
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtime_switch_survives_a_restart_and_wins_over_the_config() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let enabled = || AppOptions {
        enabled: true,
        ..AppOptions::manual(&feed.url)
    };
    let app = TestApp::spawn(&db.url, enabled()).await;
    let (status, body) = admin_patch(&app, "/admin/providers/fever", json!({"enabled": false})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["provider"]["enabled"], false);
    let (status, _) = admin_patch(&app, "/admin/providers/fever", json!({"enabled": "no"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = admin_patch(&app, "/admin/providers/nope", json!({"enabled": false})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;

    // The config says enabled; the stored switch says no: no start-up sync.
    let hits = feed.hits();
    let app = TestApp::spawn(&db.url, enabled()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(feed.hits(), hits, "a switched-off provider synced at start-up");
    let (_, body) = admin_get(&app, "/admin/providers").await;
    assert_eq!(body["data"]["providers"][0]["enabled"], false);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_never_change_the_store_and_say_what_happened() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let options = AppOptions {
        extra_toml: "retries = 0\nmax_feed_bytes = 100000\n".into(),
        ..AppOptions::manual(&feed.url)
    };
    let app = TestApp::spawn(&db.url, options).await;
    app.sync().await;
    let before = app.search("").await;
    let full = fixture("response_2.xml");
    let billion_laughs = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><eventList><output>&lol2;</output></eventList>"#;
    let cases: Vec<(&str, MockResponse, &str)> = vec![
        ("5xx", unavailable(None), "503"),
        (
            "truncated",
            MockResponse::ok(full[..full.len() / 2].to_vec()),
            "malformed",
        ),
        (
            "garbage",
            MockResponse::ok(b"\x00\x01garbage{}".to_vec()),
            "malformed",
        ),
        (
            "invalid utf-8",
            MockResponse::ok(
                b"<eventList><output><base_event title=\"\xff\xfe\"/></output></eventList>".to_vec(),
            ),
            "malformed",
        ),
        (
            "billion laughs",
            MockResponse::ok(billion_laughs.to_vec()),
            "DOCTYPE",
        ),
        (
            "over max_feed_bytes",
            MockResponse::ok(vec![b' '; 200_000]),
            "larger than",
        ),
        (
            "hang past the timeout",
            MockResponse {
                delay: Duration::from_secs(4),
                ..MockResponse::ok(fixture("response_2.xml"))
            },
            "timed out",
        ),
    ];
    for (name, response, needle) in cases {
        feed.serve(response);
        let (status, body) = app.sync_with(Some(ADMIN_TOKEN)).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{name}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{name}: {message}");
        assert_eq!(body["data"]["report"]["status"], "failed", "{name}");
        assert_eq!(app.search("").await, before, "{name} changed what is served");
    }
    // Connection refused.
    let app2 = TestApp::spawn(
        &db.url,
        AppOptions {
            extra_toml: "retries = 0\n".into(),
            ..AppOptions::manual("http://127.0.0.1:9/feed")
        },
    )
    .await;
    let (status, body) = app2.sync_with(Some(ADMIN_TOKEN)).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("connect"),
        "{body}"
    );
    assert_eq!(app2.search("").await, before);
    // An empty feed is a success that changes nothing.
    feed.serve(MockResponse::ok(b"<eventList><output/></eventList>".to_vec()));
    let (status, report) = app.sync().await;
    assert_eq!((status, report["seen"].as_u64()), (StatusCode::OK, Some(0)));
    assert_eq!(app.search("").await, before);
    app.stop().await;
    app2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_cancels_a_running_sync_without_a_partial_commit() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let feed = MockProvider::start(MockResponse {
        delay: Duration::from_secs(5),
        ..MockResponse::ok(fixture("response_1.xml"))
    })
    .await;
    let app = TestApp::spawn(
        &db.url,
        AppOptions {
            enabled: true,
            ..AppOptions::manual(&feed.url)
        },
    )
    .await;
    // The start-up sync is waiting on the provider.
    let started = std::time::Instant::now();
    while feed.hits() == 0 && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(feed.hits(), 1);
    let stopping = std::time::Instant::now();
    app.stop().await;
    assert!(
        stopping.elapsed() < Duration::from_secs(3),
        "shutdown waited for the sync: {:?}",
        stopping.elapsed()
    );
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    assert!(
        app.search("").await.is_empty(),
        "a cancelled sync committed something"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_store_is_lost_ready_says_so_and_search_keeps_serving() {
    crate::skip_without_postgres!();
    let db = TestDatabase::create(Backend::Postgres).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    app.sync().await;
    let before = app.search(SCENARIO_WINDOW).await;
    assert_eq!(before.len(), 3);
    // The database disappears under the running service.
    db.drop_now().await;
    let (status, body) = app.get("/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "unavailable");
    assert_eq!(app.search(SCENARIO_WINDOW).await, before);
    let (status, _) = app.get("/health").await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}
