//! The Fever feed in, the contract's /search out, across consecutive responses.

use axum::http::StatusCode;
use serde_json::Value;

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(
    three_consecutive_responses_serve_the_latest_values_and_never_444,
    an_unchanged_feed_rewrites_nothing,
    a_truncated_feed_fails_the_run_and_changes_nothing,
    a_provider_that_is_down_leaves_search_answering,
    a_bad_record_is_rejected_and_its_neighbours_are_stored,
    an_event_that_goes_offline_stays_searchable_with_its_latest_values,
    a_restart_keeps_data_and_ids,
    the_stores_size_hint_is_cheap_and_near_the_truth,
);

async fn three_consecutive_responses_serve_the_latest_values_and_never_444(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;

    let (status, report) = app.sync().await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (report["inserted"].as_u64(), report["rejected"].as_u64()),
        (Some(3), Some(0))
    );
    let events = app.search(SCENARIO_WINDOW).await;
    // Ordered by start: Pantomima (Feb), Camela (Jun), Morancos (Jul).
    assert_eq!(
        titles(&events),
        ["Pantomima Full", "Camela en concierto", "Los Morancos"]
    );
    let camela = find(&events, "Camela en concierto");
    assert_eq!(camela["start_date"], "2021-06-30");
    assert_eq!(camela["start_time"], "21:00:00");
    assert_eq!(camela["end_date"], "2021-06-30");
    assert_eq!(camela["end_time"], "22:00:00");
    assert_eq!(
        (camela["min_price"].as_f64(), camela["max_price"].as_f64()),
        (Some(15.0), Some(30.0))
    );
    let morancos = find(&events, "Los Morancos");
    assert_eq!(
        (morancos["min_price"].as_f64(), morancos["max_price"].as_f64()),
        (Some(65.0), Some(75.0))
    );
    // 322 and 1591 both have event 1642: two items, two ids.
    assert_ne!(find(&events, "Pantomima Full")["id"], morancos["id"]);
    let ids_after_1: Vec<Value> = events.iter().map(|e| e["id"].clone()).collect();

    feed.serve_fixture("response_2.xml");
    let (status, report) = app.sync().await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        report["rejected"], 1,
        "444 has the impossible date 2021-09-31: {report}"
    );
    assert!(
        report["rejections"][0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("2021-09-31")
    );
    let events = app.search(SCENARIO_WINDOW).await;
    // 322 left the feed but stays; 444 is offline and invalid: never served.
    assert_eq!(
        titles(&events),
        ["Pantomima Full", "Camela en concierto", "Los Morancos"]
    );
    let morancos = find(&events, "Los Morancos");
    assert_eq!(morancos["end_time"], "21:20:00");
    // The 75.00 zone has no capacity left: only 65.00 counts.
    assert_eq!(
        (morancos["min_price"].as_f64(), morancos["max_price"].as_f64()),
        (Some(65.0), Some(65.0))
    );

    feed.serve_fixture("response_3.xml");
    let (status, report) = app.sync().await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let events = app.search(SCENARIO_WINDOW).await;
    assert_eq!(
        titles(&events),
        ["Pantomima Full", "Camela en concierto", "Los Morancos"]
    );
    let camela = find(&events, "Camela en concierto");
    assert_eq!(camela["end_time"], "21:30:00");
    // Grada 2 (15.00) sold out: 20.00..30.00.
    assert_eq!(
        (camela["min_price"].as_f64(), camela["max_price"].as_f64()),
        (Some(20.0), Some(30.0))
    );
    assert_eq!(find(&events, "Los Morancos")["end_time"], "21:00:00");
    let ids_after_3: Vec<Value> = events.iter().map(|e| e["id"].clone()).collect();
    assert_eq!(ids_after_1, ids_after_3, "ids are stable across syncs");
    for event in &events {
        assert!(event["title"] != "Tributo a Juanito Valderrama");
    }

    // The contract's window filters both ends.
    let only_june = app
        .search("starts_at=2021-06-01T00:00:00Z&ends_at=2021-06-30T21:30:00Z")
        .await;
    assert_eq!(titles(&only_june), ["Camela en concierto"]);
    let before_end = app
        .search("starts_at=2021-06-01T00:00:00Z&ends_at=2021-06-30T21:29:59Z")
        .await;
    assert!(before_end.is_empty());
    app.stop().await;
    db.drop_now().await;
}

async fn an_unchanged_feed_rewrites_nothing(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    app.sync().await;
    let (status, report) = app.sync().await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            report["inserted"].as_u64(),
            report["updated"].as_u64(),
            report["unchanged"].as_u64()
        ),
        (Some(0), Some(0), Some(3))
    );
    app.stop().await;
    db.drop_now().await;
}

async fn a_truncated_feed_fails_the_run_and_changes_nothing(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    app.sync().await;
    let before = app.search(SCENARIO_WINDOW).await;

    // Response 2 cut after its first base event: 291's new values must not land.
    let full = fixture("response_2.xml");
    feed.serve(MockResponse::ok(full[..full.len() * 2 / 3].to_vec()));
    let (status, body) = app.sync_with(Some(ADMIN_TOKEN)).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["data"]["report"]["status"], "failed");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("malformed"),
        "{body}"
    );
    assert_eq!(app.search(SCENARIO_WINDOW).await, before);
    app.stop().await;
    db.drop_now().await;
}

async fn a_provider_that_is_down_leaves_search_answering(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    app.sync().await;
    let before = app.search(SCENARIO_WINDOW).await;
    assert_eq!(before.len(), 3);

    feed.serve(MockResponse {
        status: StatusCode::SERVICE_UNAVAILABLE,
        ..MockResponse::ok(b"down".to_vec())
    });
    let (status, body) = app.sync_with(Some(ADMIN_TOKEN)).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("503"),
        "{body}"
    );
    assert_eq!(app.search(SCENARIO_WINDOW).await, before);

    // A provider that hangs past its timeout: the sync fails, search answers meanwhile.
    feed.serve(MockResponse {
        delay: std::time::Duration::from_secs(5),
        ..MockResponse::ok(fixture("response_2.xml"))
    });
    let syncing = app.sync_with(Some(ADMIN_TOKEN));
    let searching = async {
        let started = std::time::Instant::now();
        let events = app.search(SCENARIO_WINDOW).await;
        (events, started.elapsed())
    };
    let ((status, _), (events, elapsed)) = tokio::join!(syncing, searching);
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(events, before);
    assert!(
        elapsed < std::time::Duration::from_secs(2),
        "search waited for the sync: {elapsed:?}"
    );
    app.stop().await;
    db.drop_now().await;
}

const MIXED_FEED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<eventList version="1.0"><output>
  <base_event base_event_id="1" sell_mode="online" title="Good one">
    <event event_start_date="2021-03-01T20:00:00" event_end_date="2021-03-01T22:00:00" event_id="10" sell_from="2021-01-01T00:00:00" sell_to="2021-03-01T19:00:00" sold_out="false">
      <zone zone_id="1" capacity="10" price="12.50" name="A" numbered="false" />
    </event>
    <event event_start_date="2021-03-02T20:00:00" event_end_date="2021-03-02T22:00:00" event_id="11" sell_from="2021-01-01T00:00:00" sell_to="2021-03-01T19:00:00" sold_out="false">
      <zone zone_id="1" capacity="10" price="twelve" name="A" numbered="false" />
    </event>
  </base_event>
  <base_event base_event_id="2" sell_mode="online" title="Another good one">
    <event event_start_date="2021-03-03T20:00:00" event_end_date="2021-03-03T22:00:00" event_id="20" sell_from="2021-01-01T00:00:00" sell_to="2021-03-01T19:00:00" sold_out="false">
    </event>
  </base_event>
</output></eventList>"#;

async fn a_bad_record_is_rejected_and_its_neighbours_are_stored(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let feed = MockProvider::start(MockResponse::ok(MIXED_FEED.as_bytes().to_vec())).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    let (status, report) = app.sync().await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (
            report["seen"].as_u64(),
            report["inserted"].as_u64(),
            report["rejected"].as_u64()
        ),
        (Some(3), Some(2), Some(1))
    );
    let reason = report["rejections"][0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("price") && reason.contains("twelve"), "{reason}");
    let events = app.search("").await;
    assert_eq!(titles(&events), ["Good one", "Another good one"]);
    // No zones: no prices.
    assert_eq!(find(&events, "Another good one")["min_price"], Value::Null);
    app.stop().await;
    db.drop_now().await;
}

fn one_base_feed(base: &str, sell_mode: &str, title: &str, end: &str) -> Vec<u8> {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><eventList version="1.0"><output>
  <base_event base_event_id="{base}" sell_mode="{sell_mode}" title="{title}">
    <event event_start_date="2021-05-01T20:00:00" event_end_date="2021-05-01T{end}" event_id="1" sell_from="2021-01-01T00:00:00" sell_to="2021-05-01T19:00:00" sold_out="false">
      <zone zone_id="1" capacity="5" price="10.00" name="A" numbered="true" />
    </event>
  </base_event>
</output></eventList>"#
    )
    .into_bytes()
}

async fn an_event_that_goes_offline_stays_searchable_with_its_latest_values(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let feed = MockProvider::start(MockResponse::ok(one_base_feed(
        "7",
        "online",
        "Online first",
        "21:00:00",
    )))
    .await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    app.sync().await;
    assert_eq!(titles(&app.search("").await), ["Online first"]);

    feed.serve(MockResponse::ok(one_base_feed(
        "7",
        "offline",
        "Now offline, renamed",
        "23:00:00",
    )));
    let (_, report) = app.sync().await;
    assert_eq!(report["updated"], 1);
    let events = app.search("").await;
    assert_eq!(titles(&events), ["Now offline, renamed"]);
    assert_eq!(events[0]["end_time"], "23:00:00");

    // A base event never seen online is stored but not served.
    feed.serve(MockResponse::ok(one_base_feed(
        "8",
        "offline",
        "Never online",
        "21:00:00",
    )));
    let (_, report) = app.sync().await;
    assert_eq!(report["inserted"], 1);
    assert_eq!(titles(&app.search("").await), ["Now offline, renamed"]);
    app.stop().await;
    db.drop_now().await;
}

async fn a_restart_keeps_data_and_ids(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    app.sync().await;
    let before = app.search(SCENARIO_WINDOW).await;
    app.stop().await;

    // The provider is gone; the new process serves what the store holds.
    drop(feed);
    let app = TestApp::spawn(&db.url, AppOptions::manual("http://127.0.0.1:9/feed")).await;
    assert_eq!(app.search(SCENARIO_WINDOW).await, before);
    app.stop().await;
    db.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enabled_provider_syncs_at_start_up() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let app = TestApp::spawn(
        &db.url,
        AppOptions {
            enabled: true,
            ..AppOptions::manual(&feed.url)
        },
    )
    .await;
    let mut events = Vec::new();
    for _ in 0..100 {
        events = app.search(SCENARIO_WINDOW).await;
        if events.len() == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        events.len(),
        3,
        "the start-up sync did not reach /search within 10s"
    );
    assert_eq!(feed.hits(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_provider_never_syncs_on_schedule() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(feed.hits(), 0);
    assert!(app.search("").await.is_empty());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_extensions_page_filter_and_revalidate() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    app.sync().await;

    // Pages of 2: the first carries a cursor, the second ends the list.
    let (_, first) = app.get("/search?limit=2").await;
    assert_eq!(first["data"]["events"].as_array().map(Vec::len), Some(2));
    let cursor = first["data"]["next_cursor"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!cursor.is_empty());
    let (_, second) = app.get(&format!("/search?limit=2&cursor={cursor}")).await;
    assert_eq!(
        titles(second["data"]["events"].as_array().unwrap()),
        ["Los Morancos"]
    );
    assert_eq!(second["data"]["next_cursor"], Value::Null);
    // Without limit the contract's shape is untouched.
    let (_, plain) = app.get("/search").await;
    assert!(plain["data"].get("next_cursor").is_none());

    assert_eq!(app.search("provider=fever").await.len(), 3);
    assert!(app.search("provider=other").await.is_empty());

    let response = app
        .client
        .get(format!("{}/search?{SCENARIO_WINDOW}", app.address))
        .send()
        .await
        .unwrap();
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let revalidated = app
        .client
        .get(format!("{}/search?{SCENARIO_WINDOW}", app.address))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), 304);
    // A sync that changes data changes the tag.
    feed.serve_fixture("response_2.xml");
    app.sync().await;
    let changed = app
        .client
        .get(format!("{}/search?{SCENARIO_WINDOW}", app.address))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_of_one_kind_have_distinct_ids_and_separate_switches() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let madrid = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let barcelona = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let mut config = config_for(&db.url, &AppOptions::manual(&madrid.url));
    let mut second = config.providers["fever"].clone();
    second
        .options
        .insert("url".into(), Value::String(barcelona.url.clone()));
    config.providers.insert("fever-bcn".into(), second);
    let app = TestApp::spawn_config(config).await;

    for name in ["fever", "fever-bcn"] {
        let (status, _) = app
            .admin(
                reqwest::Method::POST,
                &format!("/admin/providers/{name}/sync"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}");
    }
    let events = app.search(SCENARIO_WINDOW).await;
    assert_eq!(
        events.len(),
        6,
        "the same feed under two names is two sets of items"
    );
    let ids: std::collections::HashSet<_> = events.iter().map(|e| e["id"].clone()).collect();
    assert_eq!(ids.len(), 6);
    assert_eq!(app.search("provider=fever-bcn").await.len(), 3);

    let switch_on = Some(serde_json::json!({"enabled": true}));
    let (status, _) = app
        .admin(reqwest::Method::PATCH, "/admin/providers/fever-bcn", switch_on)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = app.admin(reqwest::Method::GET, "/admin/providers", None).await;
    let enabled: Vec<_> = body["data"]["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["enabled"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        enabled,
        [("fever".to_owned(), false), ("fever-bcn".to_owned(), true)]
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_drift_is_reported_in_the_run_report() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let drifted = String::from_utf8(fixture("response_1.xml"))
        .unwrap()
        .replace("<zone zone_id=\"40\"", "<zone colour=\"red\" zone_id=\"40\"")
        .replace("</output>", "<promotions/></output>");
    let feed = MockProvider::start(MockResponse::ok(drifted.into_bytes())).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    let (status, report) = app.sync().await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["inserted"], 3, "drift loses nothing");
    assert_eq!(report["unknown"]["zone@colour"], 1, "{report}");
    assert_eq!(report["unknown"]["output/promotions"], 1, "{report}");
    app.stop().await;
}

#[tokio::test]
async fn a_request_id_is_echoed_or_made() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual("http://127.0.0.1:9/feed")).await;
    let response = app
        .client
        .get(format!("{}/health", app.address))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "abc-123");
    let response = app
        .client
        .get(format!("{}/health", app.address))
        .send()
        .await
        .unwrap();
    let made = response.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(made).is_ok(), "{made}");
    app.stop().await;
}

/// What the first load of the read model sizes its buffers by: an estimate, never an
/// error. SQLite's is at least the count; PostgreSQL's (the planner's) may be 0 before
/// the table is analyzed.
async fn the_stores_size_hint_is_cheap_and_near_the_truth(backend: Backend) {
    use boxoffice_core::ItemStore as _;
    use boxoffice_server::store::{SeaOrmStore, StoreOptions};
    let db = TestDatabase::create(backend).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    let (_, report) = app.sync().await;
    let stored = report["inserted"].as_u64().unwrap();
    let store = SeaOrmStore::connect(&db.url, &StoreOptions::default())
        .await
        .unwrap();
    let hint = store.searchable_hint().await.unwrap();
    assert!(hint <= 10 * stored, "{hint} for {stored} items");
    if backend == Backend::Sqlite {
        assert!(hint >= stored, "{hint} for {stored} items");
    }
    app.stop().await;
    db.drop_now().await;
}
