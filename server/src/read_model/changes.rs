//! A snapshot brought forward by what later commits changed, instead of rebuilt:
//! the base segment is shared, the items the changes replace or retire are masked out
//! of it, and the delta segment is remade from the old delta and the changed items.
//! When the delta outgrows its share, both are merged into a new base (ADR 0015).

use std::collections::HashSet;
use std::sync::Arc;

use uuid::Uuid;

use super::builder::IndexBuilder;
use super::cache::ResponseCache;
use super::index::{SearchIndex, is_dead};
use super::segment::Segment;

/// A delta up to this many items is never merged into the base (a merge rewrites the
/// whole snapshot; remaking a delta this size costs a few milliseconds).
const DELTA_FLOOR: usize = 16_384;
/// Past this, the delta is merged into the base whatever the base's size: the delta
/// is remade at every change, so its size is every change's cost.
const DELTA_CEILING: usize = 65_536;

impl SearchIndex {
    /// An empty builder for the items a change brings, numbering providers as this
    /// snapshot does.
    pub fn change_builder(&self) -> IndexBuilder {
        IndexBuilder::continuing(&self.providers, 0, 0)
    }

    /// This snapshot with `changed` (every item written or made searchable since, at
    /// its latest) in place of what it held of them, and without the items of the
    /// `retired` instances held before: the store's data at `version`.
    pub fn apply(&self, changed: IndexBuilder, retired: &[String], version: i64, cache_bytes: usize) -> Self {
        let (changed, providers) = changed.finish_segment();
        let retired: HashSet<u32> = providers
            .iter()
            .enumerate()
            .filter(|(_, name)| retired.iter().any(|r| **r == ***name))
            .filter_map(|(i, _)| u32::try_from(i).ok())
            .collect();
        let replaced: HashSet<Uuid> = changed.ids.iter().copied().collect();

        let base = &self.base;
        let mut bits = match &self.dead {
            Some(bits) => Vec::clone(bits),
            None => vec![0_u64; base.len().div_ceil(64)],
        };
        let mut dead_count = self.dead_count;
        let mut kill = |i: usize, bits: &mut Vec<u64>| {
            if !is_dead(Some(bits), i) {
                bits[i / 64] |= 1 << (i % 64);
                dead_count += 1;
            }
        };
        for &id in &changed.ids {
            if let Some(i) = base.position(id) {
                kill(i, &mut bits);
            }
        }
        if !retired.is_empty() {
            for (i, provider) in base.provider_of.iter().enumerate() {
                if retired.contains(provider) {
                    kill(i, &mut bits);
                }
            }
        }

        let old = &*self.delta;
        let kept = |i: usize| !replaced.contains(&old.ids[i]) && !retired.contains(&old.provider_of[i]);
        let delta = merge(&providers, (old, kept), (&changed, |_| true));
        let live_base = base.len() - dead_count;
        let cache = ResponseCache::new(cache_bytes);
        let dead = Some((Arc::new(bits), dead_count));
        let next = Self::from_parts(Arc::clone(base), dead, Arc::new(delta), providers, version, cache);
        if next.delta.len() > DELTA_CEILING.min(DELTA_FLOOR.max(live_base / 16))
            || dead_count > base.len() / 4
        {
            return next.compacted(cache_bytes);
        }
        next
    }

    /// The same items in one base segment and no delta.
    pub fn compacted(&self, cache_bytes: usize) -> Self {
        let dead = self.dead.as_deref().map(Vec::as_slice);
        let live = |i: usize| !is_dead(dead, i);
        let mut base = merge(&self.providers, (&self.base, live), (&self.delta, |_| true));
        base.index_ids();
        Self::from_parts(
            Arc::new(base),
            None,
            Arc::new(Segment::default()),
            self.providers.clone(),
            self.version,
            ResponseCache::new(cache_bytes),
        )
    }
}

/// The kept items of two sorted segments, in one sorted segment (no id is kept in
/// both).
fn merge(
    providers: &[Arc<str>],
    (a, keep_a): (&Segment, impl Fn(usize) -> bool),
    (b, keep_b): (&Segment, impl Fn(usize) -> bool),
) -> Segment {
    let mut builder = IndexBuilder::continuing(providers, a.len() + b.len(), a.json.len() + b.json.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if j == b.len() || (i < a.len() && a.key(i) < b.key(j)) {
            if keep_a(i) {
                builder.push_from(a, i);
            }
            i += 1;
        } else {
            if keep_b(j) {
                builder.push_from(b, j);
            }
            j += 1;
        }
    }
    builder.finish_segment().0
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use boxoffice_core::SearchWindow;
    use boxoffice_core::model::LocalMoment;
    use boxoffice_core::store::SearchItem;
    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    use super::*;
    use crate::read_model::query::{Cursor, SearchKey};

    const PROVIDERS: [&str; 3] = ["a", "b", "c"];

    fn item(id: u8, provider: usize, start_hour: i64, length: i64, title: u8) -> SearchItem {
        let at = |hour: i64| {
            let at = Utc
                .timestamp_opt(1_600_000_000 + hour * 3600, 0)
                .single()
                .unwrap();
            LocalMoment {
                date: at.date_naive(),
                time: Some(at.time()),
                at,
            }
        };
        SearchItem {
            id: Uuid::from_u128(u128::from(id)),
            provider: PROVIDERS[provider].into(),
            title: format!("title {title}"),
            start: at(start_hour),
            end: Some(at(start_hour + length)),
            min_price: Some(Decimal::new(i64::from(title), 1)),
            max_price: None,
        }
    }

    /// One commit: items written (new or changed), or an instance retired.
    #[derive(Debug, Clone)]
    enum Commit {
        Write(Vec<(u8, usize, i64, i64, u8)>),
        Retire(usize),
        Compact,
    }

    fn commit() -> impl Strategy<Value = Commit> {
        // Few ids and hours, so that items collide, move and share starts.
        let write = (0_u8..40, 0_usize..3, 0_i64..12, 0_i64..4, any::<u8>());
        prop_oneof![
            6 => proptest::collection::vec(write, 0..12).prop_map(Commit::Write),
            1 => (0_usize..3).prop_map(Commit::Retire),
            1 => Just(Commit::Compact),
        ]
    }

    /// What a snapshot answers, for comparing two: every item, paged and filtered
    /// answers, and the counts.
    fn answers(index: &SearchIndex) -> Vec<Vec<u8>> {
        let mut all = vec![index.search(SearchWindow::default()).to_vec()];
        let hour = |h: i64| Some(1_600_000_000 + h * 3600);
        for (from, to) in [(None, None), (hour(3), hour(9)), (hour(5), None)] {
            for provider in [None, Some("b")] {
                let mut cursor = None;
                loop {
                    let key = SearchKey {
                        window: boxoffice_core::WindowBounds { from, to },
                        provider: provider.map(Box::from),
                        limit: Some(3),
                        cursor,
                    };
                    let body = index.render(&key);
                    let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    all.push(body.to_vec());
                    match value["data"]["next_cursor"].as_str() {
                        Some(next) => cursor = Cursor::decode(next),
                        None => break,
                    }
                }
            }
        }
        let mut counts: Vec<_> = index
            .counts_by_provider()
            .into_iter()
            .map(|(name, count)| format!("{name}={count}"))
            .collect();
        counts.sort();
        all.push(counts.join(",").into_bytes());
        all.push(index.len().to_string().into_bytes());
        all
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        /// Brought forward commit by commit, the snapshot answers byte for byte what
        /// one rebuilt from the store's items at each version answers.
        #[test]
        fn changes_applied_one_by_one_equal_a_rebuild(commits in proptest::collection::vec(commit(), 1..25)) {
            let mut stored: BTreeMap<u8, SearchItem> = BTreeMap::new();
            let mut index = SearchIndex::build(Vec::new(), 0);
            for (version, commit) in (1_i64..).zip(commits) {
                match commit {
                    Commit::Write(writes) => {
                        let mut changed = index.change_builder();
                        let mut written = BTreeMap::new();
                        for (id, provider, start, length, title) in writes {
                            written.insert(id, item(id, provider, start, length, title));
                        }
                        for item in written.values() {
                            changed.push(item);
                        }
                        stored.extend(written);
                        index = index.apply(changed, &[], version, 0);
                    }
                    Commit::Retire(provider) => {
                        stored.retain(|_, item| item.provider != PROVIDERS[provider]);
                        let retired = [PROVIDERS[provider].to_owned()];
                        index = index.apply(index.change_builder(), &retired, version, 0);
                    }
                    Commit::Compact => index = index.compacted(0),
                }
                let rebuilt = SearchIndex::build(stored.values().cloned().collect(), version);
                prop_assert_eq!(answers(&index), answers(&rebuilt));
            }
        }
    }

    #[test]
    fn an_instance_retired_and_synced_again_keeps_only_its_new_items() {
        let others: Vec<SearchItem> = (3..10).map(|id| item(id, 1, 1, 1, 1)).collect();
        let before = [vec![item(1, 0, 1, 1, 1), item(2, 0, 2, 1, 1)], others.clone()].concat();
        let index = SearchIndex::build(before, 1);
        let mut changed = index.change_builder();
        changed.push(&item(2, 0, 5, 1, 9));
        let next = index.apply(changed, &["a".to_owned()], 2, 0);
        let rebuilt = SearchIndex::build([vec![item(2, 0, 5, 1, 9)], others].concat(), 2);
        assert_eq!(answers(&next), answers(&rebuilt));
        assert_eq!(next.len(), 8);
        assert_eq!(next.version(), 2);
        // The base is shared with the snapshot before, not copied.
        assert!(Arc::ptr_eq(&index.base, &next.base));
    }

    #[test]
    fn a_delta_past_its_share_is_merged_into_the_base() {
        let index = SearchIndex::build(Vec::new(), 1);
        let mut changed = index.change_builder();
        let many = u128::try_from(DELTA_FLOOR).unwrap() + 1;
        for n in 0..many {
            let mut item = item(0, 0, 1, 1, 1);
            item.id = Uuid::from_u128(n);
            changed.push(&item);
        }
        let next = index.apply(changed, &[], 2, 0);
        assert_eq!(next.len(), DELTA_FLOOR + 1);
        assert_eq!(next.delta_len(), 0, "merged into the base");
    }
}
