//! What can go wrong fetching the calendar, and what each failure means to the sync
//! engine.
//!
//! [`IcalError`] carries the detail; `From<IcalError> for ProviderError` decides
//! whether the engine may retry. Per-event problems are never errors: the parser
//! rejects the VEVENT through the sink and goes on.

use std::time::Duration;

use boxoffice_core::ProviderError;

/// Why fetching the calendar failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IcalError {
    /// The whole fetch (connection, headers and body) took longer than the instance's
    /// `timeout`.
    #[error("timed out after {}", describe_duration(*.0))]
    TimedOut(Duration),
    /// The server could not be reached.
    #[error("could not connect to {url}: {detail}")]
    Connect {
        /// The calendar's address, without credentials or query.
        url: String,
        /// The error, with its causes.
        detail: String,
    },
    /// The request failed for another reason (e.g. too many redirects).
    #[error("requesting {url} failed: {detail}")]
    Request {
        /// The calendar's address, without credentials or query.
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
        /// The calendar's address, without credentials or query.
        url: String,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// The connection failed while the body was being read.
    #[error("reading the calendar failed: {0}")]
    Read(String),
    /// The HTTP client could not be built (e.g. no TLS roots).
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

impl From<IcalError> for ProviderError {
    fn from(error: IcalError) -> Self {
        let transient = match &error {
            IcalError::Status {
                status, retry_after, ..
            } => {
                let transient = status.is_server_error() || *status == reqwest::StatusCode::TOO_MANY_REQUESTS;
                return ProviderError::Fetch {
                    message: error.to_string(),
                    transient,
                    retry_after: *retry_after,
                };
            }
            IcalError::TimedOut(_) | IcalError::Connect { .. } | IcalError::Read(_) => true,
            IcalError::Request { transient, .. } => *transient,
            IcalError::Client(_) => false,
        };
        ProviderError::Fetch {
            message: error.to_string(),
            transient,
            retry_after: None,
        }
    }
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
    fn only_server_errors_and_429_are_transient() {
        let transient = |code: u16| {
            let error = IcalError::Status {
                status: reqwest::StatusCode::from_u16(code).unwrap_or_default(),
                url: "http://x/".into(),
                retry_after: None,
            };
            match ProviderError::from(error) {
                ProviderError::Fetch { transient, .. } => transient,
                other => panic!("unexpected {other:?}"),
            }
        };
        assert!(transient(503));
        assert!(transient(500));
        assert!(transient(429));
        assert!(!transient(404));
        assert!(!transient(401));
    }

    #[test]
    fn broken_connections_are_transient_and_client_failures_are_not() {
        let transient = |error: IcalError| match ProviderError::from(error) {
            ProviderError::Fetch { transient, .. } => transient,
            other => panic!("unexpected {other:?}"),
        };
        assert!(transient(IcalError::Read("reset by peer".into())));
        assert!(transient(IcalError::TimedOut(Duration::from_secs(1))));
        assert!(!transient(IcalError::Client("no roots".into())));
    }
}
