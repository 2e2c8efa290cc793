//! Guards of the public endpoints: a query-string size limit and an optional
//! per-client rate limit (token bucket per peer address), both answered in the
//! error envelope.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// A token bucket per client address.
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// How many clients are remembered before idle ones are forgotten.
const MAX_TRACKED_CLIENTS: usize = 100_000;

impl RateLimiter {
    /// `per_second` requests a second on average, bursts of `burst`.
    pub fn new(per_second: f64, burst: u32) -> Self {
        Self {
            per_second: per_second.max(0.001),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `client`; the wait until the next one when none is left.
    pub fn check(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_TRACKED_CLIENTS {
            let (per_second, burst) = (self.per_second, self.burst);
            // A bucket idle long enough to be full again carries no information.
            buckets.retain(|_, bucket| now.duration_since(bucket.updated).as_secs_f64() * per_second < burst);
        }
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        let refill = now.duration_since(bucket.updated).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / self.per_second))
        }
    }
}

/// What the guard checks.
#[derive(Clone)]
pub struct GuardConfig {
    /// Longest query string accepted.
    pub max_query_bytes: usize,
    /// The rate limit, when on.
    pub limiter: Option<Arc<RateLimiter>>,
}

/// The middleware.
pub async fn guard(State(config): State<GuardConfig>, request: Request, next: Next) -> Response {
    let query_len = request.uri().query().map_or(0, str::len);
    if query_len > config.max_query_bytes {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            "query_too_long",
            format!(
                "the query string has {query_len} bytes; at most {} are accepted",
                config.max_query_bytes
            ),
        )
        .into_response();
    }
    if let Some(limiter) = &config.limiter {
        let client = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        if let Some(client) = client
            && let Err(wait) = limiter.check(client, Instant::now())
        {
            let seconds = wait.as_secs().max(1);
            let mut response = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests; retry in {seconds}s"),
            )
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return response;
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let limiter = RateLimiter::new(2.0, 3);
        let client = IpAddr::from([127, 0, 0, 1]);
        let now = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check(client, now).is_ok());
        }
        let wait = limiter.check(client, now).err().unwrap_or_default();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(500));
        assert!(limiter.check(client, now + Duration::from_millis(500)).is_ok());
        // Another client has its own bucket.
        assert!(limiter.check(IpAddr::from([127, 0, 0, 2]), now).is_ok());
    }
}
