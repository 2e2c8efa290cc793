//! A change costs what changed: after a commit each process brings its snapshot
//! forward by the store's change log instead of reading every item again, and what
//! it serves is what a process that read everything serves, byte for byte.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::Value;

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(
    a_few_changed_records_are_brought_forward_and_served_as_a_rebuild_serves_them,
    a_process_the_change_log_no_longer_covers_reads_everything,
    a_restart_serves_from_its_snapshot_file_brought_forward,
);

/// The generated feed with base events `renamed` retitled and the first offline one
/// put on sale online.
fn changed_feed(feed: &[u8], renamed: &[u32]) -> Vec<u8> {
    let mut text = String::from_utf8(feed.to_vec()).unwrap();
    for base in renamed {
        text = text.replace(&format!("#{base} &amp;"), &format!("#{base} renamed &amp;"));
    }
    text.replacen("sell_mode=\"offline\"", "sell_mode=\"online\"", 1)
        .into_bytes()
}

async fn read_model(app: &TestApp) -> Value {
    let (status, body) = app.get("/ready").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"]["read_model"].clone()
}

/// `/search?{query}` as sent with `Accept-Encoding: {coding}`: status, coding, ETag
/// and body bytes.
async fn raw_search(app: &TestApp, query: &str, coding: &str) -> (u16, String, String, Vec<u8>) {
    let response = app
        .client
        .get(format!("{}/search?{query}", app.address))
        .header("accept-encoding", coding)
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (status, encoding, etag) = (
        response.status().as_u16(),
        header("content-encoding"),
        header("etag"),
    );
    (status, encoding, etag, response.bytes().await.unwrap().to_vec())
}

fn count(events: &[Value], needle: &str) -> usize {
    titles(events)
        .iter()
        .filter(|title| title.contains(needle))
        .count()
}

async fn a_few_changed_records_are_brought_forward_and_served_as_a_rebuild_serves_them(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let original = generated_feed(60, 3, 2);
    let feed = MockProvider::start(MockResponse::ok(original.clone())).await;
    let a = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    let (status, report) = a.sync().await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let before = a.search("").await;
    let renamed = [10_003, 10_017, 10_042];
    let to_rename: usize = renamed
        .iter()
        .map(|base| count(&before, &format!("#{base} ")))
        .sum();
    assert!(to_rename > 0, "the renamed base events are on sale");
    let updates = read_model(&a).await;

    feed.serve(MockResponse::ok(changed_feed(&original, &renamed)));
    let (status, report) = a.sync().await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert!(report["updated"].as_u64().unwrap() < 20, "{report}");
    // Served by the syncing process when its admin call answers.
    let after = a.search("").await;
    let renamed_now: usize = renamed
        .iter()
        .map(|base| count(&after, &format!("#{base} ")))
        .sum();
    assert_eq!(
        count(&after, " renamed "),
        renamed_now,
        "every session of a renamed event"
    );
    assert!(renamed_now >= to_rename);
    assert!(after.len() > before.len(), "the base event put on sale joined");
    let now = read_model(&a).await;
    assert_eq!(now["rebuilds"], updates["rebuilds"], "{now}");
    assert!(
        now["brought_forward"].as_u64() > updates["brought_forward"].as_u64(),
        "{now}"
    );
    assert!(now["delta_items"].as_u64().unwrap() > 0, "{now}");

    // A process that reads everything serves the same bytes, plain and compressed.
    let b = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    let queries = [
        "",
        SCENARIO_WINDOW,
        "starts_at=2022-01-01T00:00:00Z&ends_at=2022-06-30T00:00:00Z",
        "limit=7",
    ];
    for query in queries {
        for coding in ["identity", "gzip", "br"] {
            let served = raw_search(&a, query, coding).await;
            assert_eq!(served.0, 200, "{query} {coding}");
            if coding != "identity" {
                assert_eq!(served.1, coding, "{query}: compressed as asked");
            }
            assert_eq!(served, raw_search(&b, query, coding).await, "{query} {coding}");
        }
    }

    // A retirement through the other process reaches this one as a change too.
    let retired = b
        .client
        .delete(format!("{}/admin/providers/fever/items", b.address))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(retired.status(), StatusCode::OK);
    let started = Instant::now();
    while !a.search("").await.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "a never saw the retirement"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let last = read_model(&a).await;
    assert_eq!(last["rebuilds"], updates["rebuilds"], "{last}");
    a.stop().await;
    b.stop().await;
    db.drop_now().await;
}

async fn a_process_the_change_log_no_longer_covers_reads_everything(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let original = generated_feed(20, 2, 1);
    let feed = MockProvider::start(MockResponse::ok(original.clone())).await;
    let a = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    let (status, _) = a.sync().await;
    assert_eq!(status, StatusCode::OK);
    let updates = read_model(&a).await;

    // As if this process had missed versions the log no longer keeps.
    let connection = sea_orm::Database::connect(db.url.as_str()).await.unwrap();
    for sql in [
        "DELETE FROM store_commits",
        "UPDATE store_state SET data_version = data_version + 5",
    ] {
        sea_orm::ConnectionTrait::execute_unprepared(&connection, sql)
            .await
            .unwrap();
    }
    feed.serve(MockResponse::ok(changed_feed(&original, &[10_001, 10_002])));
    let (status, report) = a.sync().await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let now = read_model(&a).await;
    assert_eq!(
        now["rebuilds"].as_u64(),
        updates["rebuilds"].as_u64().map(|n| n + 1),
        "{now}"
    );
    assert!(count(&a.search("").await, " renamed ") > 0);
    connection.close().await.unwrap();
    a.stop().await;
    db.drop_now().await;
}

async fn a_restart_serves_from_its_snapshot_file_brought_forward(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("read-model.snapshot");
    let original = generated_feed(30, 2, 1);
    let feed = MockProvider::start(MockResponse::ok(original.clone())).await;
    let options = || {
        let mut options = AppOptions::manual(&feed.url);
        options.server_toml = format!("snapshot_file = {:?}", file.display().to_string());
        options
    };
    let a = TestApp::spawn(&db.url, options()).await;
    let (status, _) = a.sync().await;
    assert_eq!(status, StatusCode::OK);
    let served = raw_search(&a, "", "identity").await;
    a.stop().await;
    assert!(file.exists(), "written at shutdown");

    // Read from the file: the same bytes, and nothing read from the store whole.
    let b = TestApp::spawn(&db.url, options()).await;
    let updates = read_model(&b).await;
    assert_eq!(updates["rebuilds"], 0, "{updates}");
    assert_eq!(raw_search(&b, "", "identity").await, served);

    // A change committed while it is down is brought forward at its next start.
    feed.serve(MockResponse::ok(changed_feed(&original, &[10_001, 10_004])));
    let (status, _) = b.sync().await;
    assert_eq!(status, StatusCode::OK);
    std::fs::copy(&file, dir.path().join("before-the-change")).unwrap();
    let changed = raw_search(&b, "", "identity").await;
    b.stop().await;
    std::fs::rename(dir.path().join("before-the-change"), &file).unwrap();
    let c = TestApp::spawn(&db.url, options()).await;
    let updates = read_model(&c).await;
    assert_eq!(updates["rebuilds"], 0, "{updates}");
    assert_eq!(updates["brought_forward"], 1, "{updates}");
    assert_eq!(raw_search(&c, "", "identity").await, changed);
    c.stop().await;

    // A damaged file is ignored: the store is read instead.
    std::fs::write(&file, b"not a snapshot").unwrap();
    let d = TestApp::spawn(&db.url, options()).await;
    assert_eq!(read_model(&d).await["rebuilds"], 1);
    assert_eq!(raw_search(&d, "", "identity").await, changed);
    d.stop().await;
    db.drop_now().await;
}
