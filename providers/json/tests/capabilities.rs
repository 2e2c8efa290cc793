//! What real event APIs need of the kind besides the four of `examples/providers/`,
//! each against the test kit's mock and run by the sync engine: offsets without a
//! colon, a status on any element of an array, a title from a fallback, an empty
//! object where the last page's array would be, GraphQL (POST with the cursor in the
//! body), schema.org events in HTML pages, offsets and limits, `Link` headers,
//! Basic and OAuth 2.0 credentials, pages that repeat, and documents that are not JSON.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use boxoffice_core::RunStatus;
use boxoffice_testkit::{Credential, MemoryStore, MockFeedServer, MockResponse};
use serde_json::{Value, json};

use common::*;

/// An instance table: `kind`, `url` and `lines`.
fn table(url: &str, lines: &str) -> String {
    format!("kind = \"json\"\nurl = \"{url}\"\ntimeout = \"5s\"\nretries = 0\n{lines}")
}

/// `[title, start date, start time, instant, min, max, online, sold out]` of every
/// stored item, by title.
fn items(store: &MemoryStore, provider: &str) -> Vec<Value> {
    let mut items: Vec<Value> = store
        .items(provider)
        .into_iter()
        .map(|item| {
            let record = item.record;
            let range = record.price_range();
            json!([
                record.title,
                record.start.date.to_string(),
                record.start.time.map(|t| t.to_string()),
                record.start.at.to_rfc3339(),
                range.map(|r| r.min.normalize().to_string()),
                range.map(|r| r.max.normalize().to_string()),
                record.sell_mode == boxoffice_core::SellMode::Online,
                record.sold_out,
            ])
        })
        .collect();
    items.sort_by_key(|item| item[0].as_str().unwrap_or_default().to_owned());
    items
}

#[tokio::test]
async fn offsets_without_a_colon_any_element_statuses_and_fallback_titles_are_read() {
    let server = MockFeedServer::start().await;
    server.serve(
        "/events",
        json_page(json!({"data": [
            {"id": 1, "name": null, "headline": "Fallback Title", "start": "2026-12-01T20:00:00-0800",
             "offers": [{"status": "SoldOut"}, {"status": "OnSale"}]},
            {"id": 2, "name": "Gone", "start": "2026-12-02T20:00:00+0100", "offers": [{"status": "SoldOut"}]},
        ]})),
    );
    let store = MemoryStore::new();
    let lines = r#"
timezone = "America/Los_Angeles"
records = "/data"
[fields]
base_id = "/id"
title = ["/name", "/headline"]
starts_at = "/start"
timezone = "/zone"
online = { path = "/offers/*/status", in = ["OnSale"] }
sold_out = { path = "/offers/*/status", in = ["SoldOut"], match = "all" }
"#;
    let report = run(&store, built("others", &table(&server.url("/events"), lines))).await;
    assert_eq!(
        (report.status, report.inserted),
        (RunStatus::Succeeded, 2),
        "{report:?}"
    );
    assert_eq!(
        items(&store, "others"),
        [
            // No zone in the record: the instance's, and the instant on its wall clock.
            json!([
                "Fallback Title",
                "2026-12-01",
                "20:00:00",
                "2026-12-02T04:00:00+00:00",
                null,
                null,
                true,
                false
            ]),
            json!([
                "Gone",
                "2026-12-02",
                "11:00:00",
                "2026-12-02T19:00:00+00:00",
                null,
                null,
                false,
                true
            ]),
        ]
    );
}

#[tokio::test]
async fn an_empty_object_where_the_last_pages_array_would_be_ends_the_run() {
    let server = MockFeedServer::start().await;
    server.serve(
        "/v1/events",
        json_page(json!({"events": [{"id": "a", "title": "A", "at": 1796155200}], "next_cursor": "c2"})),
    );
    server.serve_query(
        "/v1/events",
        &[("cursor", "c2")],
        json_page(json!({"events": {}, "next_cursor": null})),
    );
    let store = MemoryStore::new();
    let lines = r#"
records = "/events"
[pagination]
type = "cursor"
cursor = "/next_cursor"
param = "cursor"
[fields]
base_id = "/id"
title = "/title"
starts_at = "/at"
"#;
    let report = run(
        &store,
        built("cursored", &table(&server.url("/v1/events"), lines)),
    )
    .await;
    assert_eq!(
        (report.status, report.pages, report.inserted),
        (RunStatus::Succeeded, 2, 1),
        "{report:?}"
    );
    assert_eq!(server.hits("/v1/events"), 2);
}

#[tokio::test]
async fn graphql_posts_its_query_with_the_cursor_written_into_the_variables() {
    let server = MockFeedServer::start().await;
    let page = |nodes: Value, end: Option<&str>, more: bool| {
        json_page(json!({"data": {"events": {
            "edges": nodes,
            "pageInfo": {"endCursor": end, "hasNextPage": more},
        }}}))
    };
    server.serve(
        "/graphql",
        page(
            json!([{"node": {"id": "e1", "title": "First", "startsAt": "2026-12-01T19:00:00Z"}}]),
            Some("Y3Vy"),
            true,
        ),
    );
    server.serve_body(
        "/graphql",
        "\"after\":\"Y3Vy\"",
        page(
            json!([{"node": {"id": "e2", "title": "Second", "startsAt": "2026-12-02T19:00:00Z"}}]),
            None,
            false,
        ),
    );
    let store = MemoryStore::new();
    let lines = r#"
method = "POST"
records = "/data/events/edges"
errors = "/errors"
[body]
query = "query Events($first: Int, $after: String) { events(first: $first, after: $after) { edges { node { id title startsAt } } pageInfo { endCursor hasNextPage } } }"
variables = { first = 1 }
[pagination]
type = "cursor"
cursor = "/data/events/pageInfo/endCursor"
body = "/variables/after"
has_more = "/data/events/pageInfo/hasNextPage"
[fields]
base_id = "/node/id"
title = "/node/title"
starts_at = "/node/startsAt"
"#;
    let report = run(&store, built("graph", &table(&server.url("/graphql"), lines))).await;
    assert_eq!(
        (report.status, report.pages, report.inserted),
        (RunStatus::Succeeded, 2, 2),
        "{report:?}"
    );
    let requests = server.requests();
    assert!(requests.iter().all(|r| r.method == "POST"), "{requests:?}");
    let bodies: Vec<Value> = requests
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap_or_default())
        .collect();
    assert_eq!(bodies[0]["variables"], json!({"first": 1}));
    assert_eq!(bodies[1]["variables"], json!({"first": 1, "after": "Y3Vy"}));
    assert!(
        requests[0].headers["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("application/json")
    );

    // A GraphQL error answered with 200 fails the run, quoted; nothing is kept.
    let failing = MockFeedServer::start().await;
    failing.serve(
        "/graphql",
        json_page(json!({"data": null, "errors": [{"message": "Cannot query field \"startsAt\""}]})),
    );
    let store = MemoryStore::new();
    let report = run(&store, built("graph", &table(&failing.url("/graphql"), lines))).await;
    assert_eq!(report.status, RunStatus::Failed, "{report:?}");
    let error = report.error.unwrap_or_default();
    assert!(
        error.contains("/errors") && error.contains("Cannot query field"),
        "{error}"
    );
    assert!(stored(&store, "graph").is_empty());
}

#[tokio::test]
async fn a_venues_web_page_is_a_provider_with_its_schema_org_events() {
    let server = MockFeedServer::start().await;
    let page = r#"<!DOCTYPE html><html><head><title>Sala Apolo</title>
<script type="application/ld+json">{"@context": "https://schema.org", "@type": "Organization", "name": "Sala Apolo"}</script>
<script type="application/ld+json">
[{"@context": "https://schema.org", "@type": "MusicEvent", "@id": "https://venue.example/e/1",
  "name": "Nit de Jazz", "startDate": "2026-12-05T21:00:00+01:00", "endDate": "2026-12-05T23:30:00+01:00",
  "eventStatus": "https://schema.org/EventScheduled",
  "offers": {"@type": "AggregateOffer", "lowPrice": "18", "highPrice": "30", "priceCurrency": "EUR",
             "availability": "https://schema.org/InStock"}},
 {"@context": "https://schema.org", "@type": "TheaterEvent", "url": "https://venue.example/e/2",
  "name": "Cancel·lat", "startDate": "2026-12-06T20:00:00+01:00",
  "eventStatus": "https://schema.org/EventCancelled"}]
</script>
<script>window.dataLayer = [];</script>
<script type="application/ld+json">{"@graph": [{"@type": "WebPage"}, {"@type": "ComedyEvent", "@id": "e3",
  "name": "Monòlegs", "startDate": "2026-12-07",
  "offers": [{"price": 12, "priceCurrency": "EUR", "availability": "SoldOut"}]}]}</script>
<script type="application/ld+json">{ not json </script>
</head><body><h1>Agenda</h1></body></html>"#;
    server.serve(
        "/agenda",
        MockResponse::ok(page).header("content-type", "text/html; charset=utf-8"),
    );
    let store = MemoryStore::new();
    // Nothing says where JSON records are: the pages are read as web pages.
    let lines = "timezone = \"Europe/Madrid\"\n";
    let report = run(&store, built("apolo", &table(&server.url("/agenda"), lines))).await;
    assert_eq!(
        (report.status, report.seen, report.inserted, report.rejected),
        (RunStatus::Partial, 4, 3, 1),
        "{report:?}"
    );
    assert!(report.rejections[0].reason.contains("not JSON"), "{report:?}");
    assert_eq!(
        items(&store, "apolo"),
        [
            json!([
                "Cancel·lat",
                "2026-12-06",
                "20:00:00",
                "2026-12-06T19:00:00+00:00",
                null,
                null,
                false,
                false
            ]),
            json!([
                "Monòlegs",
                "2026-12-07",
                null,
                "2026-12-06T23:00:00+00:00",
                "12",
                "12",
                true,
                true
            ]),
            json!([
                "Nit de Jazz",
                "2026-12-05",
                "21:00:00",
                "2026-12-05T20:00:00+00:00",
                "18",
                "30",
                true,
                false
            ]),
        ]
    );
    let jazz = store
        .items("apolo")
        .into_iter()
        .find(|item| item.record.title == "Nit de Jazz")
        .map(|item| (item.record.key.series_id, item.record.currency));
    assert_eq!(
        jazz,
        Some(("https://venue.example/e/1".into(), Some("EUR".into())))
    );
}

#[tokio::test]
async fn a_json_document_where_a_web_page_was_expected_is_said_as_such() {
    let server = MockFeedServer::start().await;
    server.serve("/agenda", json_page(json!({"events": []})));
    let store = MemoryStore::new();
    let report = run(&store, built("venue", &table(&server.url("/agenda"), ""))).await;
    let error = report.error.unwrap_or_default();
    assert!(
        error.contains("application/json") && error.contains("records and fields"),
        "{error}"
    );
}

#[tokio::test]
async fn offsets_and_limits_and_link_headers_page_through_a_feed() {
    let server = MockFeedServer::start().await;
    let record = |id: u32| json!({"id": id, "title": format!("Show {id}"), "at": 1796155200 + id});
    server.serve(
        "/v1/events/",
        json_page(json!({"results": [record(1), record(2)], "count": 5})),
    );
    server.serve_query(
        "/v1/events/",
        &[("offset", "2")],
        json_page(json!({"results": [record(3), record(4)], "count": 5})),
    );
    server.serve_query(
        "/v1/events/",
        &[("offset", "4")],
        json_page(json!({"results": [record(5)], "count": 5})),
    );
    let store = MemoryStore::new();
    let lines = r#"
records = "/results"
[pagination]
type = "offset"
param = "offset"
size_param = "limit"
size = 2
total = "/count"
[fields]
base_id = "/id"
title = "/title"
starts_at = "/at"
"#;
    let report = run(
        &store,
        built("offsets", &table(&server.url("/v1/events/"), lines)),
    )
    .await;
    assert_eq!(
        (report.status, report.pages, report.inserted),
        (RunStatus::Succeeded, 3, 5),
        "{report:?}"
    );
    let targets: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(
        targets,
        [
            "/v1/events/?limit=2",
            "/v1/events/?limit=2&offset=2",
            "/v1/events/?limit=2&offset=4"
        ]
    );

    let linked = MockFeedServer::start().await;
    let next = format!("<{}>; rel=\"next\"", linked.url("/items?page=2"));
    linked.serve("/items", json_page(json!([record(1)])).header("Link", &next));
    linked.serve_query("/items", &[("page", "2")], json_page(json!([record(2)])));
    let store = MemoryStore::new();
    let lines = r#"
records = ""
[pagination]
type = "link_header"
[fields]
base_id = "/id"
title = "/title"
starts_at = "/at"
"#;
    let report = run(&store, built("linked", &table(&linked.url("/items"), lines))).await;
    assert_eq!(
        (report.status, report.pages, report.inserted),
        (RunStatus::Succeeded, 2, 2),
        "{report:?}"
    );
}

#[tokio::test]
async fn an_api_that_ignores_the_page_asked_for_fails_the_run_and_keeps_nothing() {
    let server = MockFeedServer::start().await;
    server.serve(
        "/events",
        json_page(json!({"items": [{"id": 1, "title": "Same", "at": 1796155200}]})),
    );
    let store = MemoryStore::new();
    let lines = r#"
records = "/items"
[pagination]
type = "page_number"
param = "page"
[fields]
base_id = "/id"
title = "/title"
starts_at = "/at"
"#;
    let report = run(&store, built("stuck", &table(&server.url("/events"), lines))).await;
    assert_eq!(
        (report.status, report.pages),
        (RunStatus::Failed, 2),
        "{report:?}"
    );
    let error = report.error.unwrap_or_default();
    assert!(error.contains("page 2") && error.contains("repeats"), "{error}");
    assert!(stored(&store, "stuck").is_empty());
    assert_eq!(store.version(), 0);
}

#[tokio::test]
async fn a_page_that_is_not_json_says_what_it_was() {
    let server = MockFeedServer::start().await;
    server.serve(
        "/events",
        MockResponse::ok("<html><body>Maintenance</body></html>").header("content-type", "text/html"),
    );
    let store = MemoryStore::new();
    let lines = "records = \"/items\"\n[fields]\nbase_id = \"/id\"\ntitle = \"/t\"\nstarts_at = \"/at\"\n";
    let report = run(&store, built("html", &table(&server.url("/events"), lines))).await;
    let error = report.error.unwrap_or_default();
    assert!(
        error.contains("not JSON")
            && error.contains("Content-Type is text/html")
            && error.contains("format = \"html\""),
        "{error}"
    );
    assert!(error.contains("page 1 (http://127.0.0.1:"), "{error}");
}

#[tokio::test]
async fn basic_credentials_and_query_secrets_go_with_every_page() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, "first\n").unwrap();
    let server = MockFeedServer::start().await;
    server.require(
        "/events",
        Credential::Header("authorization".into(), "Basic dXNlcjpwYXNz".into()),
        MockResponse::status(401),
    );
    server.serve(
        "/events",
        json_page(json!({"items": [{"id": 1, "title": "One", "at": 1796155200}], "next": "/events?page=2"})),
    );
    server.serve_query(
        "/events",
        &[("page", "2")],
        json_page(json!({"items": [{"id": 2, "title": "Two", "at": 1796155300}], "next": null})),
    );
    let lines = format!(
        r#"
records = "/items"
next_page = "/next"
auth = {{ type = "basic", username = "user", password = "pass" }}
[query]
key = {{ file = "{}" }}
[fields]
base_id = "/id"
title = "/title"
starts_at = "/at"
"#,
        key.display()
    );
    let store = MemoryStore::new();
    let instance = built("keyed", &table(&server.url("/events"), &lines));
    let report = run(&store, instance.clone()).await;
    assert_eq!(
        (report.status, report.pages),
        (RunStatus::Succeeded, 2),
        "{report:?}"
    );
    // A rotated file is read afresh at the next run.
    std::fs::write(&key, "second\n").unwrap();
    let report = run(&store, instance).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:?}");
    let targets: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(
        targets,
        [
            "/events?key=first",
            "/events?page=2&key=first",
            "/events?key=second",
            "/events?page=2&key=second"
        ]
    );
}

#[tokio::test]
async fn oauth2_tokens_are_fetched_kept_until_they_expire_and_renewed_after_a_refusal() {
    let server = MockFeedServer::start().await;
    let token =
        |value: &str| json_page(json!({"access_token": value, "token_type": "Bearer", "expires_in": 3600}));
    server.serve_sequence("/oauth2/token/", vec![token("t1"), token("t2")]);
    server.require(
        "/v1/events/",
        Credential::Header("authorization".into(), "Bearer t1".into()),
        MockResponse::status(401),
    );
    server.serve(
        "/v1/events/",
        json_page(json!({"results": [{"id": "x", "title": "X", "at": 1796155200}]})),
    );
    let lines = format!(
        r#"
records = "/results"
[auth]
type = "oauth2"
token_url = "{}"
client_id = "client"
client_secret = "s3cret"
scope = "account"
[fields]
base_id = "/id"
title = "/title"
starts_at = "/at"
"#,
        server.url("/oauth2/token/")
    );
    let store = MemoryStore::new();
    let instance = built("oauth", &table(&server.url("/v1/events/"), &lines));
    for _ in 0..2 {
        let report = run(&store, instance.clone()).await;
        assert_eq!(report.status, RunStatus::Succeeded, "{report:?}");
    }
    let requests = server.requests();
    let tokens: Vec<_> = requests.iter().filter(|r| r.target == "/oauth2/token/").collect();
    assert_eq!(tokens.len(), 1, "the token was not kept between runs");
    let form = String::from_utf8_lossy(&tokens[0].body).into_owned();
    assert!(
        form.contains("grant_type=client_credentials") && form.contains("scope=account"),
        "{form}"
    );
    assert!(
        !form.contains("s3cret"),
        "client credentials go in the Basic header by default"
    );
    assert_eq!(tokens[0].headers["authorization"], "Basic Y2xpZW50OnMzY3JldA==");

    // The provider revokes the token: one new token, the request sent again.
    server.require(
        "/v1/events/",
        Credential::Header("authorization".into(), "Bearer t2".into()),
        MockResponse::status(401),
    );
    let report = run(&store, instance).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:?}");
    let tokens = server
        .requests()
        .iter()
        .filter(|r| r.target == "/oauth2/token/")
        .count();
    assert_eq!(tokens, 2);
}
