//! Logging and traces through `tracing`: log lines on the standard error (text for
//! people, JSON for pipelines), and, when `telemetry.otlp_endpoint` is set, every span
//! exported over OTLP/HTTP.
//!
//! Without an endpoint no OpenTelemetry layer is installed at all: the subscriber is
//! the same plain `fmt` one as ever, so an idle feature costs the hot path nothing.
//!
//! Lines are written off the request path (tracing-appender's non-blocking writer: a
//! thread of its own behind a bounded queue). When the standard error falls behind,
//! lines are dropped and counted (`boxoffice_log_lines_dropped_total`), never waited
//! for: an access log does not slow the answers it logs.

use std::ffi::OsStr;
use std::io::IsTerminal as _;
use std::time::Duration;

use anyhow::Context as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Level;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{Layer as _, Registry};

use crate::config::{Config, LogConfig, LogFormat, TelemetryConfig};

/// How long one export may take. Also bounds the flush at shutdown, so that an
/// unreachable collector delays exit by this much at most (ADR 0005: shutdown ends).
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest collector answer read (it is a small protobuf message, or empty).
const MAX_COLLECTOR_ANSWER: usize = 1 << 20;

/// The path of the OTLP/HTTP traces endpoint under the collector's base URL.
const TRACES_PATH: &str = "v1/traces";

/// What [`init`] set up and [`Telemetry::shutdown`] must flush.
#[must_use = "call shutdown() before exiting, or the last spans and lines are lost"]
pub struct Telemetry {
    tracer_provider: Option<SdkTracerProvider>,
    /// Writes the queued log lines when dropped.
    _lines: Option<tracing_appender::non_blocking::WorkerGuard>,
}

/// Lines the non-blocking writer dropped, when it is installed.
static DROPPED_LINES: std::sync::OnceLock<tracing_appender::non_blocking::ErrorCounter> =
    std::sync::OnceLock::new();

/// Log lines dropped so far because the standard error could not keep up.
pub fn dropped_lines() -> u64 {
    DROPPED_LINES
        .get()
        .map_or(0, |counter| counter.dropped_lines() as u64)
}

/// The standard error behind a bounded queue, and what flushes it at exit.
///
/// Buffered: the writer thread flushes whenever the queue is empty, so a busy server
/// writes many lines per system call instead of one, and an idle one at once.
fn stderr_writer() -> (
    tracing_appender::non_blocking::NonBlocking,
    tracing_appender::non_blocking::WorkerGuard,
) {
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(true)
        .thread_name("boxoffice-log")
        .finish(std::io::BufWriter::with_capacity(64 * 1024, std::io::stderr()));
    let _ = DROPPED_LINES.set(writer.error_counter());
    (writer, guard)
}

impl Telemetry {
    /// Exports the spans still queued and stops the exporter, within
    /// [`EXPORT_TIMEOUT`]. Call it before the runtime goes: the export runs on it.
    pub async fn shutdown(self) {
        let Some(provider) = self.tracer_provider else {
            return;
        };
        // The batch processor's thread blocks until the export is done, and the
        // export itself runs on this runtime: wait for it off the async workers.
        let flushed =
            tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(EXPORT_TIMEOUT)).await;
        match flushed {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "Cannot export the last spans."),
            Err(error) => tracing::warn!(%error, "Cannot export the last spans."),
        }
    }
}

/// Installs the global subscriber; `RUST_LOG` wins over `log.level`. With
/// `telemetry.otlp_endpoint` set, also every span at `debug` or above (any target)
/// and every event at `warn` or above (as span events) go to the collector. A second
/// call (tests) leaves the first subscriber in place.
///
/// Must be called on a Tokio runtime when an endpoint is set: exports run on it.
pub fn init(config: &Config) -> anyhow::Result<Telemetry> {
    let log = &config.log;
    let colour = use_colour(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let (writer, lines) = stderr_writer();
    let Some(endpoint) = &config.telemetry.otlp_endpoint else {
        init_logs_only(log, colour, writer);
        return Ok(Telemetry {
            tracer_provider: None,
            _lines: Some(lines),
        });
    };
    let provider = tracer_provider(&config.telemetry, endpoint)?;
    let tracer = provider.tracer("boxoffice");
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(colour);
    let fmt = match log.format {
        LogFormat::Json => fmt.json().flatten_event(true).boxed(),
        LogFormat::Text => fmt.boxed(),
    };
    let otel = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_threads(false)
        .with_location(false)
        .with_filter(filter_fn(exported));
    let installed = Registry::default()
        .with(fmt.with_filter(log_filter(log)))
        .with(otel)
        .try_init();
    if installed.is_err() {
        // Another subscriber is in place (tests): ours would export nothing.
        let _ = provider.shutdown();
        return Ok(Telemetry {
            tracer_provider: None,
            _lines: Some(lines),
        });
    }
    Ok(Telemetry {
        tracer_provider: Some(provider),
        _lines: Some(lines),
    })
}

/// What goes to the collector. Its own filter, not `log.level`'s: a span is exported
/// whatever the log level and whoever made it (`sync` and its `page`, `batch` and
/// `commit` children, requests, anything added later). `trace` spans are left out:
/// dependencies open those per poll or per statement (h2, sea-orm), thousands per
/// sync. Events ride along as span events from `warn` up, where they explain a failure.
fn exported(metadata: &tracing::Metadata<'_>) -> bool {
    if metadata.is_span() {
        *metadata.level() <= Level::DEBUG
    } else {
        *metadata.level() <= Level::WARN
    }
}

fn init_logs_only(log: &LogConfig, colour: bool, writer: tracing_appender::non_blocking::NonBlocking) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(log_filter(log))
        .with_writer(writer)
        .with_ansi(colour);
    let _ = match log.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

fn log_filter(log: &LogConfig) -> EnvFilter {
    EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Colours only for a person reading a terminal: never into pipes, files or log
/// collectors, where the escapes are noise, and never when `NO_COLOR` is set to
/// anything but the empty string (<https://no-color.org>).
fn use_colour(stderr_is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(OsStr::is_empty)
}

/// The OTLP/HTTP traces URL of a collector's base URL.
fn traces_url(endpoint: &url::Url) -> String {
    let text = endpoint.as_str();
    if endpoint.path().trim_end_matches('/').ends_with(TRACES_PATH) {
        return text.to_owned();
    }
    let mut url = endpoint.clone();
    let path = format!("{}/{TRACES_PATH}", endpoint.path().trim_end_matches('/'));
    url.set_path(&path);
    url.to_string()
}

fn tracer_provider(config: &TelemetryConfig, endpoint: &url::Url) -> anyhow::Result<SdkTracerProvider> {
    let runtime = tokio::runtime::Handle::try_current()
        .context("exporting traces needs the async runtime (telemetry::init outside it)")?;
    let client = reqwest::Client::builder()
        .timeout(EXPORT_TIMEOUT)
        .build()
        .context("building the HTTP client of the trace exporter")?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(traces_url(endpoint))
        .with_timeout(EXPORT_TIMEOUT)
        .with_http_client(ExportClient { client, runtime })
        .build()
        .context("building the OTLP trace exporter (telemetry.otlp_endpoint)")?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(config.service_name.clone())
                .build(),
        )
        .build())
}

/// The exporter's HTTP client: the reqwest client the rest of the workspace uses
/// (rustls, no second HTTP stack), driven by the process's Tokio runtime.
///
/// The SDK's batch processor exports from a thread of its own, outside any runtime,
/// where an async client cannot run; each request is therefore spawned onto the
/// runtime and only awaited there.
#[derive(Debug)]
struct ExportClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for ExportClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let exported = self.runtime.spawn(async move {
            let request = reqwest::Request::try_from(request)?;
            let mut response = client.execute(request).await?;
            let status = response.status();
            let headers = std::mem::take(response.headers_mut());
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                if body.len() + chunk.len() > MAX_COLLECTOR_ANSWER {
                    return Err(HttpError::from("the collector's answer is over 1 MiB"));
                }
                body.extend_from_slice(&chunk);
            }
            let mut answer = Response::new(Bytes::from(body));
            *answer.status_mut() = status;
            *answer.headers_mut() = headers;
            Ok::<_, HttpError>(answer)
        });
        exported.await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_sdk::trace::InMemorySpanExporter;

    #[test]
    fn colours_only_on_a_terminal_without_no_color() {
        assert!(use_colour(true, None));
        assert!(use_colour(true, Some(OsStr::new(""))));
        assert!(!use_colour(true, Some(OsStr::new("1"))));
        assert!(!use_colour(false, None));
        assert!(!use_colour(false, Some(OsStr::new(""))));
    }

    #[test]
    fn the_traces_path_is_appended_once() {
        let url = |text: &str| url::Url::parse(text).unwrap();
        assert_eq!(
            traces_url(&url("http://127.0.0.1:4318")),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            traces_url(&url("http://collector:4318/otlp/")),
            "http://collector:4318/otlp/v1/traces"
        );
        assert_eq!(
            traces_url(&url("https://collector/v1/traces")),
            "https://collector/v1/traces"
        );
    }

    /// The layer as `init` builds it, over an in-memory exporter, on this thread only.
    fn capture(body: impl FnOnce()) -> Vec<opentelemetry_sdk::trace::SpanData> {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let subscriber = Registry::default().with(
            tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("test"))
                .with_filter(filter_fn(exported)),
        );
        tracing::subscriber::with_default(subscriber, body);
        let _ = provider.force_flush();
        exporter.get_finished_spans().unwrap_or_default()
    }

    #[test]
    fn every_span_of_a_sync_is_exported_whatever_its_name() {
        let spans = capture(|| {
            let sync = tracing::info_span!("sync", provider = "fever", run_id = tracing::field::Empty);
            let _sync = sync.enter();
            sync.record("run_id", "r-1");
            // Whatever level the sync engine gives its children.
            drop(tracing::debug_span!("page").entered());
            drop(tracing::info_span!("batch").entered());
            drop(tracing::debug_span!("commit").entered());
            let _unplanned = tracing::info_span!("something_added_later").entered();
            let _noise = tracing::trace_span!("poll").entered();
        });
        let names: Vec<&str> = spans.iter().map(|span| span.name.as_ref()).collect();
        for name in ["sync", "page", "batch", "commit", "something_added_later"] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
        assert!(!names.contains(&"poll"), "trace spans stay out: {names:?}");
        let sync = spans
            .iter()
            .find(|span| span.name == "sync")
            .unwrap_or_else(|| panic!("no sync span"));
        let attribute = |key: &str| {
            sync.attributes
                .iter()
                .find(|kv| kv.key.as_str() == key)
                .map(|kv| kv.value.to_string())
        };
        assert_eq!(attribute("provider").as_deref(), Some("fever"));
        assert_eq!(attribute("run_id").as_deref(), Some("r-1"));
        let page = spans
            .iter()
            .find(|span| span.name == "page")
            .unwrap_or_else(|| panic!("no page span"));
        assert_eq!(page.parent_span_id, sync.span_context.span_id());
    }
}
