//! One JSON value to what it stands for (an id, a text, a flag, a price, a capacity),
//! with what is wrong with it when it cannot be read, and how reasons quote values.
//!
//! A reader's error is the end of a sentence that starts with the key and the pointer
//! (`title (/name) is missing`, `base_id (/id) true is not a string or an integer`).

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Number, Value};

use crate::node::Node;

/// How much of a bad value a reason quotes, in characters.
pub(crate) const MAX_QUOTED_CHARS: usize = 80;

/// An id: a string that is not blank, or an integer (its decimal text).
pub(crate) fn id(value: &Node) -> Result<String, String> {
    match value {
        Node::String(text) if text.trim().is_empty() => Err(format!("{} is blank", quote(value))),
        // The parts of an item's identity are joined with U+001F: no id may carry it.
        Node::String(text) if text.chars().any(char::is_control) => {
            Err(format!("{} contains a control character", quote(value)))
        }
        Node::String(text) => Ok(text.clone()),
        Node::Number(number) if number.is_i64() || number.is_u64() => Ok(number.to_string()),
        _ => Err(format!("{} is not a string or an integer", quote(value))),
    }
}

/// A string.
pub(crate) fn text(value: &Node) -> Result<String, String> {
    match value {
        Node::String(text) => Ok(text.clone()),
        _ => Err(format!("{} is not a string", quote(value))),
    }
}

/// A currency: an ISO 4217 code, in any case (`usd` is `USD`).
pub(crate) fn currency(value: &Node) -> Result<String, String> {
    match value {
        Node::String(text) => {
            let code = text.trim().to_ascii_uppercase();
            if boxoffice_core::model::is_currency_code(&code) {
                Ok(code)
            } else {
                Err(format!(
                    "{} is not an ISO 4217 currency code (e.g. \"EUR\")",
                    quote(value)
                ))
            }
        }
        _ => Err(format!(
            "{} is not a currency code (a string such as \"EUR\")",
            quote(value)
        )),
    }
}

/// A time zone: an IANA name (`America/New_York`).
pub(crate) fn zone(value: &Node) -> Result<chrono_tz::Tz, String> {
    match value {
        Node::String(text) => text.trim().parse().map_err(|_| {
            format!(
                "{} is not an IANA time zone (e.g. \"America/New_York\")",
                quote(value)
            )
        }),
        _ => Err(format!("{} is not a time zone name (a string)", quote(value))),
    }
}

/// A price: a number or a numeric string, not negative, exact.
pub(crate) fn price(value: &Node) -> Result<Decimal, String> {
    let read = match value {
        Node::Number(number) => decimal_of(number),
        Node::String(text) => decimal(text.trim()),
        _ => None,
    };
    match read {
        Some(price) if price.is_sign_negative() && !price.is_zero() => {
            Err(format!("{} is negative", quote(value)))
        }
        Some(price) => Ok(price),
        None => Err(format!("{} is not a number", quote(value))),
    }
}

/// A capacity: a whole number from 0 to `u32::MAX`, or a string of one.
pub(crate) fn capacity(value: &Node) -> Result<u32, String> {
    let read = match value {
        Node::Number(number) => number.as_u64().and_then(|n| u32::try_from(n).ok()),
        Node::String(text) => text.trim().parse::<u32>().ok(),
        _ => None,
    };
    read.ok_or_else(|| format!("{} is not a whole number from 0 to {}", quote(value), u32::MAX))
}

/// A whole number, or a string of one (a page number).
pub(crate) fn whole(value: &Value) -> Option<u64> {
    match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// Whether `found` is the configured `expected` (a string, number or boolean):
/// numbers by value (`1` is `1.0`), anything else exactly, never across types.
pub(crate) fn same(found: &Node, expected: &Value) -> bool {
    match (found, expected) {
        (Node::Number(a), Value::Number(b)) => match (decimal_of(a), decimal_of(b)) {
            (Some(a), Some(b)) => a == b,
            _ => a.as_f64() == b.as_f64(),
        },
        (Node::String(a), Value::String(b)) => a == b,
        (Node::Bool(a), Value::Bool(b)) => a == b,
        _ => false,
    }
}

fn decimal_of(number: &Number) -> Option<Decimal> {
    if let Some(n) = number.as_i64() {
        return Some(Decimal::from(n));
    }
    if let Some(n) = number.as_u64() {
        return Some(Decimal::from(n));
    }
    // serde_json writes a float as the shortest text that reads back the same.
    decimal(&number.to_string())
}

fn decimal(text: &str) -> Option<Decimal> {
    Decimal::from_str(text)
        .ok()
        .or_else(|| Decimal::from_scientific(text).ok())
}

/// A value as a reason quotes it: its JSON text, at most [`MAX_QUOTED_CHARS`]
/// characters (with `…` when cut), without writing out more of a large value.
pub(crate) fn quote(value: &(impl serde::Serialize + ?Sized)) -> String {
    let mut out = Bounded {
        bytes: Vec::new(),
        room: MAX_QUOTED_CHARS * 4 + 4,
    };
    let _ = serde_json::to_writer(&mut out, value);
    shorten(&String::from_utf8_lossy(&out.bytes))
}

/// At most [`MAX_QUOTED_CHARS`] characters of `text`, with `…` when cut.
pub(crate) fn shorten(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        None => text.to_owned(),
        Some((cut, _)) => format!("{}…", &text[..cut]),
    }
}

/// At most `limit` bytes of `bytes` as text, cut on a character boundary with `…`.
pub(crate) fn bounded_text(bytes: &[u8], limit: usize) -> String {
    if bytes.len() <= limit {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let mut cut = limit.saturating_sub('…'.len_utf8());
    // Back to the start of a character (the record is UTF-8: the stream checked it).
    while cut > 0 && bytes.get(cut).is_some_and(|byte| byte & 0xC0 == 0x80) {
        cut -= 1;
    }
    let mut text = String::from_utf8_lossy(&bytes[..cut]).into_owned();
    text.push('…');
    text
}

/// A writer that keeps the first `room` bytes and refuses the rest (which ends the
/// serialization early).
struct Bounded {
    bytes: Vec<u8>,
    room: usize,
}

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let take = buf.len().min(self.room - self.bytes.len());
        if take == 0 && !buf.is_empty() {
            return Err(std::io::Error::other("enough"));
        }
        self.bytes.write_all(&buf[..take])?;
        Ok(take)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The node of a JSON text.
    macro_rules! json {
        ($($json:tt)+) => {
            serde_json::from_value::<Node>(serde_json::json!($($json)+)).unwrap_or(Node::Null)
        };
    }

    #[test]
    fn ids_are_strings_or_integers() {
        assert_eq!(id(&json!("A-1")), Ok("A-1".into()));
        assert_eq!(id(&json!(42)), Ok("42".into()));
        assert_eq!(id(&json!(-3)), Ok("-3".into()));
        assert_eq!(id(&json!(1.5)), Err("1.5 is not a string or an integer".into()));
        assert_eq!(id(&json!(" ")), Err("\" \" is blank".into()));
        assert!(id(&json!("a\u{1f}b")).is_err_and(|e| e.contains("control")));
        assert!(id(&json!({"a": 1})).is_err());
    }

    #[test]
    fn prices_are_exact_numbers_or_numeric_strings_never_negative() {
        assert_eq!(price(&json!(1234)), Ok(Decimal::from(1234)));
        assert_eq!(price(&json!("12.50")).map(|d| d.to_string()), Ok("12.50".into()));
        assert_eq!(price(&json!(0.1)).map(|d| d.to_string()), Ok("0.1".into()));
        assert_eq!(
            price(&json!(1e3)).map(|d| d.normalize().to_string()),
            Ok("1000".into())
        );
        assert_eq!(price(&json!(-0.0)).map(|d| d.is_zero()), Ok(true));
        assert_eq!(price(&json!(-1)), Err("-1 is negative".into()));
        assert_eq!(price(&json!("abc")), Err("\"abc\" is not a number".into()));
        assert_eq!(price(&json!(true)), Err("true is not a number".into()));
        assert!(price(&json!(1e300)).is_err());
    }

    #[test]
    fn capacities_are_whole_numbers_that_fit() {
        assert_eq!(capacity(&json!(12)), Ok(12));
        assert_eq!(capacity(&json!(" 7 ")), Ok(7));
        assert!(capacity(&json!(-1)).is_err());
        assert!(capacity(&json!(4_294_967_296_u64)).is_err());
        assert!(capacity(&json!(1.5)).is_err());
    }

    #[test]
    fn comparisons_are_by_value_for_numbers_and_exact_otherwise() {
        assert!(same(&json!(1), &serde_json::json!(1.0)));
        assert!(same(&json!("onsale"), &serde_json::json!("onsale")));
        assert!(!same(&json!("1"), &serde_json::json!(1)));
        assert!(!same(&json!(true), &serde_json::json!("true")));
    }

    #[test]
    fn quotes_are_bounded_whatever_the_value() {
        let long = json!({"text": "é".repeat(10_000), "more": [1, 2, 3]});
        let quoted = quote(&long);
        assert_eq!(quoted.chars().count(), MAX_QUOTED_CHARS + 1);
        assert!(quoted.starts_with("{\"") && quoted.ends_with('…'), "{quoted}");
        assert_eq!(quote(&json!("x")), "\"x\"");
        let raw = bounded_text("é".repeat(3000).as_bytes(), 4096);
        assert!(raw.len() <= 4096 && raw.ends_with('…'), "{}", raw.len());
        assert!(!raw.contains('\u{fffd}'));
    }
}
