//! Admin authentication: `Authorization: Bearer <admin.token>` (the scheme in any
//! case, RFC 9110 §11.1), compared in constant time. With no token configured every
//! admin request is refused (403). Failed attempts are counted per client: after
//! `admin.max_failures` within `admin.failure_window`, that client's admin requests
//! answer 429 until the window has passed, whether or not `server.rate_limit` is on.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use subtle::ConstantTimeEq;
use tracing::warn;

use super::AppState;
use super::client::TrustedProxies;
use super::error::ApiError;
use crate::config::Secret;

/// How many clients' failures are remembered at once; past it the oldest window is
/// forgotten. A bound on what many addresses can make the process hold.
const MAX_TRACKED_CLIENTS: usize = 10_000;

/// The admin token and the failures of each client.
pub struct AdminAuth {
    token: Option<Secret>,
    failures: FailureLog,
    proxies: TrustedProxies,
}

impl AdminAuth {
    /// Checks requests against `token` (none: every admin request is refused).
    pub fn new(token: Option<Secret>, max_failures: u32, window: Duration, proxies: TrustedProxies) -> Self {
        Self {
            token,
            failures: FailureLog::new(max_failures, window),
            proxies,
        }
    }

    /// Whether the request carries the token: `Ok(true)` it does, `Ok(false)` it carries
    /// no credentials; an error when it carries wrong ones (counted), when its client is
    /// throttled, or when the admin API is off and `required`.
    fn verify(&self, parts: &Parts, required: bool) -> Result<bool, ApiError> {
        let client = self.proxies.client_of(&parts.extensions, &parts.headers);
        if let Some(client) = client
            && let Some(wait) = self.failures.blocked(client, Instant::now())
        {
            return Err(ApiError::too_many_requests(
                "too_many_failures",
                "too many failed admin authentications from this address; retry later",
                wait,
            ));
        }
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .map(bearer_token);
        let Some(expected) = self.token.as_ref() else {
            return if required {
                Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "the admin API is disabled: no admin.token is configured",
                ))
            } else {
                Ok(false)
            };
        };
        match presented {
            None if required => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "send Authorization: Bearer <admin.token>",
            )),
            None => Ok(false),
            // Constant time in the token's content (its length may show).
            Some(Some(token)) if bool::from(token.as_bytes().ct_eq(expected.expose().as_bytes())) => Ok(true),
            Some(_) => {
                let shown = client.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
                warn!(client = %shown, path = %parts.uri.path(), "Admin authentication failed.");
                if let Some(client) = client {
                    self.failures.record(client, Instant::now());
                }
                Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "the bearer token is wrong",
                ))
            }
        }
    }
}

/// The token of an `Authorization` value with the `Bearer` scheme in any case;
/// `None` for another scheme.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Proof that the request carries the admin token.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        state.admin.verify(parts, true).map(|_| Admin)
    }
}

/// Whether a request to a public route carries the admin token (e.g. to see items never
/// sold online). Wrong credentials count as failures, as on the admin API.
pub struct MaybeAdmin(pub bool);

impl FromRequestParts<AppState> for MaybeAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if !parts.headers.contains_key(header::AUTHORIZATION) {
            return Ok(MaybeAdmin(false));
        }
        state.admin.verify(parts, false).map(MaybeAdmin)
    }
}

/// Failed attempts per client in fixed windows.
struct FailureLog {
    max_failures: u32,
    window: Duration,
    clients: Mutex<HashMap<IpAddr, Window>>,
}

#[derive(Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

impl FailureLog {
    fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures: max_failures.max(1),
            window,
            clients: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Window>> {
        self.clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How long `client` must still wait, when it has used up its failures.
    fn blocked(&self, client: IpAddr, now: Instant) -> Option<Duration> {
        let clients = self.lock();
        let window = clients.get(&client)?;
        let ends = window.started + self.window;
        (window.failures >= self.max_failures && now < ends).then(|| ends - now)
    }

    fn record(&self, client: IpAddr, now: Instant) {
        let mut clients = self.lock();
        if clients.len() >= MAX_TRACKED_CLIENTS && !clients.contains_key(&client) {
            clients.retain(|_, window| now < window.started + self.window);
            if clients.len() >= MAX_TRACKED_CLIENTS
                && let Some(oldest) = clients.iter().min_by_key(|(_, w)| w.started).map(|(ip, _)| *ip)
            {
                clients.remove(&oldest);
            }
        }
        let window = clients.entry(client).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now >= window.started + self.window {
            *window = Window {
                started: now,
                failures: 0,
            };
        }
        window.failures += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
    }

    #[test]
    fn a_client_is_blocked_after_its_failures_until_the_window_passes() {
        let log = FailureLog::new(3, Duration::from_secs(60));
        let client = IpAddr::from([192, 0, 2, 1]);
        let start = Instant::now();
        for second in 0..3 {
            assert_eq!(log.blocked(client, start + Duration::from_secs(second)), None);
            log.record(client, start + Duration::from_secs(second));
        }
        assert_eq!(
            log.blocked(client, start + Duration::from_secs(10)),
            Some(Duration::from_secs(50))
        );
        assert_eq!(log.blocked(IpAddr::from([192, 0, 2, 2]), start), None);
        assert_eq!(log.blocked(client, start + Duration::from_secs(60)), None);
        // A new window starts from scratch.
        log.record(client, start + Duration::from_secs(61));
        assert_eq!(log.blocked(client, start + Duration::from_secs(62)), None);
    }

    #[test]
    fn the_log_holds_a_bounded_number_of_clients() {
        let log = FailureLog::new(1, Duration::from_secs(60));
        let start = Instant::now();
        for n in 0..(MAX_TRACKED_CLIENTS as u32 + 50) {
            log.record(
                IpAddr::from(n.to_be_bytes()),
                start + Duration::from_millis(u64::from(n)),
            );
        }
        assert!(log.lock().len() <= MAX_TRACKED_CLIENTS);
    }
}
