//! The store, where canonical records are kept for good: [`EventStore`], made of
//! [`ItemStore`] (items, syncs' writes, the data version), [`RunStore`] (run reports,
//! the quarantine, retention) and [`InstanceStore`] (the breaker's state and the
//! on/off switches), with the types it stores.

mod run;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

pub use run::{HEARTBEAT_EVERY, InstanceState, Retention, RunStatus, STALE_AFTER, SyncReport};

use crate::model::{EventRecord, LocalMoment};
use crate::provider::{Rejection, Validators};

/// A rejected record kept in the quarantine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QuarantinedRecord {
    /// The run that rejected it.
    pub run_id: Uuid,
    /// The provider instance.
    pub provider: String,
    /// When it was last rejected.
    pub rejected_at: DateTime<Utc>,
    /// When it was first rejected.
    pub first_seen: DateTime<Utc>,
    /// How many times it was rejected (runs, or repeats within one).
    pub times: u64,
    /// What the record is and why it was rejected, with its raw element.
    #[serde(flatten)]
    pub rejection: Rejection,
}

/// Why a store operation failed. The server maps these to HTTP meanings: not found
/// is 404, conflict 409, unavailable 503, anything else a logged 500.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for does not exist.
    #[error("not found")]
    NotFound,
    /// Someone else holds what was asked for (e.g. another instance is syncing).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A sync of the instance is running, and what was asked for waits for none.
    #[error("a sync of {0:?} is running; retry when it has ended")]
    SyncRunning(String),
    /// The store cannot be reached.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// Any other failure of the backend.
    #[error("store error: {0}")]
    Backend(String),
}

/// What /search serves of an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchItem {
    /// The item's id.
    pub id: Uuid,
    /// The provider instance it comes from.
    pub provider: String,
    /// Its title.
    pub title: String,
    /// When it starts.
    pub start: LocalMoment,
    /// When it ends, if known.
    pub end: Option<LocalMoment>,
    /// The lowest price over available zones.
    pub min_price: Option<Decimal>,
    /// The highest price over available zones.
    pub max_price: Option<Decimal>,
}

impl SearchItem {
    /// The instant the item ends, or starts when it has no end.
    pub fn ends_at(&self) -> DateTime<Utc> {
        self.end.map_or(self.start.at, |end| end.at)
    }
}

/// An item as stored: the latest record and its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredEvent {
    /// The item's id.
    pub id: Uuid,
    /// The latest record the provider sent.
    pub record: EventRecord,
    /// Whether the item is served by /search (its base event was ever online).
    pub searchable: bool,
    /// When a sync first stored it.
    pub first_seen: DateTime<Utc>,
    /// When a sync last saw it in the feed.
    pub last_seen: DateTime<Utc>,
    /// When its content last changed.
    pub last_changed: DateTime<Utc>,
}

/// How a batch was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BatchOutcome {
    /// Items new to the store.
    pub inserted: u64,
    /// Items whose content changed.
    pub updated: u64,
    /// Items the same as stored (not rewritten).
    pub unchanged: u64,
}

impl std::ops::AddAssign for BatchOutcome {
    fn add_assign(&mut self, other: Self) {
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
    }
}

/// One sync's writes, all or nothing: dropped without [`commit`](Self::commit), nothing
/// of it is kept.
#[async_trait]
pub trait SyncTransaction: Send {
    /// Upserts a batch of records seen at `seen_at`: new items are inserted, changed
    /// ones updated, unchanged ones only marked seen. An item becomes searchable when
    /// its base event is online, and stays so.
    async fn upsert(
        &mut self,
        records: Vec<EventRecord>,
        seen_at: DateTime<Utc>,
    ) -> Result<BatchOutcome, StoreError>;

    /// Marks every item of the transaction's provider seen at `seen_at` without
    /// rewriting anything (the source said its document has not changed). Returns
    /// how many items that is.
    async fn touch_all(&mut self, seen_at: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Keeps `validators` as the provider's feed validators when the transaction
    /// commits (`None` forgets them: the next run fetches unconditionally).
    async fn set_validators(&mut self, validators: Option<Validators>) -> Result<(), StoreError>;

    /// Makes every batch durable at once.
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// What [`ItemStore::changes_since`] found besides the items it handed over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// The data version the changes bring the caller to.
    pub version: i64,
    /// Instances retired since: their items held before are gone (items handed over
    /// are current, even of an instance retired and synced again).
    pub retired: Vec<String>,
}

/// The items: one sync's writes ([`begin_sync`](Self::begin_sync)), what /search and
/// /events read, the data version every process polls, and retirement.
#[async_trait]
pub trait ItemStore: Send + Sync + 'static {
    /// Starts the writes of one sync of `provider`. Fails with
    /// [`StoreError::Conflict`] when another process is syncing it.
    async fn begin_sync(&self, provider: &str) -> Result<Box<dyn SyncTransaction>, StoreError>;

    /// Hands every searchable item (its base event was ever online) to `visit`, one at
    /// a time, in no particular order; returns how many. What the read model serves
    /// /search from: streamed, so that loading a million items holds one item at a
    /// time, not a million.
    async fn for_each_searchable(
        &self,
        visit: &mut (dyn FnMut(SearchItem) + Send),
    ) -> Result<u64, StoreError>;

    /// What the commits after data version `since` changed: every item they wrote or
    /// made searchable, at its latest, handed to `visit`, and the instances they
    /// retired. `None` when the store cannot tell (`since` is older than the changes
    /// it keeps, or unknown), and the caller reads everything again. What lets a
    /// process bring its read model forward by a change's size, not the store's.
    async fn changes_since(
        &self,
        since: i64,
        visit: &mut (dyn FnMut(SearchItem) + Send),
    ) -> Result<Option<Changes>, StoreError> {
        let _ = (since, visit);
        Ok(None)
    }

    /// About how many items [`Self::for_each_searchable`] would visit, told cheaply
    /// (an estimate, not a count), so that a first load sizes its buffers once instead
    /// of doubling them; 0 when unknown. A hint, never a count to rely on.
    async fn searchable_hint(&self) -> Result<u64, StoreError> {
        Ok(0)
    }

    /// The validators of `provider`'s feed as the last committed run left them.
    async fn validators(&self, provider: &str) -> Result<Option<Validators>, StoreError>;

    /// One item by id, searchable or not.
    async fn get(&self, id: Uuid) -> Result<Option<StoredEvent>, StoreError>;

    /// One item by id when it is searchable. What the public sees: a store should find
    /// an unsearchable item with the same work as an unknown id, so that the time of
    /// a 404 does not tell which it was.
    async fn get_searchable(&self, id: Uuid) -> Result<Option<StoredEvent>, StoreError> {
        Ok(self.get(id).await?.filter(|stored| stored.searchable))
    }

    /// A number that changes whenever a sync commits a change; cheap to read, so that
    /// every process can poll it and refresh what it serves.
    async fn data_version(&self) -> Result<i64, StoreError>;

    /// How many items of `provider` are stored.
    async fn item_count(&self, provider: &str) -> Result<u64, StoreError>;

    /// Takes every item of `provider` out of the store (and out of search), with its
    /// searchability and feed validators, in one transaction; returns how many items.
    /// The one way items are ever deleted: an operator's explicit retirement.
    /// [`StoreError::SyncRunning`] while a sync of `provider` holds its lock in
    /// another process (the engine checks its own), so that a run never reports
    /// items the store no longer has.
    async fn retire(&self, provider: &str) -> Result<u64, StoreError>;

    /// Checks that the store answers.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// The run history every process shares: run reports (running ones with their
/// heartbeat), the quarantine, and their retention.
#[async_trait]
pub trait RunStore: Send + Sync + 'static {
    /// Enters a run that is starting (status `running`) in the history, so that every
    /// process shows it running until it is recorded.
    async fn run_started(&self, report: &SyncReport) -> Result<(), StoreError>;

    /// Tells that the running run of `report` is alive (see [`STALE_AFTER`]), with its
    /// figures so far (`seen`, `rejected`, `bytes`, `pages`), which every process then
    /// shows for it.
    async fn run_heartbeat(&self, report: &SyncReport, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Forgets a run entered by [`run_started`](Self::run_started) that never ran
    /// (another process held the instance).
    async fn run_discarded(&self, run_id: Uuid) -> Result<(), StoreError>;

    /// Records a finished run's report in the history (replacing its running entry),
    /// and its rejected records (with their raw elements) in the quarantine.
    async fn record_run(&self, report: &SyncReport, quarantine: &[Rejection]) -> Result<(), StoreError>;

    /// One run of `provider`, running or finished ([`SyncReport::settled`]).
    async fn run(&self, provider: &str, run_id: Uuid) -> Result<Option<SyncReport>, StoreError>;

    /// The latest `limit` reports of `provider`, newest first (by start), running ones
    /// included ([`SyncReport::settled`]).
    async fn runs(&self, provider: &str, limit: u64) -> Result<Vec<SyncReport>, StoreError>;

    /// The latest `limit` rejected records of `provider`, newest first.
    async fn rejects(&self, provider: &str, limit: u64) -> Result<Vec<QuarantinedRecord>, StoreError>;

    /// Deletes `provider`'s runs and quarantined records past `retention`; returns how
    /// many of each.
    async fn apply_retention(&self, provider: &str, retention: &Retention) -> Result<(u64, u64), StoreError>;
}

/// What every process knows of an instance besides its items and runs: the breaker
/// and last success, and the runtime on/off switch.
#[async_trait]
pub trait InstanceStore: Send + Sync + 'static {
    /// The breaker and last success of `provider`, as the last recorded run left them.
    async fn instance_state(&self, provider: &str) -> Result<InstanceState, StoreError>;

    /// Keeps `state` as `provider`'s.
    async fn save_instance_state(&self, provider: &str, state: &InstanceState) -> Result<(), StoreError>;

    /// The runtime on/off switches set through the admin API, by instance name. An
    /// instance without one follows its configuration.
    async fn provider_toggles(&self) -> Result<std::collections::HashMap<String, bool>, StoreError>;

    /// Switches an instance's scheduled syncs on or off for every process.
    async fn set_provider_enabled(&self, provider: &str, enabled: bool) -> Result<(), StoreError>;
}

/// The store of every item ever seen: its three jobs in one, what the engine, the
/// read model and the HTTP layer hold (`Arc<dyn EventStore>`). Implemented for
/// every type that does all three; a store implements [`ItemStore`], [`RunStore`]
/// and [`InstanceStore`], never this.
pub trait EventStore: ItemStore + RunStore + InstanceStore {}

impl<T: ItemStore + RunStore + InstanceStore> EventStore for T {}
