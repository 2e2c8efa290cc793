//! One span per request and, unless `log.access` is off, one access-log line.
//!
//! Both run for every request, /search at tens of thousands a second, so they take
//! nothing from the request that would need copying: the method is a label from a
//! closed set (`metrics::method_label`), the route the pattern the router matched
//! (an `Arc` shared with the router, never the raw path), the request id a borrowed
//! header. What is left is what `tracing` itself does with a span and an event.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::response::Response;
use tracing::Span;

use crate::http::middleware::request_id::X_REQUEST_ID;
use crate::metrics::method_label;

/// The target of access-log lines: `log.level = "warn,boxoffice::access=info"` keeps
/// them while quieting the rest.
pub const ACCESS_TARGET: &str = "boxoffice::access";

/// The route of a request no route matched (as in the metrics).
const UNMATCHED: &str = "unmatched";

/// One request's span and access-log line, begun when it arrives and ended with its
/// response (by the front layer, `policy.rs`).
pub struct RequestTrace {
    /// The `request` span: `method`, `route`, `request_id`, then `status` (and
    /// `otel.status_code` for a 5xx) when it is answered.
    pub span: Span,
    started: Instant,
    method: &'static str,
    route: Option<MatchedPath>,
    access_log: bool,
}

impl RequestTrace {
    /// Begins the trace of `request`, whose id is `request_id`.
    pub fn begin(request: &Request, request_id: &HeaderValue, access_log: bool) -> Self {
        let method = method_label(request.method());
        let route = request.extensions().get::<MatchedPath>().cloned();
        // At `debug`: a span that nothing records costs a request nearly nothing,
        // and at the default `info` only the exporter (`telemetry.otlp_endpoint`,
        // which takes debug spans) and `log.level = "debug"` would record it.
        let span = tracing::debug_span!(
            "request",
            method,
            route = route.as_ref().map_or(UNMATCHED, MatchedPath::as_str),
            request_id = request_id.to_str().unwrap_or_default(),
            status = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        Self {
            span,
            started: Instant::now(),
            method,
            route,
            access_log,
        }
    }

    /// Ends it with `response`: its status on the span, and the access-log line.
    pub fn end(self, response: &Response) {
        let status = response.status().as_u16();
        self.span.record("status", status);
        if response.status().is_server_error() {
            self.span.record("otel.status_code", "ERROR");
        }
        if self.access_log {
            let duration_ms = self.started.elapsed().as_micros() as f64 / 1000.0;
            let request_id = response
                .headers()
                .get(&X_REQUEST_ID)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default();
            tracing::info!(
                target: ACCESS_TARGET,
                parent: None,
                method = self.method,
                route = self.route.as_ref().map_or(UNMATCHED, MatchedPath::as_str),
                status,
                duration_ms,
                request_id,
                "Request handled."
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use std::sync::{Arc, Mutex};
    use tower::ServiceExt as _;

    /// Log lines written while `body` runs, on this thread only.
    async fn logged<F: std::future::Future<Output = ()>>(body: F) -> String {
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::INFO)
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        body.await;
        let bytes = buffer.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        String::from_utf8(bytes).unwrap_or_default()
    }

    fn app(access_log: bool) -> Router {
        let guard = crate::http::middleware::guard::GuardConfig {
            max_query_bytes: 2048,
            limiter: None,
            proxies: crate::http::middleware::client::TrustedProxies::default(),
        };
        Router::new().route("/events/{id}", get(|| async { "ok" })).layer(
            crate::http::middleware::policy::FrontLayer::new(guard, access_log),
        )
    }

    async fn send(app: Router, method: &str, uri: &str) {
        let request = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "localhost")
            .body(Body::empty())
            .unwrap_or_default();
        let _ = app.oneshot(request).await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn one_line_per_request_with_the_pattern_never_the_path() {
        let text = logged(async {
            send(app(true), "GET", "/events/secret-looking-id").await;
            send(app(true), "BREW", "/events/x").await;
        })
        .await;
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_default())
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["target"], ACCESS_TARGET);
        assert_eq!(lines[0]["level"], "INFO");
        assert_eq!(lines[0]["method"], "GET");
        assert_eq!(lines[0]["route"], "/events/{id}");
        assert_eq!(lines[0]["status"], 200);
        assert!(lines[0]["duration_ms"].as_f64().is_some(), "{text}");
        assert_eq!(lines[1]["method"], "other");
        assert_eq!(lines[1]["status"], 405);
        assert!(
            !text.contains("secret-looking-id") && !text.contains("BREW"),
            "{text}"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn nothing_is_logged_when_the_access_log_is_off() {
        let text = logged(send(app(false), "GET", "/events/1")).await;
        assert_eq!(text, "");
    }
}
