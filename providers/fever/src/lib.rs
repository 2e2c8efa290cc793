//! The Fever XML feed provider, kind `fever-xml`.
//!
//! [`FeverProvider`] GETs the instance's `url` and streams the body through
//! [`parse::parse_feed`] into the sync engine's sink: the feed is never held whole in
//! memory, and a body larger than `max_feed_bytes` is cut off as soon as it is.
//!
//! Errors: fetch failures are [`FeverError`]s, turned into
//! [`boxoffice_core::ProviderError`] (which says whether to retry); a record that cannot
//! be mapped is a [`boxoffice_core::Rejection`] and its neighbours are kept.

mod config;
mod error;
pub mod generate;
pub mod parse;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use boxoffice_core::registry::ConfigProblem;
use boxoffice_core::{Feed, FeedBody, InstanceSettings, Provider, ProviderError, RecordSink};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use reqwest::header::{ACCEPT, HeaderMap, RETRY_AFTER};
use url::Url;

pub use config::FeverConfig;
pub use error::{FeedTooLarge, FeverError};
pub use parse::{ParseContext, parse_feed};

use config::display_url;
use error::error_chain;

boxoffice_core::register_provider!(boxoffice_core::ProviderRegistration {
    kind: "fever-xml",
    description: "Fever's XML event feed (eventList / base_event / event / zone), fetched over HTTP(S)",
    config_keys: &[(
        "url",
        "The feed's http(s) address; a GET returns the whole eventList document",
    )],
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
    let config = FeverConfig::parse(options)?;
    let provider = FeverProvider::build(config, settings.clone())
        .map_err(|error| vec![ConfigProblem::new("", error.to_string())])?;
    Ok(Arc::new(provider))
}

/// A `fever-xml` instance: fetches its feed over HTTP(S) and maps it.
pub struct FeverProvider {
    client: reqwest::Client,
    url: Url,
    settings: InstanceSettings,
    context: ParseContext,
}

impl std::fmt::Debug for FeverProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeverProvider")
            .field("name", &self.settings.name)
            .field("url", &display_url(&self.url))
            .finish_non_exhaustive()
    }
}

impl FeverProvider {
    /// Builds the instance and its HTTP client (rustls with certificate verification,
    /// at most 5 redirects, user agent `boxoffice/<version>`). Fails only when the
    /// client cannot be built.
    pub fn build(config: FeverConfig, settings: InstanceSettings) -> Result<Self, FeverError> {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::limited(5))
            .user_agent(concat!("boxoffice/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(settings.timeout.min(MAX_CONNECT_TIMEOUT))
            .build()
            .map_err(|error| FeverError::Client(error_chain(&error)))?;
        let context = ParseContext {
            provider: settings.name.clone(),
            timezone: settings.timezone,
        };
        Ok(Self {
            client,
            url: config.url,
            settings,
            context,
        })
    }

    async fn open_feed(&self) -> Result<Feed, ProviderError> {
        let timeout = self.settings.timeout;
        let shown_url = display_url(&self.url);
        tracing::debug!(provider = %self.settings.name, url = %shown_url, "Fetching the feed.");

        let response = self
            .client
            .get(self.url.clone())
            .header(ACCEPT, "application/xml, text/xml;q=0.9, */*;q=0.1")
            .timeout(timeout)
            .send()
            .await
            .map_err(|error| request_error(error, &shown_url, timeout))?;

        let status = response.status();
        if !status.is_success() {
            return Err(FeverError::Status {
                status,
                url: shown_url,
                retry_after: retry_after(response.headers(), Utc::now()),
            }
            .into());
        }
        let length = response.content_length();
        // Read errors travel as `io::Error`s carrying a `FeverError`, which the
        // parser turns back into what they mean.
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
impl Provider for FeverProvider {
    async fn open(&self) -> Result<Feed, ProviderError> {
        let timeout = self.settings.timeout;
        match tokio::time::timeout(timeout + DEADLINE_MARGIN, self.open_feed()).await {
            Ok(result) => result,
            Err(_) => Err(FeverError::TimedOut(timeout).into()),
        }
    }

    async fn parse(&self, body: FeedBody, sink: &mut dyn RecordSink) -> Result<(), ProviderError> {
        parse_feed(body, &self.context, sink).await.map(|_| ())
    }
}

/// What a failed request (before any status) means.
fn request_error(error: reqwest::Error, url: &str, timeout: Duration) -> FeverError {
    if error.is_timeout() {
        return FeverError::TimedOut(timeout);
    }
    let transient = !(error.is_builder() || error.is_redirect());
    let connect = error.is_connect();
    let detail = error_chain(&error.without_url());
    if connect {
        FeverError::Connect {
            url: url.to_owned(),
            detail,
        }
    } else {
        FeverError::Request {
            url: url.to_owned(),
            detail,
            transient,
        }
    }
}

/// What a failure while reading the body means.
fn body_error(error: reqwest::Error, timeout: Duration) -> FeverError {
    if error.is_timeout() {
        FeverError::TimedOut(timeout)
    } else {
        FeverError::Read(error_chain(&error.without_url()))
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
        DateTime::parse_from_rfc3339("2021-06-30T12:00:00Z")
            .map(|at| at.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn retry_after_in_seconds_is_read() {
        assert_eq!(retry_after(&headers("7"), now()), Some(Duration::from_secs(7)));
    }

    #[test]
    fn retry_after_as_an_http_date_is_the_time_until_then() {
        let delay = retry_after(&headers("Wed, 30 Jun 2021 12:01:30 GMT"), now());
        assert_eq!(delay, Some(Duration::from_secs(90)));
        let past = retry_after(&headers("Wed, 30 Jun 2021 11:00:00 GMT"), now());
        assert_eq!(past, Some(Duration::ZERO));
    }

    #[test]
    fn a_missing_or_garbled_retry_after_is_none() {
        assert_eq!(retry_after(&HeaderMap::new(), now()), None);
        assert_eq!(retry_after(&headers("soon"), now()), None);
    }
}
