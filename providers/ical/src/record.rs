//! One occurrence of a VEVENT as a record: its start and end as served (wall clock,
//! instant, all-day dates), its title, sell mode and key.

use boxoffice_core::model::time::Edge;
use boxoffice_core::{EventRecord, ExternalKey, LocalMoment, ProviderError, RecordSink, Rejection, SellMode};
use chrono::Days;
use chrono_tz::Tz;

use crate::context::ParseContext;
use crate::value::When;
use crate::vevent::{End, Vevent};

/// Builds the record of `event` starting at `start` and pushes it, or its rejection.
pub(crate) async fn send(
    event: &Vevent,
    start: When,
    session_id: String,
    ctx: &ParseContext,
    sink: &mut dyn RecordSink,
) -> Result<(), ProviderError> {
    let name = if session_id.is_empty() || event.recurrence_id.is_some() {
        event.name.clone()
    } else {
        format!("{} / occurrence {session_id}", event.name)
    };
    let record = end_of(event, start, ctx.timezone).and_then(|end| {
        let record = EventRecord {
            key: ExternalKey {
                provider: ctx.provider.clone(),
                series_id: event.uid.clone(),
                session_id,
            },
            title: event.title.clone(),
            sell_mode: if event.cancelled {
                SellMode::Offline
            } else {
                ctx.sell_mode
            },
            organizer_company_id: None,
            sold_out: false,
            start: start_of(start, ctx.timezone),
            end,
            sell_from: None,
            sell_to: None,
            zones: Vec::new(),
            prices: None,
            currency: None,
        };
        record.validate().map(|()| record)
    });
    match record {
        Ok(record) => sink.accept(record).await?,
        Err(reason) => sink.reject(Rejection {
            record: name,
            reason,
            raw: Some(event.raw.clone()),
        }),
    }
    Ok(())
}

/// How a start is served.
fn start_of(start: When, tz: Tz) -> LocalMoment {
    match start {
        When::Date(date) => LocalMoment::day_start(date, tz),
        When::DateTime(local, frame) => frame.moment(local, tz),
    }
}

/// The end of the occurrence of `event` starting at `start`: DTEND moved with the
/// occurrence, or DURATION after it. An all-day event ends at the midnight that
/// follows its last day, and is served with that last day as its end date.
fn end_of(event: &Vevent, start: When, tz: Tz) -> Result<Option<LocalMoment>, String> {
    let out_of_range = || "the event's end is out of the representable range".to_owned();
    match (event.start, start, event.end) {
        (_, When::Date(date), End::Unknown) => day_end(date, 1, tz).map(Some).ok_or_else(out_of_range),
        (When::Date(first), When::Date(date), End::At(When::Date(end))) => {
            let days = (end - first).num_days().max(1);
            day_end(date, days, tz).map(Some).ok_or_else(out_of_range)
        }
        (_, When::Date(date), End::Lasting(duration)) => day_end(date, duration.days.max(1), tz)
            .map(Some)
            .ok_or_else(out_of_range),
        (_, When::DateTime(..), End::Unknown) => Ok(None),
        (
            When::DateTime(first, first_frame),
            When::DateTime(local, frame),
            End::At(When::DateTime(end, end_frame)),
        ) => {
            if end_frame == first_frame && frame == first_frame {
                // Same clock: the occurrence lasts as long on the wall clock.
                let end = local.checked_add_signed(end - first).ok_or_else(out_of_range)?;
                Ok(Some(frame.moment(end, tz)))
            } else {
                let length = end_frame.instant(end, tz) - first_frame.instant(first, tz);
                let at = frame
                    .instant(local, tz)
                    .checked_add_signed(length)
                    .ok_or_else(out_of_range)?;
                Ok(Some(LocalMoment::at_instant(at, end_frame.served_zone(tz))))
            }
        }
        (_, When::DateTime(local, frame), End::Lasting(duration)) => {
            // Days are nominal (same wall-clock time), hours to seconds exact.
            let nominal = duration
                .day_delta()
                .and_then(|days| local.checked_add_signed(days))
                .ok_or_else(out_of_range)?;
            if duration.seconds == 0 {
                return Ok(Some(frame.moment(nominal, tz)));
            }
            let at = duration
                .second_delta()
                .and_then(|seconds| frame.instant(nominal, tz).checked_add_signed(seconds))
                .ok_or_else(out_of_range)?;
            Ok(Some(LocalMoment::at_instant(at, frame.served_zone(tz))))
        }
        // Mixed DATE and DATE-TIME were rejected when the VEVENT was mapped.
        _ => Err("DTSTART and DTEND are not of the same kind (date or date-time)".into()),
    }
}

/// The end of an all-day event that starts on `date` and lasts `days` days: its last
/// day, without a time, and the instant of the midnight after it.
fn day_end(date: chrono::NaiveDate, days: i64, tz: Tz) -> Option<LocalMoment> {
    let last = date.checked_add_days(Days::new(u64::try_from(days).ok()?.checked_sub(1)?))?;
    LocalMoment::all_day(last, tz, Edge::End)
}
