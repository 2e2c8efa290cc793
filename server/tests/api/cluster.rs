//! Several `boxoffice` processes on one PostgreSQL behave as one service.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use boxoffice_server::store::{SeaOrmStore, StoreOptions};

use crate::helpers::*;

/// Polls `check` every 50 ms until it holds or `within` passes.
async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < within {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_through_one_instance_is_served_by_the_other_within_two_seconds() {
    crate::skip_without_postgres!();
    let db = TestDatabase::create(Backend::Postgres).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let a = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    let b = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    assert!(b.search("").await.is_empty());

    let (status, _) = a.sync().await;
    assert_eq!(status, StatusCode::OK);
    let synced = Instant::now();
    assert!(
        eventually(Duration::from_secs(2), || async {
            b.search(SCENARIO_WINDOW).await.len() == 3
        })
        .await
    );
    let seen_after = synced.elapsed();
    assert!(seen_after < Duration::from_secs(2), "{seen_after:?}");
    assert_eq!(a.search(SCENARIO_WINDOW).await, b.search(SCENARIO_WINDOW).await);
    a.stop().await;
    b.stop().await;
    db.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_instance_learns_of_a_commit_by_notification_not_by_its_poll() {
    crate::skip_without_postgres!();
    let db = TestDatabase::create(Backend::Postgres).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    // Polls an hour apart: only the notification can tell b in time.
    let quiet = || {
        let mut config = config_for(&db.url, &AppOptions::manual(&feed.url));
        config.database.poll_interval = Duration::from_secs(3600);
        config
    };
    let a = TestApp::spawn_config(quiet()).await;
    let b = TestApp::spawn_config(quiet()).await;
    assert!(b.search(SCENARIO_WINDOW).await.is_empty());
    // b's listener connects after it started serving: give it the moment it takes.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (status, _) = a.sync().await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        eventually(Duration::from_secs(30), || async {
            b.search(SCENARIO_WINDOW).await.len() == 3
        })
        .await,
        "b never saw a's commit"
    );
    let retired = b
        .client
        .delete(format!("{}/admin/providers/fever/items", b.address))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(retired.status(), StatusCode::OK);
    assert!(
        eventually(Duration::from_secs(30), || async {
            a.search(SCENARIO_WINDOW).await.is_empty()
        })
        .await,
        "a never saw b's retirement"
    );
    a.stop().await;
    b.stop().await;
    db.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_one_instance_syncs_a_provider_at_a_time() {
    crate::skip_without_postgres!();
    let db = TestDatabase::create(Backend::Postgres).await;
    let feed = MockProvider::start(MockResponse {
        delay: Duration::from_millis(1500),
        ..MockResponse::ok(fixture("response_1.xml"))
    })
    .await;
    let a = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    let b = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    let first = a.sync_with(Some(ADMIN_TOKEN));
    let second = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        b.sync_with(Some(ADMIN_TOKEN)).await
    };
    let ((first, _), (second, body)) = tokio::join!(first, second);
    assert_eq!(first, StatusCode::OK);
    assert_eq!(second, StatusCode::CONFLICT, "{body}");
    assert_eq!(feed.hits(), 1, "the second instance never fetched");
    a.stop().await;
    b.stop().await;
    db.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_run_by_two_instances_at_once_do_not_collide() {
    crate::skip_without_postgres!();
    let db = TestDatabase::create(Backend::Postgres).await;
    let migrate = || async {
        let store = SeaOrmStore::connect(&db.url, &StoreOptions::default()).await?;
        store.migrate().await
    };
    let (first, second, third) = tokio::join!(migrate(), migrate(), migrate());
    assert!(
        first.is_ok() && second.is_ok() && third.is_ok(),
        "{first:?} {second:?} {third:?}"
    );
    db.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_syncing_instance_is_killed_another_takes_over() {
    crate::skip_without_postgres!();
    let db = TestDatabase::create(Backend::Postgres).await;
    // The provider hangs: the first instance is mid-run, holding the provider's lock.
    let feed = MockProvider::start(MockResponse {
        delay: Duration::from_secs(30),
        ..MockResponse::ok(fixture("response_1.xml"))
    })
    .await;
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\naddr = \"127.0.0.1:{port}\"\n[database]\nurl = \"{}\"\n[admin]\ntoken = \"{ADMIN_TOKEN}\"\n\
             [providers.fever]\nkind = \"fever-xml\"\nenabled = false\nurl = \"{}\"\ntimeout = \"60s\"\n",
            db.url, feed.url
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_boxoffice"))
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    assert!(
        eventually(Duration::from_secs(20), || async {
            client.get(format!("{base}/health")).send().await.is_ok()
        })
        .await,
        "the child instance did not start"
    );
    let syncing = tokio::spawn({
        let client = client.clone();
        async move {
            let _ = client
                .post(format!("{base}/admin/providers/fever/sync"))
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await;
        }
    });
    assert!(eventually(Duration::from_secs(10), || async { feed.hits() == 1 }).await);

    let b = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    feed.serve_fixture("response_1.xml");
    let (status, _) = b.sync_with(Some(ADMIN_TOKEN)).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "the first instance still holds the sync"
    );

    child.kill().unwrap();
    let _ = child.wait();
    syncing.abort();
    let started = Instant::now();
    let mut last = StatusCode::IM_A_TEAPOT;
    while started.elapsed() < Duration::from_secs(10) && last != StatusCode::OK {
        last = b.sync_with(Some(ADMIN_TOKEN)).await.0;
        if last != StatusCode::OK {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert_eq!(last, StatusCode::OK, "the surviving instance could not sync");
    assert_eq!(b.search(SCENARIO_WINDOW).await.len(), 3);
    b.stop().await;
    db.drop_now().await;
}
