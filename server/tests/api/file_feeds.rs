//! Feeds from local files, on every kind: a `file:` address relative to the
//! configuration file (or absolute) read through the same limits, parsing and reports
//! as a fetch; an unchanged file ends the run as "not modified"; a missing one fails
//! the run, saying which, and loses nothing.

use axum::http::StatusCode;
use boxoffice_server::Config;

use crate::helpers::{ADMIN_TOKEN, TestApp, fixture};

fn ical_fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../providers/ical/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_feeds_of_every_kind_unchanged_ones_not_modified_missing_ones_failing() {
    let dir = tempfile::tempdir().unwrap();
    let feeds = dir.path().join("feeds");
    std::fs::create_dir(&feeds).unwrap();
    std::fs::write(feeds.join("fever.xml"), fixture("response_1.xml")).unwrap();
    std::fs::write(
        feeds.join("agenda.ics"),
        ical_fixture("single_events_in_every_time_form.ics"),
    )
    .unwrap();
    let shows = feeds.join("shows.json");
    std::fs::write(
        &shows,
        r#"{"shows": [{"id": 1, "name": "Uno", "at": "2026-12-01T20:00:00"}, {"id": 2, "name": "Dos", "at": "2026-12-02T20:00:00"}]}"#,
    )
    .unwrap();
    let config_path = dir.path().join("config.toml");
    std::fs::write(
        &config_path,
        format!(
            r#"
[server]
addr = "127.0.0.1:0"
[database]
url = "sqlite://{dir}/boxoffice.db?mode=rwc"
[admin]
token = "{ADMIN_TOKEN}"
[archive]
dir = "{dir}/archive"
[log]
level = "warn"

[providers.partner_xml]
kind = "fever-xml"
enabled = false
url = "file:feeds/fever.xml"

[providers.partner_ics]
kind = "ical"
enabled = false
url = "file:./feeds/agenda.ics"

[providers.partner_json]
kind = "json"
enabled = false
url = "{shows_url}"
records = "/shows"
[providers.partner_json.fields]
base_id = "/id"
title = "/name"
starts_at = "/at"
"#,
            dir = dir.path().display(),
            shows_url = url::Url::from_file_path(&shows).unwrap(),
        ),
    )
    .unwrap();
    let app = TestApp::spawn_config(Config::load(Some(&config_path)).unwrap()).await;
    let sync = |name: &'static str| {
        let app = &app;
        async move {
            let (status, body) = app
                .admin(
                    reqwest::Method::POST,
                    &format!("/admin/providers/{name}/sync"),
                    None,
                )
                .await;
            (status, body["data"]["report"].clone())
        }
    };
    for name in ["partner_xml", "partner_ics", "partner_json"] {
        let (status, report) = sync(name).await;
        assert_eq!(status, StatusCode::OK, "{report}");
        assert!(
            report["status"] == "succeeded" || report["status"] == "partial",
            "{name}: {report}"
        );
        assert!(
            report["inserted"].as_u64().unwrap_or_default() > 0,
            "{name}: {report}"
        );
        assert!(
            !report["not_modified"].as_bool().unwrap_or(false),
            "{name}: {report}"
        );
        // Unchanged (same size, same modification time): not modified, as a 304.
        let (_, again) = sync(name).await;
        assert_eq!(again["not_modified"], true, "{name}: {again}");
        assert_eq!(
            again["unchanged"],
            report["inserted"].as_u64().unwrap_or_default()
                + report["unchanged"].as_u64().unwrap_or_default(),
            "{name}: {again}"
        );
    }
    // A changed file is read again.
    std::fs::write(feeds.join("fever.xml"), fixture("response_2.xml")).unwrap();
    let (_, changed) = sync("partner_xml").await;
    assert!(!changed["not_modified"].as_bool().unwrap_or(false), "{changed}");
    assert_eq!(changed["updated"].as_u64(), Some(2), "{changed}");
    // A missing file fails the run, naming it; what was stored stays.
    std::fs::remove_file(&shows).unwrap();
    let (_, missing) = sync("partner_json").await;
    let error = missing["error"].as_str().unwrap_or_default();
    assert_eq!(missing["status"], "failed", "{missing}");
    assert!(
        error.contains("cannot read the feed file") && error.contains("shows.json"),
        "{error}"
    );
    let served = app
        .search("starts_at=2026-12-01T00:00:00Z&ends_at=2026-12-03T00:00:00Z")
        .await;
    let titles = crate::helpers::titles(&served);
    assert!(
        titles.contains(&"Uno".to_owned()) && titles.contains(&"Dos".to_owned()),
        "{titles:?}"
    );
    app.stop().await;
}
