//! Prometheus metrics: the process's recorder, and the per-request middleware.
//!
//! Every label value comes from a closed set, whatever clients send: the method is one
//! of the seven the API knows or `other`, the route is the matched pattern or
//! `unmatched`, the status a number. Sync metrics come from the core engine through
//! the `metrics` facade with the configured instance names as labels.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use metrics::SharedString;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process's recorder, installed on first use (one per process, shared by every
/// application a test process builds).
pub fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("http_request_duration_seconds".into()),
                    LATENCY_BUCKETS,
                )
                .ok()?
                .install_recorder()
                .ok()
        })
        .as_ref()
}

/// The metrics in the Prometheus text format.
pub fn render() -> String {
    handle().map(PrometheusHandle::render).unwrap_or_default()
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

/// A route as a label: the pattern it matched (a finite set, fixed when the router is
/// built), never the raw path; `unmatched` when no route matched.
pub fn route_label(request: &Request) -> SharedString {
    request
        .extensions()
        .get::<MatchedPath>()
        .map_or(SharedString::const_str("unmatched"), |path| {
            SharedString::from(path.as_str().to_owned())
        })
}

/// Records each request's route, method, status and latency.
pub async fn track(request: Request, next: Next) -> Response {
    let route = route_label(&request);
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = SharedString::from(status_label(response.status().as_u16()));
    let elapsed = started.elapsed().as_secs_f64();
    metrics::counter!("http_requests_total", "route" => route.clone(), "method" => method, "status" => status.clone())
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "route" => route, "method" => method, "status" => status)
        .record(elapsed);
    response
}

/// The status as a label without allocating for the usual ones.
fn status_label(status: u16) -> SharedString {
    match status {
        200 => SharedString::const_str("200"),
        304 => SharedString::const_str("304"),
        400 => SharedString::const_str("400"),
        404 => SharedString::const_str("404"),
        other => SharedString::from(other.to_string()),
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
}
