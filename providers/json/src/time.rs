//! A record's times: which forms are read and what each one means.
//!
//! - RFC 3339 with an offset (`2026-12-01T20:00:00+01:00`, `…Z`): the instant it
//!   names; the date and time served are the wall clock as written.
//! - A local date-time without an offset (`2026-12-01T20:00:00`, fractions and a space
//!   for the `T` allowed, seconds optional): a wall clock in the instance's
//!   `timezone` ([`LocalMoment::from_local`]: a time in a DST gap moves forward, one in
//!   a fold is the earlier instant).
//! - A date alone (`2026-12-01`): all day, no time. As a start, its instant is the
//!   midnight that begins it; as an end, the date is the last day and its instant the
//!   midnight that ends it, so that an item of one day spans that day.
//! - An integer: epoch seconds, served on the instance timezone's wall clock.

use boxoffice_core::LocalMoment;
use boxoffice_core::model::time::local_to_instant;
use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::node::Node;
use crate::values::quote;

/// Local date-times read, in order.
const LOCAL_FORMATS: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
];

/// Whether a moment starts or ends an item (a date alone ends at the next midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Edge {
    Start,
    End,
}

/// The moment `value` stands for, read in `tz` when it has no offset of its own.
pub(crate) fn moment(value: &Node, tz: Tz, edge: Edge) -> Result<LocalMoment, String> {
    match value {
        Node::String(text) => text_moment(text.trim(), tz, edge).ok_or_else(|| {
            format!(
                "{} is not a date-time: expected RFC 3339 (2026-12-01T20:00:00+01:00), a local \
                 date-time (2026-12-01T20:00:00), a date (2026-12-01) or epoch seconds",
                quote(value)
            )
        }),
        Node::Number(number) => {
            let at = number
                .as_i64()
                .and_then(|seconds| Utc.timestamp_opt(seconds, 0).single())
                .ok_or_else(|| format!("{} is not a whole number of epoch seconds", quote(value)))?;
            let local = at.with_timezone(&tz).naive_local();
            Ok(LocalMoment {
                date: local.date(),
                time: Some(local.time()),
                at,
            })
        }
        _ => Err(format!(
            "{} is not a date-time (a string or epoch seconds)",
            quote(value)
        )),
    }
}

fn text_moment(text: &str, tz: Tz, edge: Edge) -> Option<LocalMoment> {
    if text.len() == 10 {
        let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
        let midnight = match edge {
            Edge::Start => date,
            Edge::End => date.checked_add_days(Days::new(1))?,
        };
        return Some(LocalMoment {
            date,
            time: None,
            at: local_to_instant(midnight.and_hms_opt(0, 0, 0)?, tz),
        });
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        let wall = at.naive_local();
        return Some(LocalMoment {
            date: wall.date(),
            time: Some(wall.time()),
            at: at.with_timezone(&Utc),
        });
    }
    LOCAL_FORMATS
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|local| LocalMoment::from_local(local, tz))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn read(value: Value, edge: Edge) -> Result<(String, Option<String>, String), String> {
        let node: Node = serde_json::from_value(value).unwrap_or(Node::Null);
        moment(&node, chrono_tz::Europe::Madrid, edge).map(|m| {
            (
                m.date.to_string(),
                m.time.map(|t| t.to_string()),
                m.at.to_rfc3339(),
            )
        })
    }

    fn ok(date: &str, time: Option<&str>, at: &str) -> Result<(String, Option<String>, String), String> {
        Ok((date.into(), time.map(str::to_owned), at.into()))
    }

    #[test]
    fn an_offset_gives_the_instant_and_the_wall_clock_as_written() {
        assert_eq!(
            read(json!("2026-12-01T20:00:00-05:00"), Edge::Start),
            ok("2026-12-01", Some("20:00:00"), "2026-12-02T01:00:00+00:00")
        );
        assert_eq!(
            read(json!("2026-07-01T18:30:00Z"), Edge::Start),
            ok("2026-07-01", Some("18:30:00"), "2026-07-01T18:30:00+00:00")
        );
    }

    #[test]
    fn a_time_without_an_offset_is_read_in_the_timezone() {
        // Madrid is UTC+1 in December, UTC+2 in July.
        assert_eq!(
            read(json!("2026-12-01T20:00:00"), Edge::Start),
            ok("2026-12-01", Some("20:00:00"), "2026-12-01T19:00:00+00:00")
        );
        assert_eq!(
            read(json!("2026-07-01 20:00"), Edge::Start),
            ok("2026-07-01", Some("20:00:00"), "2026-07-01T18:00:00+00:00")
        );
        // In the spring-forward gap the time moves forward by the gap.
        assert_eq!(
            read(json!("2026-03-29T02:30:00"), Edge::Start).map(|m| m.2),
            Ok("2026-03-29T01:30:00+00:00".into())
        );
    }

    #[test]
    fn a_date_alone_is_all_day_and_ends_at_the_next_midnight() {
        assert_eq!(
            read(json!("2026-12-01"), Edge::Start),
            ok("2026-12-01", None, "2026-11-30T23:00:00+00:00")
        );
        assert_eq!(
            read(json!("2026-12-01"), Edge::End),
            ok("2026-12-01", None, "2026-12-01T23:00:00+00:00")
        );
    }

    #[test]
    fn epoch_seconds_are_served_on_the_timezone_wall_clock() {
        assert_eq!(
            read(json!(1_796_155_200), Edge::Start),
            ok("2026-12-01", Some("21:00:00"), "2026-12-01T20:00:00+00:00")
        );
        assert!(read(json!(1.5), Edge::Start).is_err_and(|e| e.contains("epoch seconds")));
    }

    #[test]
    fn anything_else_is_refused_quoting_the_value() {
        for value in [
            json!("2026-02-30"),
            json!("2026-13-01T10:00:00"),
            json!("tomorrow"),
            json!(true),
        ] {
            let error = read(value.clone(), Edge::Start).err().unwrap_or_default();
            assert!(error.starts_with(&quote(&value)), "{error}");
        }
    }
}
