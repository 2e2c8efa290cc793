//! Retries within a run: transient failures (connection, timeout, 5xx, 429) are tried
//! again with exponential backoff and jitter, honouring the provider's `Retry-After`,
//! while the run's deadline allows; other failures are final.

use std::time::Duration;

use crate::provider::ProviderError;

/// The retry policy of one run.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Further attempts after the first.
    pub retries: u32,
    /// The first wait; doubles each attempt.
    pub backoff: Duration,
}

impl RetryPolicy {
    /// How long to wait before attempt `attempts + 1` after `error`, or `None` when the
    /// error is final or the retries are used up. `jitter` in [0.5, 1] scales the
    /// backoff (never the provider's `Retry-After`).
    pub fn wait_after(&self, error: &ProviderError, attempts: u32, jitter: f64) -> Option<Duration> {
        let ProviderError::Fetch {
            transient: true,
            retry_after,
            ..
        } = error
        else {
            return None;
        };
        if attempts > self.retries {
            return None;
        }
        let exponent = attempts.saturating_sub(1).min(16);
        let backoff = self
            .backoff
            .saturating_mul(1 << exponent)
            .mul_f64(jitter.clamp(0.5, 1.0));
        Some(backoff.max(retry_after.unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transient(retry_after: Option<Duration>) -> ProviderError {
        ProviderError::Fetch {
            message: "503".into(),
            transient: true,
            retry_after,
        }
    }

    #[test]
    fn transient_errors_back_off_exponentially_and_honour_retry_after() {
        let policy = RetryPolicy {
            retries: 3,
            backoff: Duration::from_secs(1),
        };
        assert_eq!(
            policy.wait_after(&transient(None), 1, 1.0),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            policy.wait_after(&transient(None), 2, 1.0),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            policy.wait_after(&transient(None), 3, 0.5),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            policy.wait_after(&transient(None), 4, 1.0),
            None,
            "retries used up"
        );
        let asked = Some(Duration::from_secs(30));
        assert_eq!(policy.wait_after(&transient(asked), 1, 1.0), asked);
    }

    #[test]
    fn other_errors_are_final() {
        let policy = RetryPolicy {
            retries: 3,
            backoff: Duration::from_secs(1),
        };
        let permanent = ProviderError::Fetch {
            message: "404".into(),
            transient: false,
            retry_after: None,
        };
        assert_eq!(policy.wait_after(&permanent, 1, 1.0), None);
        assert_eq!(
            policy.wait_after(&ProviderError::Malformed("x".into()), 1, 1.0),
            None
        );
        assert_eq!(
            policy.wait_after(&ProviderError::TooLarge { limit: 1 }, 1, 1.0),
            None
        );
    }
}
