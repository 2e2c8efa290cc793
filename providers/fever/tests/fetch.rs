//! The provider against a local HTTP server that plays the feed: statuses, timeouts,
//! size limits and the registry's configuration checks.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use boxoffice_core::feed::{FeedLimits, read_feed};
use boxoffice_core::provider::CollectingSink;
use boxoffice_core::registry::{self, ConfigProblem};
use boxoffice_core::{FetchStats, InstanceSettings, Provider, ProviderConfig, ProviderError};
use bytes::Bytes;
use futures_util::{StreamExt, stream};

const RESPONSE_1: &str = include_str!("fixtures/response_1.xml");

fn xml(body: impl Into<Body>) -> Response {
    ([(header::CONTENT_TYPE, "application/xml")], body.into()).into_response()
}

/// RESPONSE_1 in small chunks, without a Content-Length.
fn chunked_response_1() -> Body {
    let chunks: Vec<Result<Bytes, Infallible>> = RESPONSE_1
        .as_bytes()
        .chunks(256)
        .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
        .collect();
    Body::from_stream(stream::iter(chunks))
}

/// A server playing the feed and its failures; its base URL.
async fn spawn_feed_server() -> String {
    let router = Router::new()
        .route("/feed", get(|| async { xml(RESPONSE_1) }))
        .route("/chunked", get(|| async { xml(chunked_response_1()) }))
        .route("/moved", get(|| async { Redirect::temporary("/feed") }))
        .route(
            "/unavailable",
            get(|| async {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::RETRY_AFTER, "7")],
                    "busy",
                )
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                xml(RESPONSE_1)
            }),
        )
        .route(
            "/stalling",
            get(|| async {
                let head =
                    stream::once(async { Ok::<_, Infallible>(Bytes::from_static(b"<eventList><output>")) });
                let stall = stream::once(async {
                    tokio::time::sleep(Duration::from_secs(10)).await;
                    Ok::<_, Infallible>(Bytes::from_static(b"</output></eventList>"))
                });
                xml(Body::from_stream(head.chain(stall)))
            }),
        )
        .route(
            "/endless",
            get(|| async {
                let head = stream::iter([Ok::<_, Infallible>(Bytes::from_static(b"<eventList><output>"))]);
                let padding =
                    stream::repeat(Bytes::from_static(b"<!-- padding -->\n")).map(Ok::<_, Infallible>);
                xml(Body::from_stream(head.chain(padding)))
            }),
        )
        .route(
            "/user-agent",
            get(|headers: HeaderMap| async move {
                let agent = headers
                    .get(header::USER_AGENT)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default();
                if agent.starts_with("boxoffice/") {
                    xml(RESPONSE_1)
                } else {
                    StatusCode::BAD_REQUEST.into_response()
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("binding the test server: {e}"));
    let address = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("reading the test server's address: {e}"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{address}")
}

fn settings(timeout: Duration, max_feed_bytes: u64) -> InstanceSettings {
    InstanceSettings {
        name: "fever".into(),
        timezone: chrono_tz::Europe::Madrid,
        timeout,
        max_feed_bytes,
    }
}

fn default_settings() -> InstanceSettings {
    settings(Duration::from_secs(5), 1024 * 1024)
}

/// A provider built the way the server builds it: through the registry.
fn provider(url: &str, settings: &InstanceSettings) -> Arc<dyn Provider> {
    boxoffice_provider_fever::link();
    let registration = registry::find("fever-xml").unwrap_or_else(|| panic!("fever-xml is not registered"));
    (registration.build)(settings, serde_json::json!({ "url": url }))
        .unwrap_or_else(|problems| panic!("building the provider: {problems:?}"))
}

async fn fetch(
    url: &str,
    settings: &InstanceSettings,
) -> (Result<FetchStats, ProviderError>, CollectingSink) {
    let provider = provider(url, settings);
    let mut sink = CollectingSink::default();
    // Exactly as the sync engine reads a feed: deadline, size limit, byte count.
    let limits = FeedLimits {
        timeout: settings.timeout,
        max_bytes: settings.max_feed_bytes,
    };
    let result = read_feed(provider.as_ref(), limits, None, &mut sink).await;
    (result, sink)
}

/// The parts of a `Fetch` error; panics on anything else.
fn fetch_error(result: Result<FetchStats, ProviderError>) -> (String, bool, Option<Duration>) {
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
    let base = spawn_feed_server().await;
    let (result, sink) = fetch(&format!("{base}/feed"), &default_settings()).await;
    let stats = result.unwrap_or_else(|e| panic!("the fetch failed: {e}"));
    assert_eq!(stats.bytes, RESPONSE_1.len() as u64);
    let keys: Vec<_> = sink
        .records
        .iter()
        .map(|r| format!("{}/{}", r.key.base_event_id, r.key.event_id))
        .collect();
    assert_eq!(keys, ["291/291", "322/1642", "1591/1642"]);
    assert!(sink.records.iter().all(|r| r.key.provider == "fever"));
    // The instance's time zone is used: 21:00 in Madrid in summer is 19:00Z.
    assert_eq!(sink.records[0].start.at.to_rfc3339(), "2021-06-30T19:00:00+00:00");
}

#[tokio::test]
async fn a_chunked_body_without_content_length_is_streamed() {
    let base = spawn_feed_server().await;
    let (result, sink) = fetch(&format!("{base}/chunked"), &default_settings()).await;
    assert_eq!(
        result.map(|stats| stats.bytes).ok(),
        Some(RESPONSE_1.len() as u64)
    );
    assert_eq!(sink.records.len(), 3);
}

#[tokio::test]
async fn redirects_are_followed() {
    let base = spawn_feed_server().await;
    let (result, sink) = fetch(&format!("{base}/moved"), &default_settings()).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(sink.records.len(), 3);
}

#[tokio::test]
async fn requests_carry_the_boxoffice_user_agent() {
    let base = spawn_feed_server().await;
    let (result, sink) = fetch(&format!("{base}/user-agent"), &default_settings()).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(sink.records.len(), 3);
}

// ----- failures -----

#[tokio::test]
async fn a_503_with_retry_after_is_a_transient_failure_with_its_delay() {
    let base = spawn_feed_server().await;
    let (result, _) = fetch(&format!("{base}/unavailable"), &default_settings()).await;
    let (message, transient, retry_after) = fetch_error(result);
    assert!(transient);
    assert_eq!(retry_after, Some(Duration::from_secs(7)));
    assert_eq!(
        message,
        format!("HTTP 503 Service Unavailable from {base}/unavailable")
    );
}

#[tokio::test]
async fn a_404_is_a_failure_not_worth_retrying() {
    let base = spawn_feed_server().await;
    let (result, sink) = fetch(&format!("{base}/nowhere"), &default_settings()).await;
    let (message, transient, retry_after) = fetch_error(result);
    assert!(!transient);
    assert_eq!(retry_after, None);
    assert!(message.starts_with("HTTP 404 Not Found from "), "{message}");
    assert!(sink.records.is_empty());
}

#[tokio::test]
async fn a_refused_connection_is_a_transient_failure() {
    let address = closed_port();
    let (result, _) = fetch(&format!("http://{address}/feed"), &default_settings()).await;
    let (message, transient, _) = fetch_error(result);
    assert!(transient);
    assert!(message.contains("could not connect"), "{message}");
}

#[tokio::test]
async fn a_server_slower_than_the_timeout_fails_the_fetch_in_time() {
    let base = spawn_feed_server().await;
    let started = Instant::now();
    let (result, _) = fetch(
        &format!("{base}/slow"),
        &settings(Duration::from_millis(300), 1024 * 1024),
    )
    .await;
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
    let base = spawn_feed_server().await;
    let started = Instant::now();
    let (result, _) = fetch(
        &format!("{base}/stalling"),
        &settings(Duration::from_millis(300), 1024 * 1024),
    )
    .await;
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
    let base = spawn_feed_server().await;
    let (result, sink) = fetch(&format!("{base}/feed"), &settings(Duration::from_secs(5), 1000)).await;
    assert!(
        matches!(result, Err(ProviderError::TooLarge { limit: 1000 })),
        "{result:?}"
    );
    assert!(sink.records.is_empty());
}

#[tokio::test]
async fn a_streamed_body_above_the_limit_fails_as_too_large() {
    let base = spawn_feed_server().await;
    let (result, _) = fetch(
        &format!("{base}/chunked"),
        &settings(Duration::from_secs(5), 1000),
    )
    .await;
    assert!(
        matches!(result, Err(ProviderError::TooLarge { limit: 1000 })),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_endless_body_is_cut_off_at_the_limit() {
    let base = spawn_feed_server().await;
    let started = Instant::now();
    let (result, _) = fetch(
        &format!("{base}/endless"),
        &settings(Duration::from_secs(10), 64 * 1024),
    )
    .await;
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
    let base = spawn_feed_server().await;
    let limit = RESPONSE_1.len() as u64;
    let (result, sink) = fetch(
        &format!("{base}/chunked"),
        &settings(Duration::from_secs(5), limit),
    )
    .await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(sink.records.len(), 3);
}

// ----- configuration through the registry -----

fn problems(table: serde_json::Value) -> Vec<ConfigProblem> {
    boxoffice_provider_fever::link();
    let config: ProviderConfig =
        serde_json::from_value(table).unwrap_or_else(|e| panic!("the common keys do not parse: {e}"));
    config.build("fever").err().unwrap_or_default()
}

#[test]
fn the_kind_is_registered_with_its_url_key() {
    boxoffice_provider_fever::link();
    let registration = registry::find("fever-xml").unwrap_or_else(|| panic!("fever-xml is not registered"));
    let keys: Vec<_> = registration.config_keys.iter().map(|(key, _)| *key).collect();
    assert_eq!(keys, ["url"]);
    assert!(!registration.description.is_empty());
}

#[test]
fn a_valid_configuration_builds_an_instance() {
    boxoffice_provider_fever::link();
    let config: ProviderConfig = serde_json::from_value(serde_json::json!({
        "kind": "fever-xml",
        "url": "https://provider.example/api/events",
        "timezone": "Europe/Madrid",
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    let built = config
        .build("fever")
        .unwrap_or_else(|problems| panic!("{problems:?}"));
    assert_eq!(built.kind, "fever-xml");
}

#[test]
fn an_unknown_key_is_a_problem_naming_it() {
    let problems = problems(serde_json::json!({
        "kind": "fever-xml",
        "url": "https://provider.example/api/events",
        "colour": "red",
    }));
    let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["providers.fever.colour"]);
}

#[test]
fn a_non_http_url_is_a_problem_naming_the_url_key() {
    let problems = problems(serde_json::json!({
        "kind": "fever-xml",
        "url": "file:///etc/passwd",
    }));
    let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["providers.fever.url"]);
    assert!(problems[0].message.contains("http"), "{}", problems[0].message);
}

#[test]
fn a_missing_or_unparsable_url_is_a_problem_naming_the_url_key() {
    for table in [
        serde_json::json!({"kind": "fever-xml"}),
        serde_json::json!({"kind": "fever-xml", "url": "not a url"}),
    ] {
        let problems = problems(table);
        let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["providers.fever.url"], "{problems:?}");
    }
}
