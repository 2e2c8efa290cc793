//! The provider against the test kit's mock feed server: statuses, timeouts, size
//! limits, compression, conditional requests and the registry's configuration checks.
//! Documents are read exactly as the sync engine reads them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use boxoffice_core::registry::{self, BuiltProvider, ConfigProblem};
use boxoffice_core::sync::feed::PageRead;
use boxoffice_core::{CollectingSink, ProviderError};
use boxoffice_testkit::{MockFeedServer, MockResponse, instance_from_toml, read_first_page};

const RESPONSE_1: &str = include_str!("fixtures/response_1.xml");

fn feed() -> MockResponse {
    MockResponse::ok(RESPONSE_1).header("content-type", "application/xml")
}

/// A server playing the feed and its failures.
async fn spawn_feed_server() -> MockFeedServer {
    let server = MockFeedServer::start().await;
    server.serve("/feed", feed());
    server.serve("/chunked", feed().drip(256, Duration::ZERO));
    server.serve("/moved", MockResponse::status(307).header("location", "/feed"));
    server.serve(
        "/unavailable",
        MockResponse::status(503).header("retry-after", "7"),
    );
    server.serve("/slow", feed().delay(Duration::from_secs(10)));
    server.serve(
        "/stalling",
        MockResponse::ok("<eventList><output></output></eventList>").drip(19, Duration::from_secs(10)),
    );
    let padding = format!("<eventList><output>{}", "<!-- padding -->\n".repeat(20_000));
    server.serve("/endless", MockResponse::ok(padding).drip(4096, Duration::ZERO));
    server
}

/// Instance `fever` on `url`, built through the registry.
fn instance(url: &str, timeout: Duration, max_feed_bytes: u64) -> BuiltProvider {
    boxoffice_provider_fever::link();
    instance_from_toml(
        "fever",
        &format!(
            "kind = \"fever-xml\"\nurl = \"{url}\"\ntimezone = \"Europe/Madrid\"\n\
             timeout = \"{}ms\"\nmax_feed_bytes = {max_feed_bytes}\n",
            timeout.as_millis()
        ),
    )
    .unwrap_or_else(|problems| panic!("building the instance: {problems:?}"))
}

async fn fetch(
    url: &str,
    timeout: Duration,
    max_feed_bytes: u64,
) -> (Result<PageRead, ProviderError>, CollectingSink) {
    read_first_page(&instance(url, timeout, max_feed_bytes), None).await
}

async fn fetch_default(url: &str) -> (Result<PageRead, ProviderError>, CollectingSink) {
    fetch(url, Duration::from_secs(5), 1024 * 1024).await
}

fn bytes_read(result: &Result<PageRead, ProviderError>) -> Option<u64> {
    match result {
        Ok(PageRead::Parsed { bytes, .. }) => Some(*bytes),
        _ => None,
    }
}

/// The parts of a `Fetch` error; panics on anything else.
fn fetch_error(result: Result<PageRead, ProviderError>) -> (String, bool, Option<Duration>) {
    match result {
        Err(ProviderError::Fetch {
            message,
            transient,
            retry_after,
        }) => (message, transient, retry_after),
        other => panic!("expected a Fetch error, got {other:?}"),
    }
}

fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap_or_else(|e| panic!("binding a throwaway listener: {e}"));
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("reading its address: {e}"))
}

// ----- success -----

#[tokio::test]
async fn a_200_feed_becomes_records_and_its_size_is_reported() {
    let server = spawn_feed_server().await;
    let (result, sink) = fetch_default(&server.url("/feed")).await;
    assert_eq!(bytes_read(&result), Some(RESPONSE_1.len() as u64), "{result:?}");
    let keys: Vec<_> = sink
        .records
        .iter()
        .map(|r| format!("{}/{}", r.key.series_id, r.key.session_id))
        .collect();
    assert_eq!(keys, ["291/291", "322/1642", "1591/1642"]);
    assert!(sink.records.iter().all(|r| r.key.provider == "fever"));
    // The instance's time zone is used: 21:00 in Madrid in summer is 19:00Z.
    assert_eq!(sink.records[0].start.at.to_rfc3339(), "2021-06-30T19:00:00+00:00");
}

#[tokio::test]
async fn a_chunked_body_without_content_length_is_streamed() {
    let server = spawn_feed_server().await;
    let (result, sink) = fetch_default(&server.url("/chunked")).await;
    assert_eq!(bytes_read(&result), Some(RESPONSE_1.len() as u64));
    assert_eq!(sink.records.len(), 3);
}

#[tokio::test]
async fn redirects_are_followed() {
    let server = spawn_feed_server().await;
    let (result, sink) = fetch_default(&server.url("/moved")).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(sink.records.len(), 3);
}

#[tokio::test]
async fn requests_carry_the_boxoffice_user_agent() {
    let server = spawn_feed_server().await;
    let (result, _) = fetch_default(&server.url("/feed")).await;
    assert!(result.is_ok(), "{result:?}");
    let agent = server.requests()[0].headers["user-agent"]
        .to_str()
        .unwrap_or_default()
        .to_owned();
    assert!(agent.starts_with("boxoffice/"), "{agent}");
}

#[tokio::test]
async fn a_gzip_transfer_is_decoded_and_an_etag_makes_the_next_request_conditional() {
    let server = MockFeedServer::serving("/feed", feed().gzip().etag("\"r1\"")).await;
    let built = instance(&server.url("/feed"), Duration::from_secs(5), 1024 * 1024);
    let (first, sink) = read_first_page(&built, None).await;
    assert_eq!(bytes_read(&first), Some(RESPONSE_1.len() as u64), "{first:?}");
    assert_eq!(sink.records.len(), 3);
    let Ok(PageRead::Parsed { validators, .. }) = first else {
        panic!("{first:?}");
    };
    let (second, sink) = read_first_page(&built, Some(&validators)).await;
    assert!(matches!(second, Ok(PageRead::NotModified)), "{second:?}");
    assert!(sink.records.is_empty());
}

// ----- failures -----

#[tokio::test]
async fn a_503_with_retry_after_is_a_transient_failure_with_its_delay() {
    let server = spawn_feed_server().await;
    let (result, _) = fetch_default(&server.url("/unavailable")).await;
    let (message, transient, retry_after) = fetch_error(result);
    assert!(transient);
    assert_eq!(retry_after, Some(Duration::from_secs(7)));
    assert_eq!(
        message,
        format!("HTTP 503 Service Unavailable from {}", server.url("/unavailable"))
    );
}

#[tokio::test]
async fn a_404_is_a_failure_not_worth_retrying() {
    let server = spawn_feed_server().await;
    let (result, sink) = fetch_default(&server.url("/nowhere")).await;
    let (message, transient, retry_after) = fetch_error(result);
    assert!(!transient);
    assert_eq!(retry_after, None);
    assert!(message.starts_with("HTTP 404 Not Found from "), "{message}");
    assert!(sink.records.is_empty());
}

#[tokio::test]
async fn a_refused_connection_is_a_transient_failure() {
    let address = closed_port();
    let (result, _) = fetch_default(&format!("http://{address}/feed")).await;
    let (message, transient, _) = fetch_error(result);
    assert!(transient);
    assert!(message.contains("could not connect"), "{message}");
}

#[tokio::test]
async fn a_server_slower_than_the_timeout_fails_the_fetch_in_time() {
    let server = spawn_feed_server().await;
    let started = Instant::now();
    let (result, _) = fetch(&server.url("/slow"), Duration::from_millis(300), 1024 * 1024).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let (message, transient, _) = fetch_error(result);
    assert!(transient);
    assert_eq!(message, "timed out after 300ms");
}

#[tokio::test]
async fn a_body_that_stalls_after_the_headers_is_timed_out_too() {
    let server = spawn_feed_server().await;
    let started = Instant::now();
    let (result, _) = fetch(&server.url("/stalling"), Duration::from_millis(300), 1024 * 1024).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let (message, transient, _) = fetch_error(result);
    assert!(transient);
    assert!(message.contains("timed out"), "{message}");
}

#[tokio::test]
async fn a_content_length_above_the_limit_fails_before_parsing() {
    let server = spawn_feed_server().await;
    let (result, sink) = fetch(&server.url("/feed"), Duration::from_secs(5), 1000).await;
    assert!(
        matches!(result, Err(ProviderError::TooLarge { limit: 1000 })),
        "{result:?}"
    );
    assert!(sink.records.is_empty());
}

#[tokio::test]
async fn a_streamed_body_above_the_limit_fails_as_too_large() {
    let server = spawn_feed_server().await;
    let (result, _) = fetch(&server.url("/chunked"), Duration::from_secs(5), 1000).await;
    assert!(
        matches!(result, Err(ProviderError::TooLarge { limit: 1000 })),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_endless_body_is_cut_off_at_the_limit() {
    let server = spawn_feed_server().await;
    let started = Instant::now();
    let (result, _) = fetch(&server.url("/endless"), Duration::from_secs(10), 64 * 1024).await;
    assert!(
        matches!(result, Err(ProviderError::TooLarge { limit: 65536 })),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_body_exactly_at_the_limit_is_accepted() {
    let server = spawn_feed_server().await;
    let limit = RESPONSE_1.len() as u64;
    let (result, sink) = fetch(&server.url("/chunked"), Duration::from_secs(5), limit).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(sink.records.len(), 3);
}

// ----- configuration through the registry -----

fn problems(table: &str) -> Vec<ConfigProblem> {
    boxoffice_provider_fever::link();
    instance_from_toml("fever", table).unwrap_err()
}

#[test]
fn the_kind_is_registered_with_its_url_key() {
    boxoffice_provider_fever::link();
    let registration = registry::find("fever-xml").unwrap_or_else(|| panic!("fever-xml is not registered"));
    let keys: Vec<_> = (registration.keys)().into_iter().map(|key| key.name).collect();
    assert_eq!(keys, ["url", "headers"]);
    assert!(!registration.description.is_empty());
}

#[test]
fn a_valid_configuration_builds_an_instance() {
    boxoffice_provider_fever::link();
    let built = instance_from_toml(
        "fever",
        "kind = \"fever-xml\"\nurl = \"https://provider.example/api/events\"\ntimezone = \"Europe/Madrid\"\n",
    )
    .unwrap();
    assert_eq!(built.kind, "fever-xml");
}

#[test]
fn an_unknown_key_is_a_problem_naming_it() {
    let problems =
        problems("kind = \"fever-xml\"\nurl = \"https://provider.example/api/events\"\ncolour = \"red\"\n");
    let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["providers.fever.colour"]);
}

#[test]
fn a_url_of_another_scheme_is_a_problem_naming_the_url_key() {
    let problems = problems("kind = \"fever-xml\"\nurl = \"ftp://provider.example/events.xml\"\n");
    let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["providers.fever.url"]);
    assert!(problems[0].message.contains("http"), "{}", problems[0].message);
}

#[test]
fn a_missing_or_unparsable_url_is_a_problem_naming_the_url_key() {
    for table in [
        "kind = \"fever-xml\"\n",
        "kind = \"fever-xml\"\nurl = \"not a url\"\n",
    ] {
        let problems = problems(table);
        let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["providers.fever.url"], "{problems:?}");
    }
}
