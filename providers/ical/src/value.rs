//! iCalendar values: DATE, DATE-TIME with its time zone (§3.3.4, §3.3.5), DURATION
//! (§3.3.6), and how each becomes a [`LocalMoment`].

use boxoffice_core::LocalMoment;
use boxoffice_core::model::time::local_to_instant;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use crate::content::{Property, quote};
use crate::tzid::resolve_tzid;

/// Which clock a DATE-TIME is read on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Frame {
    /// `TZID=Europe/Madrid`: that zone's wall clock, served as it is.
    Zoned(Tz),
    /// A `Z` suffix: UTC; served as the wall clock of the instance's time zone.
    Utc,
    /// Neither: the wall clock of the instance's time zone.
    Floating,
}

impl Frame {
    /// The instant `local` denotes on this clock.
    pub fn instant(self, local: NaiveDateTime, instance: Tz) -> DateTime<Utc> {
        match self {
            Frame::Zoned(tz) => local_to_instant(local, tz),
            Frame::Utc => Utc.from_utc_datetime(&local),
            Frame::Floating => local_to_instant(local, instance),
        }
    }

    /// The wall-clock time of `at` on this clock.
    pub fn local(self, at: DateTime<Utc>, instance: Tz) -> NaiveDateTime {
        match self {
            Frame::Zoned(tz) => at.with_timezone(&tz).naive_local(),
            Frame::Utc => at.naive_utc(),
            Frame::Floating => at.with_timezone(&instance).naive_local(),
        }
    }

    /// The zone whose wall clock is served for a time on this clock.
    pub fn served_zone(self, instance: Tz) -> Tz {
        match self {
            Frame::Zoned(tz) => tz,
            Frame::Utc | Frame::Floating => instance,
        }
    }

    /// `local` on this clock, as served.
    pub fn moment(self, local: NaiveDateTime, instance: Tz) -> LocalMoment {
        match self {
            Frame::Zoned(tz) => LocalMoment::from_local(local, tz),
            Frame::Floating => LocalMoment::from_local(local, instance),
            Frame::Utc => LocalMoment::at_instant(Utc.from_utc_datetime(&local), instance),
        }
    }
}

/// A DATE or DATE-TIME value with how to read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum When {
    /// `VALUE=DATE`: a whole day.
    Date(NaiveDate),
    /// A date and time on a clock.
    DateTime(NaiveDateTime, Frame),
}

impl When {
    /// The instant it starts at; a date starts at midnight in the instance's zone.
    pub fn instant(self, instance: Tz) -> DateTime<Utc> {
        match self {
            When::Date(date) => local_to_instant(date.and_time(NaiveTime::MIN), instance),
            When::DateTime(local, frame) => frame.instant(local, instance),
        }
    }

    /// The occurrence id it gives (`20261201T190000Z`, or `20261224` for a date).
    pub fn occurrence_id(self, instance: Tz) -> String {
        match self {
            When::Date(date) => date.format("%Y%m%d").to_string(),
            When::DateTime(..) => self.instant(instance).format("%Y%m%dT%H%M%SZ").to_string(),
        }
    }
}

/// Parses the DATE or DATE-TIME value of `property` (one value, for DTSTART, DTEND and
/// RECURRENCE-ID).
pub(crate) fn parse_when(property: &Property) -> Result<When, String> {
    let frame = frame_of(property)?;
    parse_one(&property.name, property.value.trim(), is_date(property), frame)
}

/// Parses the comma-separated DATE or DATE-TIME values of `property` (EXDATE, RDATE).
pub(crate) fn parse_when_list(property: &Property) -> Result<Vec<When>, String> {
    if property
        .param("VALUE")
        .is_some_and(|value| value.eq_ignore_ascii_case("PERIOD"))
    {
        return Err(format!("{} with VALUE=PERIOD is not supported", property.name));
    }
    let frame = frame_of(property)?;
    property
        .value
        .split(',')
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(|value| parse_one(&property.name, value, is_date(property), frame))
        .collect()
}

fn is_date(property: &Property) -> bool {
    property
        .param("VALUE")
        .is_some_and(|value| value.eq_ignore_ascii_case("DATE"))
}

/// The clock of a DATE-TIME without `Z`: its TZID's zone, or floating.
fn frame_of(property: &Property) -> Result<Frame, String> {
    match property.param("TZID") {
        None => Ok(Frame::Floating),
        Some(tzid) => resolve_tzid(tzid).map(Frame::Zoned).ok_or_else(|| {
            format!(
                "{} has an unknown TZID {}: only IANA names such as \"Europe/Madrid\" and Windows names such as \"W. Europe Standard Time\" are understood",
                property.name,
                quote(tzid)
            )
        }),
    }
}

/// One DATE (`20261224`) or DATE-TIME (`20261201T200000`, `20261201T190000Z`).
/// A bare 8-digit value is read as a DATE even without `VALUE=DATE`.
fn parse_one(name: &str, value: &str, date: bool, frame: Frame) -> Result<When, String> {
    if date || value.len() == 8 {
        return parse_date(value)
            .map(When::Date)
            .ok_or_else(|| format!("{name} {} is not a valid date (YYYYMMDD)", quote(value)));
    }
    let (text, frame) = match value.strip_suffix('Z').or_else(|| value.strip_suffix('z')) {
        Some(text) => (text, Frame::Utc),
        None => (value, frame),
    };
    parse_date_time(text)
        .map(|local| When::DateTime(local, frame))
        .ok_or_else(|| {
            format!(
                "{name} {} is not a valid date-time (YYYYMMDDTHHMMSS, optionally followed by Z)",
                quote(value)
            )
        })
}

/// `YYYYMMDD`, an existing date.
pub(crate) fn parse_date(text: &str) -> Option<NaiveDate> {
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year = text.get(0..4)?.parse().ok()?;
    let month = text.get(4..6)?.parse().ok()?;
    let day = text.get(6..8)?.parse().ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

/// `YYYYMMDDTHHMMSS`, an existing date and time (a leap second is not one).
pub(crate) fn parse_date_time(text: &str) -> Option<NaiveDateTime> {
    let bytes = text.as_bytes();
    if bytes.len() != 15 || !matches!(bytes[8], b'T' | b't') {
        return None;
    }
    let date = parse_date(text.get(0..8)?)?;
    let time = text.get(9..15)?;
    if !time.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hour = time.get(0..2)?.parse().ok()?;
    let minute = time.get(2..4)?.parse().ok()?;
    let second = time.get(4..6)?.parse().ok()?;
    Some(date.and_time(NaiveTime::from_hms_opt(hour, minute, second)?))
}

/// A DURATION value: whole days (nominal: they follow the wall clock across a
/// daylight-saving change) and seconds (exact).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IcalDuration {
    /// Nominal days, weeks included (`P1W` is 7).
    pub days: i64,
    /// Exact seconds of the time part.
    pub seconds: i64,
}

impl IcalDuration {
    /// The nominal days as a delta, when representable.
    pub fn day_delta(self) -> Option<TimeDelta> {
        TimeDelta::try_days(self.days)
    }

    /// The exact time part as a delta, when representable.
    pub fn second_delta(self) -> Option<TimeDelta> {
        TimeDelta::try_seconds(self.seconds)
    }
}

/// Parses a DURATION (`P1D`, `PT1H30M`, `P1DT2H`, `P2W`); a negative one is refused,
/// as an event cannot end before it starts.
pub(crate) fn parse_duration(value: &str) -> Result<IcalDuration, String> {
    let bad = || {
        format!(
            "DURATION {} is not a valid duration (e.g. PT1H30M, P1D)",
            quote(value)
        )
    };
    let text = value.trim();
    let text = text.strip_prefix('+').unwrap_or(text);
    if text.starts_with('-') {
        return Err(format!("DURATION {} is negative", quote(value)));
    }
    let text = text.strip_prefix(['P', 'p']).ok_or_else(bad)?;
    let mut days: i64 = 0;
    let mut seconds: i64 = 0;
    let mut in_time = false;
    let mut number = String::new();
    let mut any = false;
    for c in text.chars() {
        match c.to_ascii_uppercase() {
            digit @ '0'..='9' => number.push(digit),
            'T' if !in_time && number.is_empty() => in_time = true,
            unit @ ('W' | 'D' | 'H' | 'M' | 'S') => {
                let amount: i64 = number.parse().map_err(|_| bad())?;
                number.clear();
                any = true;
                let (target, factor) = match (unit, in_time) {
                    ('W', false) => (&mut days, 7),
                    ('D', false) => (&mut days, 1),
                    ('H', true) => (&mut seconds, 3600),
                    ('M', true) => (&mut seconds, 60),
                    ('S', true) => (&mut seconds, 1),
                    _ => return Err(bad()),
                };
                *target = amount
                    .checked_mul(factor)
                    .and_then(|part| target.checked_add(part))
                    .ok_or_else(bad)?;
            }
            _ => return Err(bad()),
        }
    }
    if !any || !number.is_empty() {
        return Err(bad());
    }
    Ok(IcalDuration { days, seconds })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::{Unfolded, parse_line};

    fn property(text: &str) -> Property {
        parse_line(&Unfolded {
            number: 1,
            text: text.into(),
        })
        .unwrap()
    }

    fn at(text: &str) -> NaiveDateTime {
        parse_date_time(text).unwrap_or_else(|| panic!("{text}"))
    }

    #[test]
    fn a_tzid_is_read_in_its_zone() {
        let when = parse_when(&property("DTSTART;TZID=Europe/Madrid:20260715T200000"));
        assert_eq!(
            when,
            Ok(When::DateTime(
                at("20260715T200000"),
                Frame::Zoned(chrono_tz::Europe::Madrid)
            ))
        );
    }

    #[test]
    fn z_means_utc_and_no_suffix_means_floating() {
        assert_eq!(
            parse_when(&property("DTSTART:20260715T180000Z")),
            Ok(When::DateTime(at("20260715T180000"), Frame::Utc))
        );
        assert_eq!(
            parse_when(&property("DTSTART:20260715T180000")),
            Ok(When::DateTime(at("20260715T180000"), Frame::Floating))
        );
    }

    #[test]
    fn dates_are_read_with_or_without_value_date() {
        let christmas = NaiveDate::from_ymd_opt(2026, 12, 24);
        assert_eq!(
            parse_when(&property("DTSTART;VALUE=DATE:20261224")).ok(),
            christmas.map(When::Date)
        );
        assert_eq!(
            parse_when(&property("DTSTART:20261224")).ok(),
            christmas.map(When::Date)
        );
    }

    #[test]
    fn impossible_dates_and_times_are_refused() {
        for value in [
            "20261331T100000",
            "20260230T100000",
            "20260101T246000",
            "2026-01-01",
            "2026",
        ] {
            let text = format!("DTSTART:{value}");
            let reason = parse_when(&property(&text)).unwrap_err();
            assert!(reason.contains(value), "{value}: {reason:?}");
        }
    }

    #[test]
    fn an_unknown_tzid_is_named_in_the_reason() {
        let reason = parse_when(&property("DTSTART;TZID=Mars/Olympus:20260101T100000"))
            .err()
            .unwrap_or_default();
        assert!(reason.contains("Mars/Olympus"), "{reason}");
    }

    #[test]
    fn a_windows_tzid_is_read_in_its_iana_zone() {
        let when = parse_when(&property(
            "DTSTART;TZID=\"Romance Standard Time\":20260715T200000",
        ));
        assert_eq!(
            when,
            Ok(When::DateTime(
                at("20260715T200000"),
                Frame::Zoned(chrono_tz::Europe::Paris)
            ))
        );
    }

    #[test]
    fn utc_times_are_served_in_the_instance_zone() {
        let moment = Frame::Utc.moment(at("20260715T180000"), chrono_tz::Europe::Madrid);
        assert_eq!(moment.time, NaiveTime::from_hms_opt(20, 0, 0));
        assert_eq!(moment.at.to_rfc3339(), "2026-07-15T18:00:00+00:00");
    }

    #[test]
    fn durations_split_into_nominal_days_and_exact_seconds() {
        assert_eq!(
            parse_duration("PT1H30M"),
            Ok(IcalDuration {
                days: 0,
                seconds: 5400
            })
        );
        assert_eq!(parse_duration("P1D"), Ok(IcalDuration { days: 1, seconds: 0 }));
        assert_eq!(parse_duration("P2W"), Ok(IcalDuration { days: 14, seconds: 0 }));
        assert_eq!(
            parse_duration("+P1DT2H3M4S"),
            Ok(IcalDuration {
                days: 1,
                seconds: 7384
            })
        );
        for bad in [
            "",
            "P",
            "PT",
            "1H",
            "PT1D",
            "P1H",
            "P1",
            "-PT1H",
            "P99999999999999999999D",
            "PT1H1",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn occurrence_ids_are_utc_basic_strings() {
        let when = When::DateTime(at("20261201T200000"), Frame::Zoned(chrono_tz::Europe::Madrid));
        assert_eq!(when.occurrence_id(chrono_tz::UTC), "20261201T190000Z");
        let day = NaiveDate::from_ymd_opt(2026, 12, 24).map(When::Date);
        assert_eq!(
            day.map(|d| d.occurrence_id(chrono_tz::UTC)).as_deref(),
            Some("20261224")
        );
    }
}
