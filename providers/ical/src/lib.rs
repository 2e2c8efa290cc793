//! The iCalendar (RFC 5545) provider, kind `ical`: any calendar URL a venue publishes.
//!
//! [`IcalProvider`] opens the instance's `url` with a GET (the sync engine meters the
//! body, cutting it off past `max_feed_bytes`), reads the whole body and maps it with
//! [`parse_calendar`]: one [`boxoffice_core::EventRecord`] per VEVENT occurrence.
//!
//! # Mapping decisions
//! - **Identity.** `base_event_id` is the VEVENT's UID. `event_id` is empty for a
//!   single event; for each occurrence of a recurring one (RRULE or RDATE, the first
//!   occurrence included) it is the occurrence's start in UTC, basic format
//!   (`20261201T190000Z`), or its date (`20261224`) for an all-day event. A VEVENT
//!   with RECURRENCE-ID gets the id of the occurrence it names and replaces that
//!   occurrence (it is not added beside it). A second VEVENT with the same UID (or
//!   the same UID and RECURRENCE-ID) is rejected; the first is kept.
//! - **Title.** SUMMARY, unescaped (`\,` `\;` `\n` `\\`) and trimmed. A VEVENT without
//!   UID, SUMMARY or DTSTART is rejected, as is one with an unparsable date, an
//!   unknown TZID, an unsupported RRULE part, or DTEND before DTSTART.
//! - **Times.** `TZID=Europe/Madrid`: read and served on that zone's wall clock
//!   (IANA names via chrono-tz, also behind a `/mozilla.org/.../` prefix; VTIMEZONE
//!   blocks are skipped, so a TZID that is not an IANA name rejects the event). UTC
//!   (`Z`): the instant, served as the wall clock of the instance's `timezone`.
//!   Floating (neither): the wall clock of the instance's `timezone`.
//! - **End.** DTEND, else DURATION (days nominal, hours to seconds exact), else none
//!   (`end: None`) for a timed event. Each occurrence keeps the first one's length.
//! - **All-day** (`VALUE=DATE`). Start: the date, no time, at midnight in the
//!   instance's zone. End: DTEND is exclusive in RFC 5545, so the end served is the
//!   last day (DTEND - 1 day, no time) and its instant the midnight of DTEND. Without
//!   DTEND or DURATION an all-day event lasts one day.
//! - **Recurrence.** FREQ DAILY/WEEKLY/MONTHLY/YEARLY with INTERVAL, COUNT, UNTIL,
//!   BYDAY (ordinals in MONTHLY/YEARLY), BYMONTHDAY, BYMONTH, BYSETPOS, WKST; RDATE
//!   and EXDATE (with TZID too). Occurrences are computed on DTSTART's wall clock from
//!   DTSTART (which counts as the first, as the RFC says) up to `now + horizon`; past
//!   ones are sent too (the store keeps everything ever seen), but only the latest
//!   [`MAX_OCCURRENCES`] of one event. A rule that would take more than 500 000
//!   steps (periods and candidate days) to reach the horizon, such as a daily rule
//!   from the year 1000, is rejected. Unsupported rule parts (BYHOUR, BYWEEKNO,
//!   BYYEARDAY, sub-daily frequencies) reject the event. An override whose
//!   occurrence is not generated is sent on its own when it starts within the horizon.
//! - **Sell mode.** `STATUS:CANCELLED` is `offline`; anything else the instance's
//!   `sell_mode` (default `online`). No prices (no zones), no organizer, never sold
//!   out, no sale window.
//! - **Unknown.** VEVENT properties the mapping does not use are reported as
//!   `VEVENT/NAME`, except those in [`HARMLESS_EVENT_PROPERTIES`] and `X-` ones;
//!   likewise `VCALENDAR/NAME`, and components other than VEVENT, VTIMEZONE and
//!   VALARM.
//! - **Malformed.** The whole calendar fails only when it is not UTF-8, has no
//!   VCALENDAR, content outside one, or unbalanced BEGIN/END (a truncated download).
//!   A line that is not a content line inside a VEVENT rejects that VEVENT.
//!
//! Errors: fetch failures are [`IcalError`]s, turned into
//! [`boxoffice_core::ProviderError`] (which says whether to retry).

mod config;
mod content;
mod error;
pub mod parse;
mod recur;
mod value;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use boxoffice_core::registry::ConfigProblem;
use boxoffice_core::{Feed, FeedBody, InstanceSettings, Provider, ProviderError, RecordSink};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use reqwest::header::{ACCEPT, HeaderMap, RETRY_AFTER};
use tokio::io::AsyncReadExt;

pub use config::{DEFAULT_HORIZON, IcalConfig, MAX_HORIZON};
pub use error::IcalError;
pub use parse::{HARMLESS_EVENT_PROPERTIES, MAX_OCCURRENCES, ParseContext, parse_calendar};

use config::display_url;
use error::error_chain;

boxoffice_core::register_provider!(boxoffice_core::ProviderRegistration {
    kind: "ical",
    description: "An iCalendar (RFC 5545) calendar over HTTP(S): one item per VEVENT occurrence, RRULEs expanded",
    config_keys: &[
        (
            "url",
            "The calendar's http(s) address; a GET returns the whole .ics document"
        ),
        (
            "horizon",
            "How far past now recurring events are expanded, e.g. \"180d\" (default 365d, at most 3650d)",
        ),
        (
            "sell_mode",
            "\"online\" (default) or \"offline\": the sell mode of every event not cancelled",
        ),
    ],
    build: build_provider,
});

/// Called by the binary so that the linker keeps this crate and its registration.
pub fn link() {}

/// How long the outer deadline waits beyond the request's own, so that the request's
/// (more precise) timeout error wins when both fire.
const DEADLINE_MARGIN: Duration = Duration::from_millis(250);

/// The longest a connection may take to open, when the instance's timeout is longer.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

fn build_provider(
    settings: &InstanceSettings,
    options: serde_json::Value,
) -> Result<Arc<dyn Provider>, Vec<ConfigProblem>> {
    let config = IcalConfig::parse(options)?;
    let provider = IcalProvider::build(config, settings.clone())
        .map_err(|error| vec![ConfigProblem::new("", error.to_string())])?;
    Ok(Arc::new(provider))
}

/// An `ical` instance: fetches its calendar over HTTP(S) and maps it.
pub struct IcalProvider {
    client: reqwest::Client,
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
    /// Builds the instance and its HTTP client (rustls with certificate verification,
    /// at most 5 redirects, user agent `boxoffice/<version>`). Fails only when the
    /// client cannot be built.
    pub fn build(config: IcalConfig, settings: InstanceSettings) -> Result<Self, IcalError> {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::limited(5))
            .user_agent(concat!("boxoffice/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(settings.timeout.min(MAX_CONNECT_TIMEOUT))
            .build()
            .map_err(|error| IcalError::Client(error_chain(&error)))?;
        Ok(Self {
            client,
            config,
            settings,
        })
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

    async fn open_calendar(&self) -> Result<Feed, IcalError> {
        let timeout = self.settings.timeout;
        let shown_url = display_url(&self.config.url);
        tracing::debug!(provider = %self.settings.name, url = %shown_url, "Fetching the calendar.");

        let response = self
            .client
            .get(self.config.url.clone())
            .header(ACCEPT, "text/calendar, */*;q=0.1")
            .timeout(timeout)
            .send()
            .await
            .map_err(|error| request_error(error, &shown_url, timeout))?;

        let status = response.status();
        if !status.is_success() {
            return Err(IcalError::Status {
                status,
                url: shown_url,
                retry_after: retry_after(response.headers(), Utc::now()),
            });
        }
        let length = response.content_length();
        // Read errors travel as `io::Error`s carrying an `IcalError`, which `parse`
        // turns back into what they mean.
        let body = response
            .bytes_stream()
            .map(move |chunk| chunk.map_err(|error| std::io::Error::other(body_error(error, timeout))));
        Ok(Feed {
            body: Box::new(tokio_util::io::StreamReader::new(body)),
            length,
        })
    }
}

#[async_trait]
impl Provider for IcalProvider {
    /// Sends the GET and checks the status; the engine meters and limits the body.
    async fn open(&self) -> Result<Feed, ProviderError> {
        let timeout = self.settings.timeout;
        match tokio::time::timeout(timeout + DEADLINE_MARGIN, self.open_calendar()).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(IcalError::TimedOut(timeout).into()),
        }
    }

    /// Reads the whole body (calendars are small; the engine enforces
    /// `max_feed_bytes` while it streams) and maps it with `now` as the present.
    async fn parse(&self, mut body: FeedBody, sink: &mut dyn RecordSink) -> Result<(), ProviderError> {
        let mut bytes = Vec::new();
        body.read_to_end(&mut bytes)
            .await
            .map_err(|error| read_error(&error))?;
        tracing::debug!(provider = %self.settings.name, bytes = bytes.len(), "Calendar read.");
        parse_calendar(&bytes, &self.parse_context(Utc::now()), sink).await
    }
}

/// What a read error of the body means: an `IcalError` the body stream raised, the
/// engine's size limit, or a broken connection.
fn read_error(error: &std::io::Error) -> ProviderError {
    match error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<IcalError>())
    {
        Some(ical) => ical.clone().into(),
        None => boxoffice_core::feed::read_error(error),
    }
}

/// What a failed request (before any status) means.
fn request_error(error: reqwest::Error, url: &str, timeout: Duration) -> IcalError {
    if error.is_timeout() {
        return IcalError::TimedOut(timeout);
    }
    let transient = !(error.is_builder() || error.is_redirect());
    let connect = error.is_connect();
    let detail = error_chain(&error.without_url());
    if connect {
        IcalError::Connect {
            url: url.to_owned(),
            detail,
        }
    } else {
        IcalError::Request {
            url: url.to_owned(),
            detail,
            transient,
        }
    }
}

/// What a failure while reading the body means.
fn body_error(error: reqwest::Error, timeout: Duration) -> IcalError {
    if error.is_timeout() {
        IcalError::TimedOut(timeout)
    } else {
        IcalError::Read(error_chain(&error.without_url()))
    }
}

/// The `Retry-After` header: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    Some((at.with_timezone(&Utc) - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(retry_after: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static(retry_after));
        headers
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-06-30T12:00:00Z")
            .map(|at| at.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn read_errors_mean_what_their_cause_says() {
        let too_large = std::io::Error::other(boxoffice_core::feed::FeedTooLarge { limit: 10 });
        assert!(matches!(
            read_error(&too_large),
            ProviderError::TooLarge { limit: 10 }
        ));
        let timed_out = std::io::Error::other(IcalError::TimedOut(Duration::from_millis(300)));
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

    #[test]
    fn retry_after_in_seconds_or_as_a_date_is_read() {
        assert_eq!(retry_after(&headers("7"), now()), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after(&headers("Tue, 30 Jun 2026 12:01:30 GMT"), now()),
            Some(Duration::from_secs(90))
        );
        assert_eq!(retry_after(&headers("soon"), now()), None);
        assert_eq!(retry_after(&HeaderMap::new(), now()), None);
    }
}
