//! The json kind through the whole server: a keyed API of two pages, configured in
//! config.toml only, synced through the admin API and served by /search and
//! /events/{id}; its header secret read from a file at each run; the commands that
//! describe and check it; and `gen-feed --format json`, the JSON rendition of the
//! Fever feed, mapped to the same sessions and zones.

use std::path::Path;

use axum::http::StatusCode;
use boxoffice_core::{CollectingSink, Document, EventRecord, ExternalKey};
use boxoffice_server::Config;
use figment::Figment;
use figment::providers::{Format, Toml};
use serde_json::{Value, json};

use crate::helpers::*;

/// A recorded page of the made-up "acme" API (the json crate's fixtures).
pub(crate) fn json_fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../providers/json/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// The `[providers.acme]` tables, as an operator writes them.
pub(crate) fn acme_tables(url: &str, key_file: &Path) -> String {
    format!(
        r#"
[providers.acme]
kind = "json"
enabled = false
url = "{url}"
timezone = "Europe/Madrid"
timeout = "2s"
retries = 0
records = "/shows"
next_page = "/next"

[providers.acme.headers]
X-Api-Key = {{ file = "{key}" }}

[providers.acme.fields]
base_id = "/show_id"
event_id = "/session_id"
title = "/name"
starts_at = "/starts"
ends_at = "/ends"
online = "/online"
sold_out = "/sold_out"

[providers.acme.zones]
path = "/tickets"
price = "/price_cents"
price_scale = 100
capacity = "/left"
name = "/tier"
id = "/tier_id"
"#,
        key = key_file.display()
    )
}

fn id_of(base: &str, event: &str) -> String {
    ExternalKey {
        provider: "acme".into(),
        series_id: base.into(),
        session_id: event.into(),
    }
    .id()
    .to_string()
}

/// What /search says of an item: its dates, times and prices.
fn summary(item: &Value) -> Value {
    json!([
        item["title"],
        item["start_date"],
        item["start_time"],
        item["end_date"],
        item["end_time"],
        item["min_price"],
        item["max_price"]
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_json_api_is_served_with_its_dates_times_prices_and_zones() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let secrets = tempfile::tempdir().unwrap();
    let key_file = secrets.path().join("acme-key");
    std::fs::write(&key_file, "first-key\n").unwrap();
    let api = boxoffice_testkit::MockFeedServer::start().await;
    api.serve(
        "/v1/shows?page=1",
        MockResponse::ok(json_fixture("shows_page_1.json"))
            .gzip()
            .etag("\"p1\""),
    );
    api.serve(
        "/v1/shows?page=2",
        MockResponse::ok(json_fixture("shows_page_2.json")).gzip(),
    );
    let options = AppOptions {
        extra_toml: acme_tables(&api.url("/v1/shows?page=1"), &key_file),
        ..AppOptions::manual("http://127.0.0.1:9/feed")
    };
    let app = TestApp::spawn(&db.url, options).await;

    let (status, body) = app
        .admin(reqwest::Method::POST, "/admin/providers/acme/sync", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let report = &body["data"]["report"];
    assert_eq!(report["status"], "succeeded", "{report}");
    assert_eq!(
        (report["pages"].as_u64(), report["inserted"].as_u64()),
        (Some(2), Some(5)),
        "{report}"
    );
    assert_eq!(report["unknown"]["record/venue"], 1, "{report}");

    let events = app
        .search("starts_at=2026-11-01T00:00:00Z&ends_at=2027-01-01T00:00:00Z")
        .await;
    let served: Vec<Value> = events.iter().map(summary).collect();
    assert_eq!(
        served,
        [
            json!([
                "Los Morancos",
                "2026-12-01",
                "20:00:00",
                "2026-12-01",
                "22:00:00",
                65.0,
                65.0
            ]),
            json!([
                "Los Morancos",
                "2026-12-02",
                "21:30:00",
                "2026-12-02",
                "23:30:00",
                65.0,
                75.5
            ]),
            json!([
                "Aforo sin contar",
                "2026-12-05",
                "19:00:00",
                "2026-12-05",
                "21:00:00",
                12.0,
                12.0
            ]),
            json!([
                "Tributo a ABBA é \"en vivo\"",
                "2026-12-24",
                null,
                "2026-12-26",
                null,
                null,
                null
            ]),
        ],
        "the offline show (444) is stored but never served"
    );
    let ids: Vec<_> = events
        .iter()
        .map(|e| e["id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(ids[0], id_of("322", "1642"));
    assert_eq!(ids[3], id_of("abba-2026", "abba-2026"));
    // A window that starts after 20:00 Madrid time (19:00Z) on the first leaves it out.
    let later = app
        .search("starts_at=2026-12-01T19:00:01Z&ends_at=2026-12-03T00:00:00Z")
        .await;
    assert_eq!(later.len(), 1);

    let (status, body) = app.get(&format!("/events/{}", id_of("500", "1"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let event = &body["data"]["event"];
    assert_eq!(
        (event["provider"].as_str(), event["base_event_id"].as_str()),
        (Some("acme"), Some("500"))
    );
    assert_eq!(event["starts_at"], "2026-12-05T18:00:00Z");
    assert_eq!(
        event["zones"],
        json!([
            {"zone_id": "1", "name": "General", "capacity": 2_147_483_647_u32, "price": 12.0, "numbered": false},
            {"zone_id": "2", "name": "VIP", "capacity": 0, "price": 30.0, "numbered": false},
        ]),
        "a zone without a capacity counts as available"
    );
    let (status, _) = app.get(&format!("/events/{}", id_of("444", "1642"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "never online: not public");

    // The key is read from its file at each run: a rotated one is sent without restart.
    std::fs::write(&key_file, "second-key").unwrap();
    let (status, body) = app
        .admin(reqwest::Method::POST, "/admin/providers/acme/sync", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["report"]["unchanged"], 5, "{body}");
    let keys: Vec<_> = api
        .requests()
        .iter()
        .map(|request| {
            request.headers["x-api-key"]
                .to_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(keys, ["first-key", "first-key", "second-key", "second-key"]);
    let (_, providers) = app.admin(reqwest::Method::GET, "/admin/providers", None).await;
    let shown = providers.to_string();
    assert!(
        !shown.contains("first-key") && !shown.contains("second-key"),
        "{shown}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_and_providers_describe_a_json_instance() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, "k").unwrap();
    let config = dir.path().join("config.toml");
    let good = format!(
        "[database]\nurl = \"sqlite://{}/x.db?mode=rwc\"\n{}",
        dir.path().display(),
        acme_tables("https://api.example.com/v1/shows?page=1", &key_file)
    );
    std::fs::write(&config, &good).unwrap();
    let config_arg = config.to_string_lossy().into_owned();
    let checked = crate::process::run(&["--config", &config_arg, "check-config"], &[], dir.path());
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let listed = crate::process::run(&["--config", &config_arg, "providers"], &[], dir.path());
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    let kind = listed
        .find("  json  ")
        .map(|at| &listed[at..])
        .unwrap_or_default();
    for key in ["records", "next_page", "page_param", "fields", "zones", "headers"] {
        assert!(
            kind.contains(&format!("      {key} ")),
            "{key} is not described:\n{listed}"
        );
    }
    assert!(listed.contains("acme  kind=json"), "{listed}");

    std::fs::write(
        &config,
        good.replace("title = \"/name\"\n", "")
            .replace("records = \"/shows\"", "records = \"shows\""),
    )
    .unwrap();
    let refused = crate::process::run(&["--config", &config_arg, "check-config"], &[], dir.path());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains("providers.acme.records"), "{stderr}");
    assert!(stderr.contains("providers.acme.fields.title"), "{stderr}");
}

/// Every record of `bytes` parsed by instance `generated` of `config_text`.
async fn parse_with_config(config_text: &str, bytes: Vec<u8>) -> CollectingSink {
    boxoffice_server::providers::link_all();
    let config = Config::from_figment(Figment::new().merge(Toml::string(config_text))).unwrap();
    let built = config.providers["generated"].build("generated").unwrap();
    let mut sink = CollectingSink::default();
    let document = Document::new(Box::new(std::io::Cursor::new(bytes)));
    built.provider.parse(document, &mut sink).await.unwrap();
    sink
}

/// What the two feeds both say of a session: ids, title, sale, times, zones.
fn comparable(record: &EventRecord) -> Value {
    let zones: Vec<Value> = record
        .zones
        .iter()
        .map(|zone| {
            json!([
                zone.zone_id,
                zone.name,
                zone.capacity,
                zone.price.normalize().to_string()
            ])
        })
        .collect();
    json!([
        record.key.series_id,
        record.key.session_id,
        record.title,
        record.sell_mode,
        record.sold_out,
        record.start,
        record.end,
        zones
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gen_feed_json_is_the_fever_feed_rendered_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let shape = [
        "--base-events",
        "30",
        "--events-per-base",
        "3",
        "--zones",
        "7",
        "--seed",
        "4",
    ];
    let feed = |format: &str| {
        let mut args = vec!["gen-feed", "--format", format];
        args.extend(shape);
        let output = crate::process::run(&args, &[], dir.path());
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    };
    let (xml, json_feed) = (feed("xml"), feed("json"));
    assert!(xml.starts_with(b"<?xml") && json_feed.starts_with(b"{\"shows\""));

    let context = boxoffice_provider_fever::ParseContext {
        provider: "generated".into(),
        timezone: boxoffice_testkit::settings("generated").timezone,
    };
    let mut fever = CollectingSink::default();
    boxoffice_provider_fever::parse_feed(&xml[..], &context, &mut fever)
        .await
        .unwrap();
    // The configuration shipped with the json crate for this feed, as it is.
    let fixture = String::from_utf8(json_fixture("generated-feed.toml")).unwrap();
    let json = parse_with_config(&fixture, json_feed).await;

    assert_eq!(fever.records.len(), 90);
    assert!(
        json.rejections.is_empty() && json.unknown.is_empty(),
        "{:?}",
        json.rejections
    );
    let fever: Vec<Value> = fever.records.iter().map(comparable).collect();
    let json: Vec<Value> = json.records.iter().map(comparable).collect();
    assert_eq!(json, fever);
    assert!(fever.iter().any(|r| r[3] == "offline") && fever.iter().any(|r| r[4] == true));
}
