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
//! first byte: `server.idle_timeout`). When the stage's limit passes, the connection
//! is closed.
//!
//! Shutdown (ADR 0005): stop accepting, ask every connection to finish its request in
//! flight and close, and close whatever is still open at `server.shutdown_timeout`.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt;
use tracing::{debug, info, warn};

/// The largest request head a connection may buffer: a bound on what one client can
/// make the process hold (hyper's default is ~400 KB). Longer heads answer 431.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The limits of each connection and of the shutdown.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// Time to receive a request's headers.
    pub header_timeout: Duration,
    /// Time a kept-alive connection may stay idle.
    pub idle_timeout: Duration,
    /// Time in-flight requests have to finish once shutdown begins.
    pub shutdown_timeout: Duration,
    /// Connections held at once.
    pub max_connections: usize,
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
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let watcher = graceful.watcher();
        connections.spawn(async move {
            serve_connection(stream, peer, router, options, watcher).await;
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
    options: ServeOptions,
    watcher: hyper_util::server::graceful::Watcher,
) {
    let stage = Arc::new(Stage::new());
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
}

/// How often a watchdog looks at a connection that had a request in flight.
const BUSY_RECHECK: Duration = Duration::from_secs(1);

impl Stage {
    fn new() -> Self {
        Self {
            state: Mutex::new(StageState {
                mode: Mode::Headers,
                since: Instant::now(),
                in_flight: 0,
            }),
        }
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
    async fn expired(&self, options: ServeOptions) -> &'static str {
        let busy_recheck = BUSY_RECHECK.min(options.header_timeout).min(options.idle_timeout);
        loop {
            let (mode, since) = {
                let state = self.lock();
                (state.mode, state.since)
            };
            let (deadline, reason) = match mode {
                Mode::Busy => (Instant::now() + busy_recheck, None),
                Mode::Headers => (
                    since + options.header_timeout,
                    Some("the request headers took too long"),
                ),
                Mode::Idle => (since + options.idle_timeout, Some("idle for too long")),
            };
            tokio::time::sleep_until(deadline).await;
            // The stage may have moved on meanwhile: only the same stage expires.
            let state = self.lock();
            if let Some(reason) = reason
                && state.mode == mode
                && state.since == since
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

/// The connection's socket, telling its stage when bytes arrive.
struct Watched {
    inner: TcpStream,
    stage: Arc<Stage>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.stage.received();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        // A kept body in pages goes by sendfile: no copy of it per request.
        if let Some(plan) = crate::pages::plan(bufs) {
            let socket = &self.inner;
            loop {
                std::task::ready!(socket.poll_write_ready(cx))?;
                match socket.try_io(tokio::io::Interest::WRITABLE, || {
                    crate::pages::send(socket, bufs, &plan)
                }) {
                    Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                    written => return Poll::Ready(written),
                }
            }
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> ServeOptions {
        ServeOptions {
            header_timeout: Duration::from_millis(100),
            idle_timeout: Duration::from_millis(300),
            shutdown_timeout: Duration::from_secs(1),
            max_connections: 10,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_waiting_for_headers_expires_after_the_header_timeout() {
        let stage = Stage::new();
        let started = Instant::now();
        let reason = stage.expired(options()).await;
        assert_eq!(reason, "the request headers took too long");
        assert_eq!(started.elapsed(), Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_connection_never_expires_and_an_idle_one_after_the_idle_timeout() {
        let stage = Arc::new(Stage::new());
        let guard = BusyGuard::begin(&stage);
        let busy = tokio::time::timeout(Duration::from_secs(3600), stage.expired(options())).await;
        assert!(busy.is_err(), "a busy connection expired");
        drop(guard);
        let idle_from = Instant::now();
        assert_eq!(stage.expired(options()).await, "idle for too long");
        assert_eq!(idle_from.elapsed(), Duration::from_millis(300));
        // A byte on an idle connection starts the header clock.
        stage.set(Mode::Idle);
        stage.received();
        let from = Instant::now();
        assert_eq!(
            stage.expired(options()).await,
            "the request headers took too long"
        );
        assert_eq!(from.elapsed(), Duration::from_millis(100));
    }
}
