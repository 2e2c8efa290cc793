//! A feed body read in large chunks, for the streaming parsers (`fever-xml`, `json`),
//! so that each keeps only its tokenizer.
//!
//! Why chunks: awaiting once per token (and copying it out) costs a parser a good part
//! of its time on feeds of many small records; awaiting once per [`CHUNK_BYTES`] and
//! borrowing tokens from the buffer does not. A token cut by the end of a chunk stays
//! unconsumed and moves to the front at the next [`ChunkedInput::fill`], so memory is
//! bounded by a chunk plus the largest token. The buffer doubles when what it carries
//! over fills half of it, and each fill reads at least as much as it carried, so a
//! large token is rescanned a bounded number of times.
//!
//! For every parser alike it skips a UTF-8 byte order mark (recognized only whole,
//! however short the first reads), checks UTF-8 ([`Utf8`]) across reads, counts
//! offsets for error positions, and holds a read error until the bytes before it were
//! handed out: a parser sees exactly the tokens complete before the failure, then the
//! error, never a truncated document.
//!
//! `ical` reads the body whole instead: a calendar's structure is checked before
//! anything is pushed, and overrides (RECURRENCE-ID) may come anywhere in it.

use std::io;
use std::ops::Range;

use boxoffice_core::{ProviderError, read_error};
use tokio::io::{AsyncRead, AsyncReadExt};

/// The bytes read from the body at a time: large enough that the await and the carried
/// tail of each chunk cost nothing next to parsing it, small enough not to matter for
/// memory.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// The smallest buffer, whatever was asked: a byte order mark and one byte after it.
pub const MIN_CHUNK_BYTES: usize = UTF8_BOM.len() + 1;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// How the input checks that the document is UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Utf8 {
    /// The document must be UTF-8: the bytes handed out are, and the first that is not
    /// is an error ("not UTF-8 at byte N"), held like a read error until the bytes
    /// before it were consumed.
    Required,
    /// Every byte read is handed out, with how far it is UTF-8 ([`Window::text`]): for
    /// a parser that reports encoding errors itself, or accepts any bytes in places
    /// (XML comments).
    Prefix,
}

/// A body read in chunks (see the module documentation).
pub struct ChunkedInput<R> {
    body: R,
    /// Always initialized to its full length; `buf[start..end]` is read, not consumed.
    buf: Vec<u8>,
    start: usize,
    /// With [`Utf8::Required`]: `buf[start..checked]` is UTF-8, and only that much is
    /// handed out; `buf[checked..end]` waits for the rest of a character.
    checked: usize,
    end: usize,
    /// The document offset of `buf[0]`.
    base: u64,
    utf8: Utf8,
    /// The body will give no more bytes (it ended or failed).
    done: bool,
    /// The body ended without an error.
    eof: bool,
    bom_checked: bool,
    bom: usize,
    /// An error found after bytes not consumed yet: returned by the next fill.
    failed: Option<ProviderError>,
}

impl<R: AsyncRead + Unpin> ChunkedInput<R> {
    /// An input reading `body` in chunks of `chunk_bytes` (at least
    /// [`MIN_CHUNK_BYTES`]; [`CHUNK_BYTES`] but in tests).
    pub fn new(body: R, chunk_bytes: usize, utf8: Utf8) -> Self {
        Self {
            body,
            buf: vec![0; chunk_bytes.max(MIN_CHUNK_BYTES)],
            start: 0,
            checked: 0,
            end: 0,
            base: 0,
            utf8,
            done: false,
            eof: false,
            bom_checked: false,
            bom: 0,
            failed: None,
        }
    }

    /// Reads the next chunk after the unconsumed bytes, which it keeps: see
    /// [`Self::fill_keeping`].
    pub async fn fill(&mut self) -> Result<bool, ProviderError> {
        let position = self.position();
        self.fill_keeping(position).await
    }

    /// Reads the next chunk, keeping the bytes from document offset `keep` on (at most
    /// the unconsumed ones; earlier when the parser must still read a value it has
    /// scanned past, see [`Self::get`]). At least one read, and more until as many
    /// bytes were read as were kept or the buffer is full.
    ///
    /// Returns the error held since an earlier fill, if any (a read error, or bytes
    /// that are not UTF-8), and then `Ok(false)` at every call: once the body ended
    /// nothing more comes, and a parser that still wants more has a truncated
    /// document. Interrupted reads are retried.
    pub async fn fill_keeping(&mut self, keep: u64) -> Result<bool, ProviderError> {
        if let Some(error) = self.failed.take() {
            self.done = true;
            return Err(error);
        }
        if self.done {
            return Ok(false);
        }
        self.start = self.start.min(self.limit());
        let keep = usize::try_from(keep.saturating_sub(self.base))
            .unwrap_or(usize::MAX)
            .min(self.start);
        self.buf.copy_within(keep..self.end, 0);
        self.base += keep as u64;
        self.start -= keep;
        self.checked = self.checked.saturating_sub(keep);
        self.end -= keep;
        let carried = self.end;
        if carried * 2 >= self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        loop {
            match self.body.read(&mut self.buf[self.end..]).await {
                Ok(0) => {
                    self.done = true;
                    self.eof = true;
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
                Err(error) if self.end == carried => {
                    // Nothing new to hand out first: every byte before it was.
                    self.done = true;
                    return Err(read_error(&error));
                }
                Err(error) => {
                    self.done = true;
                    self.failed = Some(read_error(&error));
                    break;
                }
            }
        }
        if !self.bom_checked {
            self.bom_checked = true;
            if self.buf[..self.end].starts_with(UTF8_BOM) {
                self.bom = UTF8_BOM.len();
                self.start = self.bom;
            }
        }
        if self.utf8 == Utf8::Required {
            self.check_utf8();
        }
        Ok(true)
    }

    /// Moves `checked` over the bytes read that are UTF-8, from where it stopped.
    fn check_utf8(&mut self) {
        let from = self.checked.max(self.start);
        match std::str::from_utf8(&self.buf[from..self.end]) {
            Ok(_) => self.checked = self.end,
            Err(error) => {
                self.checked = from + error.valid_up_to();
                // A cut character is an error only when no byte can follow it.
                if error.error_len().is_some() || self.eof {
                    let at = self.base + self.checked as u64;
                    // Before any read error: it comes earlier in the document.
                    self.failed = Some(ProviderError::Malformed(format!(
                        "the document is not UTF-8 at byte {at}"
                    )));
                }
            }
        }
    }

    /// The end of what is handed out.
    fn limit(&self) -> usize {
        match self.utf8 {
            Utf8::Required => self.checked,
            Utf8::Prefix => self.end,
        }
    }

    /// The bytes read and not consumed (with [`Utf8::Required`], as far as they are
    /// known to be UTF-8).
    #[inline]
    pub fn rest(&self) -> &[u8] {
        self.buf.get(self.start..self.limit()).unwrap_or_default()
    }

    /// The longest prefix of [`Self::rest`] that is UTF-8. Checks it again: once per
    /// fill, not once per token.
    pub fn text(&self) -> &str {
        utf8_prefix(self.rest())
    }

    /// Marks the first `length` bytes of [`Self::rest`] as parsed.
    #[inline]
    pub fn consume(&mut self, length: usize) {
        self.start = (self.start + length).min(self.limit());
    }

    /// The document offset of the first byte of [`Self::rest`], counting the byte
    /// order mark.
    #[inline]
    pub fn position(&self) -> u64 {
        self.base + self.start as u64
    }

    /// Whether [`Self::rest`] is all the document has left: the body ended cleanly
    /// and every byte of it is handed out.
    #[inline]
    pub fn complete(&self) -> bool {
        self.eof && self.failed.is_none() && self.limit() == self.end
    }

    /// The length of the byte order mark skipped at the start (0 or 3), known after the
    /// first fill: for a parser that counts offsets after it.
    pub fn bom_len(&self) -> usize {
        self.bom
    }

    /// The bytes at document offsets `range`, while they are in the buffer (kept by
    /// [`Self::fill_keeping`]).
    pub fn get(&self, range: Range<u64>) -> Option<&[u8]> {
        let from = usize::try_from(range.start.checked_sub(self.base)?).ok()?;
        let to = usize::try_from(range.end.checked_sub(self.base)?).ok()?;
        if to > self.end {
            return None;
        }
        self.buf.get(from..to)
    }

    /// The buffer's size: the largest it has been, since it only grows.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// The bytes read so far, borrowed for as long as the window lives while it
    /// consumes them: tokens handed out of it may borrow the buffer.
    pub fn window(&mut self) -> Window<'_> {
        let limit = self.limit();
        self.start = self.start.min(limit);
        let text = utf8_prefix(&self.buf[self.start..limit]);
        Window {
            complete: self.complete(),
            bytes: &self.buf[..limit],
            text,
            text_from: self.start,
            start: &mut self.start,
            base: self.base,
        }
    }
}

/// [`ChunkedInput::rest`] and its text, split from the input so that what is cut out
/// of it outlives each call that consumes.
#[derive(Debug)]
pub struct Window<'a> {
    /// The buffer up to what is handed out; `bytes[*start..]` is not consumed.
    bytes: &'a [u8],
    /// `bytes[text_from..]` as far as it is UTF-8.
    text: &'a str,
    text_from: usize,
    start: &'a mut usize,
    base: u64,
    complete: bool,
}

impl<'a> Window<'a> {
    /// The bytes not consumed.
    #[inline]
    pub fn rest(&self) -> &'a [u8] {
        self.bytes.get(*self.start..).unwrap_or_default()
    }

    /// `rest()[range]` as text, when it is UTF-8 (it was checked when the window was
    /// made, not now).
    #[inline]
    pub fn text(&self, range: Range<usize>) -> Option<&'a str> {
        let from = (*self.start - self.text_from).checked_add(range.start)?;
        let to = from.checked_add(range.len())?;
        self.text.get(from..to)
    }

    /// Marks the first `length` bytes of [`Self::rest`] as parsed.
    #[inline]
    pub fn consume(&mut self, length: usize) {
        // Unchecked on the hot path: past the end `rest` is empty, and the input
        // clamps its position before it uses it.
        *self.start += length;
    }

    /// The document offset of the first byte of [`Self::rest`], counting the byte
    /// order mark.
    #[inline]
    pub fn position(&self) -> u64 {
        self.base + *self.start as u64
    }

    /// Nothing follows [`Self::rest`]: the document ends there.
    #[inline]
    pub fn complete(&self) -> bool {
        self.complete
    }
}

/// The longest prefix of `bytes` that is UTF-8.
fn utf8_prefix(bytes: &[u8]) -> &str {
    match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => std::str::from_utf8(&bytes[..error.valid_up_to()]).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests;
