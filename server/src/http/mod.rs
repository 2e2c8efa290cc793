//! The HTTP API: routes, shared state and the middleware stack.
//!
//! From the socket inwards: one front layer (`middleware/policy.rs`: request-id sanitizing and
//! assignment, the request's span and access-log line, the security headers, the
//! response policy — every error in the envelope, admin answers not cached — and the
//! guard: query size, rate limit), metrics, then the routes; public routes also have
//! the request timeout, and the public read routes CORS when `server.cors` allows any
//! origin. Each layer is a plain tower layer with its own future type, not a `from_fn`
//! middleware: the hot path pays one boxed future for the whole stack beside the
//! router's own.
//!
//! Routes are declared with their documentation (utoipa-axum): the router and the
//! OpenAPI document (`routes/openapi.rs`) come from the same declarations.

mod error;
mod extract;

pub mod middleware;
pub mod routes;

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
use axum::routing::get;
use boxoffice_core::store::EventStore;
use boxoffice_core::sync::SyncEngine;
use tower::{Layer, Service};
use tower_http::cors::CorsLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::{ApiError, Envelope, ErrorBody, ErrorEnvelope, Result};
pub use middleware::auth::AdminAuth;
pub use routes::search::parse_window;

use crate::read_model::ReadModel;

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
    /// Bytes of uncached /search bodies in flight at once (`server.search_inflight_bytes`).
    pub search_render_budget: Arc<middleware::render_budget::RenderBudget>,
    /// The last `/status` and `/metrics` answers, rendered at most once a second.
    pub recent_pages: Arc<RecentPages>,
}

/// The costly public pages' last answers.
#[derive(Default)]
pub struct RecentPages {
    status: routes::recent::Recent,
    metrics: routes::recent::Recent,
}

/// What the middleware stack is built from.
pub struct RouterOptions {
    /// Longest a public request may take (`server.request_timeout`).
    pub request_timeout: Duration,
    /// Query size and rate limits.
    pub guard: middleware::guard::GuardConfig,
    /// CORS of the public read routes; `None`: no CORS headers anywhere.
    pub cors: Option<CorsLayer>,
    /// One log line per request (`log.access`).
    pub access_log: bool,
}

/// The whole router with its middleware.
pub fn router(state: AppState, options: RouterOptions) -> Router {
    let RouterOptions {
        request_timeout,
        guard,
        cors,
        access_log,
    } = options;
    // Each group of routes comes with its documentation: nothing is served
    // undocumented, nothing documented is not served. /search has a state of its own:
    // one `Arc` to clone per request instead of every field of `AppState`.
    let search_state = Arc::new(routes::search::SearchState {
        read_model: Arc::clone(&state.read_model),
        cache_control: state.search_cache_control.clone(),
        render_budget: Arc::clone(&state.search_render_budget),
        proxies: guard.proxies.clone(),
    });
    let (search, search_doc) = OpenApiRouter::new()
        .routes(routes!(routes::search::search))
        .split_for_parts();
    let (reads, reads_doc) = OpenApiRouter::new()
        .routes(routes!(routes::events::get_event))
        .routes(routes!(routes::ops::health))
        .routes(routes!(routes::ops::ready))
        .split_for_parts();
    let (pages, pages_doc) = OpenApiRouter::new()
        .routes(routes!(routes::status::status_page))
        .routes(routes!(routes::ops::metrics))
        .split_for_parts();
    let (admin, admin_doc) = OpenApiRouter::new()
        .routes(routes!(routes::admin::list_providers))
        .routes(routes!(routes::admin::sync_now))
        .routes(routes!(routes::admin::patch_provider))
        .routes(routes!(routes::admin::list_runs))
        .routes(routes!(routes::admin::list_rejects))
        .routes(routes!(routes::admin::get_run))
        .routes(routes!(routes::admin::retire_items))
        .split_for_parts();
    let mut documented = search_doc;
    for part in [reads_doc, pages_doc, admin_doc] {
        documented.merge(part);
    }
    // Served here rather than by Swagger UI's router, so that it can share the read
    // routes' CORS layer; rendered once.
    let openapi =
        bytes::Bytes::from(serde_json::to_vec(&routes::openapi::document(documented)).unwrap_or_default());
    let docs = Router::new()
        .merge(
            utoipa_swagger_ui::SwaggerUi::new("/docs")
                .config(utoipa_swagger_ui::Config::from("/openapi.json")),
        )
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DOCS_CONTENT_SECURITY_POLICY),
        ));
    // What a web page elsewhere may read, when server.cors allows it.
    let reads = search.with_state::<AppState>(search_state).merge(reads).route(
        "/openapi.json",
        get(move || {
            let openapi = openapi.clone();
            async move {
                (
                    [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
                    openapi,
                )
            }
        }),
    );
    // Public routes answer within the request timeout; admin routes do not: a sync of
    // a large feed may take longer, and its caller waits for the report.
    let reads = reads.layer(TimeoutLayer::new(request_timeout));
    let reads = match cors {
        // Outside the timeout, so that a 503 for a slow read still reaches the page.
        // The 405 fallback goes in before the layer, so that the layer answers the
        // preflight (OPTIONS) that no route takes; set later, it would replace it.
        Some(cors) => reads.method_not_allowed_fallback(method_not_allowed).layer(cors),
        None => reads,
    };
    let public = pages
        .route("/", get(|| async { Redirect::temporary("/docs/") }))
        .merge(docs)
        .layer(TimeoutLayer::new(request_timeout))
        .merge(reads);
    Router::new()
        .merge(public)
        .merge(admin)
        // Route layers skip the fallback: it gets the metrics layer of its own.
        .fallback(not_found.layer(crate::metrics::TrackLayer))
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .route_layer(crate::metrics::TrackLayer)
        .layer(middleware::policy::FrontLayer::new(guard, access_log))
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
