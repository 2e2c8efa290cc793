//! The iCalendar (RFC 5545) provider, kind `ical`: any calendar URL a venue publishes.
//!
//! [`IcalProvider`] GETs the instance's `url` and maps the whole body with
//! [`parse_calendar`] (the engine cuts it off past `max_feed_bytes`): one
//! [`boxoffice_core::EventRecord`] per VEVENT occurrence.
//!
//! # Mapping decisions
//! - **Identity.** `series_id` is the VEVENT's UID. `session_id` is empty for a
//!   single event; for each occurrence of a recurring one (RRULE or RDATE, the first
//!   included) it is the occurrence's start in UTC, basic format (`20261201T190000Z`),
//!   or its date (`20261224`) when all-day. A VEVENT with RECURRENCE-ID takes the id of
//!   the occurrence it names and replaces it. A second VEVENT with the same UID (and
//!   RECURRENCE-ID) is rejected; the first is kept.
//! - **Title.** SUMMARY, unescaped (`\,` `\;` `\n` `\\`) and trimmed. A VEVENT
//!   without UID, SUMMARY or DTSTART is rejected, as is one with an unparsable date, an
//!   unknown TZID, an RRULE that cannot be followed, or DTEND before DTSTART.
//! - **Times.** `TZID=Europe/Madrid`: served on that zone's wall clock. A TZID is an
//!   IANA name, also behind a `/mozilla.org/.../` prefix, or a Windows name as Outlook
//!   and Exchange write it (`W. Europe Standard Time`, quoted or not, any ASCII case),
//!   read as CLDR's world-wide default (territory "001": `Europe/Berlin`); VTIMEZONE
//!   blocks are skipped, so any other TZID rejects the event. UTC (`Z`) is the instant,
//!   served on the instance's `timezone`; a floating time is a wall clock in that zone.
//! - **End.** DTEND, else DURATION (days nominal, hours to seconds exact), else none
//!   for a timed event. Each occurrence keeps the first one's length.
//! - **All-day** (`VALUE=DATE`). Starts at midnight in the instance's zone. DTEND is
//!   exclusive in RFC 5545, so the end served is DTEND - 1 day (no time), its instant
//!   the midnight of DTEND. Without DTEND or DURATION it lasts one day.
//! - **Recurrence.** Every RFC 5545 rule part (FREQ SECONDLY to YEARLY, INTERVAL,
//!   COUNT, UNTIL, every BYxxx, WKST), RDATE and EXDATE (with TZID too), computed on
//!   DTSTART's wall clock from DTSTART (the first occurrence, for COUNT too, as the RFC
//!   says) up to `now + horizon`. Past occurrences are sent too (the store keeps
//!   everything ever seen), only the latest [`MAX_OCCURRENCES`] of one event. The
//!   bounds on untrusted rules are in `recur.rs`: an event is rejected past 500 000
//!   steps to the horizon or 50 000 occurrences in one period. A rule the RFC forbids
//!   (a BYDAY ordinal or BYMONTHDAY in a WEEKLY rule, ...) rejects the event. An
//!   override whose occurrence is not generated is sent on its own when it starts
//!   within the horizon.
//! - **Sell mode.** `STATUS:CANCELLED` is `offline`; anything else the instance's
//!   `sell_mode` (default `online`). No prices, organizer, sold-out flag or sale window.
//! - **Unknown.** VEVENT properties the mapping does not use are reported as
//!   `VEVENT/NAME`, except [`HARMLESS_EVENT_PROPERTIES`] and `X-` ones; likewise
//!   `VCALENDAR/NAME`, and components other than VEVENT, VTIMEZONE and VALARM.
//! - **Malformed.** The whole calendar fails only when it is not UTF-8, has no
//!   VCALENDAR, content outside one, or unbalanced BEGIN/END (a truncated download).
//!   A line that is not a content line inside a VEVENT rejects that VEVENT.

mod config;
mod content;
mod context;
mod document;
pub mod parse;
mod record;
mod recur;
mod series;
mod tzid;
mod value;
mod vevent;
mod windows_zones;

use std::sync::Arc;

use async_trait::async_trait;
use boxoffice_core::registry::{ConfigProblem, InstanceSettings};
use boxoffice_core::{
    Document, OpenRequest, Opened, Parsed, Provider, ProviderError, RecordSink, read_error,
};
use boxoffice_kit::HttpSource;
use chrono::{DateTime, Utc};
use tokio::io::AsyncReadExt;

pub use config::{DEFAULT_HORIZON, IcalConfig, MAX_HORIZON};
pub use parse::{HARMLESS_EVENT_PROPERTIES, MAX_OCCURRENCES, ParseContext, parse_calendar};

boxoffice_core::register_provider! {
    kind: "ical",
    description: "An iCalendar (RFC 5545) calendar over HTTP(S): one item per VEVENT occurrence, RRULEs expanded",
    options: IcalConfig,
    build: IcalProvider::build,
}

/// Called by the binary so that the linker keeps this crate and its registration.
pub fn link() {}

/// An `ical` instance: fetches its calendar over HTTP(S) and maps it.
pub struct IcalProvider {
    source: HttpSource,
    config: IcalConfig,
    settings: InstanceSettings,
}

impl std::fmt::Debug for IcalProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IcalProvider")
            .field("name", &self.settings.name)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl IcalProvider {
    /// Builds the instance and its HTTP source; problems name their key.
    pub fn build(
        settings: &InstanceSettings,
        config: IcalConfig,
    ) -> Result<Arc<dyn Provider>, Vec<ConfigProblem>> {
        let source = HttpSource::build(&config.url, &config.headers, settings, "text/calendar, */*;q=0.1")?;
        Ok(Arc::new(Self {
            source,
            config,
            settings: settings.clone(),
        }))
    }

    /// What the parser needs, with `now` as the present.
    pub fn parse_context(&self, now: DateTime<Utc>) -> ParseContext {
        ParseContext {
            provider: self.settings.name.clone(),
            timezone: self.settings.timezone,
            horizon: self.config.horizon,
            sell_mode: self.config.sell_mode,
            now,
        }
    }
}

#[async_trait]
impl Provider for IcalProvider {
    /// Sends the GET (conditional when the last run left validators) and checks the
    /// status; the engine meters and limits the body.
    async fn open(&self, request: OpenRequest<'_>) -> Result<Opened, ProviderError> {
        self.source.open(request).await
    }

    /// Reads the whole body (calendars are small; the engine enforces
    /// `max_feed_bytes` while it streams) and maps it with `now` as the present.
    async fn parse(
        &self,
        mut document: Document,
        sink: &mut dyn RecordSink,
    ) -> Result<Parsed, ProviderError> {
        let mut bytes = Vec::new();
        document
            .body
            .read_to_end(&mut bytes)
            .await
            .map_err(|error| read_error(&error))?;
        tracing::debug!(provider = %self.settings.name, bytes = bytes.len(), "Calendar read.");
        parse_calendar(&bytes, &self.parse_context(Utc::now()), sink).await?;
        Ok(Parsed::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn read_errors_mean_what_their_cause_says() {
        let too_large = std::io::Error::other(boxoffice_core::provider::FeedTooLarge { limit: 10 });
        assert!(matches!(
            read_error(&too_large),
            ProviderError::TooLarge { limit: 10 }
        ));
        let timed_out = std::io::Error::from(boxoffice_kit::HttpError::TimedOut(Duration::from_millis(300)));
        match read_error(&timed_out) {
            ProviderError::Fetch {
                message, transient, ..
            } => {
                assert!(transient);
                assert_eq!(message, "timed out after 300ms");
            }
            other => panic!("unexpected {other:?}"),
        }
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        assert!(matches!(
            read_error(&reset),
            ProviderError::Fetch { transient: true, .. }
        ));
    }
}
