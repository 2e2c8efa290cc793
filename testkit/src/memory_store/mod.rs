//! An [`EventStore`](boxoffice_core::EventStore) in memory that keeps the SQL store's
//! promises, held to them by the same contract suite ([`crate::store_contract`]): a
//! sync's writes are all or nothing, searchability is for good once a base event was
//! seen online, unchanged records are only marked seen, the data version moves when a
//! commit changes something. Faults a test can switch on.
//!
//! - this file: the items ([`ItemStore`]) and a sync's writes;
//! - `history.rs`: runs, the quarantine and retention ([`RunStore`](boxoffice_core::RunStore)),
//!   the breaker's state and the switches ([`InstanceStore`](boxoffice_core::InstanceStore)).

mod history;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use boxoffice_core::provider::Validators;
use boxoffice_core::store::{InstanceState, QuarantinedRecord};
use boxoffice_core::{
    BatchOutcome, EventRecord, ItemStore, SearchItem, SellMode, StoreError, StoredEvent, SyncReport,
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
    /// The base events ever seen online, by instance.
    online: HashSet<(String, String)>,
    /// In the order entered, with their last heartbeat.
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

fn searchable(data: &Data, record: &EventRecord) -> bool {
    let key = &record.key;
    data.online
        .contains(&(key.provider.clone(), key.series_id.clone()))
}

fn stored(data: &Data, id: Uuid, item: &Item) -> StoredEvent {
    StoredEvent {
        id,
        record: item.record.clone(),
        searchable: searchable(data, &item.record),
        first_seen: item.first_seen,
        last_seen: item.last_seen,
        last_changed: item.last_changed,
    }
}

/// The record as the SQL store reads it back: with zones, their range is the price
/// range, and a range stated beside them is not kept.
fn as_stored(mut record: EventRecord) -> EventRecord {
    if !record.zones.is_empty() {
        record.prices = None;
    }
    record
}

#[async_trait]
impl ItemStore for MemoryStore {
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
            items: HashMap::new(),
            online: HashSet::new(),
            validators: None,
            changed: false,
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
                .filter(|(_, item)| searchable(&data, &item.record))
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
        // As PostgreSQL's: not while a sync of the instance holds it.
        if lock(&self.syncing).contains(provider) {
            return Err(StoreError::SyncRunning(provider.to_owned()));
        }
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

    async fn ping(&self) -> Result<(), StoreError> {
        self.check()
    }
}

/// One sync's writes, kept apart and applied at commit: the items as the sync left
/// them (new, changed, or marked seen), the base events newly seen online, the
/// validators.
struct MemoryTransaction {
    store: MemoryStore,
    provider: String,
    items: HashMap<Uuid, Item>,
    online: HashSet<String>,
    validators: Option<Option<Validators>>,
    /// Whether anything served changed, to move the data version at commit.
    changed: bool,
}

impl Drop for MemoryTransaction {
    fn drop(&mut self) {
        lock(&self.store.syncing).remove(&self.provider);
    }
}

impl MemoryTransaction {
    /// Fails the upsert when a test told the store to.
    fn injected_failure(&self) -> Result<(), StoreError> {
        let mut faults = lock(&self.store.faults);
        match faults.upserts_before_failure {
            Some(0) => {
                faults.upserts_before_failure = None;
                Err(StoreError::Backend(
                    "the memory store was told to fail this batch".into(),
                ))
            }
            Some(n) => {
                faults.upserts_before_failure = Some(n - 1);
                Ok(())
            }
            None => Ok(()),
        }
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
        self.injected_failure()?;
        if let Some(record) = records.iter().find(|record| record.key.provider != self.provider) {
            return Err(StoreError::Backend(format!(
                "a record of {:?} arrived in a sync of {:?}",
                record.key.provider, self.provider
            )));
        }
        let data = lock(&self.store.data);
        let mut outcome = BatchOutcome::default();
        for record in records {
            let id = record.id();
            let hash = record.content_hash();
            if record.sell_mode == SellMode::Online
                && !data
                    .online
                    .contains(&(self.provider.clone(), record.key.series_id.clone()))
                && self.online.insert(record.key.series_id.clone())
            {
                self.changed = true;
            }
            let current = self.items.get(&id).or_else(|| data.items.get(&id)).cloned();
            let item = match current {
                Some(mut item) if item.hash == hash => {
                    outcome.unchanged += 1;
                    item.last_seen = seen_at;
                    item
                }
                previous => {
                    match previous {
                        Some(_) => outcome.updated += 1,
                        None => outcome.inserted += 1,
                    }
                    self.changed = true;
                    Item {
                        record: as_stored(record),
                        hash,
                        first_seen: previous.map_or(seen_at, |item| item.first_seen),
                        last_seen: seen_at,
                        last_changed: seen_at,
                    }
                }
            };
            self.items.insert(id, item);
        }
        Ok(outcome)
    }

    async fn touch_all(&mut self, seen_at: DateTime<Utc>) -> Result<u64, StoreError> {
        self.store.check()?;
        let data = lock(&self.store.data);
        for (id, item) in &data.items {
            if item.record.key.provider == self.provider && !self.items.contains_key(id) {
                self.items.insert(*id, item.clone());
            }
        }
        for item in self.items.values_mut() {
            item.last_seen = seen_at;
        }
        Ok(self.items.len() as u64)
    }

    async fn set_validators(&mut self, validators: Option<Validators>) -> Result<(), StoreError> {
        self.store.check()?;
        self.validators = Some(validators);
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        self.store.check()?;
        let mut data = lock(&self.store.data);
        data.items.extend(std::mem::take(&mut self.items));
        for base in std::mem::take(&mut self.online) {
            data.online.insert((self.provider.clone(), base));
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
        if self.changed {
            data.version += 1;
        }
        Ok(())
    }
}
