//! One span per request and, unless `log.access` is off, one access-log line.
//!
//! Both run for every request, /search at tens of thousands a second, so they take
//! nothing from the request that would need copying: the method is a label from a
//! closed set (`metrics::method_label`), the route the pattern the router matched
//! (an `Arc` shared with the router, never the raw path), the request id a borrowed
//! header. The future is a plain struct around the inner one, not boxed. What is left
//! is what `tracing` itself does with a span and an event.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use tower::{Layer, Service};
use tracing::Span;

use super::policy::X_REQUEST_ID;
use crate::metrics::method_label;

/// The target of access-log lines: `log.level = "warn,boxoffice::access=info"` keeps
/// them while quieting the rest.
pub const ACCESS_TARGET: &str = "boxoffice::access";

/// The route of a request no route matched (as in the metrics).
const UNMATCHED: &str = "unmatched";

/// Wraps each request in a `request` span (`method`, `route`, `request_id`, then
/// `status`) and, when `access_log` is set, logs one line when its response is ready.
///
/// Sits inside the layer that sets the request id and outside the one that copies it
/// onto the response, so both the request and the response carry it here; and, like
/// every `Router::layer`, after routing, so the matched pattern is known.
#[derive(Debug, Clone, Copy)]
pub struct RequestTraceLayer {
    access_log: bool,
}

impl RequestTraceLayer {
    /// Spans always; access-log lines when `access_log`.
    pub fn new(access_log: bool) -> Self {
        Self { access_log }
    }
}

impl<S> Layer<S> for RequestTraceLayer {
    type Service = RequestTrace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestTrace {
            inner,
            access_log: self.access_log,
        }
    }
}

/// See [`RequestTraceLayer`].
#[derive(Debug, Clone)]
pub struct RequestTrace<S> {
    inner: S,
    access_log: bool,
}

impl<S> Service<Request> for RequestTrace<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = RequestTraceFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let method = method_label(request.method());
        let route = request.extensions().get::<MatchedPath>().cloned();
        let request_id = request
            .headers()
            .get(&X_REQUEST_ID)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        let span = tracing::info_span!(
            "request",
            method,
            route = route.as_ref().map_or(UNMATCHED, MatchedPath::as_str),
            request_id,
            status = tracing::field::Empty,
            // Read by the OpenTelemetry layer: a 5xx marks the span as failed.
            otel.status_code = tracing::field::Empty,
        );
        let inner = span.in_scope(|| self.inner.call(request));
        RequestTraceFuture {
            inner,
            span,
            started: Instant::now(),
            method,
            route,
            access_log: self.access_log,
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`RequestTrace`].
    pub struct RequestTraceFuture<F> {
        #[pin]
        inner: F,
        span: Span,
        started: Instant,
        method: &'static str,
        route: Option<MatchedPath>,
        access_log: bool,
    }
}

impl<F, E> Future for RequestTraceFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = {
            let _entered = this.span.enter();
            ready!(this.inner.poll(cx))
        };
        if let Ok(response) = &result {
            let status = response.status().as_u16();
            this.span.record("status", status);
            if response.status().is_server_error() {
                this.span.record("otel.status_code", "ERROR");
            }
            if *this.access_log {
                // Whole microseconds: `0.209`, not `0.20966100000000001`.
                let duration_ms = this.started.elapsed().as_micros() as f64 / 1000.0;
                let request_id = response
                    .headers()
                    .get(&X_REQUEST_ID)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default();
                // No parent: the line carries every field itself, rather than
                // repeating the request span's in front of them.
                tracing::info!(
                    target: ACCESS_TARGET,
                    parent: None,
                    method = *this.method,
                    route = this.route.as_ref().map_or(UNMATCHED, MatchedPath::as_str),
                    status,
                    duration_ms,
                    request_id,
                    "Request handled."
                );
            }
        }
        Poll::Ready(result)
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
    async fn logged<F: Future<Output = ()>>(body: F) -> String {
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
        Router::new()
            .route("/events/{id}", get(|| async { "ok" }))
            .layer(RequestTraceLayer::new(access_log))
    }

    async fn send(app: Router, method: &str, uri: &str) {
        let request = axum::http::Request::builder()
            .method(method)
            .uri(uri)
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
