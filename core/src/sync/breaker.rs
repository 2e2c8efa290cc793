//! The circuit breaker of an instance: after `breaker_threshold` failed runs in a row
//! scheduled runs are skipped for `breaker_cooldown`, then one probe runs.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::{InstanceState, SyncReport};

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

/// The breaker's state of `instance` at `now`.
pub fn circuit(instance: &InstanceState, now: DateTime<Utc>) -> CircuitState {
    match instance.open_until {
        None => CircuitState::Closed,
        Some(until) if now < until => CircuitState::Open,
        Some(_) => CircuitState::HalfOpen,
    }
}

/// Counts a finished run into `instance`: a committed run closes the circuit; a failed
/// one adds to the failures in a row, and at `threshold` opens the circuit for
/// `cooldown` (again, after a failed probe). Returns whether it opened now.
pub fn count_run(
    instance: &mut InstanceState,
    report: &SyncReport,
    threshold: u32,
    cooldown: Duration,
) -> bool {
    if report.status.committed() {
        instance.consecutive_failures = 0;
        instance.open_until = None;
        instance.last_success = Some(report.finished_at);
        return false;
    }
    instance.consecutive_failures += 1;
    if instance.consecutive_failures < threshold {
        return false;
    }
    instance.open_until = Some(report.finished_at + chrono::Duration::from_std(cooldown).unwrap_or_default());
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RunStatus;

    fn run(status: RunStatus, at: DateTime<Utc>) -> SyncReport {
        let mut report = SyncReport::started("x");
        report.status = status;
        report.finished_at = at;
        report
    }

    #[test]
    fn the_breaker_opens_at_the_threshold_and_half_opens_after_the_cooldown() {
        let now = Utc::now();
        let cooldown = Duration::from_secs(60);
        let mut state = InstanceState::default();
        assert!(!count_run(&mut state, &run(RunStatus::Failed, now), 2, cooldown));
        assert_eq!(circuit(&state, now), CircuitState::Closed);
        assert!(count_run(&mut state, &run(RunStatus::Failed, now), 2, cooldown));
        assert_eq!(circuit(&state, now), CircuitState::Open);
        let later = now + chrono::Duration::seconds(61);
        assert_eq!(circuit(&state, later), CircuitState::HalfOpen);
        // A failed probe opens it again for another cool-down.
        assert!(count_run(&mut state, &run(RunStatus::Failed, later), 2, cooldown));
        assert_eq!(circuit(&state, later), CircuitState::Open);
        assert!(!count_run(
            &mut state,
            &run(RunStatus::Partial, later),
            2,
            cooldown
        ));
        assert_eq!(circuit(&state, later), CircuitState::Closed);
        assert_eq!(state.consecutive_failures, 0);
        assert_eq!(state.last_success, Some(later));
    }
}
