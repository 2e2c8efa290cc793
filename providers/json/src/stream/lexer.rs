//! The document's structure outside the records: a JSON grammar checked byte by byte,
//! resumable at any byte (a string, a number or a literal cut by the end of a chunk is
//! carried in its state, not in the buffer), that follows the path from the root to
//! the configured pointers and says where each record starts and where each captured
//! value (the next page, the last page) starts and ends. The records themselves are
//! left to serde_json (see `super`).
//!
//! Why a scanner of its own: members the mapping does not read (an index of venues, a
//! large `meta` object) may be as large as the records array and come before it;
//! skipping them with state that survives the chunk keeps memory bounded by a chunk,
//! where a parser that needs a whole value would hold them.

use boxoffice_core::ProviderError;

use crate::pointer::Token;
use tokens::{Escape, Num, Partial, shown};

mod tokens;

/// The deepest nesting accepted outside the records (serde_json limits the records
/// themselves to 128): deeper is an error, not an unbounded stack.
pub(super) const MAX_DEPTH: usize = 512;

/// The bit of the records pointer in a mask; captures take the bits after it.
const RECORDS: u16 = 1;

/// The most pointers one scan follows: the records and the captures.
pub(crate) const MAX_TARGETS: usize = 16;

/// What the scan found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scan {
    /// Every byte given was scanned; more are needed.
    NeedMore,
    /// A record starts at the first byte not consumed: the caller parses it and then
    /// calls [`Lexer::record_parsed`].
    Record,
    /// The captured value of slot `slot` spans document bytes `start..end`.
    Captured {
        /// Which capture pointer (0-based, as given to [`Lexer::new`]).
        slot: usize,
        /// Its first byte.
        start: u64,
        /// Just past its last byte.
        end: u64,
    },
    /// The document is complete.
    End,
}

/// What may come next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A value (at the start, after `:` and after `,` in an array).
    Value,
    /// A value or `]` (after `[`).
    ValueOrClose,
    /// A member name or `}` (after `{`).
    KeyOrClose,
    /// A member name (after `,` in an object).
    Key,
    /// `:` after a member name.
    Colon,
    /// `,` or the container's closing bracket, after a value inside it.
    CommaOrClose,
    /// Nothing but white space: the document's value is complete.
    Trailing,
}

/// An open container.
#[derive(Debug, Clone, Copy)]
struct Frame {
    object: bool,
    /// The pointers that go through this container (bits of the lexer's targets);
    /// 0 for a container on no pointer's path, whose member names are not even read.
    mask: u16,
    /// The records array: its elements are records.
    records: bool,
    /// An object where the records array would be: it may only be empty (`{}`, an
    /// API's way of saying "no records").
    stand_in: bool,
    /// The index of the current element, in an array.
    index: usize,
}

/// A captured value being scanned.
#[derive(Debug, Clone, Copy)]
struct Capture {
    slot: usize,
    /// The number of containers open around it.
    depth: usize,
    start: u64,
}

/// The scanner (see the module documentation).
pub(super) struct Lexer {
    /// The records pointer's tokens first, then each capture pointer's.
    targets: Vec<Vec<Token>>,
    frames: Vec<Frame>,
    expect: Expect,
    partial: Partial,
    /// The pointers the next value is on the path of (or is).
    pending: u16,
    /// The raw bytes of the member name being read, when its object is on a path.
    key: Vec<u8>,
    /// Longer names match no pointer and are not kept.
    key_cap: usize,
    key_escaped: bool,
    capture: Option<Capture>,
    /// The document offset of the next byte to scan.
    offset: u64,
    records: Records,
}

/// What the document holds at the records pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Records {
    /// Nothing (yet).
    Absent,
    /// The array.
    Array,
    /// `null` or `{}`: no records.
    Empty,
}

impl Lexer {
    /// A scanner looking for `records` and capturing the values at `captures`.
    pub(super) fn new(records: &[Token], captures: &[&[Token]]) -> Self {
        let mut targets = vec![records.to_vec()];
        targets.extend(captures.iter().map(|tokens| tokens.to_vec()));
        let longest = targets
            .iter()
            .flatten()
            .map(|token| token.name.len())
            .max()
            .unwrap_or(0);
        Self {
            pending: u16::MAX >> (16 - targets.len().min(MAX_TARGETS)),
            targets,
            frames: Vec::new(),
            expect: Expect::Value,
            partial: Partial::None,
            key: Vec::new(),
            // A name escaped in full (`\u0041` for `A`) is six bytes a character.
            key_cap: longest * 6 + 8,
            key_escaped: false,
            capture: None,
            offset: 0,
            records: Records::Absent,
        }
    }

    /// What the document held at the records pointer (so far).
    pub(super) fn records(&self) -> Records {
        self.records
    }

    /// The document offset of the first byte that must stay readable: a captured
    /// value's start while it is being scanned.
    pub(super) fn hold(&self) -> Option<u64> {
        self.capture.map(|capture| capture.start)
    }

    /// Skips `length` bytes the caller consumed: a UTF-8 byte order mark.
    pub(super) fn skip(&mut self, length: usize) {
        self.offset += length as u64;
    }

    /// The caller parsed a record of `length` bytes where [`Scan::Record`] said.
    pub(super) fn record_parsed(&mut self, length: usize) {
        self.offset += length as u64;
        self.expect = Expect::CommaOrClose;
    }

    /// Scans `bytes`, which follow what was scanned so far; `complete`: nothing
    /// follows them. Returns what was found and how many bytes were consumed (up to a
    /// record's first byte, or all of them).
    pub(super) fn scan(&mut self, bytes: &[u8], complete: bool) -> Result<(Scan, usize), ProviderError> {
        let mut at = 0;
        loop {
            if self.partial != Partial::None {
                match self.continue_token(bytes, &mut at)? {
                    Some(found) => return Ok((found, at)),
                    None if self.partial != Partial::None => {
                        if complete {
                            return self.at_end().map(|found| (found, at));
                        }
                        return Ok((Scan::NeedMore, at));
                    }
                    None => {}
                }
            }
            let blank = bytes[at..]
                .iter()
                .take_while(|byte| matches!(byte, b' ' | b'\t' | b'\n' | b'\r'))
                .count();
            self.advance(&mut at, blank);
            let Some(&byte) = bytes.get(at) else {
                if complete {
                    return self.at_end().map(|found| (found, at));
                }
                return Ok((Scan::NeedMore, at));
            };
            if let Some(found) = self.structural(byte, &mut at)? {
                return Ok((found, at));
            }
        }
    }

    /// Handles the byte at `*at`, which is not white space and not inside a token.
    fn structural(&mut self, byte: u8, at: &mut usize) -> Result<Option<Scan>, ProviderError> {
        match self.expect {
            Expect::Value | Expect::ValueOrClose => {
                if byte == b']' && self.expect == Expect::ValueOrClose {
                    return self.close(byte, at);
                }
                if self.frames.last().is_some_and(|frame| frame.records) {
                    return Ok(Some(Scan::Record));
                }
                self.value(byte, at).map(|()| None)
            }
            Expect::KeyOrClose | Expect::Key => {
                if byte == b'}' && self.expect == Expect::KeyOrClose {
                    return self.close(byte, at);
                }
                if byte != b'"' {
                    return Err(self.unexpected(byte, "a member name in double quotes"));
                }
                if self.frames.last().is_some_and(|frame| frame.stand_in) {
                    return Err(ProviderError::Malformed(format!(
                        "the records are not an array: the value at the records pointer is an object \
                         with members (at byte {}); only an empty object stands for no records",
                        self.offset
                    )));
                }
                self.key.clear();
                self.key_escaped = false;
                self.partial = Partial::Str {
                    key: true,
                    escape: Escape::None,
                };
                self.advance(at, 1);
                Ok(None)
            }
            Expect::Colon => {
                if byte != b':' {
                    return Err(self.unexpected(byte, "':' after a member name"));
                }
                self.expect = Expect::Value;
                self.advance(at, 1);
                Ok(None)
            }
            Expect::CommaOrClose => match byte {
                b',' => {
                    self.advance(at, 1);
                    let Some(frame) = self.frames.last_mut() else {
                        return Err(self.unexpected(byte, "the end of the document"));
                    };
                    if frame.object {
                        self.expect = Expect::Key;
                    } else {
                        frame.index += 1;
                        self.expect = Expect::Value;
                        self.pending = self.element_mask();
                    }
                    Ok(None)
                }
                b']' | b'}' => self.close(byte, at),
                _ => Err(self.unexpected(byte, "',' or the end of the container")),
            },
            Expect::Trailing => Err(self.unexpected(byte, "the end of the document")),
        }
    }

    /// Starts the value whose first byte is `byte`.
    fn value(&mut self, byte: u8, at: &mut usize) -> Result<(), ProviderError> {
        let depth = self.frames.len();
        let on_path = if self.capture.is_some() { 0 } else { self.pending };
        let exact = self.select(on_path, |length| length == depth);
        let deeper = self.select(on_path, |length| length > depth);
        if exact & RECORDS != 0 {
            match byte {
                b'[' => {
                    self.records = Records::Array;
                    return self.open(false, 0, true, at);
                }
                b'{' => {
                    self.records = Records::Empty;
                    self.open(true, 0, false, at)?;
                    if let Some(frame) = self.frames.last_mut() {
                        frame.stand_in = true;
                    }
                    return Ok(());
                }
                b'n' => {
                    self.records = Records::Empty;
                    return self.literal(b"null", at);
                }
                _ => {
                    return Err(ProviderError::Malformed(format!(
                        "the records are not an array: the value at the records pointer starts with {} at byte {}",
                        shown(byte),
                        self.offset
                    )));
                }
            }
        }
        if let Some(slot) = (0..self.targets.len() - 1).find(|slot| exact & (2 << slot) != 0) {
            self.capture = Some(Capture {
                slot,
                depth,
                start: self.offset,
            });
        }
        let deeper = if self.capture.is_some() { 0 } else { deeper };
        match byte {
            b'{' => self.open(true, deeper, false, at),
            b'[' => self.open(false, deeper, false, at),
            b'"' => {
                self.partial = Partial::Str {
                    key: false,
                    escape: Escape::None,
                };
                self.advance(at, 1);
                Ok(())
            }
            b'-' => self.number(Num::Minus, at),
            b'0' => self.number(Num::Zero, at),
            b'1'..=b'9' => self.number(Num::Int, at),
            b't' => self.literal(b"true", at),
            b'f' => self.literal(b"false", at),
            b'n' => self.literal(b"null", at),
            _ => Err(self.unexpected(byte, "a value")),
        }
    }

    fn open(&mut self, object: bool, mask: u16, records: bool, at: &mut usize) -> Result<(), ProviderError> {
        if self.frames.len() >= MAX_DEPTH {
            return Err(ProviderError::Malformed(format!(
                "the document nests deeper than {MAX_DEPTH} levels at byte {}",
                self.offset
            )));
        }
        self.frames.push(Frame {
            object,
            mask,
            records,
            stand_in: false,
            index: 0,
        });
        self.advance(at, 1);
        if object {
            self.expect = Expect::KeyOrClose;
        } else {
            self.expect = Expect::ValueOrClose;
            self.pending = self.element_mask();
        }
        Ok(())
    }

    /// Closes the container open with the bracket `byte`.
    fn close(&mut self, byte: u8, at: &mut usize) -> Result<Option<Scan>, ProviderError> {
        let expected = match self.frames.last() {
            Some(frame) if frame.object => b'}',
            Some(_) => b']',
            None => return Err(self.unexpected(byte, "the end of the document")),
        };
        if byte != expected {
            return Err(self.unexpected(byte, if expected == b'}' { "'}'" } else { "']'" }));
        }
        self.frames.pop();
        self.advance(at, 1);
        Ok(self.value_end())
    }

    /// A value just ended (at `self.offset`).
    fn value_end(&mut self) -> Option<Scan> {
        self.expect = if self.frames.is_empty() {
            Expect::Trailing
        } else {
            Expect::CommaOrClose
        };
        match self.capture {
            Some(capture) if capture.depth == self.frames.len() => {
                self.capture = None;
                Some(Scan::Captured {
                    slot: capture.slot,
                    start: capture.start,
                    end: self.offset,
                })
            }
            _ => None,
        }
    }

    /// A member name ended: which pointers its value is on.
    fn key_done(&mut self) {
        self.expect = Expect::Colon;
        let Some(frame) = self.frames.last() else {
            return;
        };
        if frame.mask == 0 {
            self.pending = 0;
            return;
        }
        let name = if self.key.len() > self.key_cap {
            None
        } else if self.key_escaped {
            let mut quoted = Vec::with_capacity(self.key.len() + 2);
            quoted.push(b'"');
            quoted.extend_from_slice(&self.key);
            quoted.push(b'"');
            serde_json::from_slice::<String>(&quoted).ok()
        } else {
            String::from_utf8(self.key.clone()).ok()
        };
        let depth = self.frames.len() - 1;
        let mask = frame.mask;
        self.pending = match name {
            None => 0,
            Some(name) => self.filter(mask, |token| token.get(depth).is_some_and(|t| t.name == name)),
        };
    }

    /// The pointers the current element of the innermost array is on.
    fn element_mask(&self) -> u16 {
        let Some(frame) = self.frames.last() else {
            return 0;
        };
        let depth = self.frames.len() - 1;
        let index = frame.index;
        self.filter(frame.mask, |tokens| {
            tokens.get(depth).is_some_and(|t| t.index == Some(index))
        })
    }

    /// The bits of `mask` whose pointer's tokens satisfy `keep`.
    fn filter(&self, mask: u16, keep: impl Fn(&[Token]) -> bool) -> u16 {
        self.targets
            .iter()
            .enumerate()
            .filter(|(bit, tokens)| mask & (1 << bit) != 0 && keep(tokens))
            .fold(0, |out, (bit, _)| out | (1 << bit))
    }

    /// The bits of `mask` whose pointer's length satisfies `keep`.
    fn select(&self, mask: u16, keep: impl Fn(usize) -> bool) -> u16 {
        self.filter(mask, |tokens| keep(tokens.len()))
    }

    /// The input ended.
    fn at_end(&mut self) -> Result<Scan, ProviderError> {
        if let Partial::Num(state) = self.partial
            && state.complete()
            && self.frames.is_empty()
        {
            self.partial = Partial::None;
            if let Some(found) = self.value_end() {
                return Ok(found);
            }
        }
        if self.expect == Expect::Trailing && self.partial == Partial::None {
            return Ok(Scan::End);
        }
        if self.expect == Expect::Value && self.frames.is_empty() {
            return Err(ProviderError::Malformed("the document is empty".into()));
        }
        Err(ProviderError::Malformed(format!(
            "the document is truncated: it ends at byte {} inside a value",
            self.offset
        )))
    }

    /// Moves past `length` bytes.
    fn advance(&mut self, at: &mut usize, length: usize) {
        *at += length;
        self.offset += length as u64;
    }

    fn unexpected(&self, byte: u8, expected: &str) -> ProviderError {
        ProviderError::Malformed(format!(
            "the document is not JSON: {} at byte {} where {expected} was expected",
            shown(byte),
            self.offset
        ))
    }
}
