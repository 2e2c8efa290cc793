//! The tokens the end of a chunk may cut (strings, numbers, literals): scanned with
//! their state kept in the lexer, so that nothing of them is carried in the buffer.

use boxoffice_core::ProviderError;

use super::{Lexer, Scan};

/// A token that the end of a chunk may cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Partial {
    None,
    /// Inside a string (a member name when `key`).
    Str {
        key: bool,
        escape: Escape,
    },
    /// Inside a number.
    Num(Num),
    /// Inside `true`, `false` or `null`, `at` bytes read.
    Literal {
        word: &'static [u8],
        at: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Escape {
    None,
    /// After `\`.
    Backslash,
    /// After `\u`, this many hex digits still to come.
    Hex(u8),
}

/// Where a number is in its grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Num {
    Minus,
    Zero,
    Int,
    Dot,
    Frac,
    Exp,
    ExpSign,
    ExpDigits,
}

impl Num {
    /// The state after `byte`, or `None` when `byte` does not continue the number.
    fn next(self, byte: u8) -> Option<Num> {
        let digit = byte.is_ascii_digit();
        match (self, byte) {
            (Num::Minus, b'0') => Some(Num::Zero),
            (Num::Minus, _) if digit => Some(Num::Int),
            (Num::Int, _) if digit => Some(Num::Int),
            (Num::Zero | Num::Int, b'.') => Some(Num::Dot),
            (Num::Dot | Num::Frac, _) if digit => Some(Num::Frac),
            (Num::Zero | Num::Int | Num::Frac, b'e' | b'E') => Some(Num::Exp),
            (Num::Exp, b'+' | b'-') => Some(Num::ExpSign),
            (Num::Exp | Num::ExpSign | Num::ExpDigits, _) if digit => Some(Num::ExpDigits),
            _ => None,
        }
    }

    /// Whether the number may end here.
    pub(super) fn complete(self) -> bool {
        matches!(self, Num::Zero | Num::Int | Num::Frac | Num::ExpDigits)
    }
}

impl Lexer {
    pub(super) fn number(&mut self, state: Num, at: &mut usize) -> Result<(), ProviderError> {
        self.partial = Partial::Num(state);
        self.advance(at, 1);
        Ok(())
    }

    pub(super) fn literal(&mut self, word: &'static [u8], at: &mut usize) -> Result<(), ProviderError> {
        self.partial = Partial::Literal { word, at: 1 };
        self.advance(at, 1);
        Ok(())
    }

    /// Goes on with the token in progress from `bytes[*at]`; what it found when the
    /// token ended a captured value.
    pub(super) fn continue_token(
        &mut self,
        bytes: &[u8],
        at: &mut usize,
    ) -> Result<Option<Scan>, ProviderError> {
        match self.partial {
            Partial::None => Ok(None),
            Partial::Str { key, escape } => self.string(key, escape, bytes, at),
            Partial::Num(mut state) => {
                while let Some(&byte) = bytes.get(*at) {
                    match state.next(byte) {
                        Some(next) => {
                            state = next;
                            self.advance(at, 1);
                        }
                        None if state.complete() => {
                            self.partial = Partial::None;
                            return Ok(self.value_end());
                        }
                        None => return Err(self.unexpected(byte, "a digit")),
                    }
                }
                self.partial = Partial::Num(state);
                Ok(None)
            }
            Partial::Literal { word, at: mut read } => {
                while read < word.len() {
                    let Some(&byte) = bytes.get(*at) else {
                        self.partial = Partial::Literal { word, at: read };
                        return Ok(None);
                    };
                    if byte != word[read] {
                        return Err(self.unexpected(byte, "true, false or null"));
                    }
                    read += 1;
                    self.advance(at, 1);
                }
                self.partial = Partial::None;
                Ok(self.value_end())
            }
        }
    }

    /// Scans a string from `bytes[*at]` (inside it, in state `escape`).
    fn string(
        &mut self,
        key: bool,
        mut escape: Escape,
        bytes: &[u8],
        at: &mut usize,
    ) -> Result<Option<Scan>, ProviderError> {
        let keep = key && self.frames.last().is_some_and(|frame| frame.mask != 0);
        loop {
            match escape {
                Escape::None => {
                    let rest = &bytes[*at..];
                    let run = memchr::memchr2(b'"', b'\\', rest).unwrap_or(rest.len());
                    if let Some(control) = rest[..run].iter().position(|&b| b < 0x20) {
                        self.advance(at, control);
                        return Err(ProviderError::Malformed(format!(
                            "the document is not JSON: a control character (0x{:02x}) inside a string at byte {}",
                            rest[control], self.offset
                        )));
                    }
                    if keep {
                        self.keep_key(&rest[..run]);
                    }
                    self.advance(at, run);
                    let Some(&byte) = rest.get(run) else {
                        self.partial = Partial::Str { key, escape };
                        return Ok(None);
                    };
                    self.advance(at, 1);
                    if byte == b'"' {
                        self.partial = Partial::None;
                        if key {
                            self.key_done();
                            return Ok(None);
                        }
                        return Ok(self.value_end());
                    }
                    escape = Escape::Backslash;
                    if keep {
                        self.key_escaped = true;
                        self.keep_key(b"\\");
                    }
                }
                Escape::Backslash | Escape::Hex(_) => {
                    let Some(&byte) = bytes.get(*at) else {
                        self.partial = Partial::Str { key, escape };
                        return Ok(None);
                    };
                    escape = match (escape, byte) {
                        (Escape::Backslash, b'u') => Escape::Hex(4),
                        (Escape::Backslash, b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            Escape::None
                        }
                        (Escape::Hex(left), _) if byte.is_ascii_hexdigit() => {
                            if left == 1 {
                                Escape::None
                            } else {
                                Escape::Hex(left - 1)
                            }
                        }
                        _ => return Err(self.unexpected(byte, "a valid escape sequence")),
                    };
                    if keep {
                        self.keep_key(&[byte]);
                    }
                    self.advance(at, 1);
                }
            }
        }
    }

    fn keep_key(&mut self, bytes: &[u8]) {
        if self.key.len() <= self.key_cap {
            let room = self.key_cap + 1 - self.key.len();
            self.key.extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
    }
}

/// A byte as a message shows it.
pub(super) fn shown(byte: u8) -> String {
    if byte.is_ascii_graphic() {
        format!("'{}'", char::from(byte))
    } else {
        format!("byte 0x{byte:02x}")
    }
}
