//! How an HTTP fetch fails, and what each failure means to the engine: public, so
//! that every HTTP provider maps statuses, timeouts and `Retry-After` alike.

use std::time::Duration;

use boxoffice_core::ProviderError;
use boxoffice_core::provider::FetchFailure;
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, RETRY_AFTER};

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
    #[error("HTTP {status} from {url}{}", said(.body.as_deref()))]
    Status {
        /// The status, e.g. `503 Service Unavailable`.
        status: reqwest::StatusCode,
        /// The address, without credentials or query.
        url: String,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
        /// The start of what the server said (its error body), on one line, without
        /// the instance's secrets.
        body: Option<String>,
    },
    /// The connection failed while the body was being read.
    #[error("reading the feed failed: {0}")]
    Read(String),
    /// The HTTP client could not be built (e.g. no TLS roots).
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// The request was not sent, or its answer not followed, for what it asked (a page
    /// on another origin, a redirect that would carry the instance's headers away, a
    /// secret that cannot be read).
    #[error("{0}")]
    Refused(String),
}

/// `: <what the server said>`, when it said anything.
fn said(body: Option<&str>) -> String {
    body.map(|body| format!(": {body}")).unwrap_or_default()
}

/// How much of an error body a message quotes, in characters.
pub const MAX_ERROR_BODY_CHARS: usize = 200;

/// An error body as a message quotes it: on one line, control characters out, at most
/// [`MAX_ERROR_BODY_CHARS`] characters, every one of `secrets` replaced. `None` when
/// nothing is left.
pub fn quote_error_body<'a>(bytes: &[u8], secrets: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut text: String = String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    for secret in secrets {
        if !secret.is_empty() {
            text = text.replace(secret, boxoffice_core::secret::REDACTED);
        }
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return None;
    }
    Some(match text.char_indices().nth(MAX_ERROR_BODY_CHARS) {
        None => text,
        Some((cut, _)) => format!("{}…", &text[..cut]),
    })
}

impl HttpError {
    /// Whether trying again may help, and how long the server asked to wait: 5xx,
    /// 429, timeouts and dropped connections are transient; other 4xx are not.
    pub fn retry(&self) -> (bool, Option<Duration>) {
        match self {
            HttpError::Status {
                status, retry_after, ..
            } => (
                status.is_server_error() || *status == reqwest::StatusCode::TOO_MANY_REQUESTS,
                *retry_after,
            ),
            HttpError::TimedOut(_) | HttpError::Connect { .. } | HttpError::Read(_) => (true, None),
            HttpError::Request { transient, .. } => (*transient, None),
            HttpError::Client(_) | HttpError::Refused(_) => (false, None),
        }
    }

    /// The failure as the core carries it (inside a body's `io::Error` too).
    pub fn into_failure(self) -> FetchFailure {
        let (transient, retry_after) = self.retry();
        FetchFailure {
            message: self.to_string(),
            transient,
            retry_after,
        }
    }
}

impl From<HttpError> for ProviderError {
    fn from(error: HttpError) -> Self {
        error.into_failure().into()
    }
}

impl From<HttpError> for std::io::Error {
    /// A body's read error, which [`boxoffice_core::read_error`] turns back into the
    /// fetch failure it is.
    fn from(error: HttpError) -> Self {
        std::io::Error::other(error.into_failure())
    }
}

/// What a failed request (before any status) means.
pub(crate) fn request_error(error: reqwest::Error, url: &str, timeout: Duration) -> HttpError {
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
pub(crate) fn body_error(error: reqwest::Error, timeout: Duration) -> HttpError {
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
                body: None,
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
            body: None,
        };
        assert_eq!(
            error.to_string(),
            "HTTP 503 Service Unavailable from https://feed.example/events"
        );
    }

    #[test]
    fn an_error_body_is_quoted_short_on_one_line_without_secrets() {
        let body = br#"{"fault":{"faultstring":"Invalid ApiKey k3y",
            "detail":{"errorcode":"oauth.v2.InvalidApiKey"}}}"#;
        assert_eq!(
            quote_error_body(body, ["k3y"]).as_deref(),
            Some(
                r#"{"fault":{"faultstring":"Invalid ApiKey [redacted]", "detail":{"errorcode":"oauth.v2.InvalidApiKey"}}}"#
            )
        );
        let long = "x".repeat(1000);
        let quoted = quote_error_body(long.as_bytes(), []).unwrap_or_default();
        assert_eq!(quoted.chars().count(), MAX_ERROR_BODY_CHARS + 1);
        assert_eq!(quote_error_body(b" \n ", []), None);
    }
}
