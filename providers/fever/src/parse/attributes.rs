//! A tag's attributes: names and unescaped values, in document order.
//!
//! Every tag of the feed is read here, so the usual shape (`name="value"` separated by
//! whitespace, no escapes) is scanned directly on the tag, already checked to be UTF-8,
//! without allocating. Anything else (spaces around `=`, a missing quote, a duplicate)
//! goes through quick-xml's attribute iterator, which accepts or refuses exactly what it
//! always did, with its own error messages.

use std::borrow::Cow;

use boxoffice_core::ProviderError;
use quick_xml::escape::{EscapeError, unescape};
use smallvec::SmallVec;

use super::malformed;

/// A tag's attributes: names and unescaped values, borrowed from the tag unless a value
/// holds an escape.
pub(super) type Attributes<'a> = SmallVec<[(&'a str, Cow<'a, str>); 8]>;

/// Reads into `attributes` (cleared first) the attributes of the tag `markup` (name and
/// attributes, checked to be UTF-8), whose name is `name_len` bytes long. Duplicates,
/// bad quoting and undefined entities are not well-formed XML and fail the feed;
/// `offset` is where the tag ends, for the message.
pub(super) fn read_attributes<'a>(
    markup: &'a str,
    name_len: usize,
    offset: u64,
    attributes: &mut Attributes<'a>,
) -> Result<(), ProviderError> {
    attributes.clear();
    match scan(markup, name_len, attributes) {
        Scan::Regular => Ok(()),
        Scan::BadEscape(error) => Err(not_well_formed(offset, &error)),
        Scan::Irregular => {
            attributes.clear();
            checked_by_quick_xml(markup, name_len, offset, attributes)
        }
    }
}

fn not_well_formed(offset: u64, error: &dyn std::fmt::Display) -> ProviderError {
    malformed(format!("not well-formed XML at byte {offset}: {error}"))
}

enum Scan {
    /// Every attribute has the usual shape: they were read.
    Regular,
    /// The usual shape, but this value's escape is wrong (the first such value: an
    /// attribute is only read once those before it are).
    BadEscape(EscapeError),
    /// Something else: let quick-xml read it.
    Irregular,
}

/// XML whitespace, as quick-xml has it.
fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

/// Reads `name="value"` or `name='value'` pairs from `markup[from..]`, separated by
/// whitespace, where quick-xml would read the same pairs; [`Scan::Irregular`] at the
/// first thing it would read otherwise or refuse.
fn scan<'a>(markup: &'a str, from: usize, attributes: &mut Attributes<'a>) -> Scan {
    let bytes = markup.as_bytes();
    let length = bytes.len();
    // Values are looked at for escapes only when the tag has an `&` at all.
    let escapes = memchr::memchr(b'&', bytes.get(from..).unwrap_or_default()).is_some();
    let mut at = from;
    loop {
        while at < length && is_space(bytes[at]) {
            at += 1;
        }
        if at >= length {
            return Scan::Regular;
        }
        let key_start = at;
        while at < length && bytes[at] != b'=' && !is_space(bytes[at]) {
            at += 1;
        }
        // An empty name, a name without `=` right after it, or no quote right after
        // the `=`: quick-xml has its own reading of each.
        if at == key_start || at + 1 >= length || bytes[at] != b'=' {
            return Scan::Irregular;
        }
        let key_end = at;
        let quote = bytes[at + 1];
        if quote != b'"' && quote != b'\'' {
            return Scan::Irregular;
        }
        let value_start = at + 2;
        at = value_start;
        while at < length && bytes[at] != quote {
            at += 1;
        }
        if at >= length {
            return Scan::Irregular;
        }
        let value_end = at;
        at += 1;
        // Every cut is next to an ASCII byte, so on a character boundary.
        let (Some(key), Some(value)) = (markup.get(key_start..key_end), markup.get(value_start..value_end))
        else {
            return Scan::Irregular;
        };
        if attributes.iter().any(|(seen, _)| *seen == key) {
            return Scan::Irregular;
        }
        let value = if escapes && value.contains('&') {
            match unescape(value) {
                Ok(value) => value,
                Err(error) => return Scan::BadEscape(error),
            }
        } else {
            Cow::Borrowed(value)
        };
        attributes.push((key, value));
    }
}

/// The attributes as quick-xml reads them, with its errors.
fn checked_by_quick_xml<'a>(
    markup: &'a str,
    name_len: usize,
    offset: u64,
    attributes: &mut Attributes<'a>,
) -> Result<(), ProviderError> {
    let read = quick_xml::events::attributes::Attributes::new(markup, name_len);
    let decoder = read.decoder();
    for attribute in read {
        let attribute = attribute.map_err(|error| not_well_formed(offset, &error))?;
        let key = std::str::from_utf8(attribute.key.into_inner())
            .map_err(|error| not_well_formed(offset, &error))?;
        let value = attribute
            .decode_and_unescape_value(decoder)
            .map_err(|error| not_well_formed(offset, &error))?;
        attributes.push((key, value));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_len(content: &str) -> usize {
        content.find([' ', '\t', '\r', '\n']).unwrap_or(content.len())
    }

    fn owned(attributes: &Attributes<'_>) -> Vec<(String, String)> {
        attributes
            .iter()
            .map(|(key, value)| ((*key).to_owned(), value.clone().into_owned()))
            .collect()
    }

    /// What reading `content` gives: the pairs, or the error message.
    fn read(content: &str) -> Result<Vec<(String, String)>, String> {
        let mut attributes = Attributes::new();
        // Whatever was there before is not kept.
        attributes.push(("stale", Cow::Borrowed("x")));
        read_attributes(content, name_len(content), 7, &mut attributes).map_err(|error| error.to_string())?;
        Ok(owned(&attributes))
    }

    /// What quick-xml alone gives for `content`.
    fn by_quick_xml(content: &str) -> Result<Vec<(String, String)>, String> {
        let mut attributes = Attributes::new();
        checked_by_quick_xml(content, name_len(content), 7, &mut attributes)
            .map_err(|error| error.to_string())?;
        Ok(owned(&attributes))
    }

    fn pairs(list: &[(&str, &str)]) -> Result<Vec<(String, String)>, String> {
        Ok(list
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect())
    }

    #[test]
    fn the_usual_shape_is_read_without_quick_xml() {
        let content = "zone zone_id=\"40\" capacity='243' name=\"Caf\u{e9} &amp; Bar\"";
        let mut attributes = Attributes::new();
        assert!(matches!(scan(content, 4, &mut attributes), Scan::Regular));
        assert_eq!(
            read(content),
            pairs(&[
                ("zone_id", "40"),
                ("capacity", "243"),
                ("name", "Caf\u{e9} & Bar")
            ])
        );
        // Borrowed unless unescaped.
        assert!(matches!(attributes[0].1, Cow::Borrowed(_)));
        assert!(matches!(attributes[2].1, Cow::Owned(_)));
    }

    #[test]
    fn other_shapes_read_as_quick_xml_reads_them() {
        for content in [
            "zone",
            "zone ",
            "zone a = \"1\"\tb\n=\n'2' ",
            "zone a=\"1\"b=\"2\"",
            "zone =\"1\"",
            "zone ==\"1\"",
            "zone a",
            "zone a ",
            "zone a=",
            "zone a= ",
            "zone a=1",
            "zone a=\"1",
            "zone a='1\"",
            "zone a=\"1\" a=\"2\"",
            "zone a=\"&bogus;\" a=\"2\"",
            "zone a=\"1\" b=\"&bogus;\" c",
            "zone a=\"&#0;\"",
            "zone a=\"x & y\"",
            "zone a=\"&lt;&#65;&#x42;\"",
            "zone \"a=\"1\"",
            "zone a=\"\u{e9}\" \u{e9}=\"1\"",
        ] {
            assert_eq!(read(content), by_quick_xml(content), "{content:?}");
        }
    }

    #[test]
    fn errors_name_the_offset_and_quick_xml_reason() {
        assert_eq!(
            read("zone a=\"1\" a=\"2\""),
            Err("the feed is malformed: not well-formed XML at byte 7: position 11: duplicated attribute, previous declaration at position 5".to_owned())
        );
        let error = read("zone a=\"&lol9;\"").err().unwrap_or_default();
        assert!(error.contains("at byte 7") && error.contains("lol9"), "{error}");
    }
}
