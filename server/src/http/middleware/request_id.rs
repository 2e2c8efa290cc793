//! The request id: a client's `X-Request-Id` kept only when it is safe to echo and log,
//! otherwise a fresh one, made without a system call.

use std::cell::Cell;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};

/// The request id header, echoed on every response.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id a client may choose.
const MAX_REQUEST_ID_LEN: usize = 128;

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

/// A fresh request id: a UUID (version 4 layout) from a per-thread random seed and
/// counter, unique within the process and unpredictable across processes, without
/// asking the kernel for randomness per request.
pub fn make_request_id() -> HeaderValue {
    thread_local! {
        static NEXT: Cell<Option<(u128, u64)>> = const { Cell::new(None) };
    }
    let (seed, counter) = NEXT.with(|next| {
        let (seed, counter) = next.get().unwrap_or_else(|| (uuid::Uuid::new_v4().as_u128(), 0));
        next.set(Some((seed, counter.wrapping_add(1))));
        (seed, counter)
    });
    // An odd multiplier is a bijection modulo 2^128: distinct counters, distinct ids.
    let mixed =
        seed.wrapping_add(u128::from(counter).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835));
    let id = uuid::Builder::from_random_bytes(mixed.to_be_bytes()).into_uuid();
    let mut text = [0_u8; uuid::fmt::Hyphenated::LENGTH];
    HeaderValue::from_str(id.hyphenated().encode_lower(&mut text)).unwrap_or(HeaderValue::from_static("-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_request_ids_are_distinct_uuids() {
        let ids: std::collections::HashSet<String> = (0..1000)
            .map(|_| make_request_id().to_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(ids.len(), 1000);
        for id in ids.iter().take(10) {
            let parsed = uuid::Uuid::parse_str(id).unwrap_or_default();
            assert_eq!(parsed.get_version_num(), 4, "{id}");
            assert!(is_acceptable_request_id(id.as_bytes()));
        }
    }

    #[test]
    fn only_short_ids_of_a_safe_alphabet_are_kept() {
        assert!(is_acceptable_request_id(b"abc-123_x.y:z"));
        assert!(is_acceptable_request_id(&[b'a'; 128]));
        assert!(!is_acceptable_request_id(&[b'a'; 129]));
        assert!(!is_acceptable_request_id(b""));
        assert!(!is_acceptable_request_id(b"a b"));
        assert!(!is_acceptable_request_id(b"<script>"));
    }
}
