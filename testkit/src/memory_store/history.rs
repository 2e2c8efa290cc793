//! The memory store's run history, quarantine and retention, and each instance's
//! breaker state and switch: ordered and trimmed as the SQL store's.

use std::collections::HashMap;

use async_trait::async_trait;
use boxoffice_core::provider::Rejection;
use boxoffice_core::store::{InstanceState, QuarantinedRecord, Retention};
use boxoffice_core::{InstanceStore, RunStatus, RunStore, StoreError, SyncReport};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Data, MemoryStore, lock};

fn limit_of(limit: u64) -> usize {
    usize::try_from(limit).unwrap_or(usize::MAX)
}

impl Data {
    /// `provider`'s runs, newest (by start) first.
    fn runs_of(&self, provider: &str) -> Vec<&(SyncReport, Option<DateTime<Utc>>)> {
        let mut runs: Vec<_> = self
            .runs
            .iter()
            .rev()
            .filter(|(run, _)| run.provider == provider)
            .collect();
        runs.sort_by_key(|(run, _)| std::cmp::Reverse(run.started_at));
        runs
    }

    /// `provider`'s quarantined records, newest first, then by record.
    fn rejects_of(&self, provider: &str) -> Vec<&QuarantinedRecord> {
        let mut rejects: Vec<_> = self.rejects.iter().filter(|r| r.provider == provider).collect();
        rejects.sort_by(|a, b| {
            b.rejected_at
                .cmp(&a.rejected_at)
                .then_with(|| a.rejection.record.cmp(&b.rejection.record))
        });
        rejects
    }
}

#[async_trait]
impl RunStore for MemoryStore {
    async fn run_started(&self, report: &SyncReport) -> Result<(), StoreError> {
        self.check()?;
        lock(&self.data).runs.push((report.clone(), None));
        Ok(())
    }

    async fn run_heartbeat(&self, report: &SyncReport, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.check()?;
        for (run, heartbeat) in &mut lock(&self.data).runs {
            if run.run_id == report.run_id && run.status == RunStatus::Running {
                *run = report.clone();
                *heartbeat = Some(at);
            }
        }
        Ok(())
    }

    async fn run_discarded(&self, run_id: Uuid) -> Result<(), StoreError> {
        self.check()?;
        lock(&self.data).runs.retain(|(run, _)| run.run_id != run_id);
        Ok(())
    }

    async fn record_run(&self, report: &SyncReport, quarantine: &[Rejection]) -> Result<(), StoreError> {
        self.check()?;
        let mut data = lock(&self.data);
        match data.runs.iter_mut().find(|(run, _)| run.run_id == report.run_id) {
            Some(entry) => *entry = (report.clone(), None),
            None => data.runs.push((report.clone(), None)),
        }
        // One row per distinct rejection of the instance: seen again, it is counted
        // and dated anew, and keeps when it was first seen.
        for rejection in quarantine {
            let kept = data
                .rejects
                .iter_mut()
                .find(|kept| kept.provider == report.provider && kept.rejection == *rejection);
            match kept {
                Some(kept) => {
                    kept.times += 1;
                    kept.run_id = report.run_id;
                    kept.rejected_at = report.finished_at;
                }
                None => data.rejects.push(QuarantinedRecord {
                    run_id: report.run_id,
                    provider: report.provider.clone(),
                    rejected_at: report.finished_at,
                    first_seen: report.finished_at,
                    times: 1,
                    rejection: rejection.clone(),
                }),
            }
        }
        Ok(())
    }

    async fn run(&self, provider: &str, run_id: Uuid) -> Result<Option<SyncReport>, StoreError> {
        self.check()?;
        Ok(lock(&self.data)
            .runs
            .iter()
            .find(|(run, _)| run.run_id == run_id && run.provider == provider)
            .map(|(run, heartbeat)| run.clone().settled(*heartbeat, Utc::now())))
    }

    async fn runs(&self, provider: &str, limit: u64) -> Result<Vec<SyncReport>, StoreError> {
        self.check()?;
        let now = Utc::now();
        Ok(lock(&self.data)
            .runs_of(provider)
            .into_iter()
            .take(limit_of(limit))
            .map(|(run, heartbeat)| run.clone().settled(*heartbeat, now))
            .collect())
    }

    async fn rejects(&self, provider: &str, limit: u64) -> Result<Vec<QuarantinedRecord>, StoreError> {
        self.check()?;
        Ok(lock(&self.data)
            .rejects_of(provider)
            .into_iter()
            .take(limit_of(limit))
            .cloned()
            .collect())
    }

    /// As the SQL store trims: past the latest `retention.runs` runs, every run
    /// started at or before the first one past them goes (ties included); likewise
    /// the quarantine past `retention.max_rejects`, after the ones too old.
    async fn apply_retention(&self, provider: &str, retention: &Retention) -> Result<(u64, u64), StoreError> {
        self.check()?;
        let mut data = lock(&self.data);
        let cutoff = data
            .runs_of(provider)
            .get(limit_of(retention.runs))
            .map(|(run, _)| run.started_at);
        let before = data.runs.len();
        if let Some(cutoff) = cutoff {
            data.runs
                .retain(|(run, _)| run.provider != provider || run.started_at > cutoff);
        }
        let runs = (before - data.runs.len()) as u64;

        let too_old = Utc::now() - chrono::Duration::from_std(retention.rejects).unwrap_or_default();
        let before = data.rejects.len();
        data.rejects
            .retain(|reject| reject.provider != provider || reject.rejected_at >= too_old);
        let cap = data
            .rejects_of(provider)
            .get(limit_of(retention.max_rejects))
            .map(|reject| reject.rejected_at);
        if let Some(cap) = cap {
            data.rejects
                .retain(|reject| reject.provider != provider || reject.rejected_at > cap);
        }
        Ok((runs, (before - data.rejects.len()) as u64))
    }
}

#[async_trait]
impl InstanceStore for MemoryStore {
    async fn instance_state(&self, provider: &str) -> Result<InstanceState, StoreError> {
        self.check()?;
        Ok(lock(&self.data).states.get(provider).copied().unwrap_or_default())
    }

    async fn save_instance_state(&self, provider: &str, state: &InstanceState) -> Result<(), StoreError> {
        self.check()?;
        lock(&self.data).states.insert(provider.to_owned(), *state);
        Ok(())
    }

    async fn provider_toggles(&self) -> Result<HashMap<String, bool>, StoreError> {
        self.check()?;
        Ok(lock(&self.data).toggles.clone())
    }

    async fn set_provider_enabled(&self, provider: &str, enabled: bool) -> Result<(), StoreError> {
        self.check()?;
        lock(&self.data).toggles.insert(provider.to_owned(), enabled);
        Ok(())
    }
}
