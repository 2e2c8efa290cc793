//! What holds for every response, whoever made it: errors in the envelope, no caching
//! of admin answers, request ids that are safe to echo and log.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// The request id header, echoed on every response.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id a client may choose.
const MAX_REQUEST_ID_LEN: usize = 128;

/// The longest text of a layer's or extractor's error that is repeated to the client.
const MAX_ERROR_TEXT: usize = 512;

/// Drops a client's `X-Request-Id` unless it is 1-128 characters of
/// `[A-Za-z0-9._:-]`, so that a fresh one is made: a client cannot make the server
/// echo or log arbitrary bytes.
pub fn sanitize_request_id(mut request: Request) -> Request {
    if let Some(value) = request.headers().get(&X_REQUEST_ID)
        && !is_acceptable_request_id(value.as_bytes())
    {
        request.headers_mut().remove(&X_REQUEST_ID);
    }
    request
}

fn is_acceptable_request_id(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Puts every error response in the envelope (those of axum's extractors, of layers,
/// of the docs' static files), and marks every `/admin` response `no-store`.
pub async fn response_policy(request: Request, next: Next) -> Response {
    let admin = request.uri().path().starts_with("/admin");
    let mut response = next.run(request).await;
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

    #[test]
    fn only_short_ids_of_a_safe_alphabet_are_kept() {
        assert!(is_acceptable_request_id(b"abc-123_x.y:z"));
        assert!(is_acceptable_request_id(&[b'a'; 128]));
        assert!(!is_acceptable_request_id(&[b'a'; 129]));
        assert!(!is_acceptable_request_id(b""));
        assert!(!is_acceptable_request_id(b"a b"));
        assert!(!is_acceptable_request_id(b"<script>"));
    }

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
