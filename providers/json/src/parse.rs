//! One document: each record mapped and pushed into the sink as soon as it is read,
//! and the values pagination needs (the next page's link, the last page's number)
//! handed back, wherever they are in the document.

use std::collections::HashSet;

use boxoffice_core::{ProviderError, RecordSink, Rejection};
use serde_json::Value;
use tokio::io::AsyncRead;

use crate::map::Mapping;
use crate::pointer::Pointer;
use crate::stream::{CHUNK_BYTES, RecordStream};
use crate::values::{bounded_text, shorten};

/// How much of a rejected record's JSON is kept for a person to read.
pub const MAX_RAW_BYTES: usize = 4 * 1024;

/// How many distinct unknown members one document reports by name; the others are
/// counted together, so that a feed keyed by ids cannot grow the report.
pub const MAX_UNKNOWN_NAMES: usize = 64;

/// What reads one document.
#[derive(Debug, Clone)]
pub struct PageReader {
    /// Maps each record.
    pub mapping: Mapping,
    /// Where the records array is.
    pub records: Pointer,
    /// Where the next page's link is, if the feed has one.
    pub next_page: Option<Pointer>,
    /// Where the last page's number is, if the feed has one.
    pub last_page: Option<Pointer>,
}

/// What a document said besides its records.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageSummary {
    /// Records read (mapped or rejected).
    pub records: u64,
    /// The value at `next_page`, when the document has one.
    pub next_page: Option<Value>,
    /// The value at `last_page`, when the document has one.
    pub last_page: Option<Value>,
    /// The largest the read buffer has been, in bytes.
    pub peak_buffer: usize,
}

impl PageReader {
    /// Reads one document from `body` into `sink`. Fails with
    /// [`ProviderError::Malformed`] when the document is not JSON (or not UTF-8), is
    /// truncated or lacks the records array; with the read error when `body` fails;
    /// with [`ProviderError::Sink`] when the sink does.
    pub async fn read<R: AsyncRead + Unpin>(
        &self,
        body: R,
        sink: &mut dyn RecordSink,
    ) -> Result<PageSummary, ProviderError> {
        self.read_in_chunks(body, CHUNK_BYTES, sink).await
    }

    /// [`Self::read`] with chunks of `chunk_bytes` (grown for a larger record).
    pub async fn read_in_chunks<R: AsyncRead + Unpin>(
        &self,
        body: R,
        chunk_bytes: usize,
        sink: &mut dyn RecordSink,
    ) -> Result<PageSummary, ProviderError> {
        let captures: Vec<&Pointer> = self.next_page.iter().chain(&self.last_page).collect();
        let capture_tokens: Vec<_> = captures.iter().map(|pointer| pointer.tokens()).collect();
        let mut stream = RecordStream::new(body, self.records.tokens(), &capture_tokens, chunk_bytes);
        let mut unknown = UnknownMembers::default();
        let mut summary = PageSummary::default();
        while let Some(record) = stream.next_record().await? {
            summary.records += 1;
            for member in self.mapping.unknown_members(&record) {
                sink.unknown(&unknown.name(member));
            }
            match self.mapping.map(&record) {
                Ok(mapped) => sink.accept(mapped).await?,
                Err(refusal) => sink.reject(Rejection {
                    record: match refusal.ids {
                        Some(ids) => format!("record {}: {}", summary.records, shorten(&ids)),
                        None => format!("record {}", summary.records),
                    },
                    reason: refusal.reason,
                    raw: Some(bounded_text(stream.raw_record(), MAX_RAW_BYTES)),
                }),
            }
        }
        let mut slot = 0..;
        if self.next_page.is_some() {
            summary.next_page = slot.next().and_then(|slot| stream.captured(slot));
        }
        if self.last_page.is_some() {
            summary.last_page = slot.next().and_then(|slot| stream.captured(slot));
        }
        summary.peak_buffer = stream.peak_buffer();
        Ok(summary)
    }
}

/// The names unknown members are reported under, at most [`MAX_UNKNOWN_NAMES`].
#[derive(Default)]
struct UnknownMembers(HashSet<String>);

impl UnknownMembers {
    fn name(&mut self, member: &str) -> String {
        let name = format!("record/{}", shorten(member));
        if self.0.len() < MAX_UNKNOWN_NAMES || self.0.contains(&name) {
            self.0.insert(name.clone());
            return name;
        }
        "record/(other members)".to_owned()
    }
}
