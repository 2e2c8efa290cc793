//! How a fetch fails. Nothing of a failed fetch is stored.

use std::time::Duration;

/// Why a whole run's fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The feed could not be fetched: connection error, timeout or a non-2xx status.
    #[error("fetching the feed failed: {message}")]
    Fetch {
        /// What happened.
        message: String,
        /// Whether trying again may help (timeouts, 5xx, 429), unlike other 4xx.
        transient: bool,
        /// The provider's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// The feed is not a well-formed document of the expected format.
    #[error("the feed is malformed: {0}")]
    Malformed(String),
    /// The feed is larger than the instance's `max_feed_bytes`.
    #[error("the feed is larger than the {limit}-byte limit (max_feed_bytes)")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The sink failed (the store, while records were being written): stop and
    /// return it.
    #[error(transparent)]
    Sink(#[from] SinkError),
}

/// A failure of the sink records are pushed into, carried through the provider back
/// to the engine that made it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(pub Box<dyn std::error::Error + Send + Sync>);

impl SinkError {
    /// Wraps the sink's own error.
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(Box::new(error))
    }
}

/// A fetch failure carried inside an `io::Error` by a body stream (a source's read
/// error), so that [`read_error`] turns it back into [`ProviderError::Fetch`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FetchFailure {
    /// What happened.
    pub message: String,
    /// Whether trying again may help.
    pub transient: bool,
    /// The provider's `Retry-After`, when it sent one.
    pub retry_after: Option<Duration>,
}

impl From<FetchFailure> for ProviderError {
    fn from(failure: FetchFailure) -> Self {
        ProviderError::Fetch {
            message: failure.message,
            transient: failure.transient,
            retry_after: failure.retry_after,
        }
    }
}

/// The marker error a metered body fails with past the limit; [`read_error`] turns
/// it into [`ProviderError::TooLarge`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the feed is larger than the {limit}-byte limit (max_feed_bytes)")]
pub struct FeedTooLarge {
    /// The limit in bytes.
    pub limit: u64,
}

/// Turns a read error of a feed body into the provider error it stands for: the size
/// limit, a source's fetch failure, or a transient read failure (the connection
/// dropped).
pub fn read_error(error: &std::io::Error) -> ProviderError {
    let inner = error.get_ref();
    if let Some(too_large) = inner.and_then(|inner| inner.downcast_ref::<FeedTooLarge>()) {
        return ProviderError::TooLarge {
            limit: too_large.limit,
        };
    }
    if let Some(failure) = inner.and_then(|inner| inner.downcast_ref::<FetchFailure>()) {
        return failure.clone().into();
    }
    ProviderError::Fetch {
        message: format!("reading the feed failed: {error}"),
        transient: true,
        retry_after: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_errors_are_turned_back_into_what_they_stand_for() {
        let too_large = std::io::Error::other(FeedTooLarge { limit: 10 });
        assert!(matches!(
            read_error(&too_large),
            ProviderError::TooLarge { limit: 10 }
        ));
        let fetch = std::io::Error::other(FetchFailure {
            message: "timed out after 30s".into(),
            transient: true,
            retry_after: None,
        });
        assert_eq!(
            read_error(&fetch).to_string(),
            "fetching the feed failed: timed out after 30s"
        );
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(matches!(
            read_error(&reset),
            ProviderError::Fetch { transient: true, .. }
        ));
    }
}
