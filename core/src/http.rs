//! The provider kit's HTTP(S) source: one GET per run, the same for every provider
//! that reads a feed over HTTP.
//!
//! TLS verification is on (rustls), redirects are limited to 5, the connection and
//! the whole response are bounded by the instance's `timeout`. Statuses become
//! [`ProviderError::Fetch`]: 5xx and 429 are transient (retried by the engine, with
//! the server's `Retry-After`), other 4xx are not. Credentials and query strings of
//! feed URLs never appear in messages or logs ([`display_url`]).

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use reqwest::header::{ACCEPT, HeaderMap, RETRY_AFTER};
use url::Url;

use crate::provider::{Feed, ProviderError};
use crate::registry::InstanceSettings;

/// How long the outer deadline waits beyond the request's own, so that the request's
/// (more precise) timeout error wins when both fire.
const DEADLINE_MARGIN: Duration = Duration::from_millis(250);

/// The longest a connection may take to open, when the instance's timeout is longer.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why an HTTP fetch failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpError {
    /// The request (connection, headers and body) took longer than the `timeout`.
    #[error("timed out after {}", describe_duration(*.0))]
    TimedOut(Duration),
    /// The server could not be reached.
    #[error("could not connect to {url}: {detail}")]
    Connect {
        /// The address, without credentials or query.
        url: String,
        /// The error, with its causes.
        detail: String,
    },
    /// The request failed for another reason (e.g. too many redirects).
    #[error("requesting {url} failed: {detail}")]
    Request {
        /// The address, without credentials or query.
        url: String,
        /// The error, with its causes.
        detail: String,
        /// Whether trying again may help.
        transient: bool,
    },
    /// The server answered with a status other than 2xx.
    #[error("HTTP {status} from {url}")]
    Status {
        /// The status, e.g. `503 Service Unavailable`.
        status: reqwest::StatusCode,
        /// The address, without credentials or query.
        url: String,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// The connection failed while the body was being read.
    #[error("reading the feed failed: {0}")]
    Read(String),
    /// The HTTP client could not be built (e.g. no TLS roots).
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

impl From<HttpError> for ProviderError {
    fn from(error: HttpError) -> Self {
        let (transient, retry_after) = match &error {
            HttpError::Status {
                status, retry_after, ..
            } => (
                status.is_server_error() || *status == reqwest::StatusCode::TOO_MANY_REQUESTS,
                *retry_after,
            ),
            HttpError::TimedOut(_) | HttpError::Connect { .. } | HttpError::Read(_) => (true, None),
            HttpError::Request { transient, .. } => (*transient, None),
            HttpError::Client(_) => (false, None),
        };
        ProviderError::Fetch {
            message: error.to_string(),
            transient,
            retry_after,
        }
    }
}

/// A feed at an HTTP(S) address.
pub struct HttpSource {
    client: reqwest::Client,
    url: Url,
    timeout: Duration,
    accept: &'static str,
    provider: String,
}

impl fmt::Debug for HttpSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSource")
            .field("provider", &self.provider)
            .field("url", &display_url(&self.url))
            .finish_non_exhaustive()
    }
}

impl HttpSource {
    /// A source GETting `url` with `Accept: accept`, within the instance's timeout.
    /// Fails only when the client cannot be built.
    pub fn build(url: Url, settings: &InstanceSettings, accept: &'static str) -> Result<Self, HttpError> {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::limited(5))
            .user_agent(concat!("boxoffice/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(settings.timeout.min(MAX_CONNECT_TIMEOUT))
            .build()
            .map_err(|error| HttpError::Client(error_chain(&error)))?;
        Ok(Self {
            client,
            url,
            timeout: settings.timeout,
            accept,
            provider: settings.name.clone(),
        })
    }

    /// The address.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Sends the GET and checks the status. The body streams as the parser reads it;
    /// its read errors carry an [`HttpError`] that [`crate::feed::read_error`] turns
    /// back into what it means.
    pub async fn open(&self) -> Result<Feed, ProviderError> {
        match tokio::time::timeout(self.timeout + DEADLINE_MARGIN, self.send()).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(HttpError::TimedOut(self.timeout).into()),
        }
    }

    async fn send(&self) -> Result<Feed, HttpError> {
        let timeout = self.timeout;
        let shown_url = display_url(&self.url);
        tracing::debug!(provider = %self.provider, url = %shown_url, "Fetching the feed.");
        let response = self
            .client
            .get(self.url.clone())
            .header(ACCEPT, self.accept)
            .timeout(timeout)
            .send()
            .await
            .map_err(|error| request_error(error, &shown_url, timeout))?;
        let status = response.status();
        if !status.is_success() {
            return Err(HttpError::Status {
                status,
                url: shown_url,
                retry_after: retry_after(response.headers(), Utc::now()),
            });
        }
        let length = response.content_length();
        let body = response
            .bytes_stream()
            .map(move |chunk| chunk.map_err(|error| std::io::Error::other(body_error(error, timeout))));
        Ok(Feed {
            body: Box::new(tokio_util::io::StreamReader::new(body)),
            length,
        })
    }
}

/// Checks that a feed URL is http or https.
pub fn check_feed_url(url: &Url) -> Result<(), String> {
    match url.scheme() {
        "http" | "https" => Ok(()),
        other => Err(format!("the scheme must be http or https, not {other:?}")),
    }
}

/// A URL as messages and logs show it: no credentials, and `?…` for a query (which
/// often carries a token).
pub fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    let had_query = shown.query().is_some();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    let mut text = shown.to_string();
    if had_query {
        text.push_str("?…");
    }
    text
}

/// What a failed request (before any status) means.
fn request_error(error: reqwest::Error, url: &str, timeout: Duration) -> HttpError {
    if error.is_timeout() {
        return HttpError::TimedOut(timeout);
    }
    let transient = !(error.is_builder() || error.is_redirect());
    let connect = error.is_connect();
    let detail = error_chain(&error.without_url());
    if connect {
        HttpError::Connect {
            url: url.to_owned(),
            detail,
        }
    } else {
        HttpError::Request {
            url: url.to_owned(),
            detail,
            transient,
        }
    }
}

/// What a failure while reading the body means.
fn body_error(error: reqwest::Error, timeout: Duration) -> HttpError {
    if error.is_timeout() {
        HttpError::TimedOut(timeout)
    } else {
        HttpError::Read(error_chain(&error.without_url()))
    }
}

/// The `Retry-After` header: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    Some((at.with_timezone(&Utc) - now).to_std().unwrap_or(Duration::ZERO))
}

/// An error and its causes, joined with `: `, skipping a cause whose text its parent
/// already repeats.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// `30s`, `300ms`, `1.5s`: short, as the configuration writes durations.
pub fn describe_duration(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{}s", duration.as_secs())
    } else if duration < Duration::from_secs(1) {
        format!("{}ms", duration.as_millis())
    } else {
        format!("{}s", duration.as_secs_f64())
    }
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
    fn retry_after_in_seconds_or_as_a_date_is_read() {
        assert_eq!(retry_after(&headers("7"), now()), Some(Duration::from_secs(7)));
        let delay = retry_after(&headers("Wed, 30 Jun 2021 12:01:30 GMT"), now());
        assert_eq!(delay, Some(Duration::from_secs(90)));
        let past = retry_after(&headers("Wed, 30 Jun 2021 11:00:00 GMT"), now());
        assert_eq!(past, Some(Duration::ZERO));
        assert_eq!(retry_after(&HeaderMap::new(), now()), None);
        assert_eq!(retry_after(&headers("soon"), now()), None);
    }

    #[test]
    fn durations_are_described_as_the_configuration_writes_them() {
        assert_eq!(describe_duration(Duration::from_secs(30)), "30s");
        assert_eq!(describe_duration(Duration::from_millis(300)), "300ms");
        assert_eq!(describe_duration(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn only_server_errors_and_429_are_transient() {
        let transient = |code: u16| {
            let error = HttpError::Status {
                status: reqwest::StatusCode::from_u16(code).unwrap_or_default(),
                url: "http://x/".into(),
                retry_after: None,
            };
            matches!(
                ProviderError::from(error),
                ProviderError::Fetch { transient: true, .. }
            )
        };
        assert!(transient(503) && transient(500) && transient(429));
        assert!(!transient(404) && !transient(401));
    }

    #[test]
    fn the_status_message_names_status_and_url() {
        let error = HttpError::Status {
            status: reqwest::StatusCode::SERVICE_UNAVAILABLE,
            url: "https://feed.example/events".into(),
            retry_after: None,
        };
        assert_eq!(
            error.to_string(),
            "HTTP 503 Service Unavailable from https://feed.example/events"
        );
    }

    #[test]
    fn urls_are_shown_without_credentials_or_query() {
        let url = Url::parse("https://user:secret@provider.example/feed?token=abc#x")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(display_url(&url), "https://provider.example/feed?…");
        let plain = Url::parse("http://provider.example/feed").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(display_url(&plain), "http://provider.example/feed");
        assert!(check_feed_url(&plain).is_ok());
        assert!(check_feed_url(&Url::parse("ftp://x/").unwrap_or_else(|e| panic!("{e}"))).is_err());
    }
}
