//! The parser against hand-written calendars: every time form, recurrence, overrides,
//! cancellations, bad events among good ones, and broken documents. One test binary;
//! this file holds the fixtures and helpers its modules share.

mod documents;
mod recurrence;
mod times;

use std::time::Duration;

use boxoffice_core::provider::CollectingSink;
use boxoffice_core::{EventRecord, ProviderError, SellMode};
use boxoffice_provider_ical::{ParseContext, parse_calendar};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

const SINGLE_EVENTS: &str = include_str!("../fixtures/single_events_in_every_time_form.ics");
const WEEKLY_SERIES: &str = include_str!("../fixtures/weekly_series_with_a_skipped_and_a_moved_night.ics");
const ENDLESS_DAILY: &str = include_str!("../fixtures/endless_daily_series.ics");
const BAD_AMONG_GOOD: &str = include_str!("../fixtures/calendar_with_bad_events_among_good_ones.ics");
const TRUNCATED: &str = include_str!("../fixtures/truncated_download.ics");

const MADRID: Tz = chrono_tz::Europe::Madrid;

fn instant(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn time(text: &str) -> Option<NaiveTime> {
    Some(NaiveTime::parse_from_str(text, "%H:%M").unwrap_or_else(|e| panic!("{text}: {e}")))
}

/// The instance `venue`, in Madrid, on 2026-11-01 with a year's horizon.
fn context() -> ParseContext {
    ParseContext {
        provider: "venue".into(),
        timezone: MADRID,
        horizon: Duration::from_secs(365 * 86_400),
        sell_mode: SellMode::Online,
        now: instant("2026-11-01T00:00:00Z"),
    }
}

async fn parse_with(ctx: &ParseContext, calendar: &[u8]) -> (Result<(), ProviderError>, CollectingSink) {
    let mut sink = CollectingSink::default();
    let result = parse_calendar(calendar, ctx, &mut sink).await;
    (result, sink)
}

/// Parses a calendar that must be accepted as a whole.
async fn parse_ok(calendar: &str) -> CollectingSink {
    parse_ok_with(&context(), calendar).await
}

async fn parse_ok_with(ctx: &ParseContext, calendar: &str) -> CollectingSink {
    let (result, sink) = parse_with(ctx, calendar.as_bytes()).await;
    if let Err(error) = result {
        panic!("the calendar failed: {error}");
    }
    sink
}

/// Parses a calendar that must fail as a whole; the `Malformed` message.
async fn malformed_message(calendar: &[u8]) -> String {
    match parse_with(&context(), calendar).await {
        (Err(ProviderError::Malformed(message)), sink) => {
            assert!(sink.records.is_empty() && sink.rejections.is_empty());
            message
        }
        (other, _) => panic!("expected Malformed, got {other:?}"),
    }
}

fn record<'a>(sink: &'a CollectingSink, uid: &str, session_id: &str) -> &'a EventRecord {
    sink.records
        .iter()
        .find(|r| r.key.series_id == uid && r.key.session_id == session_id)
        .unwrap_or_else(|| panic!("no record {uid}/{session_id} in {:?}", keys(sink)))
}

fn keys(sink: &CollectingSink) -> Vec<String> {
    sink.records
        .iter()
        .map(|r| format!("{}/{}", r.key.series_id, r.key.session_id))
        .collect()
}

fn session_ids_of<'a>(sink: &'a CollectingSink, uid: &str) -> Vec<&'a str> {
    sink.records
        .iter()
        .filter(|r| r.key.series_id == uid)
        .map(|r| r.key.session_id.as_str())
        .collect()
}

/// A calendar of `events` (VEVENT bodies, without BEGIN/END).
fn calendar(events: &[&str]) -> String {
    let mut text = String::from("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\n");
    for event in events {
        text.push_str("BEGIN:VEVENT\n");
        text.push_str(event.trim());
        text.push_str("\nEND:VEVENT\n");
    }
    text.push_str("END:VCALENDAR\n");
    text
}
