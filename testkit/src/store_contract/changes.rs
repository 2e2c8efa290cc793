//! The change log's case: what `changes_since` says each commit changed, for a store
//! that answers it (one that cannot, the memory store, answers `None` and its
//! callers read everything).

use std::collections::BTreeMap;
use std::sync::Arc;

use boxoffice_core::store::Changes;
use boxoffice_core::{EventRecord, EventStore, SellMode};
use uuid::Uuid;

use super::{at, record, sync};

/// What `changes_since(since)` answers: the changes, and the titles of the items
/// handed over by id (each id handed over once).
async fn changes(store: &Arc<dyn EventStore>, since: i64) -> Option<(Changes, BTreeMap<Uuid, String>)> {
    let mut items = Vec::new();
    let changes = store
        .changes_since(since, &mut |item| items.push((item.id, item.title)))
        .await
        .unwrap()?;
    let count = items.len();
    let titles: BTreeMap<Uuid, String> = items.into_iter().collect();
    assert_eq!(
        titles.len(),
        count,
        "changes_since({since}) handed an item over twice"
    );
    Some((changes, titles))
}

fn titles(records: &[&EventRecord]) -> BTreeMap<Uuid, String> {
    records.iter().map(|r| (r.id(), r.title.clone())).collect()
}

/// Each commit's changes are the searchable items it wrote or made searchable (an
/// unchanged one is not among them), at their latest, and the instances it retired;
/// a version the store does not know gets `None`.
pub async fn changes_since_names_what_each_commit_changed(store: Arc<dyn EventStore>) {
    let v0 = store.data_version().await.unwrap();
    if changes(&store, v0).await.is_none() {
        return;
    }
    let a1 = record("alpha", "A", "1", SellMode::Online);
    let a2 = record("alpha", "A", "2", SellMode::Offline);
    let b1 = record("alpha", "B", "1", SellMode::Offline);
    sync(&*store, "alpha", vec![a1.clone(), a2.clone(), b1.clone()], at(0)).await;
    let v1 = store.data_version().await.unwrap();
    let (first, items) = changes(&store, v0).await.unwrap();
    assert_eq!(
        first,
        Changes {
            version: v1,
            retired: vec![]
        }
    );
    assert_eq!(items, titles(&[&a1, &a2]), "the searchable items written");
    let (none, items) = changes(&store, v1).await.unwrap();
    assert_eq!(
        (none.version, items.len()),
        (v1, 0),
        "nothing after the last version"
    );

    // A1 unchanged, A2 changed, B1 unchanged but made searchable by its new sibling.
    let a2_changed = EventRecord {
        title: "A2, renamed".into(),
        ..a2.clone()
    };
    let b2 = record("alpha", "B", "2", SellMode::Online);
    sync(
        &*store,
        "alpha",
        vec![a1.clone(), a2_changed.clone(), b1.clone(), b2.clone()],
        at(1),
    )
    .await;
    let v2 = store.data_version().await.unwrap();
    let (second, items) = changes(&store, v1).await.unwrap();
    assert_eq!(second.version, v2);
    assert_eq!(items, titles(&[&a2_changed, &b1, &b2]));
    let (_, items) = changes(&store, v0).await.unwrap();
    assert_eq!(
        items,
        titles(&[&a1, &a2_changed, &b1, &b2]),
        "two commits at once, latest values"
    );

    let beta = record("beta", "X", "1", SellMode::Online);
    sync(&*store, "beta", vec![beta.clone()], at(2)).await;
    store.retire("alpha").await.unwrap();
    let v4 = store.data_version().await.unwrap();
    let (retired, items) = changes(&store, v2).await.unwrap();
    assert_eq!(retired.version, v4);
    assert_eq!(retired.retired, ["alpha"]);
    assert_eq!(items, titles(&[&beta]));

    // Retired and synced again: the new items are handed over beside the retirement.
    sync(&*store, "alpha", vec![a1.clone()], at(3)).await;
    let (again, items) = changes(&store, v2).await.unwrap();
    assert_eq!(again.retired, ["alpha"]);
    assert_eq!(items, titles(&[&beta, &a1]));

    let latest = store.data_version().await.unwrap();
    assert!(
        changes(&store, latest + 5).await.is_none(),
        "a version from the future"
    );
}
