//! Series: single and recurring events with the occurrences that override some of
//! theirs, each occurrence's start and its identity (`session_id`).

use std::collections::{BTreeSet, HashMap, HashSet};

use boxoffice_core::model::time::local_to_instant;
use boxoffice_core::{ProviderError, RecordSink};
use chrono::{NaiveDateTime, NaiveTime};

use crate::content::quote;
use crate::context::{MAX_OCCURRENCES, ParseContext};
use crate::record::send;
use crate::recur::MAX_STEPS;
use crate::value::When;
use crate::vevent::Vevent;

/// The calendar's VEVENTs, grouped: recurring or single events, and the occurrences
/// that replace some of theirs.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    masters: Vec<Vevent>,
    master_uids: HashSet<String>,
    overrides: HashMap<(String, String), Vevent>,
    override_order: Vec<(String, String)>,
}

impl Plan {
    /// Files a VEVENT; a second one with the same identity is rejected.
    pub(crate) fn add(&mut self, event: Vevent, ctx: &ParseContext, sink: &mut dyn RecordSink) {
        match event.recurrence_id {
            None => {
                if self.master_uids.insert(event.uid.clone()) {
                    self.masters.push(event);
                } else {
                    sink.reject(event.rejection(format!(
                        "UID {} is used by an earlier VEVENT too; the first one is kept",
                        quote(&event.uid)
                    )));
                }
            }
            Some(recurrence_id) => {
                let key = (event.uid.clone(), recurrence_id.occurrence_id(ctx.timezone));
                if self.overrides.contains_key(&key) {
                    sink.reject(event.rejection(
                        "an earlier VEVENT overrides the same occurrence (UID and RECURRENCE-ID); the first one is kept",
                    ));
                } else {
                    self.override_order.push(key.clone());
                    self.overrides.insert(key, event);
                }
            }
        }
    }

    /// Pushes every record: each event's occurrences in order, an overriding VEVENT in
    /// the place of the occurrence it replaces, then overrides that replace nothing
    /// that was generated (they stand on their own, when within the horizon).
    pub(crate) async fn emit(
        mut self,
        ctx: &ParseContext,
        sink: &mut dyn RecordSink,
    ) -> Result<(), ProviderError> {
        for master in std::mem::take(&mut self.masters) {
            if !master.is_recurring() {
                send(&master, master.start, String::new(), ctx, sink).await?;
                continue;
            }
            let starts = match occurrences(&master, ctx) {
                Ok(starts) => starts,
                Err(reason) => {
                    sink.reject(master.rejection(reason));
                    continue;
                }
            };
            for start in starts {
                let session_id = start.occurrence_id(ctx.timezone);
                match self.overrides.remove(&(master.uid.clone(), session_id.clone())) {
                    Some(replacement) => send(&replacement, replacement.start, session_id, ctx, sink).await?,
                    None => send(&master, start, session_id, ctx, sink).await?,
                }
            }
        }
        let window_end = ctx.window_end();
        for key in std::mem::take(&mut self.override_order) {
            let Some(event) = self.overrides.remove(&key) else {
                continue;
            };
            if event.start.instant(ctx.timezone) <= window_end {
                send(&event, event.start, key.1, ctx, sink).await?;
            }
        }
        Ok(())
    }
}

/// The starts of a recurring event's occurrences up to the horizon: DTSTART, RRULE
/// and RDATE, less EXDATE, the latest [`MAX_OCCURRENCES`] of them.
fn occurrences(event: &Vevent, ctx: &ParseContext) -> Result<Vec<When>, String> {
    let tz = ctx.timezone;
    let window_end = ctx.window_end();
    // Everything is computed on DTSTART's clock; a date is midnight on it.
    let (start, frame) = match event.start {
        When::Date(date) => (date.and_time(NaiveTime::MIN), None),
        When::DateTime(local, frame) => (local, Some(frame)),
    };
    let to_instant = |local: NaiveDateTime| match frame {
        Some(frame) => frame.instant(local, tz),
        None => local_to_instant(local, tz),
    };
    let on_start_clock = |when: When| match (when, frame) {
        (When::Date(date), None) => date.and_time(NaiveTime::MIN),
        (When::Date(date), Some(_)) => date.and_time(start.time()),
        (When::DateTime(local, _), None) => local.date().and_time(NaiveTime::MIN),
        (When::DateTime(local, other), Some(frame)) => frame.local(other.instant(local, tz), tz),
    };
    let keep = MAX_OCCURRENCES + event.exdates.len();
    let mut starts = BTreeSet::new();
    if to_instant(start) <= window_end {
        starts.insert(start);
    }
    // One bound for the event, however many RRULEs it has.
    let mut steps_left = MAX_STEPS;
    for rule in &event.rules {
        starts.extend(rule.occurrences(start, &to_instant, window_end, keep, &mut steps_left)?);
    }
    starts.extend(
        event
            .rdates
            .iter()
            .map(|rdate| on_start_clock(*rdate))
            .filter(|rdate| to_instant(*rdate) <= window_end),
    );
    starts.retain(|occurrence| {
        !event.exdates.iter().any(|exdate| match exdate {
            When::Date(date) => occurrence.date() == *date,
            When::DateTime(local, other) => other.instant(*local, tz) == to_instant(*occurrence),
        })
    });
    let dropped = starts.len().saturating_sub(MAX_OCCURRENCES);
    if dropped > 0 {
        tracing::debug!(
            provider = %ctx.provider,
            uid = %event.uid,
            dropped,
            "A recurring event has more occurrences than kept; the oldest are dropped."
        );
    }
    Ok(starts
        .into_iter()
        .skip(dropped)
        .map(|local| match frame {
            Some(frame) => When::DateTime(local, frame),
            None => When::Date(local.date()),
        })
        .collect())
}
