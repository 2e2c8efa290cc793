//! Reading one JSON document a record at a time: memory is bounded by a chunk and the
//! largest record, never by the document.
//!
//! The body is read in chunks ([`CHUNK_BYTES`]) into one buffer. The [`lexer`] scans
//! the structure outside the records (checking the grammar, following the path to the
//! configured pointers, skipping everything else with state that survives the end of a
//! chunk). At each element of the records array, serde_json parses one [`Node`]
//! straight from the buffer: it checks the record and says where it ends. A record that the end of the chunk cuts is parsed again once more bytes have
//! arrived, from its first byte, which is all that is carried over; a record larger
//! than the buffer grows it, and each read then brings at least as many bytes as are
//! carried, so that a large record is parsed a bounded number of times. The values
//! the captures point to (the next page's link) are kept in the buffer while they are
//! scanned and parsed when they end, at most [`MAX_CAPTURE_BYTES`].
//!
//! Bytes are checked to be UTF-8 as they are read (RFC 8259 §8.1), once; a UTF-8 byte
//! order mark at the start is skipped.

mod lexer;

use std::io;
use std::ops::Range;

use boxoffice_core::{ProviderError, read_error};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::node::Node;
use crate::pointer::Token;
use lexer::{Lexer, Scan};
pub(crate) use lexer::{MAX_TARGETS, Records};

/// The bytes read from the body at a time.
pub(crate) const CHUNK_BYTES: usize = 256 * 1024;

/// The largest value a capture (next page, last page) may be.
pub(crate) const MAX_CAPTURE_BYTES: usize = 64 * 1024;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// One document, read a record at a time (see the module documentation).
pub(crate) struct RecordStream<R> {
    body: R,
    /// Always initialized to its full length.
    buf: Vec<u8>,
    /// `buf[start..checked]` is UTF-8 and not scanned yet; `buf[checked..end]` is read
    /// but waits for the rest of a character.
    start: usize,
    checked: usize,
    end: usize,
    /// The document offset of `buf[0]`.
    base: u64,
    body_ended: bool,
    bom_checked: bool,
    lexer: Lexer,
    /// The values captured, by slot.
    captured: Vec<Option<Value>>,
    /// The buffer span of the record last returned.
    record: Range<usize>,
    /// The largest the buffer has been.
    peak_buffer: usize,
}

impl<R: AsyncRead + Unpin> RecordStream<R> {
    /// A stream over `body` finding the records array at `records` and capturing the
    /// values at `captures`, reading `chunk_bytes` at a time.
    pub(crate) fn new(body: R, records: &[Token], captures: &[&[Token]], chunk_bytes: usize) -> Self {
        let size = chunk_bytes.max(UTF8_BOM.len() + 1);
        Self {
            body,
            buf: vec![0; size],
            start: 0,
            checked: 0,
            end: 0,
            base: 0,
            body_ended: false,
            bom_checked: false,
            lexer: Lexer::new(records, captures),
            captured: vec![None; captures.len()],
            record: 0..0,
            peak_buffer: size,
        }
    }

    /// The next record, or `None` at the end of the document (see [`Self::records`] for
    /// whether it had any there). Fails when the document is not JSON, is truncated, or
    /// cannot be read.
    pub(crate) async fn next_record(&mut self) -> Result<Option<Node>, ProviderError> {
        loop {
            let complete = self.body_ended && self.checked == self.end;
            let (found, used) = self.lexer.scan(&self.buf[self.start..self.checked], complete)?;
            self.start += used;
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
        self.buf.get(self.record.clone()).unwrap_or_default()
    }

    /// The value captured in `slot`, when the document had one there.
    pub(crate) fn captured(&mut self, slot: usize) -> Option<Value> {
        self.captured.get_mut(slot).and_then(Option::take)
    }

    /// The largest the buffer has been, in bytes.
    pub(crate) fn peak_buffer(&self) -> usize {
        self.peak_buffer
    }

    /// Parses the record at `buf[start]`; `None` when it goes on past what was read.
    fn parse_record(&mut self, complete: bool) -> Result<Option<Node>, ProviderError> {
        let bytes = &self.buf[self.start..self.checked];
        let mut values = serde_json::Deserializer::from_slice(bytes).into_iter::<Node>();
        let parsed = values.next();
        let used = values.byte_offset();
        match parsed.unwrap_or_else(|| Err(serde::de::Error::custom("no value"))) {
            Ok(value) => {
                // Only a number can go on after the last byte read and still parse.
                if used == bytes.len() && !complete && matches!(value, Node::Number(_)) {
                    return Ok(None);
                }
                self.record = self.start..self.start + used;
                self.start += used;
                self.lexer.record_parsed(used);
                Ok(Some(value))
            }
            Err(error) if error.is_eof() && !complete => Ok(None),
            Err(error) => {
                let at = self.base + self.start as u64;
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
        let from = usize::try_from(start - self.base).unwrap_or(usize::MAX);
        let to = usize::try_from(end - self.base).unwrap_or(usize::MAX);
        let bytes = self.buf.get(from..to).unwrap_or_default();
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

    /// Reads the next chunk after what must be kept (a record not parsed yet, a
    /// captured value being scanned, the start of a character): at least one read, and
    /// more until as many bytes were read as were carried or the buffer is full.
    async fn fill(&mut self) -> Result<(), ProviderError> {
        if self.body_ended {
            // Whatever is left was scanned as complete: the lexer or serde_json said
            // why it is not a document.
            return Err(ProviderError::Malformed("the document is truncated".into()));
        }
        let keep = match self.lexer.hold() {
            Some(held) => usize::try_from(held - self.base)
                .unwrap_or(self.start)
                .min(self.start),
            None => self.start,
        };
        self.buf.copy_within(keep..self.end, 0);
        self.base += keep as u64;
        self.start -= keep;
        self.checked -= keep;
        self.end -= keep;
        if self.lexer.hold().is_some() && self.start > MAX_CAPTURE_BYTES {
            return Err(capture_too_large());
        }
        let carried = self.end;
        if carried * 2 >= self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
            self.peak_buffer = self.peak_buffer.max(self.buf.len());
        }
        loop {
            match self.body.read(&mut self.buf[self.end..]).await {
                Ok(0) => {
                    self.body_ended = true;
                    break;
                }
                Ok(read) => {
                    self.end += read;
                    let enough = self.end - carried >= carried || self.end == self.buf.len();
                    if enough && (self.bom_checked || self.end >= UTF8_BOM.len()) {
                        break;
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(read_error(&error)),
            }
        }
        if !self.bom_checked {
            self.bom_checked = true;
            if self.buf[..self.end].starts_with(UTF8_BOM) {
                self.start = UTF8_BOM.len();
                self.checked = self.start;
                self.lexer.skip(UTF8_BOM.len());
            }
        }
        self.check_utf8()
    }

    /// Moves `checked` over the bytes read that are UTF-8; a character cut by the end
    /// of what was read waits for the rest.
    fn check_utf8(&mut self) -> Result<(), ProviderError> {
        let unchecked = &self.buf[self.checked..self.end];
        match std::str::from_utf8(unchecked) {
            Ok(_) => self.checked = self.end,
            Err(error) => {
                let at = self.base + (self.checked + error.valid_up_to()) as u64;
                if error.error_len().is_some() || self.body_ended {
                    return Err(ProviderError::Malformed(format!(
                        "the document is not UTF-8 at byte {at}"
                    )));
                }
                self.checked += error.valid_up_to();
            }
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
