//! What can go wrong fetching the feed, and what each failure means to the sync engine.
//!
//! [`FeverError`] carries the detail; `From<FeverError> for ProviderError` decides
//! whether the engine may retry. Per-record problems are never errors: the parser
//! rejects the record through the sink and goes on.

use std::io;
use std::time::Duration;

use boxoffice_core::ProviderError;

/// Why fetching the feed failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FeverError {
    /// The whole fetch (connection, headers and body) took longer than the instance's
    /// `timeout`.
    #[error("timed out after {}", describe_duration(*.0))]
    TimedOut(Duration),
    /// The server could not be reached.
    #[error("could not connect to {url}: {detail}")]
    Connect {
        /// The feed's address, without credentials or query.
        url: String,
        /// The error, with its causes.
        detail: String,
    },
    /// The request failed for another reason (e.g. too many redirects).
    #[error("requesting {url} failed: {detail}")]
    Request {
        /// The feed's address, without credentials or query.
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
        /// The feed's address, without credentials or query.
        url: String,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// The connection failed while the body was being read.
    #[error("reading the feed failed: {0}")]
    Read(String),
    /// The feed is larger than the instance's `max_feed_bytes`.
    #[error("{0}")]
    TooLarge(#[from] FeedTooLarge),
    /// The HTTP client could not be built (e.g. no TLS roots).
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

impl From<FeverError> for ProviderError {
    fn from(error: FeverError) -> Self {
        let transient = match &error {
            FeverError::TooLarge(FeedTooLarge { limit }) => {
                return ProviderError::TooLarge { limit: *limit };
            }
            FeverError::Status {
                status, retry_after, ..
            } => {
                let transient = status.is_server_error() || *status == reqwest::StatusCode::TOO_MANY_REQUESTS;
                return ProviderError::Fetch {
                    message: error.to_string(),
                    transient,
                    retry_after: *retry_after,
                };
            }
            FeverError::TimedOut(_) | FeverError::Connect { .. } | FeverError::Read(_) => true,
            FeverError::Request { transient, .. } => *transient,
            FeverError::Client(_) => false,
        };
        ProviderError::Fetch {
            message: error.to_string(),
            transient,
            retry_after: None,
        }
    }
}

/// The marker error a metered body raises, inside an [`io::Error`], past
/// `max_feed_bytes` (the sync engine meters every body; see `boxoffice_core::feed`).
pub use boxoffice_core::feed::FeedTooLarge;

/// What an I/O error of the feed's reader means: the body adapter's own errors travel
/// inside it and come back out here; anything else is a broken connection.
pub(crate) fn from_read_error(error: &io::Error) -> ProviderError {
    if let Some(inner) = error.get_ref() {
        if let Some(too_large) = inner.downcast_ref::<FeedTooLarge>() {
            return FeverError::TooLarge(*too_large).into();
        }
        if let Some(fever) = inner.downcast_ref::<FeverError>() {
            return fever.clone().into();
        }
    }
    FeverError::Read(error_chain(error)).into()
}

/// An error and its causes, joined with `: `, skipping a cause whose text its parent
/// already repeats.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
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
pub(crate) fn describe_duration(duration: Duration) -> String {
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

    #[test]
    fn durations_are_described_as_the_configuration_writes_them() {
        assert_eq!(describe_duration(Duration::from_secs(30)), "30s");
        assert_eq!(describe_duration(Duration::from_millis(300)), "300ms");
        assert_eq!(describe_duration(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn a_too_large_marker_inside_an_io_error_becomes_too_large() {
        let error = io::Error::other(FeedTooLarge { limit: 10 });
        assert!(matches!(
            from_read_error(&error),
            ProviderError::TooLarge { limit: 10 }
        ));
    }

    #[test]
    fn a_plain_io_error_is_a_transient_fetch_failure() {
        let error = io::Error::new(io::ErrorKind::ConnectionReset, "reset by peer");
        match from_read_error(&error) {
            ProviderError::Fetch {
                message, transient, ..
            } => {
                assert!(transient);
                assert!(message.contains("reset by peer"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn only_server_errors_and_429_are_transient() {
        let status = |code: u16| FeverError::Status {
            status: reqwest::StatusCode::from_u16(code).unwrap_or_default(),
            url: "http://x/".into(),
            retry_after: None,
        };
        let transient = |code| match ProviderError::from(status(code)) {
            ProviderError::Fetch { transient, .. } => transient,
            other => panic!("unexpected {other:?}"),
        };
        assert!(transient(503));
        assert!(transient(500));
        assert!(transient(429));
        assert!(!transient(404));
        assert!(!transient(401));
    }

    #[test]
    fn the_status_message_names_status_and_url() {
        let error = FeverError::Status {
            status: reqwest::StatusCode::SERVICE_UNAVAILABLE,
            url: "https://feed.example/events".into(),
            retry_after: None,
        };
        assert_eq!(
            error.to_string(),
            "HTTP 503 Service Unavailable from https://feed.example/events"
        );
    }
}
