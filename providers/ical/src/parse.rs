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
//! The document is read whole (calendars are small) and its structure checked before
//! anything is pushed, so that a truncated download fails as a whole; everything
//! wrong inside one VEVENT rejects only that VEVENT.

use boxoffice_core::{ProviderError, RecordSink};

use crate::document::read_document;
use crate::series::Plan;
use crate::vevent::map_event;

pub use crate::context::{MAX_OCCURRENCES, ParseContext};
pub use crate::vevent::HARMLESS_EVENT_PROPERTIES;

/// Parses a whole calendar into `sink`: a record per VEVENT occurrence, a rejection per
/// VEVENT that cannot be mapped, unknown properties as [`RecordSink::unknown`]
/// (`VEVENT/GEO`).
///
/// Fails with [`ProviderError::Malformed`], pushing nothing, when the document is not
/// UTF-8, is not a VCALENDAR, has content outside it or unbalanced BEGIN/END lines;
/// with [`ProviderError::Sink`] when the sink does.
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
