//! /search answered from the snapshot's response cache, plain and compressed: never a
//! body of data a visible commit has changed, every coding decoding to the plain
//! bytes, each coding and data version with its own `ETag`.

use std::collections::HashSet;
use std::io::Read as _;
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use crate::helpers::*;
use crate::on_both_backends;

on_both_backends!(
    a_cached_or_compressed_search_is_never_served_after_a_commit_that_changes_it,
    each_coding_revalidates_with_its_own_tag_until_the_data_changes,
    a_commit_by_another_instance_is_never_answered_from_the_old_cache,
);

/// One /search answer: status, `Content-Encoding`, `ETag`, `Vary`, body as sent.
struct Answer {
    status: StatusCode,
    coding: Option<String>,
    etag: String,
    vary: String,
    body: Vec<u8>,
}

async fn fetch(app: &TestApp, query: &str, accept: Option<&str>, if_none_match: Option<&str>) -> Answer {
    let mut request = app.client.get(format!("{}/search?{query}", app.address));
    if let Some(accept) = accept {
        request = request.header("accept-encoding", accept);
    }
    if let Some(tag) = if_none_match {
        request = request.header("if-none-match", tag);
    }
    let response = request.send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (coding, etag, vary) = (
        header("content-encoding"),
        header("etag").unwrap_or_default(),
        header("vary").unwrap_or_default(),
    );
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
    let body = response.bytes().await.unwrap().to_vec();
    Answer {
        status,
        coding,
        etag,
        vary,
        body,
    }
}

/// The body decoded from its `Content-Encoding`.
fn decoded(answer: &Answer) -> Vec<u8> {
    let mut out = Vec::new();
    match answer.coding.as_deref() {
        None => out.clone_from(&answer.body),
        Some("gzip") => {
            flate2::read::GzDecoder::new(&answer.body[..])
                .read_to_end(&mut out)
                .unwrap();
        }
        Some("br") => {
            brotli::Decompressor::new(&answer.body[..], 4096)
                .read_to_end(&mut out)
                .unwrap();
        }
        Some(other) => panic!("unexpected Content-Encoding {other}"),
    }
    out
}

/// Asks for `query` plain, in gzip and in br (each twice: the second from the cache),
/// checks every answer decodes to the plain bytes, and returns those bytes with the
/// three tags.
async fn every_coding(app: &TestApp, query: &str) -> (Vec<u8>, [String; 3]) {
    let plain = fetch(app, query, None, None).await;
    assert_eq!(plain.status, StatusCode::OK);
    assert_eq!(plain.coding, None);
    assert!(plain.vary.to_ascii_lowercase().contains("accept-encoding"));
    let mut tags = [plain.etag.clone(), String::new(), String::new()];
    for (slot, coding) in [(1, "gzip"), (2, "br")] {
        for _ in 0..2 {
            let answer = fetch(app, query, Some(coding), None).await;
            assert_eq!(answer.status, StatusCode::OK);
            assert_eq!(answer.coding.as_deref(), Some(coding));
            assert!(
                answer.body.len() < plain.body.len(),
                "{coding} did not shrink the body"
            );
            assert_eq!(decoded(&answer), plain.body, "{coding} decodes to other bytes");
            assert!(answer.vary.to_ascii_lowercase().contains("accept-encoding"));
            tags[slot].clone_from(&answer.etag);
        }
    }
    // The plain answer again, now from the cache: the same bytes.
    assert_eq!(fetch(app, query, None, None).await.body, plain.body);
    (plain.body, tags)
}

fn distinct(tags: &[String]) -> usize {
    tags.iter().collect::<HashSet<_>>().len()
}

async fn a_cached_or_compressed_search_is_never_served_after_a_commit_that_changes_it(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    let (status, report) = app.sync().await;
    assert_eq!(status, StatusCode::OK, "{report}");

    let (before, tags_before) = every_coding(&app, SCENARIO_WINDOW).await;
    assert_eq!(distinct(&tags_before), 3, "{tags_before:?}");
    assert!(tags_before[1].ends_with("-gz\"") && tags_before[2].ends_with("-br\""));
    let before_json: serde_json::Value = serde_json::from_slice(&before).unwrap();
    let morancos = find(before_json["data"]["events"].as_array().unwrap(), "Los Morancos").clone();
    assert_eq!(morancos["end_time"], "21:00:00");

    // response_2 moves Los Morancos' end and drops its 75.00 zone.
    feed.serve_fixture("response_2.xml");
    let (status, report) = app.sync().await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let (after, tags_after) = every_coding(&app, SCENARIO_WINDOW).await;
    assert_ne!(after, before, "the cached body outlived the commit");
    let after_json: serde_json::Value = serde_json::from_slice(&after).unwrap();
    let morancos = find(after_json["data"]["events"].as_array().unwrap(), "Los Morancos").clone();
    assert_eq!(morancos["end_time"], "21:20:00");
    assert_eq!(morancos["max_price"], 65.0);
    let mut all = tags_before.to_vec();
    all.extend(tags_after.iter().cloned());
    assert_eq!(
        distinct(&all),
        6,
        "tags repeat across codings or versions: {all:?}"
    );

    // A sync that changes nothing keeps the data version: the cache stays valid.
    let (status, _) = app.sync().await;
    assert_eq!(status, StatusCode::OK);
    let (again, tags_again) = every_coding(&app, SCENARIO_WINDOW).await;
    assert_eq!(again, after);
    assert_eq!(tags_again, tags_after);
    app.stop().await;
    db.drop_now().await;
}

async fn each_coding_revalidates_with_its_own_tag_until_the_data_changes(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    app.sync().await;
    let (_, [plain, gz, br]) = every_coding(&app, SCENARIO_WINDOW).await;
    for (accept, tag) in [(None, &plain), (Some("gzip"), &gz), (Some("gzip, br"), &br)] {
        let weak = format!("W/{tag}");
        for condition in [tag.clone(), weak, format!("\"other\", {tag}")] {
            let answer = fetch(&app, SCENARIO_WINDOW, accept, Some(&condition)).await;
            assert_eq!(answer.status, StatusCode::NOT_MODIFIED, "{accept:?} {condition}");
            assert_eq!(&answer.etag, tag);
            assert!(answer.body.is_empty());
            assert!(answer.vary.to_ascii_lowercase().contains("accept-encoding"));
        }
    }
    // The gzip tag does not validate the br representation.
    let answer = fetch(&app, SCENARIO_WINDOW, Some("br"), Some(&gz)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.coding.as_deref(), Some("br"));

    feed.serve_fixture("response_2.xml");
    app.sync().await;
    for (accept, tag) in [(None, &plain), (Some("gzip"), &gz), (Some("br"), &br)] {
        let answer = fetch(&app, SCENARIO_WINDOW, accept, Some(tag)).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{accept:?}: an old tag still validates"
        );
        assert_ne!(&answer.etag, tag);
    }
    app.stop().await;
    db.drop_now().await;
}

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

async fn a_commit_by_another_instance_is_never_answered_from_the_old_cache(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let syncing = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    let serving = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    syncing.sync().await;
    assert!(
        eventually(Duration::from_secs(10), || async {
            serving.search(SCENARIO_WINDOW).await.len() == 3
        })
        .await
    );
    let (before, _) = every_coding(&serving, SCENARIO_WINDOW).await;

    feed.serve_fixture("response_2.xml");
    syncing.sync().await;
    let (after_on_syncing, _) = every_coding(&syncing, SCENARIO_WINDOW).await;
    assert_ne!(after_on_syncing, before);
    // The other instance sees the commit within its poll interval; from then on, no
    // coding of its answer is the old one.
    assert!(
        eventually(Duration::from_secs(10), || async {
            fetch(&serving, SCENARIO_WINDOW, None, None).await.body == after_on_syncing
        })
        .await,
        "the serving instance never picked up the commit"
    );
    let (after, _) = every_coding(&serving, SCENARIO_WINDOW).await;
    assert_eq!(after, after_on_syncing);
    syncing.stop().await;
    serving.stop().await;
    db.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_cache_off_search_is_served_plain_and_fresh() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let options = AppOptions {
        server_toml: "search_cache_bytes = 0".into(),
        ..AppOptions::manual(&feed.url)
    };
    let app = TestApp::spawn(&db.url, options).await;
    app.sync().await;
    let plain = fetch(&app, SCENARIO_WINDOW, None, None).await;
    let gzip = fetch(&app, SCENARIO_WINDOW, Some("gzip, br"), None).await;
    assert_eq!(gzip.coding, None, "nothing is compressed without the cache");
    assert_eq!(gzip.body, plain.body);
    assert_eq!(gzip.etag, plain.etag);
    let revalidated = fetch(&app, SCENARIO_WINDOW, None, Some(&plain.etag)).await;
    assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED);
    feed.serve_fixture("response_2.xml");
    app.sync().await;
    assert_ne!(fetch(&app, SCENARIO_WINDOW, None, None).await.body, plain.body);
    app.stop().await;
    db.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_strings_with_one_meaning_share_one_representation() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    app.sync().await;
    let a = fetch(&app, SCENARIO_WINDOW, None, None).await;
    let reordered = "ends_at=2022-07-03T00:00:00%2B00:00&unknown=1&starts_at=2021-02-01T00:00:00";
    let b = fetch(&app, reordered, None, None).await;
    assert_eq!(a.body, b.body);
    assert_eq!(a.etag, b.etag);
    let other = fetch(&app, "starts_at=2021-02-01T00:00:00Z", None, None).await;
    assert_ne!(other.etag, a.etag);
    app.stop().await;
    db.drop_now().await;
}

/// Responses the cache does not keep hold their bytes from the in-flight budget until
/// they are sent: with a budget smaller than one response, requests take turns, and
/// every one is answered (a reservation that outlived its body would stall the next
/// until the request timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uncached_responses_take_turns_within_the_inflight_budget_and_all_are_answered() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let feed = MockProvider::start(MockResponse::ok(fixture("response_1.xml"))).await;
    let options = AppOptions {
        server_toml: "search_cache_bytes = 0\nsearch_inflight_bytes = 1\nrequest_timeout = \"5s\"".into(),
        ..AppOptions::manual(&feed.url)
    };
    let app = TestApp::spawn(&db.url, options).await;
    app.sync().await;
    let first = fetch(&app, SCENARIO_WINDOW, None, None).await;
    assert_eq!(first.status, StatusCode::OK);
    // The budget rounds up to its unit (1 KiB): each response takes all of it.
    let answers =
        futures_util::future::join_all((0..20).map(|_| fetch(&app, SCENARIO_WINDOW, None, None))).await;
    for answer in answers {
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.body, first.body);
    }
    app.stop().await;
    db.drop_now().await;
}

/// Large kept bodies (and their compressed copies) are sent from memfd pages by
/// `sendfile`: every coding of every answer, alone or many at once, carries exactly
/// the bytes a server without the cache renders from the same store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_sent_from_pages_are_the_rendered_bytes() {
    use boxoffice_provider_fever::generate::{FeedShape, write_feed};
    let mut xml = Vec::new();
    let shape = FeedShape {
        base_events: 150,
        events_per_base: 3,
        zones: 4,
        seed: 7,
    };
    write_feed(&mut xml, &shape).unwrap();
    let db = TestDatabase::create(Backend::Sqlite).await;
    let feed = MockProvider::start(MockResponse::ok(xml)).await;
    let app = TestApp::spawn(&db.url, AppOptions::manual(&feed.url)).await;
    let (status, report) = app.sync().await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let uncached = TestApp::spawn(
        &db.url,
        AppOptions {
            server_toml: "search_cache_bytes = 0".into(),
            ..AppOptions::manual(&feed.url)
        },
    )
    .await;
    let query = "starts_at=2000-01-01T00:00:00Z";
    let expected = fetch(&uncached, query, None, None).await.body;
    // Large enough that its gzip and br copies go by pages too, small enough for pages.
    assert!(
        (5 * boxoffice_server::pages::MIN_BYTES..=boxoffice_server::pages::MAX_BYTES)
            .contains(&expected.len()),
        "the response ({} bytes) is not of a size that goes by pages",
        expected.len()
    );
    let (plain, _) = every_coding(&app, query).await;
    assert_eq!(plain, expected);
    assert!(boxoffice_server::pages::regions() > 0, "no body went to pages");
    let answers = futures_util::future::join_all((0..24).map(|i| {
        let coding = ["gzip", "br", "identity"][i % 3];
        fetch(&app, query, Some(coding), None)
    }))
    .await;
    for answer in answers {
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(decoded(&answer), expected);
    }
    uncached.stop().await;
    app.stop().await;
    db.drop_now().await;
}
