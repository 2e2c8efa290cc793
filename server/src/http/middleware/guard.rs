//! Guards of every route: a query-string size limit and an optional per-client rate
//! limit (governor's GCRA, keyed by client address), both answered in the envelope.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::http::error::ApiError;
use crate::http::middleware::client::TrustedProxies;

/// How many clients the limiter remembers before forgetting those whose bucket is full
/// again (they carry no information): a bound on what many addresses can make it hold.
const MAX_TRACKED_CLIENTS: usize = 100_000;

/// How often (in requests) the limiter checks its size.
const PRUNE_CHECK_EVERY: u64 = 4096;

/// A token bucket per client address.
pub struct RateLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    requests: AtomicU64,
}

impl RateLimiter {
    /// `per_second` requests a second on average, bursts of `burst`.
    pub fn new(per_second: f64, burst: u32) -> Self {
        let period = Duration::from_secs_f64(1.0 / per_second.max(0.001));
        let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        Self {
            limiter: governor::RateLimiter::keyed(quota),
            requests: AtomicU64::new(0),
        }
    }

    /// Takes a token for `client` (an IPv6 client's whole /64 shares one); the wait until the next one when none is left.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        if self
            .requests
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(PRUNE_CHECK_EVERY)
            && self.limiter.len() > MAX_TRACKED_CLIENTS
        {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter
            .check_key(&crate::http::middleware::client::bucket(client))
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Clients remembered.
    pub fn tracked(&self) -> usize {
        self.limiter.len()
    }
}

/// What the guard checks.
#[derive(Clone)]
pub struct GuardConfig {
    /// Longest query string accepted.
    pub max_query_bytes: usize,
    /// The rate limit, when on.
    pub limiter: Option<Arc<RateLimiter>>,
    /// Whose `X-Forwarded-For` names the client.
    pub proxies: TrustedProxies,
}

/// The guard's answer when `request` may not go on: the query string is too long, or
/// its client has no token left. `None` lets it through.
pub fn check(config: &GuardConfig, request: &Request) -> Option<Response> {
    // RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host.
    if request.version() == axum::http::Version::HTTP_11 {
        let hosts = request.headers().get_all(axum::http::header::HOST).iter().count();
        if hosts != 1 {
            let problem = if hosts == 0 {
                "has no Host header"
            } else {
                "has more than one Host header"
            };
            return Some(
                ApiError::bad_request(
                    "bad_request",
                    format!("the request {problem}; HTTP/1.1 needs exactly one"),
                )
                .into_response(),
            );
        }
    }
    let query_len = request.uri().query().map_or(0, str::len);
    if query_len > config.max_query_bytes {
        return Some(
            ApiError::new(
                StatusCode::URI_TOO_LONG,
                "query_too_long",
                format!(
                    "the query string has {query_len} bytes; at most {} are accepted",
                    config.max_query_bytes
                ),
            )
            .into_response(),
        );
    }
    if let Some(limiter) = &config.limiter
        && let Some(client) = config.proxies.client_of(request.extensions(), request.headers())
        && let Err(wait) = limiter.check(client)
    {
        let seconds = wait.as_secs_f64().ceil().max(1.0);
        return Some(
            ApiError::too_many_requests(
                "rate_limited",
                format!("too many requests; retry in {seconds}s"),
                wait,
            )
            .into_response(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refuses_with_the_wait() {
        let limiter = RateLimiter::new(2.0, 3);
        let client = IpAddr::from([127, 0, 0, 1]);
        for _ in 0..3 {
            assert!(limiter.check(client).is_ok());
        }
        let wait = limiter.check(client).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(500),
            "{wait:?}"
        );
        // Another client has its own bucket.
        assert!(limiter.check(IpAddr::from([127, 0, 0, 2])).is_ok());
        assert_eq!(limiter.tracked(), 2);
    }
}
