//! One item's JSON as /search prints it: the public contract's `EventSummary`, written
//! straight into the snapshot's buffer when the read model is built, and the serde
//! rendition it is tested against.

use boxoffice_core::model::format;
use boxoffice_core::store::SearchItem;
use chrono::{NaiveDate, NaiveTime};
use rust_decimal::prelude::ToPrimitive;
use uuid::Uuid;

/// Appends `item` as /search prints it (the public contract's `EventSummary`):
/// byte for byte what serializing [`EventSummary`] with serde_json gives, without
/// its per-item allocations.
pub(super) fn render_into(out: &mut Vec<u8>, item: &SearchItem) {
    let start = out.len();
    if write_summary(out, item).is_err() {
        // Writing into a Vec cannot fail; should it, the slow path says the same.
        out.truncate(start);
        out.extend_from_slice(&render_with_serde(item));
    }
}

fn write_summary(out: &mut Vec<u8>, item: &SearchItem) -> serde_json::Result<()> {
    let mut id = [0_u8; uuid::fmt::Hyphenated::LENGTH];
    out.extend_from_slice(br#"{"id":""#);
    out.extend_from_slice(item.id.hyphenated().encode_lower(&mut id).as_bytes());
    out.extend_from_slice(br#"","title":"#);
    serde_json::to_writer(&mut *out, &item.title)?;
    out.extend_from_slice(br#","start_date":"#);
    write_date(out, item.start.date)?;
    out.extend_from_slice(br#","start_time":"#);
    write_time(out, item.start.time)?;
    out.extend_from_slice(br#","end_date":"#);
    match item.end {
        Some(end) => write_date(out, end.date)?,
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(br#","end_time":"#);
    write_time(out, item.end.and_then(|end| end.time))?;
    out.extend_from_slice(br#","min_price":"#);
    serde_json::to_writer(&mut *out, &item.min_price.and_then(|p| p.to_f64()))?;
    out.extend_from_slice(br#","max_price":"#);
    serde_json::to_writer(&mut *out, &item.max_price.and_then(|p| p.to_f64()))?;
    out.push(b'}');
    Ok(())
}

/// A date as the contract prints it, quoted (the format is core's).
fn write_date(out: &mut Vec<u8>, date: NaiveDate) -> serde_json::Result<()> {
    out.push(b'"');
    format::write_date(out, date);
    out.push(b'"');
    Ok(())
}

/// A time as the contract prints it, quoted, or `null`.
fn write_time(out: &mut Vec<u8>, time: Option<NaiveTime>) -> serde_json::Result<()> {
    match time {
        None => out.extend_from_slice(b"null"),
        Some(time) => {
            out.push(b'"');
            format::write_time(out, time);
            out.push(b'"');
        }
    }
    Ok(())
}

/// One item as /search prints it (the public contract's `EventSummary`), the
/// reference the fast renderer is tested against.
#[derive(serde::Serialize)]
struct EventSummary<'a> {
    id: Uuid,
    title: &'a str,
    start_date: String,
    start_time: Option<String>,
    end_date: Option<String>,
    end_time: Option<String>,
    min_price: Option<f64>,
    max_price: Option<f64>,
}

pub(super) fn render_with_serde(item: &SearchItem) -> Vec<u8> {
    let summary = EventSummary {
        id: item.id,
        title: &item.title,
        start_date: format::date(item.start.date),
        start_time: item.start.time.map(format::time),
        end_date: item.end.map(|end| format::date(end.date)),
        end_time: item.end.and_then(|end| end.time).map(format::time),
        min_price: item.min_price.and_then(|p| p.to_f64()),
        max_price: item.max_price.and_then(|p| p.to_f64()),
    };
    // A struct of strings, numbers and options always serializes.
    serde_json::to_vec(&summary).unwrap_or_default()
}
