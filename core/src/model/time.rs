//! Time, for every kind: a time a feed publishes ([`Written`]: an instant with its
//! offset, a wall clock, or a date alone) becomes a [`LocalMoment`], the wall clock
//! served and the instant filtered on. A wall clock in the event's own zone is served
//! as written; an instant on the event's zone when it is known (see [`Clock`]).

use chrono::{
    DateTime, Days, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc,
};
use chrono_tz::Tz;

use super::LocalMoment;

/// Resolves a local wall-clock time in `tz` to an instant.
///
/// At a daylight-saving fold (the same wall-clock time happens twice) the earlier
/// instant is taken; in a gap (the wall-clock time never happens) the time is read
/// with the offset in force before the gap, which moves it forward by the gap's
/// length, as calendars do. Neither case loses the record: the wall clock the provider
/// sent is kept and served as is.
pub fn local_to_instant(local: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(at) => at.with_timezone(&Utc),
        LocalResult::Ambiguous(earliest, _) => earliest.with_timezone(&Utc),
        LocalResult::None => {
            // Three hours back is before a daylight-saving gap (an hour or two) and
            // after the transition before it: its offset is the one the clocks left.
            // A longer gap (a day skipped at the date line, Pacific/Apia 2011-12-30)
            // can hold that too: the wall clock is then read as UTC, below.
            let before = local - chrono::Duration::hours(3);
            let offset = match tz.from_local_datetime(&before) {
                LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => at.offset().fix(),
                LocalResult::None => return Utc.from_utc_datetime(&local),
            };
            Utc.from_utc_datetime(&(local - offset))
        }
    }
}

/// Whether a moment starts or ends an item: a date alone starts at the midnight that
/// begins it and ends at the midnight that ends it (the date is the last day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// The item's start.
    Start,
    /// The item's end.
    End,
}

/// What an integer epoch time counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EpochUnit {
    /// Seconds since 1970-01-01T00:00:00Z.
    #[default]
    Seconds,
    /// Milliseconds since 1970-01-01T00:00:00Z.
    Milliseconds,
}

/// A time as a feed writes it, before any zone is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// An instant with the offset it was written in (`…+01:00`, `…-0800`, `…Z`).
    Instant(DateTime<FixedOffset>),
    /// A wall clock without an offset.
    Local(NaiveDateTime),
    /// A date alone: all day.
    Date(NaiveDate),
}

/// Wall clocks read, in order: `T` or a space between date and time, seconds and
/// fractions optional.
const LOCAL_FORMATS: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
];

impl Written {
    /// Reads ISO 8601 text: `2026-12-01`; `2026-12-01T20:00:00` (a space for the `T`,
    /// seconds and fractions optional); either with an offset `Z`, `+01:00`, `+0100`
    /// or `+01`. `None` for anything else, an impossible date (`2026-02-30`) included.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.len() == 10 {
            return NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .map(Written::Date);
        }
        let (local, offset) = split_offset(text)?;
        let local = LOCAL_FORMATS
            .iter()
            .find_map(|format| NaiveDateTime::parse_from_str(local, format).ok())?;
        Some(match offset {
            None => Written::Local(local),
            Some(offset) => Written::Instant(offset.from_local_datetime(&local).single()?),
        })
    }

    /// A date and a time of day published apart (`2026-12-01` and `19:30:00`, the
    /// time possibly with an offset); without a time, the date alone.
    pub fn from_parts(date: &str, time: Option<&str>) -> Option<Self> {
        let date = date.trim();
        if date.len() != 10 {
            return None;
        }
        match time.map(str::trim) {
            None => Written::parse(date),
            Some(time) => match Written::parse(&format!("{date}T{time}"))? {
                Written::Date(_) => None,
                written => Some(written),
            },
        }
    }
}

/// Splits a trailing offset off a date-time: `Z`, `±HH:MM`, `±HHMM` or `±HH` after the
/// time. `None` when what follows the time is not an offset.
fn split_offset(text: &str) -> Option<(&str, Option<FixedOffset>)> {
    if let Some(local) = text.strip_suffix(['Z', 'z']) {
        return Some((local, Some(FixedOffset::east_opt(0)?)));
    }
    // An offset's sign comes after the date's own dashes (the first 10 bytes).
    let Some(sign_at) = text
        .get(10..)
        .and_then(|tail| tail.rfind(['+', '-']))
        .map(|at| at + 10)
    else {
        return Some((text, None));
    };
    let (local, offset) = text.split_at(sign_at);
    let local = local.trim_end();
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let digits: String = offset[1..].chars().filter(|c| *c != ':').collect();
    let colons = offset[1..].matches(':').count();
    let well_formed = digits.bytes().all(|b| b.is_ascii_digit())
        && match digits.len() {
            2 => colons == 0,
            4 => colons == 0 || (colons == 1 && offset.as_bytes().get(3) == Some(&b':')),
            _ => false,
        };
    if !well_formed {
        return None;
    }
    let hours: i32 = digits.get(0..2)?.parse().ok()?;
    let minutes: i32 = digits.get(2..4).map_or(Some(0), |m| m.parse().ok())?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some((
        local,
        Some(FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))?),
    ))
}

/// The clocks of one record's times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// The event's zone: its wall clock is served, and wall clocks without an offset
    /// are in it unless `written` says otherwise.
    pub zone: Tz,
    /// The zone wall clocks without an offset are written in when it is not the
    /// event's (a feed that publishes UTC wall clocks, say).
    pub written: Option<Tz>,
    /// Whether an instant written with an offset is served as written rather than on
    /// `zone`'s wall clock: the meaning kinds had before they knew the event's zone.
    pub offsets_as_written: bool,
}

impl Clock {
    /// The clock of an event in `zone`, whose every time is served on that zone.
    pub fn in_zone(zone: Tz) -> Self {
        Self {
            zone,
            written: None,
            offsets_as_written: false,
        }
    }
}

impl LocalMoment {
    /// A wall-clock date and time read in `tz`, served as written.
    pub fn from_local(local: NaiveDateTime, tz: Tz) -> Self {
        Self {
            date: local.date(),
            time: Some(local.time()),
            at: local_to_instant(local, tz),
        }
    }

    /// The instant `at`, served on the wall clock of `tz`.
    pub fn at_instant(at: DateTime<Utc>, tz: Tz) -> Self {
        let local = at.with_timezone(&tz).naive_local();
        Self {
            date: local.date(),
            time: Some(local.time()),
            at,
        }
    }

    /// The instant `at`, served on the wall clock it was written with.
    pub fn as_written(at: DateTime<FixedOffset>) -> Self {
        let local = at.naive_local();
        Self {
            date: local.date(),
            time: Some(local.time()),
            at: at.with_timezone(&Utc),
        }
    }

    /// All of `date` in `tz`: no time, the instant of the midnight that begins it (a
    /// start) or ends it (an end). `None` past the last date chrono knows.
    pub fn all_day(date: NaiveDate, tz: Tz, edge: Edge) -> Option<Self> {
        match edge {
            Edge::Start => Some(Self::day_start(date, tz)),
            Edge::End => Some(Self {
                at: local_to_instant(date.checked_add_days(Days::new(1))?.and_time(NaiveTime::MIN), tz),
                ..Self::day_start(date, tz)
            }),
        }
    }

    /// All of `date` in `tz`, as a start: no time, the instant of the midnight that
    /// begins it.
    pub fn day_start(date: NaiveDate, tz: Tz) -> Self {
        Self {
            date,
            time: None,
            at: local_to_instant(date.and_time(NaiveTime::MIN), tz),
        }
    }

    /// An epoch time served on the wall clock of `tz`; `None` out of chrono's range.
    pub fn from_epoch(value: i64, unit: EpochUnit, tz: Tz) -> Option<Self> {
        let at = match unit {
            EpochUnit::Seconds => Utc.timestamp_opt(value, 0).single()?,
            EpochUnit::Milliseconds => Utc.timestamp_millis_opt(value).single()?,
        };
        Some(Self::at_instant(at, tz))
    }

    /// What a time `written` means on `clock`, as the start or end of an item.
    pub fn from_written(written: Written, clock: Clock, edge: Edge) -> Option<Self> {
        match written {
            Written::Date(date) => Self::all_day(date, clock.zone, edge),
            Written::Local(local) => Some(match clock.written {
                None => Self::from_local(local, clock.zone),
                Some(written) => Self::at_instant(local_to_instant(local, written), clock.zone),
            }),
            Written::Instant(at) if clock.offsets_as_written => Some(Self::as_written(at)),
            Written::Instant(at) => Some(Self::at_instant(at.with_timezone(&Utc), clock.zone)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America, Europe};

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|date| date.and_hms_opt(h, min, 0))
            .unwrap_or_default()
    }

    /// `(date, time, instant)` as text.
    fn shown(moment: Option<LocalMoment>) -> Option<(String, Option<String>, String)> {
        moment.map(|m| {
            (
                m.date.to_string(),
                m.time.map(|t| t.to_string()),
                m.at.to_rfc3339(),
            )
        })
    }

    fn expect(date: &str, time: Option<&str>, instant: &str) -> Option<(String, Option<String>, String)> {
        Some((date.into(), time.map(str::to_owned), instant.into()))
    }

    #[test]
    fn utc_wall_clock_is_the_instant() {
        let local = at(2021, 6, 30, 21, 0);
        assert_eq!(local_to_instant(local, Tz::UTC).naive_utc(), local);
    }

    #[test]
    fn madrid_summer_time_is_two_hours_ahead_of_utc() {
        let instant = local_to_instant(at(2021, 6, 30, 21, 0), Europe::Madrid);
        assert_eq!(instant.naive_utc(), at(2021, 6, 30, 19, 0));
    }

    #[test]
    fn a_time_in_the_spring_gap_moves_forward() {
        // 2021-03-28 02:30 does not exist in Madrid: clocks jump from 02:00 to 03:00.
        let instant = local_to_instant(at(2021, 3, 28, 2, 30), Europe::Madrid);
        assert_eq!(instant.naive_utc(), at(2021, 3, 28, 1, 30));
    }

    #[test]
    fn a_time_in_the_autumn_fold_takes_the_earlier_instant() {
        // 2021-10-31 02:30 happens twice in Madrid; the first is at +02:00.
        let instant = local_to_instant(at(2021, 10, 31, 2, 30), Europe::Madrid);
        assert_eq!(instant.naive_utc(), at(2021, 10, 31, 0, 30));
    }

    #[test]
    fn iso_8601_is_read_with_or_without_a_colon_in_the_offset() {
        let instant = |text: &str| match Written::parse(text) {
            Some(Written::Instant(at)) => Some(at.to_rfc3339()),
            _ => None,
        };
        for text in [
            "2026-12-01T20:00:00-08:00",
            "2026-12-01T20:00:00-0800",
            "2026-12-01T20:00-08",
            "2026-12-01 20:00:00.000-08:00",
        ] {
            assert_eq!(
                instant(text).as_deref(),
                Some("2026-12-01T20:00:00-08:00"),
                "{text}"
            );
        }
        assert_eq!(
            instant("2026-12-02T04:00:00Z").as_deref(),
            Some("2026-12-02T04:00:00+00:00")
        );
        assert_eq!(
            Written::parse("2026-12-01T20:00:00"),
            Some(Written::Local(at(2026, 12, 1, 20, 0)))
        );
        assert_eq!(
            Written::parse(" 2026-12-01 "),
            NaiveDate::from_ymd_opt(2026, 12, 1).map(Written::Date)
        );
        for bad in [
            "2026-02-30",
            "2026-02-30T20:00:00",
            "2026-12-01T20:00:00+2500",
            "2026-12-01T20:00:00+08:0",
            "2026-12-01T20:00:00+0:800",
            "2026-12-01T25:00:00",
            "tomorrow",
            "",
        ] {
            assert_eq!(Written::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_date_and_a_time_apart_are_one_wall_clock_and_a_date_alone_is_all_day() {
        assert_eq!(
            Written::from_parts("2026-12-01", Some("19:30:00")),
            Some(Written::Local(at(2026, 12, 1, 19, 30)))
        );
        assert_eq!(
            Written::from_parts("2026-12-01", None),
            NaiveDate::from_ymd_opt(2026, 12, 1).map(Written::Date)
        );
        assert!(matches!(
            Written::from_parts("2026-12-01", Some("19:30-0500")),
            Some(Written::Instant(_))
        ));
        assert_eq!(Written::from_parts("2026-12-01T10:00:00", Some("19:30")), None);
        assert_eq!(Written::from_parts("2026-12-01", Some("")), None);
        assert_eq!(Written::from_parts("2026-12-01", Some("7pm")), None);
    }

    #[test]
    fn an_instant_is_served_on_the_events_zone_and_a_wall_clock_as_written() {
        let la = Clock::in_zone(America::Los_Angeles);
        let instant = Written::parse("2026-12-02T04:00:00Z");
        let moment = instant.and_then(|w| LocalMoment::from_written(w, la, Edge::Start));
        assert_eq!(
            shown(moment),
            expect("2026-12-01", Some("20:00:00"), "2026-12-02T04:00:00+00:00")
        );
        let wall = Written::parse("2026-12-01T20:00:00");
        let moment = wall.and_then(|w| LocalMoment::from_written(w, la, Edge::Start));
        assert_eq!(
            shown(moment),
            expect("2026-12-01", Some("20:00:00"), "2026-12-02T04:00:00+00:00")
        );
        // A UTC wall clock (no offset written) served on the event's zone.
        let utc_wall = Clock {
            written: Some(Tz::UTC),
            ..la
        };
        let moment = wall.and_then(|w| LocalMoment::from_written(w, utc_wall, Edge::Start));
        assert_eq!(
            shown(moment),
            expect("2026-12-01", Some("12:00:00"), "2026-12-01T20:00:00+00:00")
        );
        // Offsets as written: the kinds' meaning before they knew an event's zone.
        let legacy = Clock {
            offsets_as_written: true,
            ..Clock::in_zone(Europe::Madrid)
        };
        let offset = Written::parse("2026-12-01T20:00:00-05:00");
        let moment = offset.and_then(|w| LocalMoment::from_written(w, legacy, Edge::Start));
        assert_eq!(
            shown(moment),
            expect("2026-12-01", Some("20:00:00"), "2026-12-02T01:00:00+00:00")
        );
    }

    #[test]
    fn a_date_alone_spans_its_day_in_the_events_zone() {
        let date = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or_default();
        assert_eq!(
            shown(LocalMoment::all_day(date, Europe::Madrid, Edge::Start)),
            expect("2026-12-01", None, "2026-11-30T23:00:00+00:00")
        );
        assert_eq!(
            shown(LocalMoment::all_day(date, Europe::Madrid, Edge::End)),
            expect("2026-12-01", None, "2026-12-01T23:00:00+00:00")
        );
    }

    #[test]
    fn epoch_times_count_seconds_or_milliseconds() {
        assert_eq!(
            shown(LocalMoment::from_epoch(
                1_796_155_200,
                EpochUnit::Seconds,
                Europe::Madrid
            )),
            expect("2026-12-01", Some("21:00:00"), "2026-12-01T20:00:00+00:00")
        );
        assert_eq!(
            shown(LocalMoment::from_epoch(
                1_796_155_200_000,
                EpochUnit::Milliseconds,
                Tz::UTC
            )),
            expect("2026-12-01", Some("20:00:00"), "2026-12-01T20:00:00+00:00")
        );
        assert_eq!(
            LocalMoment::from_epoch(i64::MAX, EpochUnit::Seconds, Tz::UTC),
            None
        );
    }
}
