//! A run's report, as the engine writes it and the store keeps it.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::provider::Rejection;

/// How often a running run tells the store it is alive, with its figures so far.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);

/// How long a running run may go without telling the store it is alive before every
/// process counts it as abandoned (its process stopped without finishing it).
pub const STALE_AFTER: Duration = Duration::from_secs(30);

/// How a run ended, or that it is still going on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// The run is going on (in this process or another).
    Running,
    /// The feed was read and every record stored (or the source said nothing changed).
    Succeeded,
    /// The feed was read and every valid record stored; some records were rejected.
    Partial,
    /// Nothing was stored: the feed could not be fetched or read, or the store failed.
    Failed,
}

impl RunStatus {
    /// The lowercase name used in reports and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
        }
    }

    /// Whether the run committed what it read.
    pub fn committed(self) -> bool {
        matches!(self, RunStatus::Succeeded | RunStatus::Partial)
    }
}

/// What one run of one provider instance did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncReport {
    /// The run's id.
    pub run_id: Uuid,
    /// The provider instance's name.
    pub provider: String,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
    /// How it ended.
    pub status: RunStatus,
    /// Records the feed carried, valid or not.
    pub seen: u64,
    /// Items new to the store.
    pub inserted: u64,
    /// Items whose content changed.
    pub updated: u64,
    /// Items unchanged (not rewritten; only marked seen).
    pub unchanged: u64,
    /// Records rejected.
    pub rejected: u64,
    /// The first rejections, with their reasons.
    pub rejections: Vec<Rejection>,
    /// Elements and attributes the provider's mapping does not know, with counts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unknown: BTreeMap<String, u64>,
    /// Bytes of feed read (decoded), over every page.
    pub bytes: u64,
    /// Documents read (pages of a paginated feed).
    #[serde(default = "one")]
    pub pages: u32,
    /// Set when the source answered that its document had not changed since the last
    /// committed run (HTTP 304): nothing was read or rewritten, and the instance's
    /// items were marked seen.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub not_modified: bool,
    /// Attempts made (1 + retries).
    #[serde(default)]
    pub attempts: u32,
    /// SHA-256 of the archived payload (the first page's), when archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// SHA-256 of every archived page, in order, when the run read more than one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub payloads: Vec<String>,
    /// Set when the run re-mapped an archived payload instead of fetching.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replayed_from: Option<String>,
    /// Why the run failed.
    pub error: Option<String>,
}

fn one() -> u32 {
    1
}

impl SyncReport {
    /// A report of a run of `provider` starting now.
    pub fn started(provider: &str) -> Self {
        let now = Utc::now();
        Self {
            run_id: Uuid::new_v4(),
            provider: provider.to_owned(),
            started_at: now,
            finished_at: now,
            status: RunStatus::Succeeded,
            seen: 0,
            inserted: 0,
            updated: 0,
            unchanged: 0,
            rejected: 0,
            rejections: Vec::new(),
            unknown: BTreeMap::new(),
            bytes: 0,
            pages: 0,
            not_modified: false,
            attempts: 0,
            payload: None,
            payloads: Vec::new(),
            replayed_from: None,
            error: None,
        }
    }

    /// The report as every process reads it back: a running run whose last heartbeat
    /// (`heartbeat`, or its start) is older than [`STALE_AFTER`] was abandoned by its
    /// process, and nothing of it was committed.
    pub fn settled(mut self, heartbeat: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Self {
        let alive_at = heartbeat.unwrap_or(self.started_at);
        let stale = chrono::Duration::from_std(STALE_AFTER).unwrap_or_default();
        if self.status == RunStatus::Running && now - alive_at > stale {
            self.status = RunStatus::Failed;
            self.finished_at = alive_at;
            self.error =
                Some("abandoned: the process running it stopped before it finished; nothing was kept".into());
            self.inserted = 0;
            self.updated = 0;
            self.unchanged = 0;
        }
        self
    }

    /// Every archived payload of the run, in page order.
    pub fn archived_payloads(&self) -> Vec<String> {
        if self.payloads.is_empty() {
            self.payload.iter().cloned().collect()
        } else {
            self.payloads.clone()
        }
    }
}

/// What every process knows of an instance's runs, kept by the store: the circuit
/// breaker and the last success.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InstanceState {
    /// Failed runs in a row.
    pub consecutive_failures: u32,
    /// Set while the breaker is open: scheduled runs wait until then.
    pub open_until: Option<DateTime<Utc>>,
    /// When a run last committed.
    pub last_success: Option<DateTime<Utc>>,
}

/// How much of the run history the store keeps (`retention.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// The latest runs kept per instance (their reports); older ones are deleted.
    pub runs: u64,
    /// How long quarantined records are kept.
    pub rejects: Duration,
    /// The most quarantined records kept per instance; the longest unseen go first.
    pub max_rejects: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            runs: 1000,
            rejects: Duration::from_secs(30 * 86_400),
            max_rejects: 10_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_run_without_a_recent_heartbeat_reads_as_abandoned() {
        let mut report = SyncReport::started("x");
        report.status = RunStatus::Running;
        report.inserted = 5;
        let start = report.started_at;
        let fresh = report.clone().settled(
            Some(start + chrono::Duration::seconds(20)),
            start + chrono::Duration::seconds(40),
        );
        assert_eq!(fresh.status, RunStatus::Running);
        let stale = report
            .clone()
            .settled(Some(start), start + chrono::Duration::seconds(31));
        assert_eq!(stale.status, RunStatus::Failed);
        assert_eq!(stale.inserted, 0);
        assert!(stale.error.unwrap_or_default().starts_with("abandoned"));
        let mut done = report;
        done.status = RunStatus::Succeeded;
        let later = done.clone().settled(None, start + chrono::Duration::days(1));
        assert_eq!(later.status, RunStatus::Succeeded);
        assert!(!RunStatus::Running.committed());
    }
}
