//! Cross-origin reads from browsers (`server.cors`), for the public read routes only.
//!
//! The origins were checked when the configuration was loaded (a bad one names
//! `server.cors.allowed_origins`); an empty list installs no layer at all, so no
//! response carries a CORS header and a preflight answers 405 as before.

use std::time::Duration;

use axum::http::{HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::CorsConfig;
use crate::http::middleware::request_id::X_REQUEST_ID;

/// How long a browser may reuse a preflight's answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The layer for `config`, or `None` when no origin is allowed.
///
/// Only reads (`GET`, `HEAD`), never credentials; the request headers a page may
/// set are those the API reads (`If-None-Match` for revalidating /search, and
/// `X-Request-Id`), and a page may read `ETag`, `X-Request-Id` and a 429's
/// `Retry-After` besides the headers every CORS response exposes.
pub fn layer(config: &CorsConfig) -> Option<CorsLayer> {
    if config.allowed_origins.is_empty() {
        return None;
    }
    let origins = if config.allows_any() {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            config
                .allowed_origins
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin).ok()),
        )
    };
    Some(
        CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([Method::GET, Method::HEAD])
            .allow_headers([header::IF_NONE_MATCH, X_REQUEST_ID.clone()])
            .expose_headers([header::ETAG, X_REQUEST_ID.clone(), header::RETRY_AFTER])
            .max_age(PREFLIGHT_MAX_AGE),
    )
}
