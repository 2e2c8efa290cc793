//! Reading a feed the same way for every provider: a deadline over the whole run, a
//! byte limit enforced while streaming, byte counting, and an optional copy of the
//! raw bytes for the payload archive.

use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};

use crate::provider::{FetchStats, Provider, ProviderError, RecordSink};

/// The size of the buffer between a body and its parser.
pub const READ_BUFFER_BYTES: usize = 64 * 1024;

/// The marker error a metered body fails with past the limit. Parsers turn an
/// `io::Error` carrying it into [`ProviderError::TooLarge`] with [`read_error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the feed is larger than the {limit}-byte limit (max_feed_bytes)")]
pub struct FeedTooLarge {
    /// The limit in bytes.
    pub limit: u64,
}

/// Turns a read error of a feed body into the provider error it stands for: the
/// size limit, or a transient read failure (the connection dropped, timed out).
/// A provider whose source wraps its own error type in `io::Error` checks for it first.
pub fn read_error(error: &std::io::Error) -> ProviderError {
    if let Some(too_large) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<FeedTooLarge>())
    {
        return ProviderError::TooLarge {
            limit: too_large.limit,
        };
    }
    if let Some(http) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<crate::http::HttpError>())
    {
        return http.clone().into();
    }
    ProviderError::Fetch {
        message: format!("reading the feed failed: {error}"),
        transient: true,
        retry_after: None,
    }
}

/// The limits of one run.
#[derive(Debug, Clone, Copy)]
pub struct FeedLimits {
    /// Deadline of open + read + parse.
    pub timeout: Duration,
    /// Largest document accepted, in bytes.
    pub max_bytes: u64,
}

/// Counts, limits and copies what passes through.
struct Metered<R> {
    inner: R,
    read: Arc<AtomicU64>,
    limit: u64,
    copy: Option<Box<dyn Write + Send>>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Metered<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let chunk = &buf.filled()[before..];
                let total = this.read.fetch_add(chunk.len() as u64, Ordering::Relaxed) + chunk.len() as u64;
                if total > this.limit {
                    return Poll::Ready(Err(std::io::Error::other(FeedTooLarge { limit: this.limit })));
                }
                if let Some(copy) = this.copy.as_mut()
                    && copy.write_all(chunk).is_err()
                {
                    // The archive is a convenience: losing it never fails a run.
                    this.copy = None;
                }
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

/// Opens `provider`'s feed and parses it into `sink` within `limits`, copying the raw
/// bytes into `copy` when given. Used by the sync engine, and by provider tests to run
/// a provider exactly as the engine does.
pub async fn read_feed(
    provider: &dyn Provider,
    limits: FeedLimits,
    copy: Option<Box<dyn Write + Send>>,
    sink: &mut dyn RecordSink,
) -> Result<FetchStats, ProviderError> {
    let read = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&read);
    let run = async move {
        let feed = provider.open().await?;
        if feed.length.is_some_and(|length| length > limits.max_bytes) {
            return Err(ProviderError::TooLarge {
                limit: limits.max_bytes,
            });
        }
        let metered = Metered {
            inner: feed.body,
            read: counter,
            limit: limits.max_bytes,
            copy,
        };
        let body = tokio::io::BufReader::with_capacity(READ_BUFFER_BYTES, metered);
        provider.parse(Box::new(body), sink).await
    };
    match tokio::time::timeout(limits.timeout, run).await {
        Ok(result) => result?,
        Err(_) => {
            return Err(ProviderError::Fetch {
                message: format!(
                    "timed out: the feed took longer than its {}s timeout",
                    limits.timeout.as_secs_f64()
                ),
                transient: true,
                retry_after: None,
            });
        }
    }
    Ok(FetchStats {
        bytes: read.load(Ordering::Relaxed),
    })
}

/// Parses an already-read document (an archived payload, a fixture) with `provider`.
pub async fn parse_bytes(
    provider: &dyn Provider,
    bytes: Vec<u8>,
    sink: &mut dyn RecordSink,
) -> Result<FetchStats, ProviderError> {
    let length = bytes.len() as u64;
    provider
        .parse(Box::new(std::io::Cursor::new(bytes)), sink)
        .await?;
    Ok(FetchStats { bytes: length })
}
