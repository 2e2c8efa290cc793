//! The example configurations of `examples/providers/`, each run by the real binary as
//! an operator runs it (`boxoffice --config examples/providers/NAME.toml serve`) against
//! a local mock answering as the API documents: its paths, its pagination, its
//! credentials (a request without them gets the API's own error body). Only the
//! address, the store and the admin token come from the environment; the secret comes
//! from the variable the file names. Each API's seven events (on sale with a price
//! range, cancelled, on sale without prices, off sale, a broken date, one price,
//! rescheduled or started but still selling) must score as a marketplace expects.

use std::path::{Path, PathBuf};

use boxoffice_core::ExternalKey;
use boxoffice_testkit::{Credential, MockFeedServer, MockResponse};
use serde_json::{Value, json};

use crate::helpers::ADMIN_TOKEN;
use crate::process::{ServerProcess, client};

/// The window every example's events fall in.
const WINDOW: &str = "starts_at=2026-01-01T00:00:00Z&ends_at=2028-01-01T00:00:00Z";

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../examples/providers/{name}.toml"))
}

fn fixture(api: &str, name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../providers/json/tests/fixtures/apis/{api}/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// The example's instance table, as TOML.
fn instance(name: &str) -> toml::Table {
    let text = std::fs::read_to_string(example(name)).unwrap();
    let table: toml::Table = toml::from_str(&text).unwrap();
    table["providers"][name].as_table().cloned().unwrap()
}

/// The example's `url` as it is configured (scheme and host: the provider's own).
fn configured_url(name: &str) -> url::Url {
    url::Url::parse(instance(name)["url"].as_str().unwrap()).unwrap()
}

/// `url` on the mock's origin, path and query as configured.
fn on_mock(url: &url::Url, mock: &MockFeedServer) -> String {
    let origin = mock.url("");
    let path_and_query = &url.as_str()[url.origin().ascii_serialization().len()..];
    format!("{origin}{path_and_query}")
}

/// The example served, with `env` (its secret, its addresses on the mock).
async fn serve(name: &str, env: &[(String, String)]) -> (ServerProcess, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let upper = name.to_ascii_uppercase();
    let mut vars: Vec<(String, String)> = vec![
        ("BOXOFFICE_SERVER__ADDR".into(), "127.0.0.1:0".into()),
        (
            "BOXOFFICE_DATABASE__URL".into(),
            format!("sqlite://{}/boxoffice.db?mode=rwc", dir.path().display()),
        ),
        (
            "BOXOFFICE_ARCHIVE__DIR".into(),
            format!("{}/archive", dir.path().display()),
        ),
        ("BOXOFFICE_ADMIN__TOKEN".into(), ADMIN_TOKEN.into()),
        ("BOXOFFICE_LOG__LEVEL".into(), "info".into()),
        // Synced through the admin API below, not on schedule.
        (format!("BOXOFFICE_PROVIDERS__{upper}__ENABLED"), "false".into()),
        (format!("BOXOFFICE_PROVIDERS__{upper}__RETRIES"), "0".into()),
    ];
    vars.extend(env.iter().cloned());
    let borrowed: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = ServerProcess::start(&example(name), &borrowed).await;
    (server, dir)
}

/// Syncs `name` through the admin API: its report.
async fn sync(server: &ServerProcess, name: &str) -> Value {
    let response = client()
        .post(format!("{}/admin/providers/{name}/sync", server.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    body["data"]["report"].clone()
}

/// What /search serves in [`WINDOW`], each item as `[title, start_date, start_time,
/// end_date, end_time, min_price, max_price]`.
async fn served(server: &ServerProcess) -> Vec<Value> {
    let body: Value = client()
        .get(format!("{}/search?{WINDOW}", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["data"]["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|item| {
            json!([
                item["title"],
                item["start_date"],
                item["start_time"],
                item["end_date"],
                item["end_time"],
                item["min_price"],
                item["max_price"]
            ])
        })
        .collect()
}

/// `/events/{id}` of the item the API calls `api_id`, as the admin sees it.
async fn details(server: &ServerProcess, instance: &str, api_id: &str) -> Value {
    let id = ExternalKey {
        provider: instance.into(),
        series_id: api_id.into(),
        session_id: api_id.into(),
    }
    .id();
    let body: Value = client()
        .get(format!("{}/events/{id}", server.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["data"]["event"].clone()
}

fn counts(report: &Value) -> Value {
    json!({
        "status": report["status"],
        "pages": report["pages"],
        "seen": report["seen"],
        "inserted": report["inserted"],
        "rejected": report["rejected"],
    })
}

/// The path an example's URL has, and what a test of it checks first: the one the
/// provider documents.
fn documented_path(name: &str, path: &str) {
    assert_eq!(
        configured_url(name).path(),
        path,
        "{name}'s url is not the documented one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticketmaster_is_served_in_each_events_zone_with_its_price_ranges() {
    documented_path("ticketmaster", "/discovery/v2/events.json");
    let mock = MockFeedServer::start().await;
    let path = "/discovery/v2/events.json";
    mock.require(
        path,
        Credential::Query("apikey".into(), "tm-key".into()),
        MockResponse::json_status(401, fixture("ticketmaster", "error_401.json")),
    );
    mock.serve(path, MockResponse::json(fixture("ticketmaster", "page_0.json")));
    mock.serve_query(
        path,
        &[("page", "1")],
        MockResponse::json(fixture("ticketmaster", "page_1.json")),
    );
    mock.serve_query(
        path,
        &[("page", "2")],
        MockResponse::json(fixture("ticketmaster", "page_2.json")),
    );
    let url = on_mock(&configured_url("ticketmaster"), &mock);
    let env = [
        ("TICKETMASTER_API_KEY".to_owned(), "tm-key".to_owned()),
        ("BOXOFFICE_PROVIDERS__TICKETMASTER__URL".to_owned(), url),
    ];
    let (server, _dir) = serve("ticketmaster", &env).await;
    let report = sync(&server, "ticketmaster").await;
    assert_eq!(
        counts(&report),
        json!({"status": "partial", "pages": 2, "seen": 7, "inserted": 6, "rejected": 1}),
        "{report}"
    );
    let rejection = &report["rejections"][0];
    assert!(
        rejection["record"]
            .as_str()
            .unwrap_or_default()
            .contains("page 2")
            && rejection["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("\"2026-02-30\""),
        "{rejection}"
    );
    // Pages are 0-based: the second request asks for page 1, both carry the key.
    let targets: Vec<String> = mock.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(targets.len(), 2, "{targets:?}");
    assert!(
        !targets[0].contains("page=") && targets[1].contains("page=1"),
        "{targets:?}"
    );
    assert!(targets.iter().all(|t| t.contains("apikey=tm-key")), "{targets:?}");

    // Cancelled and off-sale events are stored, never served; rescheduled ones are.
    assert_eq!(
        served(&server).await,
        vec![
            json!([
                "Harbor Lights Orchestra: Spring Gala",
                "2026-04-18",
                "19:30:00",
                null,
                null,
                45.5,
                189.0
            ]),
            json!([
                "Northfield Rovers v Eastbank Athletic",
                "2026-10-03",
                "15:00:00",
                null,
                null,
                null,
                null
            ]),
            json!([
                "Ashgrove String Quartet",
                "2027-01-15",
                "19:45:00",
                null,
                null,
                32.5,
                32.5
            ]),
            json!([
                "Solstice Drift Live",
                "2027-03-06",
                "20:00:00",
                null,
                null,
                79.0,
                249.0
            ]),
        ]
    );
    let sydney = details(&server, "ticketmaster", "vvG1FSols07").await;
    assert_eq!(
        (
            &sydney["starts_at"],
            &sydney["currency"],
            &sydney["zones"][0]["max_price"]
        ),
        (&json!("2027-03-06T09:00:00Z"), &json!("AUD"), &json!(249.0)),
        "{sydney}"
    );
    let cancelled = details(&server, "ticketmaster", "Zx9kQ2bCopp02").await;
    assert_eq!(cancelled["searchable"], json!(false), "{cancelled}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_ticketmaster_key_fails_the_run_saying_what_the_api_said_and_never_the_key() {
    let mock = MockFeedServer::start().await;
    let path = "/discovery/v2/events.json";
    mock.require(
        path,
        Credential::Query("apikey".into(), "tm-key".into()),
        MockResponse::json_status(401, fixture("ticketmaster", "error_401.json")),
    );
    let env = [
        ("TICKETMASTER_API_KEY".to_owned(), "wrong-key-123".to_owned()),
        (
            "BOXOFFICE_PROVIDERS__TICKETMASTER__URL".to_owned(),
            on_mock(&configured_url("ticketmaster"), &mock),
        ),
    ];
    let (server, _dir) = serve("ticketmaster", &env).await;
    let report = sync(&server, "ticketmaster").await;
    let error = report["error"].as_str().unwrap_or_default();
    assert_eq!(report["status"], "failed", "{report}");
    assert!(
        error.contains("401") && error.contains("Invalid ApiKey"),
        "{error}"
    );
    let (_, stderr) = server.stop().await;
    assert!(
        !error.contains("wrong-key-123") && !stderr.contains("wrong-key-123"),
        "{error}\n{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventbrite_reads_every_organization_through_its_continuation_tokens() {
    documented_path("eventbrite", "/v3/organizations/%7Borganization_id%7D/events/");
    let mock = MockFeedServer::start().await;
    let bearer = || Credential::Header("authorization".into(), "Bearer eb-token".into());
    let refusal = || MockResponse::json_status(401, fixture("eventbrite", "error_401.json"));
    let organizations = "/v3/users/me/organizations/";
    let events = "/v3/organizations/271828182845/events/";
    mock.require(organizations, bearer(), refusal());
    mock.require(events, bearer(), refusal());
    mock.serve(
        organizations,
        MockResponse::json(fixture("eventbrite", "organizations.json")),
    );
    mock.serve(events, MockResponse::json(fixture("eventbrite", "page_1.json")));
    mock.serve_query(
        events,
        &[("continuation", "QmFja3N0YWdlLXBhZ2UtMg.k9Zt")],
        MockResponse::json(fixture("eventbrite", "page_2.json")),
    );
    let list = url::Url::parse(instance("eventbrite")["for_each"]["url"].as_str().unwrap()).unwrap();
    let env = [
        ("EVENTBRITE_TOKEN".to_owned(), "eb-token".to_owned()),
        (
            "BOXOFFICE_PROVIDERS__EVENTBRITE__URL".to_owned(),
            on_mock(&configured_url("eventbrite"), &mock),
        ),
        (
            "BOXOFFICE_PROVIDERS__EVENTBRITE__FOR_EACH__URL".to_owned(),
            on_mock(&list, &mock),
        ),
    ];
    let (server, _dir) = serve("eventbrite", &env).await;
    let report = sync(&server, "eventbrite").await;
    assert_eq!(
        counts(&report),
        json!({"status": "partial", "pages": 3, "seen": 7, "inserted": 6, "rejected": 1}),
        "{report}"
    );
    assert_eq!(mock.hits(events), 2);
    assert_eq!(
        served(&server).await,
        vec![
            json!([
                "Windy City Improv Weekend",
                "2026-08-14",
                "18:00:00",
                "2026-08-16",
                "22:00:00",
                20.0,
                45.0
            ]),
            json!([
                "Harborlight Jazz Night",
                "2026-09-18",
                "19:30:00",
                "2026-09-18",
                "22:30:00",
                25.0,
                89.5
            ]),
            json!([
                "Spree Ufer Poetry Slam",
                "2027-01-15",
                "20:00:00",
                "2027-01-15",
                "22:30:00",
                null,
                null
            ]),
            json!([
                "Kreuzberg Techno Marathon",
                "2027-03-27",
                "23:00:00",
                "2027-03-28",
                "08:00:00",
                35.0,
                35.0
            ]),
        ]
    );
    let techno = details(&server, "eventbrite", "918273640062").await;
    assert_eq!(
        (&techno["starts_at"], &techno["ends_at"], &techno["currency"]),
        (
            &json!("2027-03-27T22:00:00Z"),
            &json!("2027-03-28T06:00:00Z"),
            &json!("EUR")
        ),
        "{techno}"
    );
    for offline in ["918273640031", "918273640048"] {
        let event = details(&server, "eventbrite", offline).await;
        assert_eq!(event["searchable"], json!(false), "{event}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seatgeek_pages_by_its_total_and_serves_venue_times() {
    documented_path("seatgeek", "/2/events");
    let mock = MockFeedServer::start().await;
    let path = "/2/events";
    mock.require(
        path,
        Credential::Query("client_id".into(), "sg-client".into()),
        MockResponse::json_status(403, fixture("seatgeek", "error_403.json")),
    );
    mock.serve(path, MockResponse::json(fixture("seatgeek", "page_1.json")));
    mock.serve_query(
        path,
        &[("page", "2")],
        MockResponse::json(fixture("seatgeek", "page_2.json")),
    );
    mock.serve_query(
        path,
        &[("page", "3")],
        MockResponse::json(fixture("seatgeek", "page_3.json")),
    );
    let env = [
        ("SEATGEEK_CLIENT_ID".to_owned(), "sg-client".to_owned()),
        (
            "BOXOFFICE_PROVIDERS__SEATGEEK__URL".to_owned(),
            on_mock(&configured_url("seatgeek"), &mock),
        ),
    ];
    let (server, _dir) = serve("seatgeek", &env).await;
    let report = sync(&server, "seatgeek").await;
    assert_eq!(
        counts(&report),
        json!({"status": "partial", "pages": 2, "seen": 7, "inserted": 6, "rejected": 1}),
        "{report}"
    );
    assert_eq!(
        served(&server).await,
        vec![
            json!([
                "Harbor Lights Orchestra: Spring Gala",
                "2026-05-09",
                "20:00:00",
                null,
                null,
                48.0,
                410.0
            ]),
            json!([
                "Solstice Drift Live (Rescheduled)",
                "2026-08-22",
                "19:00:00",
                null,
                null,
                39.0,
                199.0
            ]),
            json!([
                "Ashgrove String Quartet",
                "2026-09-19",
                "19:30:00",
                null,
                null,
                64.0,
                64.0
            ]),
            json!([
                "Harbour Hawks at Glacier Kings",
                "2026-12-04",
                "19:00:00",
                null,
                null,
                null,
                null
            ]),
        ]
    );
    let phoenix = details(&server, "seatgeek", "7310007").await;
    assert_eq!(
        (&phoenix["starts_at"], &phoenix["currency"]),
        (&json!("2026-08-23T02:00:00Z"), &Value::Null),
        "{phoenix}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predicthq_serves_utc_instants_on_each_events_own_wall_clock() {
    documented_path("predicthq", "/v1/events/");
    let mock = MockFeedServer::start().await;
    let path = "/v1/events/";
    mock.require(
        path,
        Credential::Header("authorization".into(), "Bearer phq-token".into()),
        MockResponse::json_status(401, fixture("predicthq", "error_401.json")),
    );
    // The API's next links are absolute: on the mock, its own.
    let origin = mock.url("");
    let page = |name: &str| {
        let text = String::from_utf8(fixture("predicthq", name)).unwrap();
        MockResponse::json(text.replace("https://api.predicthq.com", &origin))
    };
    mock.serve(path, page("page_1.json"));
    mock.serve_query(path, &[("offset", "4")], page("page_2.json"));
    let env = [
        ("PREDICTHQ_TOKEN".to_owned(), "phq-token".to_owned()),
        (
            "BOXOFFICE_PROVIDERS__PREDICTHQ__URL".to_owned(),
            on_mock(&configured_url("predicthq"), &mock),
        ),
    ];
    let (server, _dir) = serve("predicthq", &env).await;
    let report = sync(&server, "predicthq").await;
    assert_eq!(
        counts(&report),
        json!({"status": "partial", "pages": 2, "seen": 7, "inserted": 6, "rejected": 1}),
        "{report}"
    );
    assert_eq!(
        served(&server).await,
        vec![
            json!([
                "Grant Park Blues Weekend",
                "2026-06-19",
                "12:00:00",
                "2026-06-21",
                "22:00:00",
                null,
                null
            ]),
            json!([
                "The Lumen Tides at Redwood Amphitheater",
                "2026-07-24",
                "19:30:00",
                "2026-07-24",
                "22:30:00",
                null,
                null
            ]),
            json!([
                "Tempelhof Lantern Festival",
                "2026-08-29",
                "16:00:00",
                "2026-08-29",
                "23:00:00",
                null,
                null
            ]),
            json!([
                "Philharmonie Late Night: Bach Cello Suites",
                "2027-03-27",
                "22:30:00",
                "2027-03-28",
                "03:30:00",
                null,
                null
            ]),
        ]
    );
    let predicted = details(&server, "predicthq", "Kd9pWm3RaY7sTq2Nuf").await;
    assert_eq!(predicted["searchable"], json!(false), "{predicted}");
    server.stop().await;
}
