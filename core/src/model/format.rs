//! How dates and times are written, in the store and in every answer: one owner for
//! the formats (`2021-06-30`, `21:00:00`, `2021-06-30T21:00:00`), with writers that do
//! not go through a format string (the read model renders millions of them).

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

/// `%Y-%m-%d`, as chrono spells it: the served and stored date.
pub const DATE: &str = "%Y-%m-%d";
/// `%H:%M:%S`: the served and stored time.
pub const TIME: &str = "%H:%M:%S";
/// `%Y-%m-%dT%H:%M:%S`: a local date-time without offset (sale windows).
pub const LOCAL_DATE_TIME: &str = "%Y-%m-%dT%H:%M:%S";

/// `value` in decimal, zero-padded to `width` digits (values fit).
fn digits(out: &mut Vec<u8>, value: u32, width: u32) {
    for power in (0..width).rev() {
        let digit = (value / 10_u32.pow(power)) % 10;
        out.push(b'0' + u8::try_from(digit).unwrap_or(0));
    }
}

/// Appends `2021-06-30`. Years outside 0-9999 are written as chrono writes them
/// (signed, wider).
pub fn write_date(out: &mut Vec<u8>, date: NaiveDate) {
    let year = date.year();
    if !(0..=9999).contains(&year) {
        out.extend_from_slice(date.format(DATE).to_string().as_bytes());
        return;
    }
    digits(out, year.unsigned_abs(), 4);
    out.push(b'-');
    digits(out, date.month(), 2);
    out.push(b'-');
    digits(out, date.day(), 2);
}

/// Appends `21:00:00` (whole seconds: feeds publish no fractions; a leap second is
/// `60`, as chrono writes it).
pub fn write_time(out: &mut Vec<u8>, time: NaiveTime) {
    let leap = time.nanosecond() >= 1_000_000_000;
    digits(out, time.hour(), 2);
    out.push(b':');
    digits(out, time.minute(), 2);
    out.push(b':');
    digits(out, if leap { 60 } else { time.second() }, 2);
}

fn text(bytes: Vec<u8>) -> String {
    // Only ASCII digits and separators (or chrono's own text) are written.
    String::from_utf8(bytes).unwrap_or_default()
}

/// `2021-06-30`.
pub fn date(date: NaiveDate) -> String {
    let mut out = Vec::with_capacity(10);
    write_date(&mut out, date);
    text(out)
}

/// `21:00:00`.
pub fn time(time: NaiveTime) -> String {
    let mut out = Vec::with_capacity(8);
    write_time(&mut out, time);
    text(out)
}

/// `2021-06-30T21:00:00`.
pub fn local_date_time(at: NaiveDateTime) -> String {
    let mut out = Vec::with_capacity(19);
    write_date(&mut out, at.date());
    out.push(b'T');
    write_time(&mut out, at.time());
    text(out)
}

/// The number written by the ASCII digits of `bytes`, if they all are digits.
fn number(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0_u32, |value, byte| {
        byte.is_ascii_digit().then(|| value * 10 + u32::from(byte - b'0'))
    })
}

/// Reads [`date`]'s output back (a store loads millions of them: the usual
/// `YYYY-MM-DD` is read without a format string).
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    if bytes.len() == 10 && bytes[4] == b'-' && bytes[7] == b'-' {
        let year = i32::try_from(number(&bytes[..4])?).ok()?;
        return NaiveDate::from_ymd_opt(year, number(&bytes[5..7])?, number(&bytes[8..])?);
    }
    NaiveDate::parse_from_str(text, DATE).ok()
}

/// Reads [`time`]'s output back.
pub fn parse_time(text: &str) -> Option<NaiveTime> {
    let bytes = text.as_bytes();
    if bytes.len() == 8 && bytes[2] == b':' && bytes[5] == b':' {
        let (hour, minute, second) = (number(&bytes[..2])?, number(&bytes[3..5])?, number(&bytes[6..])?);
        if second < 60 {
            return NaiveTime::from_hms_opt(hour, minute, second);
        }
    }
    NaiveTime::parse_from_str(text, TIME).ok()
}

/// Reads [`local_date_time`]'s output back.
pub fn parse_local_date_time(text: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(text, LOCAL_DATE_TIME).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writers_agree_with_the_formats_and_read_back() {
        let at = NaiveDate::from_ymd_opt(2021, 6, 3)
            .and_then(|d| d.and_hms_opt(9, 5, 7))
            .unwrap_or_default();
        assert_eq!(date(at.date()), at.format(DATE).to_string());
        assert_eq!(date(at.date()), "2021-06-03");
        assert_eq!(time(at.time()), "09:05:07");
        assert_eq!(local_date_time(at), at.format(LOCAL_DATE_TIME).to_string());
        assert_eq!(parse_local_date_time(&local_date_time(at)), Some(at));
        assert_eq!(parse_date("2021-06-03"), Some(at.date()));
        assert_eq!(parse_time("09:05:07"), Some(at.time()));
        assert_eq!(parse_date("2021-02-31"), None);
        assert_eq!(parse_date("2021-0a-01"), None);
        assert_eq!(parse_time("24:00:00"), None);
        assert_eq!(
            parse_time("23:59:60"),
            NaiveTime::parse_from_str("23:59:60", TIME).ok()
        );
        for day in 0..800 {
            let date = NaiveDate::from_ymd_opt(1999, 1, 1).unwrap_or_default() + chrono::Duration::days(day);
            assert_eq!(parse_date(&date.format(DATE).to_string()), Some(date));
        }
        let far = NaiveDate::from_ymd_opt(12_021, 1, 1).unwrap_or_default();
        assert_eq!(date(far), far.format(DATE).to_string());
        let early = NaiveDate::from_ymd_opt(7, 1, 2).unwrap_or_default();
        assert_eq!(date(early), "0007-01-02");
        let leap = NaiveTime::from_hms_milli_opt(23, 59, 59, 1_500).unwrap_or_default();
        assert_eq!(time(leap), leap.format(TIME).to_string());
    }
}
