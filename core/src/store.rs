//! The [`EventStore`] trait: where canonical records are kept for good.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

use crate::model::{EventRecord, LocalMoment};
use crate::provider::Rejection;
use crate::sync::SyncReport;

/// A rejected record kept in the quarantine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuarantinedRecord {
    /// The run that rejected it.
    pub run_id: Uuid,
    /// The provider instance.
    pub provider: String,
    /// When it was rejected.
    pub rejected_at: DateTime<Utc>,
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
    /// The store cannot be reached.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// Any other failure of the backend.
    #[error("store error: {0}")]
    Backend(String),
}

/// A closed time window on item instants; either end may be open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchWindow {
    /// Items must start at or after this instant.
    pub starts_at: Option<DateTime<Utc>>,
    /// Items must end at or before this instant.
    pub ends_at: Option<DateTime<Utc>>,
}

impl SearchWindow {
    /// Whether an item with these instants falls inside the window (both ends inclusive).
    pub fn contains(&self, starts_at: DateTime<Utc>, ends_at: DateTime<Utc>) -> bool {
        self.starts_at.is_none_or(|from| starts_at >= from) && self.ends_at.is_none_or(|to| ends_at <= to)
    }
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

    /// Makes every batch durable at once.
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// The store of every item ever seen.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Starts the writes of one sync of `provider`. Fails with
    /// [`StoreError::Conflict`] when another process is syncing it.
    async fn begin_sync(&self, provider: &str) -> Result<Box<dyn SyncTransaction>, StoreError>;

    /// The searchable items in `window`, ordered by start instant then id.
    async fn search(&self, window: SearchWindow) -> Result<Vec<SearchItem>, StoreError>;

    /// One item by id, searchable or not.
    async fn get(&self, id: Uuid) -> Result<Option<StoredEvent>, StoreError>;

    /// A number that changes whenever a sync commits a change; cheap to read, so that
    /// every process can poll it and refresh what it serves.
    async fn data_version(&self) -> Result<i64, StoreError>;

    /// Records a run's report in the run history, and its rejected records (with
    /// their raw elements) in the quarantine.
    async fn record_run(&self, report: &SyncReport, quarantine: &[Rejection]) -> Result<(), StoreError>;

    /// The latest `limit` rejected records of `provider`, newest first.
    async fn rejects(&self, provider: &str, limit: u64) -> Result<Vec<QuarantinedRecord>, StoreError>;

    /// The runtime on/off switches set through the admin API, by instance name. An
    /// instance without one follows its configuration.
    async fn provider_toggles(&self) -> Result<std::collections::HashMap<String, bool>, StoreError>;

    /// Switches an instance's scheduled syncs on or off for every process.
    async fn set_provider_enabled(&self, provider: &str, enabled: bool) -> Result<(), StoreError>;

    /// The latest `limit` reports of `provider`, newest first.
    async fn runs(&self, provider: &str, limit: u64) -> Result<Vec<SyncReport>, StoreError>;

    /// Checks that the store answers.
    async fn ping(&self) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn window_bounds_are_inclusive_and_optional() {
        let at = |h| {
            Utc.with_ymd_and_hms(2021, 1, 1, h, 0, 0)
                .single()
                .unwrap_or_default()
        };
        let window = SearchWindow {
            starts_at: Some(at(10)),
            ends_at: Some(at(12)),
        };
        assert!(window.contains(at(10), at(12)));
        assert!(!window.contains(at(9), at(11)));
        assert!(!window.contains(at(11), at(13)));
        assert!(SearchWindow::default().contains(at(0), at(23)));
    }
}
