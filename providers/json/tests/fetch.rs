//! Instances built through the registry against the test kit's mock API, run by the
//! sync engine over the in-memory store: pages in one run and one transaction, gzip,
//! conditional requests, header secrets, page numbers, and runs that must keep nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use boxoffice_core::{ItemStore, RunStatus};
use boxoffice_testkit::{MemoryStore, MockFeedServer, MockResponse};
use serde_json::json;

use common::*;

#[tokio::test]
async fn a_two_page_keyed_api_is_read_in_one_run_with_its_key_and_gzip() {
    let server = MockFeedServer::start().await;
    server.serve(
        "/v1/shows?page=1",
        MockResponse::ok(fixture("shows_page_1.json"))
            .gzip()
            .etag("\"p1\""),
    );
    server.serve(
        "/v1/shows?page=2",
        MockResponse::ok(fixture("shows_page_2.json")).gzip(),
    );
    let store = MemoryStore::new();
    let table = acme_table(&server.url("/v1/shows?page=1"));
    let report = run(&store, built("acme", &table)).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:?}");
    assert_eq!(
        (report.pages, report.inserted, report.rejected),
        (2, 5, 0),
        "{report:?}"
    );
    assert_eq!(report.unknown.get("record/venue"), Some(&1));
    assert_eq!(
        stored(&store, "acme"),
        [
            ("322".into(), "1642".into()),
            ("322".into(), "1643".into()),
            ("444".into(), "1642".into()),
            ("500".into(), "1".into()),
            ("abba-2026".into(), "abba-2026".into()),
        ]
    );
    let requests = server.requests();
    let targets: Vec<_> = requests.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(targets, ["/v1/shows?page=1", "/v1/shows?page=2"]);
    for request in &requests {
        assert_eq!(request.headers["x-api-key"], "acme-key");
        assert!(
            request.headers["accept"]
                .to_str()
                .unwrap_or_default()
                .contains("application/json")
        );
    }
    // A feed of pages is read whole each run: its first page's ETag is not kept.
    assert_eq!(store.validators("acme").await.ok().flatten(), None);
    let again = run(&store, built("acme", &table)).await;
    assert_eq!((again.pages, again.unchanged, again.not_modified), (2, 5, false));
}

#[tokio::test]
async fn a_single_page_api_answers_304_and_the_next_run_is_not_modified() {
    let mut page =
        serde_json::from_slice::<serde_json::Value>(&fixture("shows_page_1.json")).unwrap_or_default();
    page["next"] = serde_json::Value::Null;
    let server = MockFeedServer::serving("/shows", json_page(page).gzip().etag("\"v1\"")).await;
    let store = MemoryStore::new();
    let table = acme_table(&server.url("/shows"));
    let first = run(&store, built("acme", &table)).await;
    assert_eq!(
        (first.status, first.inserted),
        (RunStatus::Succeeded, 3),
        "{first:?}"
    );
    let second = run(&store, built("acme", &table)).await;
    assert!(second.not_modified, "{second:?}");
    assert_eq!(second.unchanged, 3);
    assert_eq!(server.requests()[1].headers["if-none-match"], "\"v1\"");
}

fn numbered_table(url: &str, last_page: bool) -> String {
    let last = if last_page {
        "last_page = \"/meta/last_page\"\n"
    } else {
        ""
    };
    format!(
        "kind = \"json\"\nurl = \"{url}\"\nrecords = \"/data\"\npage_param = \"page\"\n{last}\
         retries = 0\n[fields]\nbase_id = \"/id\"\ntitle = \"/title\"\nstarts_at = \"/at\"\n"
    )
}

fn numbered_page(ids: &[u32], last: u32) -> MockResponse {
    let data: Vec<_> = ids
        .iter()
        .map(|id| json!({"id": id, "title": format!("Show {id}"), "at": "2026-12-01T20:00:00Z"}))
        .collect();
    json_page(json!({"meta": {"last_page": last}, "data": data}))
}

#[tokio::test]
async fn a_page_number_api_is_read_up_to_its_last_page() {
    let server = MockFeedServer::start().await;
    server.serve("/events?size=2", numbered_page(&[1, 2], 3));
    server.serve("/events?size=2&page=2", numbered_page(&[3, 4], 3));
    server.serve("/events?size=2&page=3", numbered_page(&[5], 3));
    let store = MemoryStore::new();
    let report = run(
        &store,
        built("numbers", &numbered_table(&server.url("/events?size=2"), true)),
    )
    .await;
    assert_eq!(
        (report.status, report.pages, report.inserted),
        (RunStatus::Succeeded, 3, 5),
        "{report:?}"
    );
    let targets: Vec<_> = server.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(
        targets,
        ["/events?size=2", "/events?size=2&page=2", "/events?size=2&page=3"]
    );
}

#[tokio::test]
async fn a_page_number_api_without_a_last_page_ends_at_an_empty_page() {
    let server = MockFeedServer::start().await;
    server.serve("/events?page=4", numbered_page(&[1, 2], 0));
    server.serve("/events?page=5", numbered_page(&[3], 0));
    server.serve("/events?page=6", numbered_page(&[], 0));
    let store = MemoryStore::new();
    let report = run(
        &store,
        built("numbers", &numbered_table(&server.url("/events?page=4"), false)),
    )
    .await;
    assert_eq!(
        (report.status, report.pages, report.inserted),
        (RunStatus::Succeeded, 3, 3),
        "{report:?}"
    );
    assert_eq!(server.hits("/events"), 3);
}

#[tokio::test]
async fn a_second_page_that_fails_keeps_nothing_of_the_first() {
    for second in [
        MockResponse::status(500),
        MockResponse::ok("<html>oops</html>"),
        json_page(json!({"items": []})),
        MockResponse::ok(b"{\"shows\": [{\"show_id\": 1".to_vec()),
    ] {
        let server = MockFeedServer::start().await;
        server.serve("/v1/shows?page=1", MockResponse::ok(fixture("shows_page_1.json")));
        server.serve("/v1/shows?page=2", second.clone());
        let store = MemoryStore::new();
        let report = run(
            &store,
            built("acme", &acme_table(&server.url("/v1/shows?page=1"))),
        )
        .await;
        assert_eq!(report.status, RunStatus::Failed, "{second:?}: {report:?}");
        assert!(
            stored(&store, "acme").is_empty(),
            "{second:?}: the first page was kept"
        );
        assert_eq!(store.version(), 0);
    }
}

#[tokio::test]
async fn next_links_that_loop_fail_the_run_and_keep_nothing() {
    let server = MockFeedServer::start().await;
    let page = |next: &str| {
        let mut page: serde_json::Value =
            serde_json::from_slice(&fixture("shows_page_2.json")).unwrap_or_default();
        page["next"] = json!(next);
        json_page(page)
    };
    server.serve("/v1/shows?page=1", page("?page=2"));
    server.serve("/v1/shows?page=2", page("/v1/shows?page=1"));
    let store = MemoryStore::new();
    let report = run(
        &store,
        built("acme", &acme_table(&server.url("/v1/shows?page=1"))),
    )
    .await;
    assert_eq!(report.status, RunStatus::Failed);
    assert!(
        report.error.as_deref().unwrap_or_default().contains("loop"),
        "{report:?}"
    );
    assert!(stored(&store, "acme").is_empty());
    assert_eq!(
        server.hits("/v1/shows"),
        2,
        "the loop was seen before a third request"
    );
}

#[tokio::test]
async fn a_next_link_to_another_origin_is_refused() {
    let server = MockFeedServer::start().await;
    let mut page: serde_json::Value =
        serde_json::from_slice(&fixture("shows_page_2.json")).unwrap_or_default();
    page["next"] = json!("http://elsewhere.example/steal?key=1");
    server.serve("/shows", json_page(page));
    let store = MemoryStore::new();
    let report = run(&store, built("acme", &acme_table(&server.url("/shows")))).await;
    assert_eq!(report.status, RunStatus::Failed);
    assert!(
        report.error.as_deref().unwrap_or_default().contains("origin"),
        "{report:?}"
    );
    assert!(stored(&store, "acme").is_empty());
}

#[tokio::test]
async fn the_generated_feed_is_read_with_its_fixture_config() {
    use boxoffice_provider_json::generate::{FeedShape, write_feed};
    let mut feed = Vec::new();
    let shape = FeedShape {
        base_events: 20,
        events_per_base: 3,
        zones: 5,
        seed: 1,
    };
    write_feed(&mut feed, &shape).unwrap_or_default();
    let server = MockFeedServer::serving("/feed.json", MockResponse::ok(feed)).await;
    let store = MemoryStore::new();
    let table = generated_table(&server.url("/feed.json"), "");
    let report = run(&store, built("generated", &table)).await;
    assert_eq!(
        (report.status, report.inserted),
        (RunStatus::Succeeded, 60),
        "{report:?}"
    );
    assert!(report.unknown.is_empty(), "{:?}", report.unknown);
    let mut searchable = 0;
    store
        .for_each_searchable(&mut |_| searchable += 1)
        .await
        .unwrap_or_default();
    assert!(
        searchable < 60 && searchable > 30,
        "one event in ten is offline: {searchable}"
    );
}
