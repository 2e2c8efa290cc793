//! Reading one JSON document a record at a time: memory is bounded by a chunk and the
//! largest record, never by the document.
//!
//! The body comes through the kit's [`ChunkedInput`] (UTF-8 checked, RFC 8259 §8.1);
//! the [`lexer`] scans the structure outside the records, and serde_json parses each
//! element of the records array as one [`Node`] straight from the buffer, which both
//! checks it and finds its end. A record cut by the end of a chunk is parsed again
//! from its first byte, the only byte carried over, once more bytes arrived (the
//! input's growth bounds how often). A captured value (the next page's link) stays in
//! the buffer until it ends, at most [`MAX_CAPTURE_BYTES`].

mod lexer;

use std::ops::Range;

use boxoffice_core::ProviderError;
use boxoffice_kit::input::{ChunkedInput, Utf8};
use serde_json::Value;
use tokio::io::AsyncRead;

use crate::node::Node;
use crate::pointer::Token;
use lexer::{Lexer, Scan};
pub(crate) use lexer::{MAX_TARGETS, Records};

/// The bytes read from the body at a time.
pub(crate) const CHUNK_BYTES: usize = boxoffice_kit::input::CHUNK_BYTES;

/// The largest value a capture (next page, last page) may be.
pub(crate) const MAX_CAPTURE_BYTES: usize = 64 * 1024;

/// One document, read a record at a time (see the module documentation).
pub(crate) struct RecordStream<R> {
    input: ChunkedInput<R>,
    /// The lexer was told of the byte order mark, which the first fill finds.
    started: bool,
    lexer: Lexer,
    /// The values captured, by slot.
    captured: Vec<Option<Value>>,
    /// The document span of the record last returned.
    record: Range<u64>,
}

impl<R: AsyncRead + Unpin> RecordStream<R> {
    /// A stream over `body` finding the records array at `records` and capturing the
    /// values at `captures`, reading `chunk_bytes` at a time.
    pub(crate) fn new(body: R, records: &[Token], captures: &[&[Token]], chunk_bytes: usize) -> Self {
        Self {
            // RFC 8259 §8.1: the document is UTF-8.
            input: ChunkedInput::new(body, chunk_bytes, Utf8::Required),
            started: false,
            lexer: Lexer::new(records, captures),
            captured: vec![None; captures.len()],
            record: 0..0,
        }
    }

    /// The next record, or `None` at the end of the document (see [`Self::records`] for
    /// whether it had any there). Fails when the document is not JSON, is truncated, or
    /// cannot be read.
    pub(crate) async fn next_record(&mut self) -> Result<Option<Node>, ProviderError> {
        loop {
            let complete = self.input.complete();
            let (found, used) = self.lexer.scan(self.input.rest(), complete)?;
            self.input.consume(used);
            match found {
                Scan::Record => {
                    if let Some(record) = self.parse_record(complete)? {
                        return Ok(Some(record));
                    }
                }
                Scan::Captured { slot, start, end } => self.keep_capture(slot, start, end)?,
                Scan::End => return Ok(None),
                Scan::NeedMore => {}
            }
            if matches!(found, Scan::Record | Scan::NeedMore) {
                self.fill().await?;
            }
        }
    }

    /// What the document held at the records pointer (complete once the stream ended).
    pub(crate) fn records(&self) -> Records {
        self.lexer.records()
    }

    /// The JSON text of the record last returned, as the document has it.
    pub(crate) fn raw_record(&self) -> &[u8] {
        self.input.get(self.record.clone()).unwrap_or_default()
    }

    /// The value captured in `slot`, when the document had one there.
    pub(crate) fn captured(&mut self, slot: usize) -> Option<Value> {
        self.captured.get_mut(slot).and_then(Option::take)
    }

    /// The largest the buffer has been, in bytes.
    pub(crate) fn peak_buffer(&self) -> usize {
        self.input.capacity()
    }

    /// Parses the record at the input's position; `None` when it goes on past what
    /// was read.
    fn parse_record(&mut self, complete: bool) -> Result<Option<Node>, ProviderError> {
        let bytes = self.input.rest();
        let mut values = serde_json::Deserializer::from_slice(bytes).into_iter::<Node>();
        let parsed = values.next();
        let used = values.byte_offset();
        let at = self.input.position();
        match parsed.unwrap_or_else(|| Err(serde::de::Error::custom("no value"))) {
            Ok(value) => {
                // Only a number can go on after the last byte read and still parse.
                if used == bytes.len() && !complete && matches!(value, Node::Number(_)) {
                    return Ok(None);
                }
                self.record = at..at + used as u64;
                self.input.consume(used);
                self.lexer.record_parsed(used);
                Ok(Some(value))
            }
            Err(error) if error.is_eof() && !complete => Ok(None),
            Err(error) => {
                let what = if error.is_eof() {
                    "the document is truncated"
                } else {
                    "the document is not JSON"
                };
                Err(ProviderError::Malformed(format!(
                    "{what}: in the record starting at byte {at}: {error}"
                )))
            }
        }
    }

    fn keep_capture(&mut self, slot: usize, start: u64, end: u64) -> Result<(), ProviderError> {
        if end - start > MAX_CAPTURE_BYTES as u64 {
            return Err(capture_too_large());
        }
        let bytes = self.input.get(start..end).unwrap_or_default();
        let value = serde_json::from_slice(bytes).map_err(|error| {
            ProviderError::Malformed(format!("the document is not JSON at byte {start}: {error}"))
        })?;
        if let Some(captured) = self.captured.get_mut(slot) {
            // A later value at the same pointer (a repeated member) wins, as serde_json's
            // own maps have it.
            *captured = Some(value);
        }
        Ok(())
    }

    /// Reads the next chunk after what must be kept: a record not parsed yet, a
    /// captured value being scanned (from its first byte), the start of a character.
    async fn fill(&mut self) -> Result<(), ProviderError> {
        let position = self.input.position();
        let keep = self.lexer.hold().map_or(position, |held| held.min(position));
        if position - keep > MAX_CAPTURE_BYTES as u64 {
            return Err(capture_too_large());
        }
        if !self.input.fill_keeping(keep).await? {
            // Whatever is left was scanned as complete: the lexer or serde_json said
            // why it is not a document.
            return Err(ProviderError::Malformed("the document is truncated".into()));
        }
        if !self.started {
            self.started = true;
            // The lexer's offsets count the mark, as the document's bytes do.
            self.lexer.skip(self.input.bom_len());
        }
        Ok(())
    }
}

fn capture_too_large() -> ProviderError {
    ProviderError::Malformed(format!(
        "a value at a pagination pointer (the next page, the last page, a cursor…) is larger than {} KiB",
        MAX_CAPTURE_BYTES / 1024
    ))
}

#[cfg(test)]
mod tests;
