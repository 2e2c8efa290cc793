//! A record's times: the value a [`TimeField`] finds, read into core's [`Written`]
//! forms, then given its meaning by the record's [`Clock`] (core's
//! [`LocalMoment::from_written`] owns what each form means).
//!
//! The forms are those listed on [`Fields::starts_at`](crate::config::Fields::starts_at);
//! with `epoch` set, a string of digits is an epoch time too.

use boxoffice_core::LocalMoment;
use boxoffice_core::model::time::{Clock, Edge, EpochUnit, Written};

use crate::config::TimeField;
use crate::node::Node;
use crate::values::quote;

/// What a record says of one time: the moment, or why it cannot be read (the end of a
/// sentence that starts with the key and the pointer).
pub(crate) fn moment(
    value: &Node,
    time_of_day: Option<&Node>,
    field: &TimeField,
    clock: Clock,
    edge: Edge,
) -> Result<LocalMoment, String> {
    let clock = Clock {
        written: field.zone.or(clock.written),
        ..clock
    };
    let written = match value {
        Node::String(text) => {
            if let (Some(unit), Some(at), None) = (field.epoch, epoch_text(text), time_of_day) {
                return LocalMoment::from_epoch(at, unit, clock.zone)
                    .ok_or_else(|| format!("{} is out of range as epoch {}", quote(value), unit_name(unit)));
            }
            written_text(value, text, time_of_day)?
        }
        Node::Number(number) => {
            let unit = field.epoch.unwrap_or_default();
            let at = number.as_i64().ok_or_else(|| {
                format!(
                    "{} is not a whole number of epoch {}",
                    quote(value),
                    unit_name(unit)
                )
            })?;
            return LocalMoment::from_epoch(at, unit, clock.zone)
                .ok_or_else(|| format!("{} is out of range as epoch {}", quote(value), unit_name(unit)));
        }
        _ => {
            return Err(format!(
                "{} is not a date-time (a string or an epoch number)",
                quote(value)
            ));
        }
    };
    LocalMoment::from_written(written, clock, edge).ok_or_else(|| format!("{} is out of range", quote(value)))
}

fn written_text(value: &Node, text: &str, time_of_day: Option<&Node>) -> Result<Written, String> {
    if let Some(time) = time_of_day {
        let Node::String(time_text) = time else {
            return Err(format!(
                "has the time of day {}, which is not a string (\"19:30:00\")",
                quote(time)
            ));
        };
        return Written::from_parts(text, Some(time_text)).ok_or_else(|| {
            format!(
                "{} with the time {} is not a date (2026-12-01) and a time of day (19:30:00)",
                quote(value),
                quote(time)
            )
        });
    }
    Written::parse(text).ok_or_else(|| {
        format!(
            "{} is not a date-time: expected ISO 8601 with an offset (2026-12-01T20:00:00+01:00, \
             …-0100, …Z), a wall clock (2026-12-01T20:00:00), a date (2026-12-01) or an epoch number",
            quote(value)
        )
    })
}

fn unit_name(unit: EpochUnit) -> &'static str {
    match unit {
        EpochUnit::Seconds => "seconds",
        EpochUnit::Milliseconds => "milliseconds",
    }
}

/// Whether a string is an epoch number, read as one when the field says `epoch`.
fn epoch_text(text: &str) -> Option<i64> {
    let text = text.trim();
    let digits = text.strip_prefix('-').unwrap_or(text);
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pointer::{Pointer, Pointers};
    use chrono_tz::{America, Europe, Tz};
    use serde_json::{Value, json};

    fn field() -> TimeField {
        TimeField {
            path: Pointers::one(Pointer::parse("/t").unwrap()),
            time: None,
            zone: None,
            epoch: None,
        }
    }

    fn node(value: Value) -> Node {
        serde_json::from_value(value).unwrap_or(Node::Null)
    }

    fn read(
        value: Value,
        time: Option<Value>,
        field: &TimeField,
        clock: Clock,
    ) -> Result<(String, Option<String>, String), String> {
        let time = time.map(node);
        moment(&node(value), time.as_ref(), field, clock, Edge::Start).map(|m| {
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

    /// The clock of the configurations before `timezone`: offsets as written.
    fn legacy(zone: Tz) -> Clock {
        Clock {
            offsets_as_written: true,
            ..Clock::in_zone(zone)
        }
    }

    #[test]
    fn an_offset_gives_the_instant_and_the_wall_clock_as_written_without_an_events_zone() {
        assert_eq!(
            read(
                json!("2026-12-01T20:00:00-05:00"),
                None,
                &field(),
                legacy(Europe::Madrid)
            ),
            ok("2026-12-01", Some("20:00:00"), "2026-12-02T01:00:00+00:00")
        );
        assert_eq!(
            read(
                json!("2026-12-01T20:00:00-0500"),
                None,
                &field(),
                legacy(Europe::Madrid)
            ),
            ok("2026-12-01", Some("20:00:00"), "2026-12-02T01:00:00+00:00")
        );
    }

    #[test]
    fn with_the_events_zone_an_instant_is_served_on_its_wall_clock() {
        assert_eq!(
            read(
                json!("2026-12-02T04:00:00Z"),
                None,
                &field(),
                Clock::in_zone(America::Los_Angeles)
            ),
            ok("2026-12-01", Some("20:00:00"), "2026-12-02T04:00:00+00:00")
        );
        let utc_wall = TimeField {
            zone: Some(Tz::UTC),
            ..field()
        };
        assert_eq!(
            read(
                json!("2026-12-02T04:00:00"),
                None,
                &utc_wall,
                Clock::in_zone(America::Los_Angeles)
            ),
            ok("2026-12-01", Some("20:00:00"), "2026-12-02T04:00:00+00:00")
        );
    }

    #[test]
    fn a_date_and_a_time_apart_make_one_wall_clock_and_a_date_alone_is_all_day() {
        let new_york = Clock::in_zone(America::New_York);
        assert_eq!(
            read(json!("2026-04-18"), Some(json!("19:30:00")), &field(), new_york),
            ok("2026-04-18", Some("19:30:00"), "2026-04-18T23:30:00+00:00")
        );
        assert_eq!(
            read(json!("2026-04-18"), None, &field(), new_york),
            ok("2026-04-18", None, "2026-04-18T04:00:00+00:00")
        );
        let error = read(json!("2026-02-30"), Some(json!("18:00:00")), &field(), new_york).err();
        assert!(error.is_some_and(|e| e.contains("\"2026-02-30\"")));
        let error = read(json!("2026-04-18"), Some(json!(1930)), &field(), new_york).err();
        assert!(error.is_some_and(|e| e.contains("not a string")));
    }

    #[test]
    fn epoch_numbers_count_seconds_or_milliseconds() {
        assert_eq!(
            read(json!(1_796_155_200), None, &field(), legacy(Europe::Madrid)),
            ok("2026-12-01", Some("21:00:00"), "2026-12-01T20:00:00+00:00")
        );
        let millis = TimeField {
            epoch: Some(EpochUnit::Milliseconds),
            ..field()
        };
        assert_eq!(
            read(
                json!(1_796_155_200_000_i64),
                None,
                &millis,
                Clock::in_zone(Tz::UTC)
            ),
            ok("2026-12-01", Some("20:00:00"), "2026-12-01T20:00:00+00:00")
        );
        assert_eq!(
            read(json!("1796155200000"), None, &millis, Clock::in_zone(Tz::UTC)),
            ok("2026-12-01", Some("20:00:00"), "2026-12-01T20:00:00+00:00")
        );
        assert!(
            read(json!(1.5), None, &field(), Clock::in_zone(Tz::UTC))
                .is_err_and(|e| e.contains("epoch seconds"))
        );
    }

    #[test]
    fn anything_else_is_refused_quoting_the_value() {
        for value in [
            json!("2026-02-30"),
            json!("2026-13-01T10:00:00"),
            json!("tomorrow"),
            json!(true),
        ] {
            let error = read(value.clone(), None, &field(), Clock::in_zone(Tz::UTC))
                .err()
                .unwrap_or_default();
            assert!(error.starts_with(&quote(&value)), "{error}");
        }
    }
}
