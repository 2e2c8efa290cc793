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
    /// What the source said of the document besides its bytes (e.g. its content type
    /// and the response's `Link` header).
    pub headers: ResponseHeaders,
}

impl Feed {
    /// A document of `body`, with nothing else known.
    pub fn new(body: FeedBody) -> Self {
        Self {
            body,
            length: None,
            validators: Validators::default(),
            location: None,
            headers: ResponseHeaders::default(),
        }
    }
}

/// The headers of a document's response, as a source kept them: names in lower case,
/// values that are text. A parser reads what its pagination or content needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseHeaders(Vec<(String, String)>);

impl ResponseHeaders {
    /// At most this many headers are kept, each value at most [`Self::MAX_VALUE_BYTES`]:
    /// a source's headers are the provider's to choose.
    pub const MAX_HEADERS: usize = 64;
    /// The longest value kept, in bytes.
    pub const MAX_VALUE_BYTES: usize = 8 * 1024;

    /// Adds a header (past the bounds, it is left out).
    pub fn push(&mut self, name: &str, value: &str) {
        if self.0.len() < Self::MAX_HEADERS && value.len() <= Self::MAX_VALUE_BYTES {
            self.0.push((name.to_ascii_lowercase(), value.to_owned()));
        }
    }

    /// The values of `name` (any case), in the order received.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The first value of `name` (any case).
    pub fn get<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.get_all(name).next()
    }

    /// The document's media type (`Content-Type` without its parameters), lower case.
    pub fn content_type(&self) -> Option<String> {
        self.get("content-type").map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
    }
}

/// What opening gave.
pub enum Opened {
    /// A document to parse.
    Feed(Feed),
    /// The source says the document has not changed since the validators sent.
    NotModified,
}

/// A document as the engine hands it to [`Provider::parse`].
pub struct Document {
    /// The bytes.
    pub body: FeedBody,
    /// [`Feed::location`], when known (not for archived payloads).
    pub location: Option<String>,
    /// [`Feed::headers`] (none for archived payloads).
    pub headers: ResponseHeaders,
    /// The page it is in the run, from 1.
    pub number: u32,
    /// The page reference it was opened with ([`OpenRequest::page`]); `None` for the
    /// feed's first document.
    pub page: Option<String>,
}

impl Document {
    /// A first document of `body` with nothing else known (an archived payload, a
    /// fixture).
    pub fn new(body: FeedBody) -> Self {
        Self {
            body,
            location: None,
            headers: ResponseHeaders::default(),
            number: 1,
            page: None,
        }
    }
}

/// What a parse tells the engine besides its records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// The next page of the same feed, when there is one: the engine opens it in the
    /// same run and transaction (a page seen twice fails the run). What it holds is
    /// the provider's to choose (a URL, for most); the engine only hands it back.
    pub next_page: Option<String>,
    /// Without a next page, why the feed ends here (`"the next link (/next) is
    /// null"`), for previews and the debug log.
    pub ended: Option<String>,
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

    /// How messages name a page (`None`: the feed's first document): its address
    /// without secrets, e.g. `https://api.example.com/v1/shows?…`. Empty when the
    /// provider has nothing safe to show.
    fn page_label(&self, page: Option<&str>) -> String {
        let _ = page;
        String::new()
    }
}

/// How a run's messages name one page: `page 2 (https://api.example.com/v1/shows?…)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageName {
    /// The page's number in the run, from 1.
    pub number: u32,
    /// [`Provider::page_label`].
    pub label: String,
}

impl std::fmt::Display for PageName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.label.as_str() {
            "" => write!(f, "page {}", self.number),
            label => write!(f, "page {} ({label})", self.number),
        }
    }
}
