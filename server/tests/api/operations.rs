//! An operator's first week: run state that survives restarts and is the same in every
//! process, syncs that do not hold the call, retention of the history, retirement.

use std::time::Duration;

use axum::http::StatusCode;
use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(the_breaker_and_the_last_run_survive_a_restart);

async fn the_breaker_and_the_last_run_survive_a_restart(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let feed = MockProvider::start(MockResponse::status(404)).await;
    let options = || AppOptions {
        extra_toml: "breaker_threshold = 2\nbreaker_cooldown = \"1h\"\n".into(),
        ..AppOptions::manual(&feed.url)
    };
    let app = TestApp::spawn(&db.url, options()).await;
    app.sync().await;
    app.sync().await;
    app.stop().await;
    // A new process over the same store tells the same story.
    let app = TestApp::spawn(&db.url, options()).await;
    let (_, body) = app.admin(Method::GET, "/admin/providers", None).await;
    let fever = &body["data"]["providers"][0];
    assert_eq!(fever["circuit"], "open", "{body}");
    assert_eq!(fever["consecutive_failures"], 2);
    assert_eq!(fever["last_report"]["status"], "failed");
    assert_eq!(fever["running"], false);
    let page = app
        .client
        .get(format!("{}/status", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(">open<") && page.contains(">failed<"), "{page}");
    assert_eq!(
        page.matches("class=\"run failed\"").count(),
        2,
        "two runs in the chart"
    );
    let metrics = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("boxoffice_sync_circuit_state{provider=\"fever\"} 2"),
        "{metrics}"
    );
    app.stop().await;
    db.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_without_waiting_answers_202_and_is_followed_at_its_location() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let feed =
        MockProvider::start(MockResponse::ok(fixture("response_1.xml")).delay(Duration::from_millis(300)))
            .await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    let response = app
        .client
        .post(format!("{}/admin/providers/fever/sync?wait=false", app.address))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    let run_id = body["data"]["run_id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/admin/providers/fever/runs/{run_id}"));
    assert_eq!(body["data"]["status"], "running");
    let (status, first) = app.admin(Method::GET, &location, None).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(
        first["data"]["run"]["status"], "running",
        "the provider answers in 300 ms"
    );
    // The same instance is busy meanwhile.
    let (status, _) = app.sync_with(Some(ADMIN_TOKEN)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let mut finished = Value::Null;
    for _ in 0..100 {
        let (_, body) = app.admin(Method::GET, &location, None).await;
        if body["data"]["run"]["status"] != "running" {
            finished = body;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(finished["data"]["run"]["status"], "succeeded", "{finished}");
    assert_eq!(finished["data"]["run"]["inserted"], 3);
    let (status, _) = app
        .admin(
            Method::GET,
            "/admin/providers/fever/runs/6b0f4f3e-2d1c-4a5b-9e8f-7a6b5c4d3e2f",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = app
        .admin(Method::POST, "/admin/providers/fever/sync?wait=maybe", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_keeps_the_latest_runs_and_recent_rejects() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_2.xml"))).await;
    let options = AppOptions {
        extra_toml: String::new(),
        ..AppOptions::manual(&feed.url)
    };
    let mut config = config_for(&db.url, &options);
    config.retention.runs = 2;
    config.retention.rejects = Duration::from_secs(1);
    let app = TestApp::spawn_config(config).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (_, report) = app.sync().await;
        assert_eq!(report["status"], "partial", "{report}");
        ids.push(report["run_id"].as_str().unwrap().to_owned());
    }
    let (_, body) = app.admin(Method::GET, "/admin/providers/fever/runs", None).await;
    let kept: Vec<_> = body["data"]["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["run_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kept, [ids[2].clone(), ids[1].clone()]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, last) = app.sync().await;
    let (_, body) = app
        .admin(Method::GET, "/admin/providers/fever/rejects", None)
        .await;
    let rejects = body["data"]["rejects"].as_array().unwrap();
    assert!(!rejects.is_empty());
    assert!(
        rejects.iter().all(|reject| reject["run_id"] == last["run_id"]),
        "rejects older than retention.rejects were kept: {body}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retiring_an_instance_takes_its_items_out_of_search_and_counts_them() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    app.sync().await;
    assert_eq!(app.search(SCENARIO_WINDOW).await.len(), 3);
    let (status, body) = app
        .admin(Method::DELETE, "/admin/providers/fever/items", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["retired"], 3);
    assert_eq!(body["data"]["configured"], true);
    assert!(
        app.search(SCENARIO_WINDOW).await.is_empty(),
        "retired items are still served"
    );
    let (_, again) = app
        .admin(Method::DELETE, "/admin/providers/gone/items", None)
        .await;
    assert_eq!(
        (
            again["data"]["retired"].as_u64(),
            again["data"]["configured"].as_bool()
        ),
        (Some(0), Some(false))
    );
    let (status, _) = app
        .admin(Method::DELETE, "/admin/providers/Not%20A%20Name/items", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    app.stop().await;
}
