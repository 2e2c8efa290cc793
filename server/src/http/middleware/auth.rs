//! Admin authentication: `Authorization: Bearer <admin.token>` (the scheme in any
//! case, RFC 9110 §11.1), compared in constant time. With no token configured every
//! admin request is refused (403). Failed attempts are counted per client: after
//! `admin.max_failures` within `admin.failure_window`, that client's admin requests
//! answer 429 until the window has passed, whether or not `server.rate_limit` is on.
//! Clients are keyed as every per-client limit is (IPv6 by /64). When the log of
//! failing clients is full, new failing clients are refused (429) rather than old ones
//! forgotten. Public routes take an optional token and are never throttled: a wrong
//! one there counts, but a throttled client is answered as the public.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, MatchedPath};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use subtle::ConstantTimeEq;
use tracing::warn;

use crate::config::Secret;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::middleware::client::TrustedProxies;

/// How many clients' failures are remembered at once; past it, new failing clients are
/// refused. A bound on what many addresses can make the process hold.
const MAX_TRACKED_CLIENTS: usize = 10_000;

/// The admin token and the failures of each client.
pub struct AdminAuth {
    token: Option<Secret>,
    failures: FailureLog,
    proxies: TrustedProxies,
    /// Whether the hint about an untrusted proxy has been logged.
    proxy_hint_logged: std::sync::atomic::AtomicBool,
}

impl AdminAuth {
    /// Checks requests against `token` (none: every admin request is refused).
    pub fn new(token: Option<Secret>, max_failures: u32, window: Duration, proxies: TrustedProxies) -> Self {
        Self {
            token,
            failures: FailureLog::new(max_failures, window),
            proxies,
            proxy_hint_logged: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Whether the request carries the token: `Ok(true)` it does, `Ok(false)` it carries
    /// no credentials; an error when it carries wrong ones (counted), when its client is
    /// throttled, or when the admin API is off and `required`.
    fn verify(&self, parts: &Parts, required: bool) -> Result<bool, ApiError> {
        let client = self
            .proxies
            .client_of(&parts.extensions, &parts.headers)
            .map(crate::http::middleware::client::bucket);
        if let Some(client) = client
            && let Some(wait) = self.failures.blocked(client, Instant::now())
        {
            // A public route is answered as the public: its token is not even looked at.
            if !required {
                return Ok(false);
            }
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
            // Another scheme on a public route is someone else's credential, not a try.
            Some(None) if !required => Ok(false),
            // Constant time in the token's content (its length may show).
            Some(Some(token)) if bool::from(token.as_bytes().ct_eq(expected.expose().as_bytes())) => Ok(true),
            Some(_) => {
                let shown = client.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
                // The route, not the path: a client's path can be 60 KB of anything.
                let route = parts
                    .extensions
                    .get::<MatchedPath>()
                    .map_or("unmatched", MatchedPath::as_str);
                warn!(client = %shown, route, "Admin authentication failed.");
                self.hint_untrusted_proxy(parts);
                let recorded = client.is_none_or(|client| self.failures.record(client, Instant::now()));
                if !recorded {
                    return Err(ApiError::too_many_requests(
                        "too_many_failures",
                        "too many clients are failing admin authentication; retry later",
                        self.failures.window,
                    ));
                }
                Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "the bearer token is wrong",
                ))
            }
        }
    }

    /// Behind a proxy that `server.trusted_proxies` does not name, every client shares
    /// the proxy's address, and so one throttle: say so once, where the operator looks.
    fn hint_untrusted_proxy(&self, parts: &Parts) {
        let Some(axum::extract::ConnectInfo(peer)) = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        else {
            return;
        };
        if parts.headers.contains_key("x-forwarded-for")
            && !self.proxies.trusts_peer(peer.ip())
            && !self
                .proxy_hint_logged
                .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            warn!(
                peer = %peer.ip(),
                "Admin requests come through a proxy that server.trusted_proxies does not name: \
                 every client behind it shares one failure throttle. Add it to trusted_proxies."
            );
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

    /// Counts a failure of `client`; `false` when the log is full of clients whose
    /// windows are still open and this one is not among them (it is refused).
    fn record(&self, client: IpAddr, now: Instant) -> bool {
        let mut clients = self.lock();
        if clients.len() >= MAX_TRACKED_CLIENTS && !clients.contains_key(&client) {
            clients.retain(|_, window| now < window.started + self.window);
            if clients.len() >= MAX_TRACKED_CLIENTS {
                return false;
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
        true
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
        let first = IpAddr::from([10, 0, 0, 0]);
        for n in 0..(MAX_TRACKED_CLIENTS as u32 + 50) {
            let recorded = log.record(
                IpAddr::from((0x0a00_0000 + n).to_be_bytes()),
                start + Duration::from_millis(u64::from(n) % 1000),
            );
            assert_eq!(recorded, (n as usize) < MAX_TRACKED_CLIENTS, "client {n}");
        }
        assert_eq!(log.lock().len(), MAX_TRACKED_CLIENTS);
        // The oldest is still remembered (and throttled); once the windows pass, room.
        assert!(log.blocked(first, start + Duration::from_secs(2)).is_some());
        assert!(log.record(IpAddr::from([192, 0, 2, 1]), start + Duration::from_secs(61)));
    }
}
