//! The HTTP API: routes, shared state and the middleware stack.
//!
//! From the socket inwards: one front layer (`policy.rs`: request-id sanitizing and
//! assignment, tracing, the security headers, the response policy — every error in
//! the envelope, admin answers not cached — and the guard: query size, rate limit),
//! metrics, then the routes; public routes also have the request timeout. Each layer
//! is a plain tower layer with its own future type, not a `from_fn` middleware: the
//! hot path pays one boxed future for the whole stack beside the router's own.

mod admin;
mod auth;
pub mod client;
mod error;
mod events;
mod extract;
pub mod guard;
mod ops;
mod policy;
mod search;
mod status;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::handler::Handler;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use boxoffice_core::store::EventStore;
use boxoffice_core::sync::SyncEngine;
use tower::{Layer, Service};
use tower_http::set_header::SetResponseHeaderLayer;

pub use auth::AdminAuth;
pub use error::{ApiError, Envelope, ErrorBody, Result};
pub use search::parse_window;

use crate::read_model::ReadModel;

/// The served OpenAPI document: the public contract's `/search`, unchanged, plus
/// every other route.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// What Swagger UI needs, and only from this server: its script and style files,
/// inline styles it sets on elements, images it embeds, and fetching the document.
const DOCS_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
    connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The store, for details and the admin API.
    pub store: Arc<dyn EventStore>,
    /// The sync engine.
    pub engine: Arc<SyncEngine>,
    /// What /search serves.
    pub read_model: Arc<ReadModel>,
    /// The admin token and the throttle of failed attempts.
    pub admin: Arc<AdminAuth>,
    /// `Cache-Control` of /search responses.
    pub search_cache_control: HeaderValue,
}

/// The whole router with its middleware.
pub fn router(state: AppState, request_timeout: Duration, guard: guard::GuardConfig) -> Router {
    let openapi: serde_json::Value = serde_json::from_str(OPENAPI_JSON).unwrap_or_default();
    let docs = Router::new()
        .merge(utoipa_swagger_ui::SwaggerUi::new("/docs").external_url_unchecked("/openapi.json", openapi))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DOCS_CONTENT_SECURITY_POLICY),
        ));
    // Public routes answer within the request timeout; admin routes do not: a sync of
    // a large feed may take longer, and its caller waits for the report.
    // /search gets a state of its own: one `Arc` to clone per request instead of
    // every field of `AppState`.
    let search_state = Arc::new(search::SearchState {
        read_model: Arc::clone(&state.read_model),
        cache_control: state.search_cache_control.clone(),
    });
    let public = Router::new()
        .route("/search", get(search::search).with_state(search_state))
        .route("/events/{id}", get(events::get_event))
        .route("/health", get(ops::health))
        .route("/ready", get(ops::ready))
        .route("/status", get(status::status_page))
        .route("/", get(|| async { Redirect::temporary("/docs/") }))
        .route("/metrics", get(ops::metrics))
        .merge(docs)
        .layer(TimeoutLayer::new(request_timeout));
    Router::new()
        .merge(public)
        .route("/admin/providers", get(admin::list_providers))
        .route("/admin/providers/{name}/sync", post(admin::sync_now))
        .route(
            "/admin/providers/{name}",
            axum::routing::patch(admin::patch_provider),
        )
        .route("/admin/providers/{name}/runs", get(admin::list_runs))
        .route("/admin/providers/{name}/rejects", get(admin::list_rejects))
        // Route layers skip the fallback: it gets the metrics layer of its own.
        .fallback(not_found.layer(crate::metrics::TrackLayer))
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .route_layer(crate::metrics::TrackLayer)
        .layer(policy::FrontLayer::new(guard))
}

/// Answers 503 in the error envelope when a public request takes longer than
/// `server.request_timeout` (dropping the handler's future cancels its work). The
/// timer is only armed when the handler does not answer at its first poll, which a
/// /search answered from memory always does: no timer per request on the hot path.
#[derive(Debug, Clone, Copy)]
pub struct TimeoutLayer {
    limit: Duration,
}

impl TimeoutLayer {
    /// Requests get `limit`.
    pub fn new(limit: Duration) -> Self {
        Self { limit }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Timeout {
            inner,
            limit: self.limit,
        }
    }
}

/// The service of [`TimeoutLayer`].
#[derive(Debug, Clone)]
pub struct Timeout<S> {
    inner: S,
    limit: Duration,
}

impl<S> Service<Request> for Timeout<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = TimeoutFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        TimeoutFuture {
            inner: self.inner.call(request),
            deadline: tokio::time::Instant::now() + self.limit,
            limit: self.limit,
            sleep: None,
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Timeout`].
    pub struct TimeoutFuture<F> {
        #[pin]
        inner: F,
        deadline: tokio::time::Instant,
        limit: Duration,
        #[pin]
        sleep: Option<tokio::time::Sleep>,
    }
}

impl<F> Future for TimeoutFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Poll::Ready(response) = this.inner.poll(cx) {
            return Poll::Ready(response);
        }
        if this.sleep.is_none() {
            this.sleep.set(Some(tokio::time::sleep_until(*this.deadline)));
        }
        match this.sleep.as_pin_mut().map(|sleep| sleep.poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(Ok(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                format!("the request took longer than {}s", this.limit.as_secs_f64()),
            )
            .into_response())),
            _ => Poll::Pending,
        }
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route; see /openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_slow_request_is_answered_503_in_the_envelope() {
        let app: Router = Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            )
            .layer(TimeoutLayer::new(Duration::from_millis(50)));
        let request = axum::http::Request::builder()
            .uri("/slow")
            .body(Body::empty())
            .unwrap_or_default();
        let response = app.oneshot(request).await.unwrap_or_default();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap_or_default();
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(value["error"]["code"], "timeout");
        assert_eq!(value["data"], serde_json::Value::Null);
    }
}
