//! One attribute value to what it stands for (an id, a date-time, a flag, a capacity,
//! a price), with the reason when it cannot be read, and how reasons quote values.
//!
//! The common shapes of dates and prices are read from their bytes; anything else goes
//! through chrono's and rust_decimal's parsers, which decide as they always did.

use std::borrow::Cow;
use std::str::FromStr;

use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;

/// The wall-clock format of every date-time in the feed (no offset: the instance's
/// time zone says where it is).
const DATE_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.f";

/// How much of a bad value a reason quotes.
pub(super) const MAX_QUOTED_CHARS: usize = 80;

/// A required id: present and not empty.
pub(super) fn required_id<'a>(name: &str, value: &'a str, problems: &mut Vec<String>) -> Option<&'a str> {
    if trim(value).is_empty() {
        problems.push(format!("{name} is empty"));
        None
    } else {
        Some(value)
    }
}

pub(super) fn date_time(name: &str, value: &str, problems: &mut Vec<String>) -> Option<NaiveDateTime> {
    let trimmed = trim(value);
    let parsed = plain_date_time(trimmed.as_bytes())
        .or_else(|| NaiveDateTime::parse_from_str(trimmed, DATE_TIME_FORMAT).ok());
    if parsed.is_none() {
        problems.push(format!(
            "{name} {} is not a valid date-time (expected YYYY-MM-DDTHH:MM:SS)",
            quote(value)
        ));
    }
    parsed
}

/// `YYYY-MM-DDTHH:MM:SS` with a valid date and a time before 23:59:60, read from its
/// bytes; `None` for anything else (which [`DATE_TIME_FORMAT`] may still accept: a
/// fraction, a leap second, a year of other than four digits).
fn plain_date_time(bytes: &[u8]) -> Option<NaiveDateTime> {
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if bytes.len() != 19 || separators.iter().any(|&(at, separator)| bytes[at] != separator) {
        return None;
    }
    let number = |from: usize, to: usize| {
        bytes[from..to].iter().try_fold(0_u32, |number, &byte| {
            byte.is_ascii_digit()
                .then(|| number * 10 + u32::from(byte - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(i32::try_from(number(0, 4)?).ok()?, number(5, 7)?, number(8, 10)?)?;
    date.and_hms_opt(number(11, 13)?, number(14, 16)?, number(17, 19)?)
}

pub(super) fn boolean(name: &str, value: &str, problems: &mut Vec<String>) -> Option<bool> {
    match trim(value) {
        "true" => Some(true),
        "false" => Some(false),
        _ => {
            problems.push(format!(
                "{name} {} is neither \"true\" nor \"false\"",
                quote(value)
            ));
            None
        }
    }
}

/// A zone's capacity: a whole number that fits a `u32`.
pub(super) fn capacity(value: &str, problems: &mut Vec<String>) -> Option<u32> {
    let capacity = trim(value).parse::<u32>().ok();
    if capacity.is_none() {
        problems.push(format!(
            "capacity {} is not a whole number from 0 to {}",
            quote(value),
            u32::MAX
        ));
    }
    capacity
}

/// A zone's price: a decimal number, not negative.
pub(super) fn price(value: &str, problems: &mut Vec<String>) -> Option<Decimal> {
    let trimmed = trim(value);
    let parsed = plain_price(trimmed.as_bytes()).map_or_else(|| Decimal::from_str(trimmed), Ok);
    match parsed {
        Ok(price) if price < Decimal::ZERO => {
            problems.push(format!("price {} is negative", quote(value)));
            None
        }
        Ok(price) => Some(price),
        Err(_) => {
            problems.push(format!("price {} is not a decimal number", quote(value)));
            None
        }
    }
}

/// Digits, optionally a point and more digits (at least one on each side, 18 in all,
/// so that they fit an `i64`), read from its bytes with the scale rust_decimal gives it
/// (`20.00` keeps its two decimals); `None` for anything else (which
/// `Decimal::from_str` may still accept).
fn plain_price(bytes: &[u8]) -> Option<Decimal> {
    let mut mantissa: i64 = 0;
    let mut digits = 0;
    let mut point = None;
    for &byte in bytes {
        if byte.is_ascii_digit() && digits < 18 {
            mantissa = mantissa * 10 + i64::from(byte - b'0');
            digits += 1;
        } else if byte == b'.' && point.is_none() && digits > 0 {
            point = Some(digits);
        } else {
            return None;
        }
    }
    // The number of decimals; at least one digit after a point.
    let scale = match point {
        Some(units) if units < digits => digits - units,
        Some(_) => return None,
        None if digits > 0 => 0,
        None => return None,
    };
    Decimal::try_new(mantissa, scale).ok()
}

/// `value` without leading and trailing whitespace ([`str::trim`]), at once when it
/// starts and ends with a letter or digit, as values nearly always do.
fn trim(value: &str) -> &str {
    match value.as_bytes() {
        [first, .., last] if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() => value,
        [only] if only.is_ascii_alphanumeric() => value,
        _ => value.trim(),
    }
}

/// A value as a reason quotes it: in double quotes, escaped, at most
/// [`MAX_QUOTED_CHARS`] characters.
pub(super) fn quote(value: &str) -> String {
    format!("{:?}", shorten(value))
}

/// At most [`MAX_QUOTED_CHARS`] characters of `text`, with `…` when cut.
pub(super) fn shorten(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        None => Cow::Borrowed(text),
        Some((cut, _)) => Cow::Owned(format!("{}…", &text[..cut])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_with_and_without_fractions_are_read() {
        let mut problems = Vec::new();
        assert!(date_time("x", "2021-06-30T21:00:00", &mut problems).is_some());
        assert!(date_time("x", "2021-06-30T21:00:00.250", &mut problems).is_some());
        assert!(problems.is_empty());
    }

    #[test]
    fn an_impossible_date_is_a_problem_naming_attribute_and_value() {
        let mut problems = Vec::new();
        assert_eq!(
            date_time("event_start_date", "2021-09-31T20:00:00", &mut problems),
            None
        );
        assert_eq!(
            problems,
            [
                "event_start_date \"2021-09-31T20:00:00\" is not a valid date-time (expected YYYY-MM-DDTHH:MM:SS)"
            ]
        );
    }

    /// Every date the byte reader accepts, chrono accepts as the same moment.
    #[test]
    fn plain_dates_read_as_chrono_reads_them() {
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        };
        let mut cases = vec![
            "2021-06-30T21:00:00".to_owned(),
            "2024-02-29T23:59:59".to_owned(),
            "2023-02-29T10:00:00".to_owned(),
            "0000-01-01T00:00:00".to_owned(),
            "9999-12-31T23:59:59".to_owned(),
            "2021-06-30T23:59:60".to_owned(),
            "2021-06-30T24:00:00".to_owned(),
            "2021-00-10T10:00:00".to_owned(),
            "2021-13-10T10:00:00".to_owned(),
            "2021-06-00T10:00:00".to_owned(),
            "2021-06-30 21:00:00".to_owned(),
            "+021-06-30T21:00:00".to_owned(),
            "2021-6-30T21:00:00".to_owned(),
        ];
        for _ in 0..20_000 {
            cases.push(format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                next(10_000),
                next(14),
                next(33),
                next(26),
                next(62),
                next(62)
            ));
        }
        for case in cases {
            let chrono = NaiveDateTime::parse_from_str(&case, DATE_TIME_FORMAT).ok();
            if let Some(plain) = plain_date_time(case.as_bytes()) {
                assert_eq!(Some(plain), chrono, "{case}");
            }
            let mut problems = Vec::new();
            assert_eq!(date_time("x", &case, &mut problems), chrono, "{case}");
        }
    }

    #[test]
    fn booleans_are_only_true_or_false() {
        let mut problems = Vec::new();
        assert_eq!(boolean("sold_out", "true", &mut problems), Some(true));
        assert_eq!(boolean("sold_out", "false", &mut problems), Some(false));
        assert_eq!(boolean("sold_out", "yes", &mut problems), None);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("sold_out \"yes\""));
    }

    /// Every price the byte reader accepts, rust_decimal reads as the same number with
    /// the same scale (the same bytes once serialized).
    #[test]
    fn plain_prices_read_as_rust_decimal_reads_them() {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        };
        let alphabet = b"0123456789.-+ e_";
        let mut cases: Vec<String> = [
            "20.00",
            "0",
            "0.0",
            "00.50",
            "1.",
            ".5",
            "999999999.999999999",
            "9999999999.999999999",
            "999999999999999999",
            "1000000000000000000",
            "1.0000000000",
            "-0",
            "-3.50",
            "+1",
            "1e3",
            "1_000",
            "",
            ".",
            "01",
            "0.000000000",
        ]
        .iter()
        .map(|case| (*case).to_owned())
        .collect();
        for _ in 0..50_000 {
            let length = 1 + next(26) as usize;
            // Mostly digits and points, sometimes anything of the alphabet.
            let wide = next(4) == 0;
            let case: String = (0..length)
                .map(|_| {
                    let index = if wide {
                        next(alphabet.len() as u64)
                    } else {
                        next(11)
                    };
                    char::from(alphabet[index as usize])
                })
                .collect();
            cases.push(case);
        }
        for case in cases {
            let expected = Decimal::from_str(&case).ok();
            if let Some(plain) = plain_price(case.as_bytes()) {
                assert_eq!(Some(plain.serialize()), expected.map(|d| d.serialize()), "{case}");
            }
            let mut problems = Vec::new();
            let read = price(&case, &mut problems);
            let expected = Decimal::from_str(case.trim())
                .ok()
                .filter(|d| *d >= Decimal::ZERO);
            assert_eq!(
                read.map(|d| d.serialize()),
                expected.map(|d| d.serialize()),
                "{case}"
            );
            assert_eq!(problems.is_empty(), read.is_some(), "{case}");
        }
    }

    #[test]
    fn capacities_are_whole_numbers_that_fit() {
        let mut problems = Vec::new();
        assert_eq!(capacity(" 243 ", &mut problems), Some(243));
        assert_eq!(capacity("4294967296", &mut problems), None);
        assert_eq!(capacity("-1", &mut problems), None);
        assert_eq!(problems.len(), 2);
        assert!(problems[0].contains("capacity \"4294967296\""), "{problems:?}");
    }

    #[test]
    fn trimming_is_str_trim() {
        for value in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "ab",
            "a b",
            "\u{a0}1\u{2003}",
            "1\u{85}",
            "\u{3000}",
            "x\t",
            "\u{e9}",
        ] {
            assert_eq!(trim(value), value.trim(), "{value:?}");
        }
    }

    #[test]
    fn long_values_are_shortened_on_a_character_boundary() {
        let long = "é".repeat(200);
        let short = shorten(&long);
        assert_eq!(short.chars().count(), MAX_QUOTED_CHARS + 1);
        assert!(short.ends_with('…'));
        assert_eq!(shorten("abc"), "abc");
    }
}
