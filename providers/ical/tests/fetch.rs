//! The provider against a local HTTP server that plays a calendar: statuses, size
//! limits, and the registry's configuration checks. Feeds are read the way the sync
//! engine reads them (`boxoffice_core::feed::read_feed`).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use boxoffice_core::feed::{FeedLimits, read_feed};
use boxoffice_core::provider::CollectingSink;
use boxoffice_core::registry::{self, ConfigProblem};
use boxoffice_core::{FetchStats, InstanceSettings, Provider, ProviderConfig, ProviderError, SellMode};
use futures_util::stream;

const CALENDAR: &str = include_str!("fixtures/weekly_series_with_a_skipped_and_a_moved_night.ics");

fn ics(body: impl Into<Body>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/calendar; charset=utf-8")],
        body.into(),
    )
        .into_response()
}

/// CALENDAR in small chunks, without a Content-Length.
fn chunked_calendar() -> Body {
    let chunks: Vec<Result<Bytes, Infallible>> = CALENDAR
        .as_bytes()
        .chunks(64)
        .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
        .collect();
    Body::from_stream(stream::iter(chunks))
}

/// A server playing the calendar and its failures; its base URL.
async fn spawn_calendar_server() -> String {
    let router = Router::new()
        .route("/agenda.ics", get(|| async { ics(CALENDAR) }))
        .route("/chunked.ics", get(|| async { ics(chunked_calendar()) }))
        .route(
            "/unavailable.ics",
            get(|| async {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::RETRY_AFTER, "120")],
                    "maintenance",
                )
            }),
        )
        .route(
            "/truncated.ics",
            get(|| async { ics(&CALENDAR[..CALENDAR.len() / 2]) }),
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

fn settings(max_feed_bytes: u64) -> InstanceSettings {
    InstanceSettings {
        name: "teatro".into(),
        timezone: chrono_tz::Europe::Madrid,
        timeout: Duration::from_secs(5),
        max_feed_bytes,
    }
}

/// A provider built the way the server builds it: through the registry.
fn provider(options: serde_json::Value, settings: &InstanceSettings) -> Arc<dyn Provider> {
    boxoffice_provider_ical::link();
    let registration = registry::find("ical").unwrap_or_else(|| panic!("ical is not registered"));
    (registration.build)(settings, options)
        .unwrap_or_else(|problems| panic!("building the provider: {problems:?}"))
}

async fn fetch_with(
    options: serde_json::Value,
    settings: &InstanceSettings,
) -> (Result<FetchStats, ProviderError>, CollectingSink) {
    let provider = provider(options, settings);
    let mut sink = CollectingSink::default();
    let limits = FeedLimits {
        timeout: settings.timeout,
        max_bytes: settings.max_feed_bytes,
    };
    let result = read_feed(provider.as_ref(), limits, None, &mut sink).await;
    (result, sink)
}

async fn fetch(
    url: &str,
    settings: &InstanceSettings,
) -> (Result<FetchStats, ProviderError>, CollectingSink) {
    // A horizon long enough for the fixture's dates whenever the test runs.
    fetch_with(serde_json::json!({ "url": url, "horizon": "3650d" }), settings).await
}

// ----- success -----

#[tokio::test]
async fn a_200_calendar_becomes_records_and_its_size_is_reported() {
    let base = spawn_calendar_server().await;
    let (result, sink) = fetch(&format!("{base}/agenda.ics"), &settings(1024 * 1024)).await;
    let stats = result.unwrap_or_else(|e| panic!("the fetch failed: {e}"));
    assert_eq!(stats.bytes, CALENDAR.len() as u64);
    assert!(sink.rejections.is_empty(), "{:?}", sink.rejections);
    // Five nights of the series and the cancelled gala.
    assert_eq!(sink.records.len(), 6);
    assert!(sink.records.iter().all(|r| r.key.provider == "teatro"));
    let first = &sink.records[0];
    assert_eq!(first.key.event_id, "20261105T193000Z");
    assert_eq!(first.start.at.to_rfc3339(), "2026-11-05T19:30:00+00:00");
}

#[tokio::test]
async fn a_chunked_body_without_content_length_is_read_whole() {
    let base = spawn_calendar_server().await;
    let (result, sink) = fetch(&format!("{base}/chunked.ics"), &settings(1024 * 1024)).await;
    assert_eq!(result.map(|stats| stats.bytes).ok(), Some(CALENDAR.len() as u64));
    assert_eq!(sink.records.len(), 6);
}

#[tokio::test]
async fn the_instance_sell_mode_applies_to_fetched_events() {
    let base = spawn_calendar_server().await;
    let options = serde_json::json!({
        "url": format!("{base}/agenda.ics"),
        "horizon": "3650d",
        "sell_mode": "offline",
    });
    let (result, sink) = fetch_with(options, &settings(1024 * 1024)).await;
    assert!(result.is_ok(), "{result:?}");
    assert!(!sink.records.is_empty());
    assert!(sink.records.iter().all(|r| r.sell_mode == SellMode::Offline));
}

// ----- failures -----

#[tokio::test]
async fn a_503_is_a_transient_failure_with_its_retry_after() {
    let base = spawn_calendar_server().await;
    let (result, sink) = fetch(&format!("{base}/unavailable.ics"), &settings(1024 * 1024)).await;
    match result {
        Err(ProviderError::Fetch {
            message,
            transient,
            retry_after,
        }) => {
            assert!(transient);
            assert_eq!(retry_after, Some(Duration::from_secs(120)));
            assert_eq!(
                message,
                format!("HTTP 503 Service Unavailable from {base}/unavailable.ics")
            );
        }
        other => panic!("expected a Fetch error, got {other:?}"),
    }
    assert!(sink.records.is_empty());
}

#[tokio::test]
async fn a_404_is_a_failure_not_worth_retrying() {
    let base = spawn_calendar_server().await;
    let (result, _) = fetch(&format!("{base}/nowhere.ics"), &settings(1024 * 1024)).await;
    assert!(
        matches!(result, Err(ProviderError::Fetch { transient: false, .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_body_over_max_feed_bytes_is_too_large() {
    let base = spawn_calendar_server().await;
    for path in ["agenda.ics", "chunked.ics"] {
        let (result, sink) = fetch(&format!("{base}/{path}"), &settings(200)).await;
        assert!(
            matches!(result, Err(ProviderError::TooLarge { limit: 200 })),
            "{path}: {result:?}"
        );
        assert!(sink.records.is_empty(), "{path}");
    }
}

#[tokio::test]
async fn a_body_exactly_at_the_limit_is_accepted() {
    let base = spawn_calendar_server().await;
    let limit = CALENDAR.len() as u64;
    let (result, sink) = fetch(&format!("{base}/chunked.ics"), &settings(limit)).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(sink.records.len(), 6);
}

#[tokio::test]
async fn a_truncated_body_is_malformed() {
    let base = spawn_calendar_server().await;
    let (result, sink) = fetch(&format!("{base}/truncated.ics"), &settings(1024 * 1024)).await;
    assert!(matches!(result, Err(ProviderError::Malformed(_))), "{result:?}");
    assert!(sink.records.is_empty());
}

#[tokio::test]
async fn a_refused_connection_is_a_transient_failure() {
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap_or_else(|e| panic!("finding a free port: {e}"));
    let (result, _) = fetch(&format!("http://{address}/agenda.ics"), &settings(1024)).await;
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

fn problems(table: serde_json::Value) -> Vec<ConfigProblem> {
    boxoffice_provider_ical::link();
    let config: ProviderConfig =
        serde_json::from_value(table).unwrap_or_else(|e| panic!("the common keys do not parse: {e}"));
    config.build("teatro").err().unwrap_or_default()
}

fn problem_keys(table: serde_json::Value) -> Vec<String> {
    problems(table).into_iter().map(|p| p.key).collect()
}

#[test]
fn the_kind_is_registered_with_its_documented_keys() {
    boxoffice_provider_ical::link();
    let registration = registry::find("ical").unwrap_or_else(|| panic!("ical is not registered"));
    let keys: Vec<_> = registration.config_keys.iter().map(|(key, _)| *key).collect();
    assert_eq!(keys, ["url", "horizon", "sell_mode"]);
    assert!(registration.config_keys.iter().all(|(_, doc)| !doc.is_empty()));
    assert!(!registration.description.is_empty());
}

#[test]
fn a_valid_configuration_builds_an_ical_instance() {
    boxoffice_provider_ical::link();
    let config: ProviderConfig = serde_json::from_value(serde_json::json!({
        "kind": "ical",
        "url": "https://sala.example/agenda.ics",
        "timezone": "Europe/Madrid",
        "horizon": "180d",
        "sell_mode": "offline",
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    let built = config
        .build("teatro")
        .unwrap_or_else(|problems| panic!("{problems:?}"));
    assert_eq!(built.kind, "ical");
}

#[test]
fn an_unknown_key_is_a_problem_naming_it() {
    let problems = problems(serde_json::json!({
        "kind": "ical",
        "url": "https://sala.example/agenda.ics",
        "colour": "red",
    }));
    let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["providers.teatro.colour"]);
    assert!(problems[0].message.contains("colour"), "{}", problems[0].message);
}

#[test]
fn a_non_http_url_is_a_problem_naming_the_url_key() {
    for url in [
        "file:///etc/passwd",
        "webcal://sala.example/agenda.ics",
        "not a url",
    ] {
        let problems = problems(serde_json::json!({"kind": "ical", "url": url}));
        let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["providers.teatro.url"], "{url}: {problems:?}");
    }
    assert_eq!(
        problem_keys(serde_json::json!({"kind": "ical"})),
        ["providers.teatro.url"]
    );
}

#[test]
fn a_bad_horizon_or_sell_mode_is_a_problem_naming_its_key() {
    assert_eq!(
        problem_keys(serde_json::json!({
            "kind": "ical",
            "url": "https://sala.example/agenda.ics",
            "horizon": "forever",
            "sell_mode": "maybe",
        })),
        ["providers.teatro.horizon", "providers.teatro.sell_mode"]
    );
}
