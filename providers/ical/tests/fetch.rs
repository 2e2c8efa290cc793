//! The provider against the test kit's mock feed server: statuses, size limits,
//! compression, conditional requests, headers, and the registry's configuration
//! checks. Documents are read the way the sync engine reads them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use boxoffice_core::registry::{self, BuiltProvider, ConfigProblem};
use boxoffice_core::sync::feed::PageRead;
use boxoffice_core::{CollectingSink, ProviderError, SellMode, Validators};
use boxoffice_testkit::{MockFeedServer, MockResponse, instance_from_toml, read_first_page};

const CALENDAR: &str = include_str!("fixtures/weekly_series_with_a_skipped_and_a_moved_night.ics");

fn calendar() -> MockResponse {
    MockResponse::ok(CALENDAR).header("content-type", "text/calendar; charset=utf-8")
}

/// An instance `teatro` on `url`, built through the registry; `extra` lines go into
/// its table. A horizon long enough for the fixture's dates whenever the test runs.
fn instance(url: &str, max_feed_bytes: u64, extra: &str) -> BuiltProvider {
    boxoffice_provider_ical::link();
    instance_from_toml(
        "teatro",
        &format!(
            "kind = \"ical\"\nurl = \"{url}\"\ntimezone = \"Europe/Madrid\"\nhorizon = \"3650d\"\n\
             timeout = \"5s\"\nmax_feed_bytes = {max_feed_bytes}\n{extra}"
        ),
    )
    .unwrap_or_else(|problems| panic!("building the instance: {problems:?}"))
}

async fn fetch(url: &str, max_feed_bytes: u64) -> (Result<PageRead, ProviderError>, CollectingSink) {
    read_first_page(&instance(url, max_feed_bytes, ""), None).await
}

fn bytes_read(result: &Result<PageRead, ProviderError>) -> Option<u64> {
    match result {
        Ok(PageRead::Parsed { bytes, .. }) => Some(*bytes),
        _ => None,
    }
}

// ----- success -----

#[tokio::test]
async fn a_200_calendar_becomes_records_and_its_size_is_reported() {
    let server = MockFeedServer::serving("/agenda.ics", calendar()).await;
    let (result, sink) = fetch(&server.url("/agenda.ics"), 1024 * 1024).await;
    assert_eq!(bytes_read(&result), Some(CALENDAR.len() as u64), "{result:?}");
    assert!(sink.rejections.is_empty(), "{:?}", sink.rejections);
    // Five nights of the series and the cancelled gala.
    assert_eq!(sink.records.len(), 6);
    assert!(sink.records.iter().all(|r| r.key.provider == "teatro"));
    let first = &sink.records[0];
    assert_eq!(first.key.session_id, "20261105T193000Z");
    assert_eq!(first.start.at.to_rfc3339(), "2026-11-05T19:30:00+00:00");
}

#[tokio::test]
async fn a_dripping_body_without_content_length_is_read_whole() {
    let server = MockFeedServer::serving("/agenda.ics", calendar().drip(64, Duration::ZERO)).await;
    let (result, sink) = fetch(&server.url("/agenda.ics"), 1024 * 1024).await;
    assert_eq!(bytes_read(&result), Some(CALENDAR.len() as u64));
    assert_eq!(sink.records.len(), 6);
}

#[tokio::test]
async fn a_gzip_transfer_is_decoded_and_its_decoded_bytes_counted() {
    let server = MockFeedServer::serving("/agenda.ics", calendar().gzip()).await;
    let (result, sink) = fetch(&server.url("/agenda.ics"), 1024 * 1024).await;
    assert_eq!(bytes_read(&result), Some(CALENDAR.len() as u64), "{result:?}");
    assert_eq!(sink.records.len(), 6);
    let sent = &server.requests()[0].headers;
    let accepted = sent["accept-encoding"].to_str().unwrap_or_default();
    assert!(accepted.contains("gzip") && accepted.contains("br"), "{accepted}");
}

#[tokio::test]
async fn a_gzip_transfer_larger_than_the_limit_once_decoded_is_refused() {
    // Small on the wire, past the limit decoded.
    let big = format!("{CALENDAR}{}", " ".repeat(2 * 1024 * 1024));
    let server = MockFeedServer::serving("/agenda.ics", MockResponse::ok(big).gzip()).await;
    let (result, sink) = fetch(&server.url("/agenda.ics"), 1024 * 1024).await;
    assert!(
        matches!(result, Err(ProviderError::TooLarge { limit: 1_048_576 })),
        "{result:?}"
    );
    assert!(sink.records.is_empty());
}

#[tokio::test]
async fn the_validators_of_a_document_make_the_next_request_conditional() {
    let server = MockFeedServer::serving(
        "/agenda.ics",
        calendar()
            .etag("\"v1\"")
            .last_modified("Wed, 25 Nov 2026 10:00:00 GMT"),
    )
    .await;
    let built = instance(&server.url("/agenda.ics"), 1024 * 1024, "");
    let (first, _) = read_first_page(&built, None).await;
    let Ok(PageRead::Parsed { validators, .. }) = first else {
        panic!("{first:?}");
    };
    assert_eq!(validators.etag.as_deref(), Some("\"v1\""));
    assert_eq!(
        validators.last_modified.as_deref(),
        Some("Wed, 25 Nov 2026 10:00:00 GMT")
    );
    let (second, sink) = read_first_page(&built, Some(&validators)).await;
    assert!(matches!(second, Ok(PageRead::NotModified)), "{second:?}");
    assert!(sink.records.is_empty());
    let sent = &server.requests()[1].headers;
    assert_eq!(sent["if-none-match"], "\"v1\"");
    // A changed document is served in full.
    let stale = Validators {
        etag: Some("\"v0\"".into()),
        last_modified: None,
    };
    let (third, sink) = read_first_page(&built, Some(&stale)).await;
    assert!(matches!(third, Ok(PageRead::Parsed { .. })), "{third:?}");
    assert_eq!(sink.records.len(), 6);
}

#[tokio::test]
async fn configured_headers_are_sent_and_never_shown() {
    let server = MockFeedServer::serving("/agenda.ics", calendar()).await;
    let dir = std::env::temp_dir().join(format!("ical-key-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let key_file = dir.join("key");
    let _ = std::fs::write(&key_file, "file-s3cret\n");
    let built = instance(
        &server.url("/agenda.ics"),
        1024 * 1024,
        &format!(
            "[headers]\nX-Api-Key = \"inline-s3cret\"\nAuthorization = {{ file = \"{}\" }}\n",
            key_file.display()
        ),
    );
    let (result, _) = read_first_page(&built, None).await;
    assert!(result.is_ok(), "{result:?}");
    let sent = &server.requests()[0].headers;
    assert_eq!(sent["x-api-key"], "inline-s3cret");
    assert_eq!(sent["authorization"], "file-s3cret");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_instance_sell_mode_applies_to_fetched_events() {
    let server = MockFeedServer::serving("/agenda.ics", calendar()).await;
    let built = instance(
        &server.url("/agenda.ics"),
        1024 * 1024,
        "sell_mode = \"offline\"\n",
    );
    let (result, sink) = read_first_page(&built, None).await;
    assert!(result.is_ok(), "{result:?}");
    assert!(!sink.records.is_empty());
    assert!(sink.records.iter().all(|r| r.sell_mode == SellMode::Offline));
}

// ----- failures -----

#[tokio::test]
async fn a_503_is_a_transient_failure_with_its_retry_after() {
    let server = MockFeedServer::serving(
        "/unavailable.ics",
        MockResponse::status(503).header("retry-after", "120"),
    )
    .await;
    let url = server.url("/unavailable.ics");
    let (result, sink) = fetch(&url, 1024 * 1024).await;
    match result {
        Err(ProviderError::Fetch {
            message,
            transient,
            retry_after,
        }) => {
            assert!(transient);
            assert_eq!(retry_after, Some(Duration::from_secs(120)));
            assert_eq!(message, format!("HTTP 503 Service Unavailable from {url}"));
        }
        other => panic!("expected a Fetch error, got {other:?}"),
    }
    assert!(sink.records.is_empty());
}

#[tokio::test]
async fn a_404_is_a_failure_not_worth_retrying() {
    let server = MockFeedServer::start().await;
    let (result, _) = fetch(&server.url("/nowhere.ics"), 1024 * 1024).await;
    assert!(
        matches!(result, Err(ProviderError::Fetch { transient: false, .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_body_over_max_feed_bytes_is_too_large() {
    let server = MockFeedServer::start().await;
    server.serve("/agenda.ics", calendar());
    server.serve("/dripping.ics", calendar().drip(64, Duration::ZERO));
    for path in ["/agenda.ics", "/dripping.ics"] {
        let (result, sink) = fetch(&server.url(path), 200).await;
        assert!(
            matches!(result, Err(ProviderError::TooLarge { limit: 200 })),
            "{path}: {result:?}"
        );
        assert!(sink.records.is_empty(), "{path}");
    }
}

#[tokio::test]
async fn a_body_exactly_at_the_limit_is_accepted() {
    let server = MockFeedServer::serving("/agenda.ics", calendar().drip(64, Duration::ZERO)).await;
    let (result, sink) = fetch(&server.url("/agenda.ics"), CALENDAR.len() as u64).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(sink.records.len(), 6);
}

#[tokio::test]
async fn a_truncated_body_is_malformed() {
    let server = MockFeedServer::serving(
        "/truncated.ics",
        MockResponse::ok(&CALENDAR[..CALENDAR.len() / 2]),
    )
    .await;
    let (result, sink) = fetch(&server.url("/truncated.ics"), 1024 * 1024).await;
    assert!(matches!(result, Err(ProviderError::Malformed(_))), "{result:?}");
    assert!(sink.records.is_empty());
}

#[tokio::test]
async fn a_refused_connection_is_a_transient_failure() {
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap_or_else(|e| panic!("finding a free port: {e}"));
    let (result, _) = fetch(&format!("http://{address}/agenda.ics"), 1024).await;
    match result {
        Err(ProviderError::Fetch {
            message, transient, ..
        }) => {
            assert!(transient);
            assert!(message.contains("could not connect"), "{message}");
        }
        other => panic!("expected a Fetch error, got {other:?}"),
    }
}

// ----- configuration through the registry -----

/// The table's problems; none when it builds.
fn problems(table: &str) -> Vec<ConfigProblem> {
    boxoffice_provider_ical::link();
    instance_from_toml("teatro", table).err().unwrap_or_default()
}

fn problem_keys(table: &str) -> Vec<String> {
    problems(table).into_iter().map(|p| p.key).collect()
}

#[test]
fn the_kind_is_registered_with_its_documented_keys() {
    boxoffice_provider_ical::link();
    let registration = registry::find("ical").unwrap_or_else(|| panic!("ical is not registered"));
    let keys = (registration.keys)();
    let names: Vec<_> = keys.iter().map(|key| key.name.as_str()).collect();
    assert_eq!(names, ["url", "headers", "horizon", "sell_mode"]);
    assert!(keys.iter().all(|key| !key.doc.is_empty()), "{keys:?}");
    assert!(keys[0].required && !keys[2].required);
    assert!(!registration.description.is_empty());
}

#[test]
fn a_valid_configuration_builds_an_ical_instance() {
    boxoffice_provider_ical::link();
    let built = instance_from_toml(
        "teatro",
        "kind = \"ical\"\nurl = \"https://sala.example/agenda.ics\"\ntimezone = \"Europe/Madrid\"\n\
         horizon = \"180d\"\nsell_mode = \"offline\"\n",
    )
    .unwrap();
    assert_eq!(built.kind, "ical");
}

#[test]
fn an_unknown_key_is_a_problem_naming_it() {
    let problems = problems("kind = \"ical\"\nurl = \"https://sala.example/agenda.ics\"\ncolour = \"red\"\n");
    let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["providers.teatro.colour"]);
    assert!(problems[0].message.contains("colour"), "{}", problems[0].message);
}

#[test]
fn a_url_of_another_scheme_is_a_problem_naming_the_url_key() {
    for url in [
        "ftp://sala.example/agenda.ics",
        "webcal://sala.example/agenda.ics",
        "not a url",
    ] {
        let problems = problems(&format!("kind = \"ical\"\nurl = \"{url}\"\n"));
        let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["providers.teatro.url"], "{url}: {problems:?}");
    }
    assert_eq!(problem_keys("kind = \"ical\"\n"), ["providers.teatro.url"]);
}

#[test]
fn a_bad_horizon_or_sell_mode_is_a_problem_naming_its_key() {
    assert_eq!(
        problem_keys(
            "kind = \"ical\"\nurl = \"https://sala.example/agenda.ics\"\nhorizon = \"forever\"\nsell_mode = \"maybe\"\n"
        ),
        ["providers.teatro.horizon", "providers.teatro.sell_mode"]
    );
}

#[test]
fn an_enabled_instance_needs_its_secrets_a_disabled_one_does_not() {
    let table = |enabled: bool| {
        format!(
            "kind = \"ical\"\nenabled = {enabled}\nurl = \"https://sala.example/agenda.ics\"\n\
             [headers]\nX-Api-Key = {{ env = \"BOXOFFICE_ICAL_TEST_SURELY_UNSET\" }}\n"
        )
    };
    let found = problems(&table(true));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].key, "providers.teatro.headers.X-Api-Key");
    assert!(
        found[0]
            .message
            .contains("BOXOFFICE_ICAL_TEST_SURELY_UNSET is not set")
    );
    assert!(problems(&table(false)).is_empty());
}
