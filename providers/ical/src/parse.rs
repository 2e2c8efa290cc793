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

use boxoffice_core::{ProviderError, RecordSink};

use crate::document::read_document;
use crate::series::Plan;
use crate::vevent::map_event;

pub use crate::context::{MAX_OCCURRENCES, ParseContext};
pub use crate::vevent::HARMLESS_EVENT_PROPERTIES;

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
