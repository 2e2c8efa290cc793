//! What holds for every request and response, whoever made it, in one layer at the
//! front of the router: a request id (the client's when it is safe to echo, else a
//! fresh one) on the request and its response, the request's span and access-log line
//! (`access_log.rs`), the guard (query size, rate limit), every error in the envelope,
//! no caching of admin answers, and the security headers.
//!
//! One layer rather than a stack of eight (request-id setting and propagation,
//! tracing, three header setters, the policy and the guard as `from_fn` middleware,
//! each with a future of its own and the latter two with a boxed one): a request costs
//! one boxed future here, and a fresh request id costs no system call.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service, ServiceExt};
use tracing::Instrument;

use crate::http::error::ApiError;
use crate::http::middleware::access_log::RequestTrace;
use crate::http::middleware::guard::{self, GuardConfig};
use crate::http::middleware::request_id::{X_REQUEST_ID, make_request_id, sanitize_request_id};

/// The longest text of a layer's or extractor's error that is repeated to the client.
const MAX_ERROR_TEXT: usize = 512;

/// The front layer: see the module's documentation.
#[derive(Clone)]
pub struct FrontLayer {
    guard: GuardConfig,
    access_log: bool,
}

impl FrontLayer {
    /// The layer, guarding with `guard`, writing an access-log line per request when
    /// `access_log`.
    pub fn new(guard: GuardConfig, access_log: bool) -> Self {
        Self { guard, access_log }
    }
}

impl<S> Layer<S> for FrontLayer {
    type Service = Front<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Front {
            inner,
            guard: self.guard.clone(),
            access_log: self.access_log,
        }
    }
}

/// The service of [`FrontLayer`].
#[derive(Clone)]
pub struct Front<S> {
    inner: S,
    guard: GuardConfig,
    access_log: bool,
}

impl<S> Service<Request> for Front<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The inner service is readied in `call` (the router is always ready).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let mut request = sanitize_request_id(request);
        let id = match request.headers().get(&X_REQUEST_ID) {
            Some(id) => id.clone(),
            None => {
                let id = make_request_id();
                request.headers_mut().insert(X_REQUEST_ID.clone(), id.clone());
                id
            }
        };
        let trace = RequestTrace::begin(&request, &id, self.access_log);
        let span = trace.span.clone();
        let admin = request.uri().path().starts_with("/admin");
        let refused = guard::check(&self.guard, &request);
        let inner = self.inner.clone();
        let handled = async move {
            let response = match refused {
                Some(refused) => refused,
                None => match inner.oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                },
            };
            let mut response = finish(response, admin).await;
            let headers = response.headers_mut();
            for (name, value) in [
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
                (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
                (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
            ] {
                headers.entry(name).or_insert(value);
            }
            headers.entry(X_REQUEST_ID.clone()).or_insert(id);
            trace.end(&response);
            Ok(response)
        };
        Box::pin(handled.instrument(span))
    }
}

/// Puts every error response in the envelope (those of axum's extractors, of layers,
/// of the docs' static files), and marks every `/admin` response `no-store`.
pub async fn finish(mut response: Response, admin: bool) -> Response {
    if response.status().is_client_error() || response.status().is_server_error() {
        response = into_envelope(response).await;
    }
    if admin {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// An error response that is not already JSON, rewritten into the envelope with the
/// same status and headers; its text, when short and readable, becomes the message.
async fn into_envelope(response: Response) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_ERROR_TEXT)
        .await
        .ok()
        .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok())
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty());
    let message = text.unwrap_or_else(|| parts.status.canonical_reason().unwrap_or("error").to_lowercase());
    let rewritten = ApiError::from_status(parts.status, message).into_response();
    let (new_parts, body) = rewritten.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in &new_parts.headers {
        parts.headers.insert(name.clone(), value.clone());
    }
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[tokio::test]
    async fn a_plain_text_error_becomes_the_envelope_with_its_status() {
        let plain = (StatusCode::PAYLOAD_TOO_LARGE, "Failed to buffer the request body").into_response();
        let response = into_envelope(plain).await;
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap_or_default();
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(value["data"], serde_json::Value::Null);
        assert_eq!(value["error"]["code"], "body_too_large");
        assert_eq!(value["error"]["message"], "Failed to buffer the request body");
        let empty = into_envelope(StatusCode::NOT_FOUND.into_response()).await;
        let body = axum::body::to_bytes(empty.into_body(), 4096)
            .await
            .unwrap_or_default();
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(value["error"]["code"], "not_found");
        assert_eq!(value["error"]["message"], "not found");
    }
}
