//! The items' cases: what a sync writes, what reads find, searchability, the data
//! version, retirement.

use std::sync::Arc;

use boxoffice_core::provider::Validators;
use boxoffice_core::{BatchOutcome, EventStore, SearchItem, SellMode, StoredEvent};
use uuid::Uuid;

use super::{at, begin, full_record, price_range, record, searchable_ids, sync};

/// An item as the store should read it back after one insert at `seen`.
fn fresh(record: &boxoffice_core::EventRecord, seen: chrono::DateTime<chrono::Utc>) -> StoredEvent {
    StoredEvent {
        id: record.id(),
        record: record.clone(),
        searchable: record.sell_mode == SellMode::Online,
        first_seen: seen,
        last_seen: seen,
        last_changed: seen,
    }
}

/// Upserted then committed, an item reads back with every field as written (with
/// zones, their range is the price range and a range stated beside them is not
/// kept), and counts for its instance only.
pub async fn an_upserted_item_reads_back_as_written(store: Arc<dyn EventStore>) {
    store.ping().await.unwrap();
    let full = full_record("alpha", "b1", "e1");
    let ranged = boxoffice_core::EventRecord {
        prices: Some(price_range("10", "30.5")),
        ..record("alpha", "b1", "e2", SellMode::Online)
    };
    let mut sync = begin(&*store, "alpha").await;
    let outcome = sync
        .upsert(vec![full.clone(), ranged.clone()], at(0))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        BatchOutcome {
            inserted: 2,
            updated: 0,
            unchanged: 0
        }
    );
    sync.commit().await.unwrap();

    let expected = boxoffice_core::EventRecord {
        prices: None,
        ..full.clone()
    };
    assert_eq!(store.get(full.id()).await.unwrap(), Some(fresh(&expected, at(0))));
    assert_eq!(store.get(ranged.id()).await.unwrap(), Some(fresh(&ranged, at(0))));
    assert_eq!(store.get(Uuid::new_v4()).await.unwrap(), None);
    assert_eq!(store.item_count("alpha").await.unwrap(), 2);
    assert_eq!(store.item_count("beta").await.unwrap(), 0);
}

/// An item is searchable once its base event was seen online in an accepted record
/// (its offline sibling sessions too), and stays so when it later goes offline.
pub async fn an_item_is_searchable_once_its_base_event_was_seen_online(store: Arc<dyn EventStore>) {
    let online = full_record("alpha", "A", "1");
    let sibling = record("alpha", "A", "2", SellMode::Offline);
    let offline = record("alpha", "B", "1", SellMode::Offline);
    sync(
        &*store,
        "alpha",
        vec![online.clone(), sibling.clone(), offline.clone()],
        at(0),
    )
    .await;

    let mut expected = vec![online.id(), sibling.id()];
    expected.sort();
    assert_eq!(searchable_ids(&store).await, expected);
    let found = store.get_searchable(online.id()).await.unwrap();
    assert!(found.is_some_and(|item| item.searchable && item.record.title == online.title));
    assert!(
        store
            .get(sibling.id())
            .await
            .unwrap()
            .is_some_and(|item| item.searchable)
    );

    let mut items = Vec::new();
    store
        .for_each_searchable(&mut |item| items.push(item))
        .await
        .unwrap();
    let range = online.price_range();
    let served = items.into_iter().find(|item| item.id == online.id());
    assert_eq!(
        served,
        Some(SearchItem {
            id: online.id(),
            provider: "alpha".into(),
            title: online.title.clone(),
            start: online.start,
            end: online.end,
            min_price: range.map(|r| r.min),
            max_price: range.map(|r| r.max),
        })
    );

    let gone_offline = boxoffice_core::EventRecord {
        sell_mode: SellMode::Offline,
        ..online.clone()
    };
    sync(&*store, "alpha", vec![gone_offline], at(10)).await;
    let item = store.get_searchable(online.id()).await.unwrap();
    assert!(
        item.is_some_and(|item| item.searchable && item.record.sell_mode == SellMode::Offline),
        "an item stays searchable, with its latest values, once its base event was online"
    );
    assert_eq!(searchable_ids(&store).await, expected);
}

/// An item only ever seen offline is stored but never searchable, even beside an
/// online base event of the same id in another instance; `get_searchable` finds
/// neither it nor an unknown id.
pub async fn an_item_only_ever_offline_is_never_searchable(store: Arc<dyn EventStore>) {
    let elsewhere = record("alpha", "X", "1", SellMode::Online);
    let offline = record("beta", "X", "1", SellMode::Offline);
    sync(&*store, "alpha", vec![elsewhere.clone()], at(0)).await;
    sync(&*store, "beta", vec![offline.clone()], at(0)).await;
    sync(&*store, "beta", vec![offline.clone()], at(5)).await;

    let stored = store.get(offline.id()).await.unwrap();
    assert!(
        stored.is_some_and(|item| !item.searchable),
        "stored, not searchable"
    );
    assert_eq!(store.get_searchable(offline.id()).await.unwrap(), None);
    assert_eq!(store.get_searchable(Uuid::new_v4()).await.unwrap(), None);
    assert_eq!(searchable_ids(&store).await, vec![elsewhere.id()]);
}

/// A changed record replaces the item's values; the item keeps when it was first
/// seen, and was last seen and changed now.
pub async fn the_latest_values_win_and_first_seen_stays(store: Arc<dyn EventStore>) {
    let first = full_record("alpha", "A", "1");
    sync(&*store, "alpha", vec![first.clone()], at(0)).await;
    let mut latest = first.clone();
    latest.title = "Renamed".into();
    latest.zones.truncate(1);
    latest.sold_out = false;

    let mut sync = begin(&*store, "alpha").await;
    let outcome = sync.upsert(vec![latest.clone()], at(30)).await.unwrap();
    assert_eq!(
        outcome,
        BatchOutcome {
            inserted: 0,
            updated: 1,
            unchanged: 0
        }
    );
    sync.commit().await.unwrap();

    let item = store.get(first.id()).await.unwrap().unwrap();
    assert_eq!(
        item.record,
        boxoffice_core::EventRecord {
            prices: None,
            ..latest.clone()
        }
    );
    assert_eq!(
        (item.first_seen, item.last_seen, item.last_changed),
        (at(0), at(30), at(30))
    );
    let mut titles = Vec::new();
    store
        .for_each_searchable(&mut |item| titles.push(item.title))
        .await
        .unwrap();
    assert_eq!(titles, vec!["Renamed".to_owned()]);
}

/// An unchanged record and `touch_all` only mark items seen: not changed, the data
/// version kept; `touch_all` counts the instance's items, those of this sync too.
pub async fn unchanged_records_and_touch_all_only_mark_items_seen(store: Arc<dyn EventStore>) {
    let one = record("alpha", "A", "1", SellMode::Online);
    let two = record("alpha", "A", "2", SellMode::Online);
    let other = record("beta", "A", "1", SellMode::Online);
    sync(&*store, "alpha", vec![one.clone(), two.clone()], at(0)).await;
    sync(&*store, "beta", vec![other.clone()], at(0)).await;
    let version = store.data_version().await.unwrap();

    let mut sync = begin(&*store, "alpha").await;
    let outcome = sync.upsert(vec![one.clone()], at(10)).await.unwrap();
    assert_eq!(
        outcome,
        BatchOutcome {
            inserted: 0,
            updated: 0,
            unchanged: 1
        }
    );
    sync.commit().await.unwrap();
    assert_eq!(store.data_version().await.unwrap(), version, "nothing changed");
    let item = store.get(one.id()).await.unwrap().unwrap();
    assert_eq!(
        (item.first_seen, item.last_seen, item.last_changed),
        (at(0), at(10), at(0))
    );
    assert_eq!(store.get(two.id()).await.unwrap().unwrap().last_seen, at(0));

    let mut sync = begin(&*store, "alpha").await;
    assert_eq!(sync.touch_all(at(20)).await.unwrap(), 2);
    sync.commit().await.unwrap();
    assert_eq!(
        store.data_version().await.unwrap(),
        version,
        "touch_all changes nothing served"
    );
    for id in [one.id(), two.id()] {
        let item = store.get(id).await.unwrap().unwrap();
        assert_eq!((item.last_seen, item.last_changed), (at(20), at(0)));
    }
    assert_eq!(store.get(other.id()).await.unwrap().unwrap().last_seen, at(0));

    let three = record("alpha", "A", "3", SellMode::Online);
    let mut sync = begin(&*store, "alpha").await;
    sync.upsert(vec![three.clone()], at(30)).await.unwrap();
    assert_eq!(
        sync.touch_all(at(40)).await.unwrap(),
        3,
        "the sync's own item counts"
    );
    sync.commit().await.unwrap();
    let item = store.get(three.id()).await.unwrap().unwrap();
    assert_eq!(
        (item.first_seen, item.last_seen, item.last_changed),
        (at(30), at(40), at(30))
    );
}

/// A sync dropped without its commit keeps nothing (items, validators, the data
/// version) and lets the instance be synced again.
pub async fn a_sync_dropped_without_commit_keeps_nothing(store: Arc<dyn EventStore>) {
    let version = store.data_version().await.unwrap();
    let item = record("alpha", "A", "1", SellMode::Online);
    let mut sync = begin(&*store, "alpha").await;
    sync.upsert(vec![item.clone()], at(0)).await.unwrap();
    sync.set_validators(Some(Validators {
        etag: Some("\"x\"".into()),
        last_modified: None,
    }))
    .await
    .unwrap();
    drop(sync);

    assert_eq!(store.get(item.id()).await.unwrap(), None);
    assert_eq!(store.item_count("alpha").await.unwrap(), 0);
    assert_eq!(store.validators("alpha").await.unwrap(), None);
    assert_eq!(store.data_version().await.unwrap(), version);
    assert!(searchable_ids(&store).await.is_empty());
    begin(&*store, "alpha").await.commit().await.unwrap();
    assert_eq!(
        store.data_version().await.unwrap(),
        version,
        "an empty commit changes nothing"
    );
}

/// The validators a committed sync sets are the instance's until another sets them
/// (`None` forgets them); they are not served, so the data version stays.
pub async fn validators_round_trip_through_a_commit(store: Arc<dyn EventStore>) {
    assert_eq!(store.validators("alpha").await.unwrap(), None);
    let version = store.data_version().await.unwrap();
    let both = Validators {
        etag: Some("\"v1\"".into()),
        last_modified: Some("Mon, 07 Dec 2026 10:00:00 GMT".into()),
    };
    let etag_only = Validators {
        etag: Some("W/\"v2\"".into()),
        last_modified: None,
    };
    for validators in [Some(both), Some(etag_only), None] {
        let mut sync = begin(&*store, "alpha").await;
        sync.set_validators(validators.clone()).await.unwrap();
        sync.commit().await.unwrap();
        assert_eq!(store.validators("alpha").await.unwrap(), validators);
        assert_eq!(store.validators("beta").await.unwrap(), None);
    }
    assert_eq!(store.data_version().await.unwrap(), version);
}

/// The data version moves on a commit that changes what is served (an insert, an
/// update) and on none that does not (empty, unchanged, touched).
pub async fn the_data_version_moves_only_when_a_commit_changes_something(store: Arc<dyn EventStore>) {
    let start = store.data_version().await.unwrap();
    begin(&*store, "alpha").await.commit().await.unwrap();
    assert_eq!(store.data_version().await.unwrap(), start, "empty commit");

    let item = record("alpha", "A", "1", SellMode::Offline);
    sync(&*store, "alpha", vec![item.clone()], at(0)).await;
    let inserted = store.data_version().await.unwrap();
    assert!(
        inserted > start,
        "an insert moves the version ({start} -> {inserted})"
    );

    sync(&*store, "alpha", vec![item.clone()], at(5)).await;
    let mut writes = begin(&*store, "alpha").await;
    writes.touch_all(at(6)).await.unwrap();
    writes.commit().await.unwrap();
    assert_eq!(
        store.data_version().await.unwrap(),
        inserted,
        "unchanged and touched"
    );

    let online = boxoffice_core::EventRecord {
        sell_mode: SellMode::Online,
        ..item
    };
    sync(&*store, "alpha", vec![online], at(10)).await;
    let updated = store.data_version().await.unwrap();
    assert!(
        updated > inserted,
        "an update moves the version ({inserted} -> {updated})"
    );
}

/// Retirement takes every item of one instance out, with its searchability and
/// validators, and moves the data version; other instances keep theirs. Retiring an
/// empty instance changes nothing.
pub async fn retire_takes_out_one_instance_only(store: Arc<dyn EventStore>) {
    let one = record("alpha", "A", "1", SellMode::Online);
    let two = record("alpha", "A", "2", SellMode::Offline);
    let kept = record("beta", "A", "1", SellMode::Online);
    let mut writes = begin(&*store, "alpha").await;
    writes
        .upsert(vec![one.clone(), two.clone()], at(0))
        .await
        .unwrap();
    writes
        .set_validators(Some(Validators {
            etag: Some("\"a\"".into()),
            last_modified: None,
        }))
        .await
        .unwrap();
    writes.commit().await.unwrap();
    sync(&*store, "beta", vec![kept.clone()], at(0)).await;
    let version = store.data_version().await.unwrap();

    assert_eq!(store.retire("alpha").await.unwrap(), 2);
    let retired = store.data_version().await.unwrap();
    assert!(retired > version, "retirement moves the version");
    assert_eq!(store.get(one.id()).await.unwrap(), None);
    assert_eq!(store.get(two.id()).await.unwrap(), None);
    assert_eq!(store.item_count("alpha").await.unwrap(), 0);
    assert_eq!(store.validators("alpha").await.unwrap(), None);
    assert_eq!(store.item_count("beta").await.unwrap(), 1);
    assert_eq!(searchable_ids(&store).await, vec![kept.id()]);

    assert_eq!(store.retire("alpha").await.unwrap(), 0);
    assert_eq!(store.data_version().await.unwrap(), retired, "nothing to retire");

    // Its base events' being online went with it.
    sync(&*store, "alpha", vec![two.clone()], at(10)).await;
    assert!(
        store
            .get(two.id())
            .await
            .unwrap()
            .is_some_and(|item| !item.searchable)
    );
}
