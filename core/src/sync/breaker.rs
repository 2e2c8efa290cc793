//! The circuit breaker of an instance: after `breaker_threshold` failed runs in a row
//! scheduled runs are skipped for `breaker_cooldown`, then one probe runs.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The circuit breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum CircuitState {
    /// Runs go ahead.
    Closed,
    /// Scheduled runs are skipped until the cool-down has passed.
    Open,
    /// The cool-down has passed: the next run is a probe.
    HalfOpen,
}

impl CircuitState {
    /// The state as a gauge value: 0 closed, 1 half-open, 2 open.
    pub fn as_gauge(self) -> f64 {
        match self {
            CircuitState::Closed => 0.0,
            CircuitState::HalfOpen => 1.0,
            CircuitState::Open => 2.0,
        }
    }
}

/// What the breaker remembers of an instance's runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Breaker {
    /// Failed runs in a row.
    pub consecutive_failures: u32,
    /// Set while the breaker is open: scheduled runs wait until then.
    pub open_until: Option<DateTime<Utc>>,
}

impl Breaker {
    /// The state at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> CircuitState {
        match self.open_until {
            None => CircuitState::Closed,
            Some(until) if now < until => CircuitState::Open,
            Some(_) => CircuitState::HalfOpen,
        }
    }

    /// A run committed: the circuit closes.
    pub fn succeeded(&mut self) {
        *self = Breaker::default();
    }

    /// A run failed at `at`; returns whether the circuit opened (again) now.
    pub fn failed(&mut self, at: DateTime<Utc>, threshold: u32, cooldown: Duration) -> bool {
        self.consecutive_failures += 1;
        if self.consecutive_failures < threshold {
            return false;
        }
        self.open_until = Some(at + chrono::Duration::from_std(cooldown).unwrap_or_default());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_breaker_opens_at_the_threshold_and_half_opens_after_the_cooldown() {
        let now = Utc::now();
        let cooldown = Duration::from_secs(60);
        let mut breaker = Breaker::default();
        assert!(!breaker.failed(now, 2, cooldown));
        assert_eq!(breaker.state(now), CircuitState::Closed);
        assert!(breaker.failed(now, 2, cooldown));
        assert_eq!(breaker.state(now), CircuitState::Open);
        assert_eq!(
            breaker.state(now + chrono::Duration::seconds(61)),
            CircuitState::HalfOpen
        );
        // A failed probe opens it again for another cool-down.
        let later = now + chrono::Duration::seconds(61);
        assert!(breaker.failed(later, 2, cooldown));
        assert_eq!(breaker.state(later), CircuitState::Open);
        breaker.succeeded();
        assert_eq!(breaker.state(later), CircuitState::Closed);
        assert_eq!(breaker.consecutive_failures, 0);
    }
}
