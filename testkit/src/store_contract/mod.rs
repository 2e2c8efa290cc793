//! The store contract: the same cases run against every [`EventStore`], so that the
//! memory store cannot drift from the SQL store (SQLite and PostgreSQL), whose
//! behaviour is the truth.
//!
//! Each case is a `pub async fn(Arc<dyn EventStore>)` that panics naming the broken
//! promise, on a fresh, empty store. [`store_contract!`](crate::store_contract!)
//! generates one `#[tokio::test]` per case for a runner that makes such a store:
//!
//! ```ignore
//! async fn on_memory<F, Fut>(case: F)
//! where
//!     F: FnOnce(Arc<dyn EventStore>) -> Fut,
//!     Fut: Future<Output = ()>,
//! {
//!     case(Arc::new(MemoryStore::new())).await;
//! }
//! boxoffice_testkit::store_contract!(on_memory);
//! ```
//!
//! Times are whole seconds (PostgreSQL keeps microseconds, item instants are stored
//! as seconds). Every case reads the store's own data version before it changes
//! anything: only how it moves is promised, not where it starts.
//!
//! - `items.rs`: the items ([`ItemStore`](boxoffice_core::ItemStore)) and a sync's writes;
//! - `runs.rs`: runs, the quarantine and retention ([`RunStore`](boxoffice_core::RunStore)),
//!   the breaker's state and the switches ([`InstanceStore`](boxoffice_core::InstanceStore)).

mod changes;
mod items;
mod runs;

use std::sync::Arc;
use std::time::Duration;

use boxoffice_core::{
    EventRecord, EventStore, ExternalKey, LocalMoment, PriceRange, SellMode, StoreError, SyncTransaction,
    Zone,
};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

pub use changes::*;
pub use items::*;
pub use runs::*;

/// Generates one `#[tokio::test]` per contract case, each calling `$run` with the
/// case (see the [module](mod@crate::store_contract)). The caller's crate needs `tokio`
/// with its `macros` and `rt-multi-thread` features.
#[macro_export]
macro_rules! store_contract {
    ($run:path) => {
        $crate::store_contract!(@cases $run;
            an_upserted_item_reads_back_as_written,
            an_item_is_searchable_once_its_base_event_was_seen_online,
            an_item_only_ever_offline_is_never_searchable,
            the_latest_values_win_and_first_seen_stays,
            unchanged_records_and_touch_all_only_mark_items_seen,
            a_sync_dropped_without_commit_keeps_nothing,
            validators_round_trip_through_a_commit,
            the_data_version_moves_only_when_a_commit_changes_something,
            retire_takes_out_one_instance_only,
            changes_since_names_what_each_commit_changed,
            a_run_is_entered_running_beats_and_is_recorded,
            runs_are_listed_newest_first_and_limited,
            a_discarded_run_is_forgotten,
            the_quarantine_keeps_one_row_per_rejection,
            retention_keeps_the_latest_runs,
            retention_drops_old_and_excess_rejects,
            instance_state_round_trips,
            provider_toggles_are_kept,
        );
    };
    (@cases $run:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $run($crate::store_contract::$case).await;
            }
        )*
    };
}

/// A fixed instant, whole seconds: 2026-12-01 10:00 UTC plus `minutes`.
pub(crate) fn at(minutes: i64) -> DateTime<Utc> {
    let base = Utc
        .with_ymd_and_hms(2026, 12, 1, 10, 0, 0)
        .single()
        .unwrap_or_default();
    base + chrono::Duration::minutes(minutes)
}

/// Now, in whole seconds, plus `minutes`.
pub(crate) fn now_plus(minutes: i64) -> DateTime<Utc> {
    let now = Utc::now();
    let whole = Utc.timestamp_opt(now.timestamp(), 0).single().unwrap_or(now);
    whole + chrono::Duration::minutes(minutes)
}

fn local(day: u32, hour: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2027, 3, day)
        .and_then(|date| date.and_hms_opt(hour, 30, 0))
        .unwrap_or_default()
}

/// A plain record of session `event` of base event `base` of instance `provider`.
pub(crate) fn record(provider: &str, base: &str, event: &str, sell_mode: SellMode) -> EventRecord {
    EventRecord {
        key: ExternalKey {
            provider: provider.into(),
            series_id: base.into(),
            session_id: event.into(),
        },
        title: format!("Show {base}/{event}"),
        sell_mode,
        organizer_company_id: None,
        sold_out: false,
        start: LocalMoment::from_local(local(10, 20), chrono_tz::Europe::Madrid),
        end: None,
        sell_from: None,
        sell_to: None,
        zones: Vec::new(),
        prices: None,
        currency: None,
    }
}

/// A record with every field set: zones (whose range wins over a stated one), an
/// end, sales dates, an organizer, a currency.
pub(crate) fn full_record(provider: &str, base: &str, event: &str) -> EventRecord {
    let zone = |id: &str, price: &str| Zone {
        zone_id: id.into(),
        name: format!("Zone {id}"),
        capacity: 12,
        price: price.parse().unwrap(),
        max_price: None,
        numbered: true,
    };
    EventRecord {
        organizer_company_id: Some("org-7".into()),
        sold_out: true,
        end: Some(LocalMoment::from_local(local(10, 23), chrono_tz::Europe::Madrid)),
        sell_from: Some(local(1, 9)),
        sell_to: Some(local(10, 19)),
        zones: vec![zone("z1", "20.00"), zone("z2", "15.50")],
        prices: Some(price_range("1", "99")),
        currency: Some("EUR".into()),
        ..record(provider, base, event, SellMode::Online)
    }
}

pub(crate) fn price_range(min: &str, max: &str) -> PriceRange {
    PriceRange {
        min: min.parse().unwrap(),
        max: max.parse().unwrap(),
    }
}

/// Begins a sync of `provider`, waiting out the lock of one just dropped (a rolled
/// back PostgreSQL transaction lets its lock go when its connection is cleaned).
pub(crate) async fn begin(store: &dyn EventStore, provider: &str) -> Box<dyn SyncTransaction> {
    for _ in 0..100 {
        match store.begin_sync(provider).await {
            Ok(sync) => return sync,
            Err(StoreError::Conflict(_)) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(error) => panic!("begin_sync({provider:?}) failed: {error}"),
        }
    }
    panic!("begin_sync({provider:?}) still conflicts after 5 s")
}

/// One committed sync of `provider` upserting `records` seen at `seen_at`.
pub(crate) async fn sync(
    store: &dyn EventStore,
    provider: &str,
    records: Vec<EventRecord>,
    seen_at: DateTime<Utc>,
) {
    let mut sync = begin(store, provider).await;
    sync.upsert(records, seen_at).await.unwrap();
    sync.commit().await.unwrap();
}

/// The ids `for_each_searchable` visits, sorted.
pub(crate) async fn searchable_ids(store: &Arc<dyn EventStore>) -> Vec<uuid::Uuid> {
    let mut ids = Vec::new();
    let visited = store
        .for_each_searchable(&mut |item| ids.push(item.id))
        .await
        .unwrap();
    assert_eq!(
        visited,
        ids.len() as u64,
        "for_each_searchable counts what it visits"
    );
    ids.sort();
    ids
}

#[cfg(test)]
mod memory {
    use std::future::Future;

    use super::*;
    use crate::MemoryStore;

    async fn on_memory<F, Fut>(case: F)
    where
        F: FnOnce(Arc<dyn EventStore>) -> Fut,
        Fut: Future<Output = ()>,
    {
        case(Arc::new(MemoryStore::new())).await;
    }

    crate::store_contract!(on_memory);
}
