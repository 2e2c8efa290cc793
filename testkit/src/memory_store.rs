//! An [`EventStore`] in memory, faithful to the trait's promises (a sync's writes are
//! all or nothing, searchability for good once online, last-seen bumps, one sync per
//! provider at a time), with faults a test can switch on.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use boxoffice_core::provider::{Rejection, Validators};
use boxoffice_core::store::{InstanceState, QuarantinedRecord, Retention};
use boxoffice_core::{
    BatchOutcome, EventRecord, EventStore, SearchItem, SellMode, StoreError, StoredEvent, SyncReport,
    SyncTransaction,
};
use chrono::{DateTime, Utc};
use uuid::Uuid;

#[derive(Clone)]
struct Item {
    record: EventRecord,
    hash: String,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    last_changed: DateTime<Utc>,
}

#[derive(Default)]
struct Data {
    items: HashMap<Uuid, Item>,
    online: HashSet<(String, String)>,
    /// Oldest first, with their last heartbeat.
    runs: Vec<(SyncReport, Option<DateTime<Utc>>)>,
    rejects: Vec<QuarantinedRecord>,
    states: HashMap<String, InstanceState>,
    toggles: HashMap<String, bool>,
    validators: HashMap<String, Validators>,
    version: i64,
}

#[derive(Default)]
struct Faults {
    unavailable: bool,
    /// Upserts left before one fails.
    upserts_before_failure: Option<usize>,
}

/// The store, shared by clones.
#[derive(Clone, Default)]
pub struct MemoryStore {
    data: Arc<Mutex<Data>>,
    syncing: Arc<Mutex<HashSet<String>>>,
    faults: Arc<Mutex<Faults>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every call fail as unavailable (or work again).
    pub fn set_unavailable(&self, unavailable: bool) {
        lock(&self.faults).unavailable = unavailable;
    }

    /// Makes the upsert after the next `n` fail (once).
    pub fn fail_upsert_after(&self, n: usize) {
        lock(&self.faults).upserts_before_failure = Some(n);
    }

    /// Every stored item of `provider`.
    pub fn items(&self, provider: &str) -> Vec<StoredEvent> {
        let data = lock(&self.data);
        let mut items: Vec<StoredEvent> = data
            .items
            .iter()
            .filter(|(_, item)| item.record.key.provider == provider)
            .map(|(id, item)| stored(&data, *id, item))
            .collect();
        items.sort_by_key(|item| (item.record.start.at, item.id));
        items
    }

    /// The data version.
    pub fn version(&self) -> i64 {
        lock(&self.data).version
    }

    fn check(&self) -> Result<(), StoreError> {
        if lock(&self.faults).unavailable {
            return Err(StoreError::Unavailable("the memory store is switched off".into()));
        }
        Ok(())
    }
}

fn stored(data: &Data, id: Uuid, item: &Item) -> StoredEvent {
    let key = &item.record.key;
    StoredEvent {
        id,
        record: item.record.clone(),
        searchable: data
            .online
            .contains(&(key.provider.clone(), key.base_event_id.clone())),
        first_seen: item.first_seen,
        last_seen: item.last_seen,
        last_changed: item.last_changed,
    }
}

#[async_trait]
impl EventStore for MemoryStore {
    async fn begin_sync(&self, provider: &str) -> Result<Box<dyn SyncTransaction>, StoreError> {
        self.check()?;
        if !lock(&self.syncing).insert(provider.to_owned()) {
            return Err(StoreError::Conflict(format!(
                "another process is syncing {provider:?}"
            )));
        }
        Ok(Box::new(MemoryTransaction {
            store: self.clone(),
            provider: provider.to_owned(),
            writes: HashMap::new(),
            seen: Vec::new(),
            touch_all: None,
            validators: None,
        }))
    }

    async fn for_each_searchable(
        &self,
        visit: &mut (dyn FnMut(SearchItem) + Send),
    ) -> Result<u64, StoreError> {
        self.check()?;
        let items: Vec<SearchItem> = {
            let data = lock(&self.data);
            data.items
                .iter()
                .filter(|(_, item)| {
                    let key = &item.record.key;
                    data.online
                        .contains(&(key.provider.clone(), key.base_event_id.clone()))
                })
                .map(|(id, item)| {
                    let range = item.record.price_range();
                    SearchItem {
                        id: *id,
                        provider: item.record.key.provider.clone(),
                        title: item.record.title.clone(),
                        start: item.record.start,
                        end: item.record.end,
                        min_price: range.map(|r| r.min),
                        max_price: range.map(|r| r.max),
                    }
                })
                .collect()
        };
        let count = items.len() as u64;
        items.into_iter().for_each(visit);
        Ok(count)
    }

    async fn validators(&self, provider: &str) -> Result<Option<Validators>, StoreError> {
        self.check()?;
        Ok(lock(&self.data).validators.get(provider).cloned())
    }

    async fn get(&self, id: Uuid) -> Result<Option<StoredEvent>, StoreError> {
        self.check()?;
        let data = lock(&self.data);
        Ok(data.items.get(&id).map(|item| stored(&data, id, item)))
    }

    async fn data_version(&self) -> Result<i64, StoreError> {
        self.check()?;
        Ok(lock(&self.data).version)
    }

    async fn run_started(&self, report: &SyncReport) -> Result<(), StoreError> {
        self.check()?;
        lock(&self.data).runs.push((report.clone(), None));
        Ok(())
    }

    async fn run_heartbeat(&self, report: &SyncReport, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.check()?;
        for (run, heartbeat) in &mut lock(&self.data).runs {
            if run.run_id == report.run_id && run.status == boxoffice_core::RunStatus::Running {
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

    async fn run(&self, provider: &str, run_id: Uuid) -> Result<Option<SyncReport>, StoreError> {
        self.check()?;
        Ok(lock(&self.data)
            .runs
            .iter()
            .find(|(run, _)| run.run_id == run_id && run.provider == provider)
            .map(|(run, heartbeat)| run.clone().settled(*heartbeat, Utc::now())))
    }

    async fn instance_state(&self, provider: &str) -> Result<InstanceState, StoreError> {
        self.check()?;
        Ok(lock(&self.data).states.get(provider).copied().unwrap_or_default())
    }

    async fn save_instance_state(&self, provider: &str, state: &InstanceState) -> Result<(), StoreError> {
        self.check()?;
        lock(&self.data).states.insert(provider.to_owned(), *state);
        Ok(())
    }

    async fn apply_retention(&self, provider: &str, retention: &Retention) -> Result<(u64, u64), StoreError> {
        self.check()?;
        let mut data = lock(&self.data);
        let keep = usize::try_from(retention.runs).unwrap_or(usize::MAX);
        let mut seen = 0;
        let before = data.runs.len();
        // Newest first: keep the latest `keep` of the provider.
        let mut kept: Vec<_> = data
            .runs
            .drain(..)
            .rev()
            .filter(|(run, _)| {
                if run.provider != provider {
                    return true;
                }
                seen += 1;
                seen <= keep
            })
            .collect();
        kept.reverse();
        data.runs = kept;
        let runs_removed = (before - data.runs.len()) as u64;
        let cutoff = Utc::now() - chrono::Duration::from_std(retention.rejects).unwrap_or_default();
        let before = data.rejects.len();
        data.rejects
            .retain(|reject| reject.provider != provider || reject.rejected_at >= cutoff);
        let kept = data
            .rejects
            .iter()
            .filter(|reject| reject.provider == provider)
            .count();
        let mut excess = kept.saturating_sub(usize::try_from(retention.max_rejects).unwrap_or(usize::MAX));
        // Oldest first in the list: the longest unseen go.
        data.rejects.retain(|reject| {
            if reject.provider == provider && excess > 0 {
                excess -= 1;
                return false;
            }
            true
        });
        Ok((runs_removed, (before - data.rejects.len()) as u64))
    }

    async fn item_count(&self, provider: &str) -> Result<u64, StoreError> {
        self.check()?;
        Ok(lock(&self.data)
            .items
            .values()
            .filter(|item| item.record.key.provider == provider)
            .count() as u64)
    }

    async fn retire(&self, provider: &str) -> Result<u64, StoreError> {
        self.check()?;
        let mut data = lock(&self.data);
        let before = data.items.len();
        data.items.retain(|_, item| item.record.key.provider != provider);
        data.online.retain(|(owner, _)| owner != provider);
        data.validators.remove(provider);
        let retired = (before - data.items.len()) as u64;
        if retired > 0 {
            data.version += 1;
        }
        Ok(retired)
    }

    async fn record_run(&self, report: &SyncReport, quarantine: &[Rejection]) -> Result<(), StoreError> {
        self.check()?;
        let mut data = lock(&self.data);
        match data.runs.iter_mut().find(|(run, _)| run.run_id == report.run_id) {
            Some(entry) => *entry = (report.clone(), None),
            None => data.runs.push((report.clone(), None)),
        }
        for rejection in quarantine {
            let seen = data
                .rejects
                .iter()
                .position(|kept| kept.provider == report.provider && kept.rejection == *rejection);
            if let Some(at) = seen {
                // Seen again: the latest at the end, as newly rejected ones are.
                let mut kept = data.rejects.remove(at);
                kept.times += 1;
                if kept.run_id != report.run_id {
                    kept.run_id = report.run_id;
                    kept.rejected_at = report.finished_at;
                }
                data.rejects.push(kept);
                continue;
            }
            data.rejects.push(QuarantinedRecord {
                run_id: report.run_id,
                provider: report.provider.clone(),
                rejected_at: report.finished_at,
                first_seen: report.finished_at,
                times: 1,
                rejection: rejection.clone(),
            });
        }
        Ok(())
    }

    async fn rejects(&self, provider: &str, limit: u64) -> Result<Vec<QuarantinedRecord>, StoreError> {
        self.check()?;
        Ok(lock(&self.data)
            .rejects
            .iter()
            .rev()
            .filter(|r| r.provider == provider)
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .cloned()
            .collect())
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

    async fn runs(&self, provider: &str, limit: u64) -> Result<Vec<SyncReport>, StoreError> {
        self.check()?;
        let now = Utc::now();
        Ok(lock(&self.data)
            .runs
            .iter()
            .rev()
            .filter(|(run, _)| run.provider == provider)
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(|(run, heartbeat)| run.clone().settled(*heartbeat, now))
            .collect())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.check()
    }
}

/// One sync's writes, applied at commit.
struct MemoryTransaction {
    store: MemoryStore,
    provider: String,
    writes: HashMap<Uuid, (EventRecord, String, DateTime<Utc>)>,
    seen: Vec<(Uuid, DateTime<Utc>)>,
    touch_all: Option<DateTime<Utc>>,
    validators: Option<Option<Validators>>,
}

impl Drop for MemoryTransaction {
    fn drop(&mut self) {
        lock(&self.store.syncing).remove(&self.provider);
    }
}

#[async_trait]
impl SyncTransaction for MemoryTransaction {
    async fn upsert(
        &mut self,
        records: Vec<EventRecord>,
        seen_at: DateTime<Utc>,
    ) -> Result<BatchOutcome, StoreError> {
        self.store.check()?;
        {
            let mut faults = lock(&self.store.faults);
            match faults.upserts_before_failure {
                Some(0) => {
                    faults.upserts_before_failure = None;
                    return Err(StoreError::Backend(
                        "the memory store was told to fail this batch".into(),
                    ));
                }
                Some(n) => faults.upserts_before_failure = Some(n - 1),
                None => {}
            }
        }
        let data = lock(&self.store.data);
        let mut outcome = BatchOutcome::default();
        for record in records {
            if record.key.provider != self.provider {
                return Err(StoreError::Backend(format!(
                    "a record of {:?} arrived in a sync of {:?}",
                    record.key.provider, self.provider
                )));
            }
            let id = record.id();
            let hash = record.content_hash();
            let previous = self
                .writes
                .get(&id)
                .map(|(_, hash, _)| hash.clone())
                .or_else(|| data.items.get(&id).map(|item| item.hash.clone()));
            match previous {
                Some(old) if old == hash => {
                    outcome.unchanged += 1;
                    self.seen.push((id, seen_at));
                }
                Some(_) => {
                    outcome.updated += 1;
                    self.writes.insert(id, (record, hash, seen_at));
                }
                None => {
                    outcome.inserted += 1;
                    self.writes.insert(id, (record, hash, seen_at));
                }
            }
        }
        Ok(outcome)
    }

    async fn touch_all(&mut self, seen_at: DateTime<Utc>) -> Result<u64, StoreError> {
        self.store.check()?;
        self.touch_all = Some(seen_at);
        let data = lock(&self.store.data);
        Ok(data
            .items
            .values()
            .filter(|item| item.record.key.provider == self.provider)
            .count() as u64)
    }

    async fn set_validators(&mut self, validators: Option<Validators>) -> Result<(), StoreError> {
        self.store.check()?;
        self.validators = Some(validators);
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        self.store.check()?;
        let mut data = lock(&self.store.data);
        let mut changed = false;
        for (id, (record, hash, seen_at)) in std::mem::take(&mut self.writes) {
            let key = (record.key.provider.clone(), record.key.base_event_id.clone());
            if record.sell_mode == SellMode::Online {
                data.online.insert(key);
            }
            let first_seen = data.items.get(&id).map_or(seen_at, |item| item.first_seen);
            data.items.insert(
                id,
                Item {
                    record,
                    hash,
                    first_seen,
                    last_seen: seen_at,
                    last_changed: seen_at,
                },
            );
            changed = true;
        }
        for (id, seen_at) in std::mem::take(&mut self.seen) {
            if let Some(item) = data.items.get_mut(&id) {
                item.last_seen = seen_at;
            }
        }
        if let Some(seen_at) = self.touch_all {
            for item in data
                .items
                .values_mut()
                .filter(|item| item.record.key.provider == self.provider)
            {
                item.last_seen = seen_at;
            }
        }
        match self.validators.take() {
            Some(Some(validators)) => {
                data.validators.insert(self.provider.clone(), validators);
            }
            Some(None) => {
                data.validators.remove(&self.provider);
            }
            None => {}
        }
        if changed {
            data.version += 1;
        }
        Ok(())
    }
}
