//! `boxoffice preview`: an instance's pages fetched and mapped as a sync would, as a
//! newcomer runs it while writing a configuration: what would be served, every
//! rejection, the pages and why paging stopped; nothing stored, no secret printed.

use serde_json::{Value, json};

use crate::helpers::MockResponse;
use crate::json_provider::{acme_tables, json_fixture};

/// A config file of the acme instance on `url`, its key in a file: the file's path.
fn config(dir: &std::path::Path, url: &str) -> String {
    let key_file = dir.join("key");
    std::fs::write(&key_file, "preview-secret-key").unwrap();
    let path = dir.join("config.toml");
    let text = format!(
        "[database]\nurl = \"sqlite://{}/never.db?mode=rwc\"\n{}",
        dir.display(),
        acme_tables(url, &key_file)
    );
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

/// The second page: one good record, one with an impossible date.
fn second_page() -> MockResponse {
    MockResponse::json(
        json!({"shows": [
            {"show_id": 600, "name": "Good", "starts": "2026-12-10T20:00:00", "online": true},
            {"show_id": 601, "name": "Broken", "starts": "2026-02-30T20:00:00", "online": true},
        ], "next": null})
        .to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_shows_what_would_be_served_and_stores_nothing() {
    let api = boxoffice_testkit::MockFeedServer::start().await;
    api.serve(
        "/v1/shows?page=1",
        MockResponse::json(json_fixture("shows_page_1.json")),
    );
    api.serve("/v1/shows?page=2", second_page());
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &api.url("/v1/shows?page=1"));

    let text = crate::process::run(
        &[
            "--config",
            &config,
            "preview",
            "--provider",
            "acme",
            "--limit",
            "2",
        ],
        &[],
        dir.path(),
    );
    let stdout = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(
        text.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&text.stderr)
    );
    for expected in [
        "Preview of acme (kind json): 2 page(s)",
        "Records (the first 2 of",
        "Los Morancos",
        "Rejections (1 in all):",
        "\"2026-02-30T20:00:00\"",
        "paging stopped: the next link (/next) is absent or null",
        "/v1/shows?…",
    ] {
        assert!(stdout.contains(expected), "{expected:?} is not in:\n{stdout}");
    }
    assert!(
        !stdout.contains("preview-secret-key") && !stdout.contains("page=1"),
        "{stdout}"
    );
    assert!(
        !dir.path().join("never.db").exists(),
        "a preview touched the store"
    );

    let printed = crate::process::run(
        &["--config", &config, "preview", "--provider", "acme", "--json"],
        &[],
        dir.path(),
    );
    let preview: Value = serde_json::from_slice(&printed.stdout).unwrap();
    assert_eq!(
        (
            &preview["rejected"],
            preview["pages"].as_array().map(Vec::len),
            &preview["error"]
        ),
        (&json!(1), Some(2), &Value::Null),
        "{preview}"
    );
    let good = preview["shown"]
        .as_array()
        .and_then(|shown| shown.iter().find(|s| s["title"] == "Good").cloned())
        .unwrap_or_default();
    assert_eq!(
        (
            &good["start_date"],
            &good["start_time"],
            &good["starts_at"],
            &good["online"]
        ),
        (
            &json!("2026-12-10"),
            &json!("20:00:00"),
            &json!("2026-12-10T19:00:00+00:00"),
            &json!(true)
        ),
        "{preview}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_of_a_run_that_would_fail_says_where_and_exits_non_zero() {
    let api = boxoffice_testkit::MockFeedServer::start().await;
    api.serve(
        "/v1/shows?page=1",
        MockResponse::json(json_fixture("shows_page_1.json")),
    );
    api.serve("/v1/shows?page=2", MockResponse::status(503));
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &api.url("/v1/shows?page=1"));
    let output = crate::process::run(
        &["--config", &config, "preview", "--provider", "acme"],
        &[],
        dir.path(),
    );
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(!output.status.success(), "{stdout}");
    assert!(
        stdout.contains("the run failed:") && stdout.contains("page 2") && stdout.contains("503"),
        "{stdout}"
    );
    let missing = crate::process::run(
        &["--config", &config, "preview", "--provider", "nope"],
        &[],
        dir.path(),
    );
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no provider instance is named \"nope\""));
}
