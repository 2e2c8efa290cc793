//! One document: each record selected (from the JSON's records array, or from the
//! schema.org events of an HTML page's JSON-LD), mapped and pushed into the sink as
//! soon as it is read, and the values pagination needs handed back, wherever they are
//! in the document.

use std::collections::HashSet;

use boxoffice_core::{EventRecord, PageName, ProviderError, RecordSink, Rejection};
use serde_json::Value;
use tokio::io::AsyncRead;

use crate::config::Format;
use crate::html::ScriptBlocks;
use crate::map::{Mapping, Refusal};
use crate::node::Node;
use crate::pointer::Pointer;
use crate::schema_org;
use crate::stream::{CHUNK_BYTES, MAX_TARGETS, RecordStream, Records};
use crate::values::{bounded_text, quote, shorten};

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
    /// JSON or HTML.
    pub format: Format,
    /// Where the records array is (JSON).
    pub records: Pointer,
    /// The values to hand back (pagination's, and `errors`).
    pub captures: Vec<Pointer>,
}

/// What a document said besides its records.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageSummary {
    /// Records read (mapped or rejected).
    pub records: u64,
    /// Whether the document had the records pointer (JSON; an HTML page always has).
    pub records_found: bool,
    /// The captured values the document had, by pointer.
    pub captured: Vec<(Pointer, Value)>,
    /// The largest the read buffer has been, in bytes.
    pub peak_buffer: usize,
}

impl PageSummary {
    /// The value the document had at `pointer`, when it was captured.
    pub fn value(&self, pointer: &Pointer) -> Option<&Value> {
        self.captured
            .iter()
            .find(|(captured, _)| captured == pointer)
            .map(|(_, value)| value)
    }
}

impl PageReader {
    /// Reads one document from `body` into `sink`, its rejections named after `page`
    /// when the feed has pages. Fails with [`ProviderError::Malformed`] when the
    /// document is not JSON (or not UTF-8) or is truncated; with the read error when
    /// `body` fails; with [`ProviderError::Sink`] when the sink does.
    pub async fn read<R: AsyncRead + Unpin>(
        &self,
        body: R,
        page: Option<&PageName>,
        sink: &mut dyn RecordSink,
    ) -> Result<PageSummary, ProviderError> {
        self.read_in_chunks(body, CHUNK_BYTES, page, sink).await
    }

    /// [`Self::read`] with chunks of `chunk_bytes` (grown for a larger record).
    pub async fn read_in_chunks<R: AsyncRead + Unpin>(
        &self,
        body: R,
        chunk_bytes: usize,
        page: Option<&PageName>,
        sink: &mut dyn RecordSink,
    ) -> Result<PageSummary, ProviderError> {
        let mut records = Pushed {
            mapping: &self.mapping,
            page,
            unknown: UnknownMembers::default(),
            count: 0,
        };
        match self.format {
            Format::Json => self.read_json(body, chunk_bytes, &mut records, sink).await,
            Format::Html => {
                let mut blocks = ScriptBlocks::new(body);
                let mut number = 0;
                while let Some(block) = blocks.next_block().await? {
                    number += 1;
                    let document = match serde_json::from_slice::<Node>(&block) {
                        Ok(document) => document,
                        Err(error) => {
                            records.count += 1;
                            sink.reject(Rejection {
                                record: format!("JSON-LD block {number}"),
                                reason: format!("the block is not JSON: {error}"),
                                raw: Some(bounded_text(&block, MAX_RAW_BYTES)),
                            });
                            continue;
                        }
                    };
                    let mut events = Vec::new();
                    schema_org::events(document, &mut events);
                    for event in events {
                        match records.map(&event, sink) {
                            Ok(mapped) => sink.accept(mapped).await?,
                            Err(refusal) => {
                                let raw = serde_json::to_vec(&event).unwrap_or_default();
                                sink.reject(records.rejection(refusal, bounded_text(&raw, MAX_RAW_BYTES)));
                            }
                        }
                    }
                }
                Ok(PageSummary {
                    records: records.count,
                    records_found: true,
                    captured: Vec::new(),
                    peak_buffer: 0,
                })
            }
        }
    }

    async fn read_json<R: AsyncRead + Unpin>(
        &self,
        body: R,
        chunk_bytes: usize,
        records: &mut Pushed<'_>,
        sink: &mut dyn RecordSink,
    ) -> Result<PageSummary, ProviderError> {
        let captures: Vec<&Pointer> = self.captures.iter().take(MAX_TARGETS - 1).collect();
        let capture_tokens: Vec<_> = captures.iter().map(|pointer| pointer.tokens()).collect();
        let mut stream = RecordStream::new(body, self.records.tokens(), &capture_tokens, chunk_bytes);
        while let Some(record) = stream.next_record().await? {
            match records.map(&record, sink) {
                Ok(mapped) => sink.accept(mapped).await?,
                Err(refusal) => {
                    let raw = bounded_text(stream.raw_record(), MAX_RAW_BYTES);
                    sink.reject(records.rejection(refusal, raw));
                }
            }
        }
        let captured = captures
            .iter()
            .enumerate()
            .filter_map(|(slot, pointer)| stream.captured(slot).map(|value| ((*pointer).clone(), value)))
            .collect();
        Ok(PageSummary {
            records: records.count,
            records_found: stream.records() != Records::Absent,
            captured,
            peak_buffer: stream.peak_buffer(),
        })
    }
}

/// Maps each record into the sink, numbering them.
struct Pushed<'a> {
    mapping: &'a Mapping,
    page: Option<&'a PageName>,
    unknown: UnknownMembers,
    count: u64,
}

impl Pushed<'_> {
    /// Counts and maps one record, reporting its unknown members.
    fn map(&mut self, record: &Node, sink: &mut dyn RecordSink) -> Result<EventRecord, Refusal> {
        self.count += 1;
        for member in self.mapping.unknown_members(record) {
            sink.unknown(&self.unknown.name(member));
        }
        self.mapping.map(record)
    }

    /// The rejection of the record last mapped, with its text for the quarantine.
    fn rejection(&self, refusal: Refusal, raw: String) -> Rejection {
        let at = match self.page {
            Some(page) => format!("{page}, record {}", self.count),
            None => format!("record {}", self.count),
        };
        Rejection {
            record: match refusal.ids {
                Some(ids) => format!("{at}: {}", shorten(&ids)),
                None => at,
            },
            reason: refusal.reason,
            raw: Some(raw),
        }
    }
}

/// Whether a document's `errors` value reports a failure: anything but `null`, `[]`,
/// `{}`, `""` or `false`.
pub fn reported_errors(value: &Value) -> Option<String> {
    let empty = match value {
        Value::Null | Value::Bool(false) => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(members) => members.is_empty(),
        Value::String(text) => text.trim().is_empty(),
        _ => false,
    };
    (!empty).then(|| quote(value))
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
