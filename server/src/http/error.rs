//! The public contract's envelope `{"data": …, "error": …}`, and one error type for
//! every handler. 4xx say what was wrong; 5xx log the cause and tell the client little.
//!
//! Handlers answer [`Envelope::ok`] or an [`ApiError`]; what axum's extractors and
//! the middleware refuse is turned into an [`ApiError`] too (see `middleware/policy.rs`), so
//! every error the application writes has this shape.

use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use boxoffice_core::store::StoreError;
use serde::Serialize;
use tracing::error;
use utoipa::ToSchema;

/// Handler result.
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// The envelope of every JSON answer: `data` on success, `error` on failure.
#[derive(Debug, Serialize, ToSchema)]
pub struct Envelope<T> {
    /// What was asked for; `null` on errors (or details of the failure).
    pub data: Option<T>,
    /// Why the request failed; `null` on success.
    pub error: Option<ErrorBody>,
}

/// The `error` member of the envelope (the contract's `Error`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// Machine-readable, stable: `invalid_parameter`, `not_found`, `rate_limited`…
    pub code: &'static str,
    /// For a person to read: what was wrong.
    pub message: String,
}

/// The envelope of an error: `data` null (or details of the failure), `error` set.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    /// Null, or details of the failure (a failed run's report).
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Value>,
    /// What went wrong.
    pub error: ErrorBody,
}

impl<T: Serialize> Envelope<T> {
    /// A successful answer carrying `data`.
    pub fn ok(data: T) -> axum::Json<Self> {
        axum::Json(Self {
            data: Some(data),
            error: None,
        })
    }
}

/// An error answered in the envelope.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
    /// Boxed: errors travel through `Result`s, and a `Value` is large.
    data: Option<Box<serde_json::Value>>,
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with `status`, a machine-readable `code` and a sentence.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                code,
                message: message.into(),
            },
            data: None,
            retry_after: None,
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

    /// 429 with `Retry-After` (whole seconds, at least 1).
    pub fn too_many_requests(
        code: &'static str,
        message: impl Into<String>,
        retry_after: std::time::Duration,
    ) -> Self {
        let mut error = Self::new(StatusCode::TOO_MANY_REQUESTS, code, message);
        error.retry_after = Some(retry_after.as_secs_f64().ceil().max(1.0) as u64);
        error
    }

    /// 503 while the process shuts down.
    pub fn shutting_down(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", message)
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

    /// The code a status stands for when nothing more precise is known (errors made by
    /// layers and extractors rather than handlers).
    pub fn from_status(status: StatusCode, message: impl Into<String>) -> Self {
        let code = match status {
            StatusCode::BAD_REQUEST => "bad_request",
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            StatusCode::REQUEST_TIMEOUT => "timeout",
            StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
            StatusCode::URI_TOO_LONG => "query_too_long",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
            StatusCode::TOO_MANY_REQUESTS => "rate_limited",
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            status if status.is_server_error() => "internal",
            _ => "error",
        };
        Self::new(status, code, message)
    }

    /// Attaches data to the envelope (e.g. a failed run's report).
    pub fn with_data(mut self, data: impl Serialize) -> Self {
        self.data = serde_json::to_value(data).ok().map(Box::new);
        self
    }

    /// The status answered.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        self.body.code
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ApiError::not_found("not found"),
            StoreError::Conflict(message) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
            StoreError::SyncRunning(_) => {
                ApiError::new(StatusCode::CONFLICT, "sync_running", error.to_string())
            }
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

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::from_status(rejection.status(), rejection.body_text())
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::from_status(status, "the request body is larger than the server accepts");
        }
        ApiError::from_status(status, rejection.body_text())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        ApiError::from_status(rejection.status(), rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Envelope {
            data: self.data,
            error: Some(self.body),
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
