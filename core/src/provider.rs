//! The [`Provider`] trait: what a provider crate implements.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::model::EventRecord;
use crate::store::StoreError;

/// A record the provider could not map, with why. Its neighbours are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// What the record is, in the provider's terms (e.g. `base_event 444 / event 1642`).
    pub record: String,
    /// What is wrong with it, for a person to read.
    pub reason: String,
    /// The raw element, when the provider can give it, for the quarantine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
}

/// Where a provider pushes what it parses, as it parses it.
///
/// The sync engine implements it: it batches records into the store as they arrive,
/// so that memory is bounded by the batch, not by the feed.
#[async_trait]
pub trait RecordSink: Send {
    /// Takes one mapped record. An error means the store failed: stop fetching and
    /// return it (as [`ProviderError::Store`]).
    async fn accept(&mut self, record: EventRecord) -> Result<(), StoreError>;

    /// Takes one record that could not be mapped.
    fn reject(&mut self, rejection: Rejection);

    /// Notes an element or attribute the provider's mapping does not know (feed
    /// drift), e.g. `event@new_attribute`.
    fn unknown(&mut self, what: &str);
}

/// What a fetch reports besides its records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FetchStats {
    /// Bytes of the feed read.
    pub bytes: u64,
}

/// Why a whole fetch failed. Nothing of a failed fetch is stored.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The feed could not be fetched: connection error, timeout or a non-2xx status.
    #[error("fetching the feed failed: {message}")]
    Fetch {
        /// What happened.
        message: String,
        /// Whether trying again may help (timeouts, 5xx, 429), unlike other 4xx.
        transient: bool,
        /// The provider's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// The feed is not a well-formed document of the expected format.
    #[error("the feed is malformed: {0}")]
    Malformed(String),
    /// The feed is larger than the instance's `max_feed_bytes`.
    #[error("the feed is larger than the {limit}-byte limit (max_feed_bytes)")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The store failed while records were being written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A feed's document as a stream of bytes.
pub type FeedBody = Box<dyn tokio::io::AsyncBufRead + Send + Unpin>;

/// An opened feed: its body, and its length when the source announced one.
pub struct Feed {
    /// The document's bytes, read as the parser asks for them.
    pub body: FeedBody,
    /// The announced length (e.g. `Content-Length`), checked against `max_feed_bytes`
    /// before reading.
    pub length: Option<u64>,
}

/// A provider instance: opens one feed and maps its document to canonical records.
///
/// The two halves are separate so that the engine owns what every provider needs
/// alike: the run's deadline, the size limit, byte counting and the payload archive,
/// and so that an archived payload can be re-mapped without fetching (`replay`).
/// Built by its [`crate::ProviderRegistration`] from the instance's configuration.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// Opens the feed (e.g. sends the HTTP request and checks its status). Errors say
    /// whether trying again may help ([`ProviderError::Fetch`]'s `transient`).
    async fn open(&self) -> Result<Feed, ProviderError>;

    /// Parses a whole document, pushing each record or rejection into `sink` as soon
    /// as it is read. An `Err` fails the run and the engine discards what was pushed;
    /// read errors of `body` must come back as errors, never as a shorter document.
    async fn parse(&self, body: FeedBody, sink: &mut dyn RecordSink) -> Result<(), ProviderError>;
}

/// A [`RecordSink`] that keeps everything in memory, for tests and tools.
#[derive(Debug, Default)]
pub struct CollectingSink {
    /// Records accepted, in order.
    pub records: Vec<EventRecord>,
    /// Rejections, in order.
    pub rejections: Vec<Rejection>,
    /// Unknown elements and attributes with their counts.
    pub unknown: BTreeMap<String, u64>,
}

#[async_trait]
impl RecordSink for CollectingSink {
    async fn accept(&mut self, record: EventRecord) -> Result<(), StoreError> {
        self.records.push(record);
        Ok(())
    }

    fn reject(&mut self, rejection: Rejection) {
        self.rejections.push(rejection);
    }

    fn unknown(&mut self, what: &str) {
        *self.unknown.entry(what.to_owned()).or_default() += 1;
    }
}
