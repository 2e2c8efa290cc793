//! Serving HTTP/1.1 connections: the accept loop, per-connection time limits and a
//! shutdown that always ends.
//!
//! hyper bounds a request's headers but not how long a client may take to send them,
//! nor how long a kept-alive connection may sit idle (its one timer covers both stages
//! with one value). Each connection here has a watchdog that knows which stage it is
//! in: **headers** (from the connection's opening, or from the first byte of a later
//! request, until the request's headers are parsed: `server.header_timeout`), **busy**
//! (a request is being handled or its response written: no limit here, the handlers
//! have theirs) and **idle** (between a response's last byte and the next request's
//! first byte: `server.idle_timeout`). A response is not over until its last byte is
//! written: a slow reader keeps the connection busy, for as long as it takes; what
//! closes it mid-answer is a **stalled write**, no byte accepted for
//! `server.write_stall_timeout`. When the stage's limit passes, the connection is
//! closed.
//!
//! What clients can make the process hold is bounded here too: a request head is at
//! most [`MAX_HEAD_BYTES`], exactly; the heads not yet complete, over every
//! connection, at most `server.max_pending_head_bytes`; one client address (an IPv6
//! /64) holds at most `server.max_connections_per_client` connections (trusted
//! proxies excepted).
//!
//! Shutdown (ADR 0005): stop accepting, ask every connection to finish its request in
//! flight and close, and close whatever is still open at `server.shutdown_timeout`.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt;
use tracing::{debug, info, warn};

mod limits;
mod socket;

use limits::{ClientConnections, HeadBudget};
use socket::Watched;

/// The largest request head a connection may buffer: a bound on what one client can
/// make the process hold (hyper's default is ~400 KB). Longer heads answer 431.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The limits of each connection and of the shutdown.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Time to receive a request's headers.
    pub header_timeout: Duration,
    /// Time a kept-alive connection may stay idle.
    pub idle_timeout: Duration,
    /// Time a response's write may go without the client accepting a byte.
    pub write_stall_timeout: Duration,
    /// Time in-flight requests have to finish once shutdown begins.
    pub shutdown_timeout: Duration,
    /// Connections held at once.
    pub max_connections: usize,
    /// Connections one client address holds at once.
    pub max_connections_per_client: usize,
    /// Bytes of request heads received and not yet complete, over every connection.
    pub max_pending_head_bytes: usize,
    /// Peers exempt from the per-client limit (they carry many clients).
    pub proxies: crate::http::middleware::client::TrustedProxies,
}

/// Serves `router` on `listener` until `shutdown` resolves, then shuts down within
/// `options.shutdown_timeout` (counted from when `shutdown` resolved).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) {
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let slots = Arc::new(Semaphore::new(options.max_connections));
    let per_client = Arc::new(ClientConnections::default());
    let heads = Arc::new(HeadBudget::new(options.max_pending_head_bytes));
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot,
            () = &mut shutdown => break,
        };
        let Ok(slot) = slot else { break };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        // Reap what has finished, so the set holds live connections only.
        while connections.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Per-connection errors (reset before accept) and resource exhaustion
                // (EMFILE): neither should end the server; back off a little.
                debug!(%error, "Accepting a connection failed.");
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        };
        let client = (!options.proxies.trusts_peer(peer.ip()))
            .then(|| ClientConnections::enter(&per_client, peer.ip(), options.max_connections_per_client));
        let client = match client {
            Some(None) => {
                debug!(%peer, "Refusing a connection: its client holds as many as it may.");
                continue;
            }
            Some(Some(slot)) => Some(slot),
            None => None,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let watcher = graceful.watcher();
        let options = options.clone();
        let heads = Arc::clone(&heads);
        connections.spawn(async move {
            serve_connection(stream, peer, router, &options, heads, watcher).await;
            drop(client);
            drop(slot);
        });
    }
    drop(listener);
    let open = connections.len();
    info!(
        open,
        deadline_s = options.shutdown_timeout.as_secs_f64(),
        "No longer accepting; finishing in-flight requests."
    );
    if tokio::time::timeout(options.shutdown_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        warn!(
            open = connections.len(),
            "Closing the connections still open at the shutdown deadline."
        );
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    options: &ServeOptions,
    heads: Arc<HeadBudget>,
    watcher: hyper_util::server::graceful::Watcher,
) {
    let stage = Arc::new(Stage::new(heads));
    let io = TokioIo::new(Watched {
        inner: stream,
        stage: Arc::clone(&stage),
    });
    let handler_stage = Arc::clone(&stage);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        let busy = BusyGuard::begin(&handler_stage);
        request.extensions_mut().insert(ConnectInfo(peer));
        let response = router.clone().oneshot(request);
        async move {
            let response = response.await?;
            Ok::<_, std::convert::Infallible>(response.map(|body| GuardedBody {
                inner: body,
                _busy: busy,
            }))
        }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .max_buf_size(MAX_HEAD_BYTES)
        .serve_connection(io, service);
    let connection = watcher.watch(connection);
    tokio::select! {
        result = connection => {
            if let Err(error) = result {
                debug!(%peer, %error, "Connection ended with an error.");
            }
        }
        reason = stage.expired(options) => {
            debug!(%peer, reason, "Closing a connection.");
        }
    }
}

/// Where a connection is in its life, for the watchdog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Waiting for a request's headers (since the connection opened, or since the first
    /// byte of a later request).
    Headers,
    /// At least one request is being handled or answered.
    Busy,
    /// Between requests, nothing received yet.
    Idle,
}

struct StageState {
    mode: Mode,
    since: Instant,
    in_flight: usize,
}

/// No write is blocked (see [`Stage::write_blocked`]).
const NOT_BLOCKED: u64 = 0;

/// The connection's stage, shared by its reader, its handler and its watchdog.
///
/// Moving between stages only writes the stage down: the watchdog is not woken per
/// request (a wake-up, a task switch and a timer reset for every request cost more
/// than the rest of serving a small response). It sleeps until the earliest moment
/// the stage it last saw could expire, then looks again: a stage that moved on since
/// gets a new deadline from when it began, so every limit is still counted from the
/// start of its stage. While a request is in flight it looks every
/// [`BUSY_RECHECK`] or shorter limit.
struct Stage {
    state: Mutex<StageState>,
    /// When the connection opened: the times below are milliseconds since then.
    opened: Instant,
    /// When the last write that was refused (the client's window full) was first
    /// refused, plus one; [`NOT_BLOCKED`] while writes go through.
    write_blocked: AtomicU64,
    /// When bytes were last written.
    last_write: AtomicU64,
    /// Wakes the watchdog when a write is first refused: the stall clock starts.
    stalling: tokio::sync::Notify,
    /// Bytes of the head being received, and the budget they are taken from.
    head_bytes: AtomicUsize,
    heads: Arc<HeadBudget>,
}

/// How often a watchdog looks at a connection that had a request in flight.
const BUSY_RECHECK: Duration = Duration::from_secs(1);

impl Stage {
    fn new(heads: Arc<HeadBudget>) -> Self {
        Self {
            state: Mutex::new(StageState {
                mode: Mode::Headers,
                since: Instant::now(),
                in_flight: 0,
            }),
            opened: Instant::now(),
            write_blocked: AtomicU64::new(NOT_BLOCKED),
            last_write: AtomicU64::new(0),
            stalling: tokio::sync::Notify::new(),
            head_bytes: AtomicUsize::new(0),
            heads,
        }
    }

    fn millis(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn at(&self, millis: u64) -> Instant {
        self.opened + Duration::from_millis(millis)
    }

    /// A write was refused: the client is not reading now.
    fn write_refused(&self) {
        let now = self.millis() + 1;
        if self
            .write_blocked
            .compare_exchange(NOT_BLOCKED, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.stalling.notify_one();
        }
    }

    /// Bytes were written: the client reads.
    fn wrote(&self) {
        self.last_write.store(self.millis(), Ordering::Relaxed);
        self.write_blocked.store(NOT_BLOCKED, Ordering::Relaxed);
    }

    /// Counts `bytes` of a head being received; `false` past what every connection may
    /// hold together.
    fn head_received(&self, bytes: usize) -> bool {
        if !self.heads.take(bytes) {
            return false;
        }
        self.head_bytes.fetch_add(bytes, Ordering::Relaxed);
        true
    }

    /// How many more bytes the head being received may have, while the connection
    /// waits for one: hyper, holding MAX_HEAD_BYTES of an unfinished head, answers 431.
    fn head_room(&self) -> Option<usize> {
        (self.lock().mode != Mode::Busy)
            .then(|| MAX_HEAD_BYTES.saturating_sub(self.head_bytes.load(Ordering::Relaxed)))
    }

    /// The head is complete (or the connection is over): its bytes go back.
    fn head_done(&self) {
        let held = self.head_bytes.swap(0, Ordering::Relaxed);
        self.heads.give_back(held);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StageState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    #[cfg(test)]
    fn set(&self, mode: Mode) {
        Self::enter(&mut self.lock(), mode);
    }

    fn enter(state: &mut StageState, mode: Mode) {
        if state.mode != mode {
            state.mode = mode;
            state.since = Instant::now();
        }
    }

    /// Bytes arrived: on an idle connection, a request has begun.
    fn received(&self) {
        let mut state = self.lock();
        if state.mode == Mode::Idle {
            Self::enter(&mut state, Mode::Headers);
        }
    }

    fn begin(&self) {
        self.head_done();
        let mut state = self.lock();
        state.in_flight += 1;
        Self::enter(&mut state, Mode::Busy);
    }

    fn end(&self) {
        let mut state = self.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        if state.in_flight == 0 {
            Self::enter(&mut state, Mode::Idle);
        }
    }

    /// Resolves when the current stage has lasted longer than its limit, with why.
    async fn expired(&self, options: &ServeOptions) -> &'static str {
        let busy_recheck = BUSY_RECHECK.min(options.header_timeout).min(options.idle_timeout);
        loop {
            let (mode, since) = {
                let state = self.lock();
                (state.mode, state.since)
            };
            let blocked = self.write_blocked.load(Ordering::Relaxed);
            let last_write = self.last_write.load(Ordering::Relaxed);
            let (deadline, reason) = match mode {
                // A response is still being written, whatever the stage: only a write
                // that stalls ends it.
                _ if blocked != NOT_BLOCKED => (
                    self.at(blocked - 1) + options.write_stall_timeout,
                    Some("the client stopped reading the response"),
                ),
                Mode::Busy => (Instant::now() + busy_recheck, None),
                Mode::Headers => (
                    since + options.header_timeout,
                    Some("the request headers took too long"),
                ),
                // Idle from the response's last byte written, not from when its body
                // was handed over.
                Mode::Idle => (
                    since.max(self.at(last_write)) + options.idle_timeout,
                    Some("idle for too long"),
                ),
            };
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {}
                // A write began to wait: look again at once.
                () = self.stalling.notified(), if blocked == NOT_BLOCKED => continue,
            }
            // The stage may have moved on meanwhile: only the same stage expires.
            let state = self.lock();
            if let Some(reason) = reason
                && state.mode == mode
                && state.since == since
                && self.write_blocked.load(Ordering::Relaxed) == blocked
                && self.last_write.load(Ordering::Relaxed) == last_write
            {
                return reason;
            }
        }
    }
}

/// Marks its request in flight until dropped (when the response body has been sent
/// or abandoned).
struct BusyGuard(Arc<Stage>);

impl BusyGuard {
    fn begin(stage: &Arc<Stage>) -> Self {
        stage.begin();
        Self(Arc::clone(stage))
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// A response body that keeps its request marked busy until hyper drops it.
struct GuardedBody {
    inner: axum::body::Body,
    _busy: BusyGuard,
}

impl http_body::Body for GuardedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> ServeOptions {
        ServeOptions {
            header_timeout: Duration::from_millis(100),
            idle_timeout: Duration::from_millis(300),
            write_stall_timeout: Duration::from_millis(500),
            shutdown_timeout: Duration::from_secs(1),
            max_connections: 10,
            max_connections_per_client: 2,
            max_pending_head_bytes: 1 << 20,
            proxies: crate::http::middleware::client::TrustedProxies::default(),
        }
    }

    fn stage() -> Stage {
        Stage::new(Arc::new(HeadBudget::new(1 << 20)))
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_waiting_for_headers_expires_after_the_header_timeout() {
        let stage = stage();
        let started = Instant::now();
        let reason = stage.expired(&options()).await;
        assert_eq!(reason, "the request headers took too long");
        assert_eq!(started.elapsed(), Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_connection_never_expires_and_an_idle_one_after_the_idle_timeout() {
        let stage = Arc::new(stage());
        let guard = BusyGuard::begin(&stage);
        let busy = tokio::time::timeout(Duration::from_secs(3600), stage.expired(&options())).await;
        assert!(busy.is_err(), "a busy connection expired");
        drop(guard);
        let idle_from = Instant::now();
        assert_eq!(stage.expired(&options()).await, "idle for too long");
        assert_eq!(idle_from.elapsed(), Duration::from_millis(300));
        // A byte on an idle connection starts the header clock.
        stage.set(Mode::Idle);
        stage.received();
        let from = Instant::now();
        assert_eq!(
            stage.expired(&options()).await,
            "the request headers took too long"
        );
        assert_eq!(from.elapsed(), Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_still_being_written_is_not_idle_and_only_a_stalled_write_ends_it() {
        let stage = Arc::new(stage());
        drop(BusyGuard::begin(&stage));
        // The body was handed over; the socket keeps taking bytes, slowly.
        for _ in 0..10 {
            stage.write_refused();
            tokio::time::advance(Duration::from_millis(200)).await;
            stage.wrote();
        }
        // Two seconds on, well past the idle timeout, and not closed: the last byte
        // went out just now.
        let from = Instant::now();
        stage.write_refused();
        assert_eq!(
            stage.expired(&options()).await,
            "the client stopped reading the response"
        );
        assert_eq!(from.elapsed(), Duration::from_millis(500));
    }

    #[test]
    fn the_head_budget_refuses_what_would_pass_it_and_takes_back_what_is_done() {
        let budget = Arc::new(HeadBudget::new(100));
        let one = Stage::new(Arc::clone(&budget));
        let two = Stage::new(Arc::clone(&budget));
        assert!(one.head_received(60));
        assert!(!two.head_received(60));
        assert_eq!(one.head_room(), Some(MAX_HEAD_BYTES - 60));
        one.head_done();
        assert!(two.head_received(60));
    }
}
