//! One error type for every handler: the public contract's envelope
//! `{"data":null,"error":{"code","message"}}`. 4xx say what was wrong; 5xx log the
//! cause and tell the client little.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use boxoffice_core::store::StoreError;
use serde_json::json;
use tracing::error;

/// Handler result.
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// An error answered in the envelope.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    data: serde_json::Value,
}

impl ApiError {
    /// An error with `status`, a machine-readable `code` and a sentence.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            data: serde_json::Value::Null,
        }
    }

    /// 400: the request is malformed; `message` says how.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 500: logs `cause`, tells the client nothing of it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        error!(%cause, "Request failed.");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "an unexpected error occurred",
        )
    }

    /// Attaches data to the envelope (e.g. a failed run's report).
    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = data;
        self
    }

    /// The status answered.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ApiError::not_found("not found"),
            StoreError::Conflict(message) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
            StoreError::Unavailable(cause) => {
                error!(%cause, "The store is unavailable.");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the store is unavailable",
                )
            }
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "data": self.data,
            "error": { "code": self.code, "message": self.message },
        });
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
