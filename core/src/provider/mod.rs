//! The [`Provider`] trait: what a provider crate implements, with what it pushes
//! records into ([`RecordSink`]) and how it fails ([`ProviderError`]).
//!
//! A provider opens documents and parses them; the engine owns everything around
//! that, the same for every provider: deadlines, the size limit while streaming, byte
//! counts, the payload archive, retries, pages, conditional requests, the transaction.

mod error;
mod sink;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use error::{FeedTooLarge, FetchFailure, ProviderError, SinkError, read_error};
pub use sink::{CollectingSink, RecordSink, Rejection};

/// A feed's document as a stream of bytes, decoded (a compressed transfer is
/// decompressed before the engine counts and limits it).
pub type FeedBody = Box<dyn tokio::io::AsyncBufRead + Send + Unpin>;

/// What lets a source answer "not modified": the validators of the last document a
/// run committed (`ETag`, `Last-Modified`), kept per instance by the store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validators {
    /// The document's entity tag, as the source sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The document's `Last-Modified`, as the source sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

impl Validators {
    /// Whether there is nothing to validate with.
    pub fn is_empty(&self) -> bool {
        self.etag.is_none() && self.last_modified.is_none()
    }
}

/// What the engine asks a provider to open.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenRequest<'a> {
    /// The page to open, as the previous page's [`Parsed::next_page`] named it;
    /// `None`: the feed's first document.
    pub page: Option<&'a str>,
    /// Validators of the document the last committed run read, when the feed is a
    /// single document: a source that supports it asks "only if changed".
    pub validators: Option<&'a Validators>,
}

/// An opened document.
pub struct Feed {
    /// The document's bytes, read as the parser asks for them.
    pub body: FeedBody,
    /// The announced length (e.g. `Content-Length` of an uncompressed transfer),
    /// checked against `max_feed_bytes` before reading.
    pub length: Option<u64>,
    /// The document's validators, for the next run's conditional request.
    pub validators: Validators,
    /// Where the document came from (e.g. its URL after redirects), for resolving
    /// relative references in it; never logged (it may carry credentials).
    pub location: Option<String>,
}

impl Feed {
    /// A document of `body`, with nothing else known.
    pub fn new(body: FeedBody) -> Self {
        Self {
            body,
            length: None,
            validators: Validators::default(),
            location: None,
        }
    }
}

/// What opening gave.
pub enum Opened {
    /// A document to parse.
    Feed(Feed),
    /// The source says the document has not changed since the validators sent.
    NotModified,
}

/// A parsed document as the engine receives it.
pub struct Document {
    /// The bytes.
    pub body: FeedBody,
    /// [`Feed::location`], when known (not for archived payloads).
    pub location: Option<String>,
}

/// What a parse tells the engine besides its records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// The next page of the same feed, when the document links one: the engine opens
    /// it in the same run and transaction (a page seen twice fails the run).
    pub next_page: Option<String>,
}

/// A provider instance: opens its feed's documents and maps them to canonical records.
///
/// Built by its [`crate::registry::ProviderRegistration`] from the instance's
/// configuration.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// Opens a document (e.g. sends the HTTP request and checks its status). Errors
    /// say whether trying again may help ([`ProviderError::Fetch`]'s `transient`).
    async fn open(&self, request: OpenRequest<'_>) -> Result<Opened, ProviderError>;

    /// Parses a whole document, pushing each record or rejection into `sink` as soon
    /// as it is read. An `Err` fails the run and the engine discards what was pushed;
    /// read errors of the body must come back as errors (see [`read_error`]), never as
    /// a shorter document.
    async fn parse(&self, document: Document, sink: &mut dyn RecordSink) -> Result<Parsed, ProviderError>;
}
