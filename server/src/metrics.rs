//! Prometheus metrics: the process's recorder, and the per-request layer.
//!
//! Every label value comes from a closed set, whatever clients send: the method is one
//! of the seven the API knows or `other`, the route is the matched pattern or
//! `unmatched`, the status a number. Sync metrics come from the core engine through
//! the `metrics` facade with the configured instance names as labels.
//!
//! The HTTP request metrics are kept here rather than in the facade's recorder: a
//! request costs a read-locked lookup of its series (no allocation, no label
//! hashing) and three relaxed atomic additions into fixed buckets, where the recorder
//! built a key with allocated labels per request and appended every latency sample
//! to a buffer that only a scrape drained (it grew without bound when nobody
//! scraped). They are rendered in the same text format, under the same names.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, OnceLock, PoisonError, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tower::{Layer, Service};

/// Upper bounds (seconds) of the request latency histogram's buckets.
const LATENCY_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The same bounds in nanoseconds, for comparing without floating point.
const LATENCY_BUCKETS_NANOS: [u64; 16] = [
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// The process's recorder, installed on first use (one per process, shared by every
/// application a test process builds).
pub fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| PrometheusBuilder::new().install_recorder().ok())
        .as_ref()
}

/// The metrics in the Prometheus text format.
pub fn render() -> String {
    let mut text = handle()
        .map(|handle| {
            // Drains the recorder's histogram buffers (the sync engine's).
            handle.run_upkeep();
            handle.render()
        })
        .unwrap_or_default();
    HTTP.render(&mut text);
    render_search_cache(&mut text);
    text
}

/// A method as a label: the methods the API knows, or `other`.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The route label of a request that matched no route.
const UNMATCHED: &str = "unmatched";

/// One (route, method, status) series: a counter and a latency histogram.
#[derive(Default)]
struct Series {
    count: AtomicU64,
    /// Per bucket (not cumulative); past the last bound only `count` counts.
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    sum_nanos: AtomicU64,
}

impl Series {
    fn record(&self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        if let Some(bucket) = LATENCY_BUCKETS_NANOS.iter().position(|&bound| nanos <= bound) {
            self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A route's series by (method, status).
type RouteSeries = Vec<(&'static str, u16, Arc<Series>)>;

/// Series by route, then by (method, status): the route set is fixed when the router
/// is built, methods are eight labels, statuses a few.
#[derive(Default)]
struct HttpMetrics {
    routes: RwLock<HashMap<Arc<str>, RouteSeries>>,
}

static HTTP: LazyLock<HttpMetrics> = LazyLock::new(HttpMetrics::default);

impl HttpMetrics {
    fn record(&self, route: &str, method: &'static str, status: u16, elapsed: Duration) {
        let found = {
            let routes = self.routes.read().unwrap_or_else(PoisonError::into_inner);
            routes.get(route).and_then(|series| {
                series
                    .iter()
                    .find(|(m, s, _)| *m == method && *s == status)
                    .map(|(_, _, series)| Arc::clone(series))
            })
        };
        let series = found.unwrap_or_else(|| {
            let mut routes = self.routes.write().unwrap_or_else(PoisonError::into_inner);
            let of_route = routes.entry(Arc::from(route)).or_default();
            match of_route.iter().find(|(m, s, _)| *m == method && *s == status) {
                Some((_, _, series)) => Arc::clone(series),
                None => {
                    let series = Arc::new(Series::default());
                    of_route.push((method, status, Arc::clone(&series)));
                    series
                }
            }
        });
        series.record(elapsed);
    }

    fn render(&self, out: &mut String) {
        let routes = self.routes.read().unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<(&str, &'static str, u16, &Series)> = routes
            .iter()
            .flat_map(|(route, series)| {
                series
                    .iter()
                    .map(move |(method, status, series)| (&**route, *method, *status, &**series))
            })
            .collect();
        if all.is_empty() {
            return;
        }
        all.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
        let labels = |route: &str, method: &str, status: u16| {
            format!(
                "route=\"{}\",method=\"{method}\",status=\"{status}\"",
                escape_label(route)
            )
        };
        out.push_str("# TYPE http_requests_total counter\n");
        for &(route, method, status, series) in &all {
            let _ = writeln!(
                out,
                "http_requests_total{{{}}} {}",
                labels(route, method, status),
                series.count.load(Ordering::Relaxed)
            );
        }
        out.push_str("\n# TYPE http_request_duration_seconds histogram\n");
        for &(route, method, status, series) in &all {
            let labels = labels(route, method, status);
            let count = series.count.load(Ordering::Relaxed);
            let mut cumulative = 0;
            for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&series.buckets) {
                cumulative += bucket.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                count.max(cumulative)
            );
            let sum = series.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(out, "http_request_duration_seconds_sum{{{labels}}} {sum}");
            let _ = writeln!(out, "http_request_duration_seconds_count{{{labels}}} {count}");
        }
        out.push('\n');
    }
}

/// A label value in the text format: backslash, quote and newline escaped.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

static SEARCH_CACHE_HITS: AtomicU64 = AtomicU64::new(0);
static SEARCH_CACHE_MISSES: AtomicU64 = AtomicU64::new(0);

/// A /search answered from the snapshot's response cache.
pub fn search_cache_hit() {
    SEARCH_CACHE_HITS.fetch_add(1, Ordering::Relaxed);
}

/// A /search rendered from the snapshot.
pub fn search_cache_miss() {
    SEARCH_CACHE_MISSES.fetch_add(1, Ordering::Relaxed);
}

fn render_search_cache(out: &mut String) {
    let _ = write!(
        out,
        "# TYPE boxoffice_search_cache_hits_total counter\nboxoffice_search_cache_hits_total {}\n\n\
         # TYPE boxoffice_search_cache_misses_total counter\nboxoffice_search_cache_misses_total {}\n\n",
        SEARCH_CACHE_HITS.load(Ordering::Relaxed),
        SEARCH_CACHE_MISSES.load(Ordering::Relaxed)
    );
}

/// Records each request's route, method, status and latency (a route layer: the
/// matched pattern is known there).
#[derive(Debug, Clone, Copy, Default)]
pub struct TrackLayer;

impl<S> Layer<S> for TrackLayer {
    type Service = Track<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Track { inner }
    }
}

/// The service of [`TrackLayer`].
#[derive(Debug, Clone)]
pub struct Track<S> {
    inner: S,
}

impl<S> Service<Request> for Track<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = TrackFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let route = request.extensions().get::<MatchedPath>().cloned();
        let method = method_label(request.method());
        TrackFuture {
            inner: self.inner.call(request),
            route,
            method,
            started: Instant::now(),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Track`].
    pub struct TrackFuture<F> {
        #[pin]
        inner: F,
        route: Option<MatchedPath>,
        method: &'static str,
        started: Instant,
    }
}

impl<F, E> Future for TrackFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        if let Ok(response) = &result {
            let route = this.route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
            HTTP.record(
                route,
                this.method,
                response.status().as_u16(),
                this.started.elapsed(),
            );
        }
        Poll::Ready(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_known_seven_are_other() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::OPTIONS), "OPTIONS");
        let odd = Method::from_bytes(&[b'X'; 4096]).unwrap_or(Method::TRACE);
        assert_eq!(method_label(&odd), "other");
        assert_eq!(method_label(&Method::TRACE), "other");
        assert_eq!(method_label(&Method::CONNECT), "other");
    }

    #[test]
    fn requests_are_counted_and_bucketed_per_series() {
        let metrics = HttpMetrics::default();
        metrics.record("/a", "GET", 200, Duration::from_micros(50));
        metrics.record("/a", "GET", 200, Duration::from_millis(3));
        metrics.record("/a", "GET", 200, Duration::from_secs(60));
        metrics.record("/a", "POST", 404, Duration::from_micros(50));
        let mut text = String::new();
        metrics.render(&mut text);
        assert!(
            text.contains("http_requests_total{route=\"/a\",method=\"GET\",status=\"200\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("http_requests_total{route=\"/a\",method=\"POST\",status=\"404\"} 1\n"));
        let labels = "route=\"/a\",method=\"GET\",status=\"200\"";
        assert!(text.contains(&format!(
            "http_request_duration_seconds_bucket{{{labels},le=\"0.0001\"}} 1\n"
        )));
        assert!(text.contains(&format!(
            "http_request_duration_seconds_bucket{{{labels},le=\"0.005\"}} 2\n"
        )));
        assert!(text.contains(&format!(
            "http_request_duration_seconds_bucket{{{labels},le=\"10\"}} 2\n"
        )));
        assert!(text.contains(&format!(
            "http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} 3\n"
        )));
        assert!(text.contains(&format!("http_request_duration_seconds_count{{{labels}}} 3\n")));
        assert!(
            text.contains(&format!(
                "http_request_duration_seconds_sum{{{labels}}} 60.00305\n"
            )),
            "{text}"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
