//! Reading one document the same way for every provider: a deadline over opening,
//! reading and parsing it, a byte limit enforced while streaming (on decoded bytes),
//! byte counting, and an optional copy of the bytes for the payload archive.

use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};

use super::progress::Progress;
use crate::provider::{
    Document, FeedTooLarge, OpenRequest, Opened, Parsed, Provider, ProviderError, RecordSink, Validators,
};

/// The size of the buffer between a body and its parser.
pub const READ_BUFFER_BYTES: usize = 64 * 1024;

/// The limits of one document.
#[derive(Debug, Clone, Copy)]
pub struct FeedLimits {
    /// Deadline of open + read + parse.
    pub timeout: Duration,
    /// Largest document accepted, in (decoded) bytes.
    pub max_bytes: u64,
}

/// What reading one document gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageRead {
    /// The source said the document has not changed.
    NotModified,
    /// The document was parsed into the sink.
    Parsed {
        /// What the parser said (the next page).
        parsed: Parsed,
        /// Bytes read.
        bytes: u64,
        /// The document's validators.
        validators: Validators,
        /// Where the document came from, when the source says.
        location: Option<String>,
    },
}

/// Counts, limits and copies what passes through.
struct Metered<R> {
    inner: R,
    read: Arc<AtomicU64>,
    limit: u64,
    copy: Option<Box<dyn Write + Send>>,
    progress: Option<Arc<Progress>>,
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
                    // An error hands back no bytes (readers rely on it).
                    buf.set_filled(before);
                    return Poll::Ready(Err(std::io::Error::other(FeedTooLarge { limit: this.limit })));
                }
                if let Some(progress) = &this.progress {
                    progress.read(chunk.len() as u64);
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

/// Opens one document of `provider` and parses it into `sink` within `limits`,
/// copying the bytes into `copy` when given and counting them into `progress`. Used by
/// the sync engine, and by provider tests to run a provider exactly as the engine does.
pub async fn read_page(
    provider: &dyn Provider,
    request: OpenRequest<'_>,
    number: u32,
    limits: FeedLimits,
    copy: Option<Box<dyn Write + Send>>,
    progress: Option<Arc<Progress>>,
    sink: &mut dyn RecordSink,
) -> Result<PageRead, ProviderError> {
    let read = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&read);
    let run = async move {
        let feed = match provider.open(request).await? {
            Opened::NotModified => return Ok(PageRead::NotModified),
            Opened::Feed(feed) => feed,
        };
        if feed.length.is_some_and(|length| length > limits.max_bytes) {
            return Err(ProviderError::TooLarge {
                limit: limits.max_bytes,
            });
        }
        if let Some(progress) = &progress {
            progress.page_opened(feed.length);
        }
        let metered = Metered {
            inner: feed.body,
            read: counter,
            limit: limits.max_bytes,
            copy,
            progress,
        };
        let body = tokio::io::BufReader::with_capacity(READ_BUFFER_BYTES, metered);
        let document = Document {
            body: Box::new(body),
            location: feed.location.clone(),
            headers: feed.headers,
            number,
            page: request.page.map(str::to_owned),
        };
        let parsed = provider.parse(document, sink).await?;
        Ok(PageRead::Parsed {
            parsed,
            bytes: 0,
            validators: feed.validators,
            location: feed.location,
        })
    };
    let outcome = match tokio::time::timeout(limits.timeout, run).await {
        Ok(outcome) => outcome?,
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
    };
    Ok(match outcome {
        PageRead::Parsed {
            parsed,
            validators,
            location,
            ..
        } => PageRead::Parsed {
            parsed,
            bytes: read.load(Ordering::Relaxed),
            validators,
            location,
        },
        PageRead::NotModified => PageRead::NotModified,
    })
}

/// Parses an already-read document (an archived payload, a fixture) with `provider`,
/// as page `number` of its run.
pub async fn parse_bytes(
    provider: &dyn Provider,
    bytes: Vec<u8>,
    number: u32,
    sink: &mut dyn RecordSink,
) -> Result<(Parsed, u64), ProviderError> {
    let length = bytes.len() as u64;
    let document = Document {
        number,
        ..Document::new(Box::new(std::io::Cursor::new(bytes)))
    };
    let parsed = provider.parse(document, sink).await?;
    Ok((parsed, length))
}
