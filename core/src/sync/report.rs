//! What a run tells: its report filled in, logged, and published as metrics.

use chrono::{DateTime, Utc};
use tracing::{debug, info, warn};

use super::breaker::CircuitState;
use crate::store::{RunStatus, SyncReport};

/// How many rejections a report lists; the count is always exact.
pub const MAX_LISTED_REJECTIONS: usize = 100;

/// Marks `report` failed with `error`: nothing of a failed run is kept, so its write
/// counts are zero.
pub fn fail(report: &mut SyncReport, error: impl ToString) {
    report.status = RunStatus::Failed;
    report.error = Some(error.to_string());
    report.inserted = 0;
    report.updated = 0;
    report.unchanged = 0;
}

/// Publishes a finished run through the `metrics` facade (the server exports it).
/// Every label is a configured instance name or a closed set.
pub fn record_metrics(report: &SyncReport, circuit: CircuitState, last_success: Option<DateTime<Utc>>) {
    let provider = report.provider.clone();
    metrics::counter!("boxoffice_sync_runs_total", "provider" => provider.clone(), "status" => report.status.as_str())
        .increment(1);
    for (outcome, count) in [
        ("inserted", report.inserted),
        ("updated", report.updated),
        ("unchanged", report.unchanged),
        ("rejected", report.rejected),
    ] {
        metrics::counter!("boxoffice_sync_records_total", "provider" => provider.clone(), "outcome" => outcome)
            .increment(count);
    }
    if let Some(at) = last_success {
        metrics::gauge!("boxoffice_sync_last_success_timestamp_seconds", "provider" => provider.clone())
            .set(at.timestamp() as f64);
    }
    metrics::gauge!("boxoffice_sync_circuit_state", "provider" => provider).set(circuit.as_gauge());
}

/// Logs a finished run: one line, then its listed rejections and unknown fields.
pub fn log_report(report: &SyncReport) {
    let elapsed_ms = (report.finished_at - report.started_at).num_milliseconds();
    match report.status {
        RunStatus::Succeeded | RunStatus::Partial => info!(
            provider = %report.provider,
            run_id = %report.run_id,
            seen = report.seen,
            inserted = report.inserted,
            updated = report.updated,
            unchanged = report.unchanged,
            rejected = report.rejected,
            bytes = report.bytes,
            pages = report.pages,
            not_modified = report.not_modified,
            attempts = report.attempts,
            status = report.status.as_str(),
            elapsed_ms,
            "Sync finished."
        ),
        RunStatus::Failed | RunStatus::Running => warn!(
            provider = %report.provider,
            run_id = %report.run_id,
            error = report.error.as_deref().unwrap_or_default(),
            elapsed_ms,
            "Sync failed; the store is unchanged."
        ),
    }
    for rejection in &report.rejections {
        warn!(provider = %report.provider, record = %rejection.record, reason = %rejection.reason, "Record rejected.");
    }
    // Feed drift is the report's to tell (`unknown`); the log says it once a run, at
    // debug: a feed that always carries members nobody maps is not news every run.
    if !report.unknown.is_empty() {
        let unknown: Vec<String> = report
            .unknown
            .iter()
            .map(|(what, count)| format!("{what} ({count})"))
            .collect();
        debug!(provider = %report.provider, unknown = %unknown.join(", "), "The feed carries what the mapping does not read.");
    }
}
