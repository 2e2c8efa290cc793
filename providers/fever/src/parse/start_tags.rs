//! Start tags (`<name attributes>` and `<name attributes/>`), nearly every event of a
//! feed: where one ends, by quick-xml's rule but without a search per quote, and its
//! name and content.

use quick_xml::utils::name_len;

/// A start or empty-element tag, borrowed from the chunk.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tag<'a> {
    /// Between `<` and `>` (or `/>`): the name and the attributes.
    content: &'a [u8],
    /// `content` as text, when it is known to be UTF-8.
    text: Option<&'a str>,
    name_len: usize,
}

impl<'a> Tag<'a> {
    /// A tag whose `content` is between `<` and `>`, with its `/` when it is empty;
    /// `text` is `content` when it is known to be UTF-8.
    pub(super) fn new(content: &'a [u8], text: Option<&'a str>) -> (Self, bool) {
        let (content, text, empty) = match content.strip_suffix(b"/") {
            Some(content) => (content, text.and_then(|text| text.strip_suffix('/')), true),
            None => (content, text, false),
        };
        let tag = Tag {
            content,
            text,
            name_len: name_len(content),
        };
        (tag, empty)
    }

    /// The name and the attributes.
    pub(super) fn content(&self) -> &'a [u8] {
        self.content
    }

    /// The name and the attributes as text, when they were checked to be UTF-8 with
    /// their chunk; `None` says nothing about whether they are.
    pub(super) fn text(&self) -> Option<&'a str> {
        self.text
    }

    /// The name: up to the first whitespace.
    pub(super) fn name(&self) -> &'a [u8] {
        &self.content[..self.name_len]
    }
}

/// Where the tag whose content starts `bytes` ends: its first `>` outside quotes, as
/// quick-xml's element parser finds it; `None` when `bytes` ends first.
///
/// Usually the first `>` of all, with only pairs of double quotes before it: then it is
/// outside quotes, which one pass over 8 bytes at a time tells. Otherwise the quotes
/// are followed one by one.
pub(super) fn tag_end(bytes: &[u8]) -> Option<usize> {
    let first = memchr::memchr(b'>', bytes)?;
    let before = &bytes[..first];
    // The double quotes' marks, combined so that the parity of their count is kept; the
    // single quotes' marks, combined so that one is enough.
    let mut double = 0_u64;
    let mut single = 0_u64;
    let mut words = before.chunks_exact(8);
    for word in &mut words {
        let word = u64::from_le_bytes(<[u8; 8]>::try_from(word).unwrap_or_default());
        double ^= bytes_equal(word, b'"');
        single |= bytes_equal(word, b'\'');
    }
    for &byte in words.remainder() {
        double ^= u64::from(byte == b'"');
        single |= u64::from(byte == b'\'');
    }
    if double.count_ones().is_multiple_of(2) && single == 0 {
        return Some(first);
    }
    quoted_tag_end(bytes)
}

/// The high bit of each byte of `word` that equals `byte`; every other bit clear.
fn bytes_equal(word: u64, byte: u8) -> u64 {
    const LOW_BITS: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // Zero where `word` has `byte`. A byte's low seven bits plus 0x7f carry into its
    // high bit unless they are all zero, and never into the next byte.
    let x = word ^ (u64::from(byte) * 0x0101_0101_0101_0101);
    !(((x & LOW_BITS) + LOW_BITS) | x | LOW_BITS)
}

/// [`tag_end`], one quote at a time.
fn quoted_tag_end(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        let next = at
            + bytes
                .get(at..)?
                .iter()
                .position(|&byte| matches!(byte, b'>' | b'"' | b'\''))?;
        let quote = bytes[next];
        if quote == b'>' {
            return Some(next);
        }
        let closing = next + 1 + bytes.get(next + 1..)?.iter().position(|&byte| byte == quote)?;
        at = closing + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_of_a_tag_is_its_first_closing_bracket_outside_quotes() {
        assert_eq!(tag_end(b"a b=\"1\" c='2'>rest"), Some(13));
        assert_eq!(tag_end(b"a b=\">\" c='>'>"), Some(13));
        assert_eq!(tag_end(b"a b=\"'\">"), Some(7));
        assert_eq!(tag_end(b"a b=\"1>"), None);
        assert_eq!(tag_end(b"a b"), None);
        // Every string of these bytes up to length 7, and random longer ones (read 8
        // bytes at a time): the shortcut agrees with the walk.
        let alphabet = b"a>\"'";
        for length in 0..=7_u32 {
            for mut index in 0..alphabet.len().pow(length) {
                let bytes: Vec<u8> = (0..length)
                    .map(|_| {
                        let byte = alphabet[index % alphabet.len()];
                        index /= alphabet.len();
                        byte
                    })
                    .collect();
                assert_eq!(tag_end(&bytes), quoted_tag_end(&bytes), "{bytes:?}");
            }
        }
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let wide = b"a>\"'\x80\xa2\xa7\xbe\x00\xff =";
        for _ in 0..200_000 {
            let length = (next() % 48) as usize;
            // Mostly letters, so that quotes and brackets are sparse as in tags.
            let bytes: Vec<u8> = (0..length)
                .map(|_| match next() % 8 {
                    0..=3 => b'a',
                    _ => wide[(next() % wide.len() as u64) as usize],
                })
                .collect();
            assert_eq!(tag_end(&bytes), quoted_tag_end(&bytes), "{bytes:?}");
        }
    }

    #[test]
    fn bytes_equal_marks_exactly_the_equal_bytes() {
        for byte in [0_u8, b'"', b'\'', 0x7f, 0x80, 0xa2, 0xff] {
            for other in 0..=255_u8 {
                let bytes = [other, byte, other, 0, 0xff, byte, 0x80, other];
                let expected = bytes
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| **b == byte)
                    .fold(0_u64, |marks, (index, _)| marks | 0x80 << (8 * index));
                assert_eq!(
                    bytes_equal(u64::from_le_bytes(bytes), byte),
                    expected,
                    "{byte:#x} among {other:#x}"
                );
            }
        }
    }
}
