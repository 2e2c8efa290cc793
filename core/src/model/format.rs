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

fn push_two(out: &mut String, value: u32) {
    out.push(char::from(b'0' + (value / 10 % 10) as u8));
    out.push(char::from(b'0' + (value % 10) as u8));
}

/// Appends `2021-06-30`. Years outside 0-9999 are written as chrono writes them.
pub fn push_date(out: &mut String, date: NaiveDate) {
    let year = date.year();
    if !(0..=9999).contains(&year) {
        out.push_str(&date.format(DATE).to_string());
        return;
    }
    let year = year as u32;
    push_two(out, year / 100);
    push_two(out, year % 100);
    out.push('-');
    push_two(out, date.month());
    out.push('-');
    push_two(out, date.day());
}

/// Appends `21:00:00` (seconds, never fractions: feeds publish whole seconds).
pub fn push_time(out: &mut String, time: NaiveTime) {
    push_two(out, time.hour());
    out.push(':');
    push_two(out, time.minute());
    out.push(':');
    push_two(out, time.second());
}

/// `2021-06-30`.
pub fn date(date: NaiveDate) -> String {
    let mut out = String::with_capacity(10);
    push_date(&mut out, date);
    out
}

/// `21:00:00`.
pub fn time(time: NaiveTime) -> String {
    let mut out = String::with_capacity(8);
    push_time(&mut out, time);
    out
}

/// `2021-06-30T21:00:00`.
pub fn local_date_time(at: NaiveDateTime) -> String {
    let mut out = String::with_capacity(19);
    push_date(&mut out, at.date());
    out.push('T');
    push_time(&mut out, at.time());
    out
}

/// Reads [`date`]'s output back.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, DATE).ok()
}

/// Reads [`time`]'s output back.
pub fn parse_time(text: &str) -> Option<NaiveTime> {
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
        let far = NaiveDate::from_ymd_opt(12_021, 1, 1).unwrap_or_default();
        assert_eq!(date(far), far.format(DATE).to_string());
        let early = NaiveDate::from_ymd_opt(7, 1, 2).unwrap_or_default();
        assert_eq!(date(early), "0007-01-02");
    }
}
