//! The HTTP API: routes, shared state and the middleware stack.

mod admin;
mod error;
mod events;
pub mod guard;
mod search;
mod status;

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Redirect;
use axum::routing::{get, post};
use boxoffice_core::store::EventStore;
use boxoffice_core::sync::SyncEngine;
use serde_json::json;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use error::{ApiError, Result};
pub use search::parse_window;

use crate::config::Secret;
use crate::read_model::ReadModel;

/// The served OpenAPI document: the public contract's `/search`, unchanged, plus
/// every other route.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The store, for details and the admin API.
    pub store: Arc<dyn EventStore>,
    /// The sync engine.
    pub engine: Arc<SyncEngine>,
    /// What /search serves.
    pub read_model: Arc<ReadModel>,
    /// The admin token; `None` refuses every admin request.
    pub admin_token: Option<Arc<Secret>>,
    /// `Cache-Control` of /search responses.
    pub search_cache_control: HeaderValue,
}

/// The whole router with its middleware.
pub fn router(state: AppState, request_timeout: Duration, guard: guard::GuardConfig) -> Router {
    let openapi: serde_json::Value = serde_json::from_str(OPENAPI_JSON).unwrap_or_default();
    let docs = utoipa_swagger_ui::SwaggerUi::new("/docs").external_url_unchecked("/openapi.json", openapi);
    let x_request_id = header::HeaderName::from_static("x-request-id");
    // Public routes answer within the request timeout; admin routes do not: a sync of
    // a large feed may take longer, and its caller waits for the report.
    let public = Router::new()
        .route("/search", get(search::search))
        .route("/events/{id}", get(events::get_event))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/status", get(status::status_page))
        .route("/", get(|| async { Redirect::temporary("/docs/") }))
        .route("/metrics", get(crate::metrics::metrics))
        .merge(docs)
        .layer(axum::middleware::from_fn_with_state(request_timeout, timeout));
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
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .route_layer(axum::middleware::from_fn(crate::metrics::track))
        .layer(axum::middleware::from_fn_with_state(guard, guard::guard))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
                let request_id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!("request", method = %request.method(), uri = %request.uri(), request_id)
            }),
        )
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
}

/// Answers 503 in the error envelope when a public request takes longer than
/// `server.request_timeout` (dropping the handler's future cancels its work).
async fn timeout(
    State(limit): State<Duration>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!("the request took longer than {}s", limit.as_secs_f64()),
        )
        .into_response(),
    }
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({ "data": { "status": "ok" }, "error": null }))
}

async fn ready(State(state): State<AppState>) -> Result<Json<serde_json::Value>> {
    state.store.ping().await?;
    let snapshot = state.read_model.snapshot();
    Ok(Json(json!({
        "data": { "status": "ready", "items": snapshot.len(), "data_version": snapshot.version() },
        "error": null
    })))
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
            .layer(axum::middleware::from_fn_with_state(
                Duration::from_millis(50),
                timeout,
            ));
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
