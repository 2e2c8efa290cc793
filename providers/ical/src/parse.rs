//! The parser of an iCalendar document: VEVENTs, their occurrences, and records.
//!
//! ```text
//! BEGIN:VCALENDAR
//! BEGIN:VEVENT
//! UID:concierto-42@sala.example
//! SUMMARY:Concierto de Navidad
//! DTSTART;TZID=Europe/Madrid:20261220T200000
//! DTEND;TZID=Europe/Madrid:20261220T220000
//! RRULE:FREQ=WEEKLY;COUNT=3
//! END:VEVENT
//! END:VCALENDAR
//! ```
//!
//! The document is read whole (calendars are small), its structure checked first: it
//! fails as a whole ([`ProviderError::Malformed`]) only when it is not UTF-8, has no
//! VCALENDAR, has content outside one, or has unbalanced BEGIN/END lines (which is
//! what a truncated download looks like). Everything wrong inside one VEVENT rejects
//! that VEVENT with a reason, and its neighbours are kept.
//!
//! The work is split by concern, one private module each: `document` walks the
//! document's lines and checks its structure, `vevent` maps one VEVENT's properties,
//! `series` expands recurring events and puts their overrides in place, and `record`
//! builds each occurrence's record.

use std::time::Duration;

use boxoffice_core::{ProviderError, RecordSink, SellMode};
use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use crate::document::read_document;
use crate::series::Plan;
use crate::vevent::map_event;

pub use crate::vevent::HARMLESS_EVENT_PROPERTIES;

/// The most occurrences one recurring VEVENT yields: the latest ones up to the
/// horizon are kept, older ones dropped.
pub const MAX_OCCURRENCES: usize = 1000;

/// What the parser needs to know of the instance it parses for.
#[derive(Debug, Clone)]
pub struct ParseContext {
    /// The instance's name: the `provider` of every record's key.
    pub provider: String,
    /// The instance's time zone: floating times are read in it, and UTC times and
    /// all-day dates are served in it.
    pub timezone: Tz,
    /// How far past `now` recurring events are expanded.
    pub horizon: Duration,
    /// The sell mode of every event that is not cancelled.
    pub sell_mode: SellMode,
    /// The present, as the provider sees it (`Utc::now()` in a fetch; fixed in tests).
    pub now: DateTime<Utc>,
}

impl ParseContext {
    /// The last instant an occurrence of a recurring event may start at.
    pub fn window_end(&self) -> DateTime<Utc> {
        TimeDelta::from_std(self.horizon)
            .ok()
            .and_then(|horizon| self.now.checked_add_signed(horizon))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

/// Parses a whole calendar, pushing one record per VEVENT occurrence into `sink`, a
/// rejection per VEVENT that cannot be mapped, and what the mapping does not know as
/// [`RecordSink::unknown`] (`VEVENT/GEO`-like keys).
///
/// Fails with [`ProviderError::Malformed`] when the document is not UTF-8, is not a
/// VCALENDAR, has content outside it or unbalanced BEGIN/END lines (e.g. truncated);
/// nothing is pushed then. Fails with [`ProviderError::Sink`] when the sink does.
pub async fn parse_calendar(
    bytes: &[u8],
    ctx: &ParseContext,
    sink: &mut dyn RecordSink,
) -> Result<(), ProviderError> {
    let document = read_document(bytes)?;
    for what in &document.unknown {
        sink.unknown(what);
    }
    let mut plan = Plan::default();
    for raw in document.events {
        match map_event(raw, sink) {
            Ok(event) => plan.add(event, ctx, sink),
            Err(rejection) => sink.reject(rejection),
        }
    }
    plan.emit(ctx, sink).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_ends_a_horizon_after_now() {
        let ctx = ParseContext {
            provider: "venue".into(),
            timezone: Tz::UTC,
            horizon: Duration::from_secs(86_400),
            sell_mode: SellMode::Online,
            now: DateTime::<Utc>::UNIX_EPOCH,
        };
        assert_eq!(ctx.window_end().to_rfc3339(), "1970-01-02T00:00:00+00:00");
        let far = ParseContext {
            horizon: Duration::MAX,
            ..ctx
        };
        assert_eq!(far.window_end(), DateTime::<Utc>::MAX_UTC);
    }
}
