//! Builds segments of the snapshot ([`SearchIndex`]) one item at a time, as the store
//! streams them: each item's JSON rendered once, straight into the segment's buffer.

use std::collections::HashMap;
use std::sync::Arc;

use boxoffice_core::store::SearchItem;
use uuid::Uuid;

use super::cache::ResponseCache;
use super::index::SearchIndex;
use super::segment::{Segment, Span};
use super::summary::render_into;

/// Builds a [`SearchIndex`] (or a segment of one) from items pushed one at a time, in
/// any order (in the index's order, as the store returns them, nothing is moved when
/// finishing).
pub struct IndexBuilder {
    segment: Segment,
    providers: Vec<Arc<str>>,
    provider_index: HashMap<Arc<str>, u32>,
    sorted: bool,
}

/// The bytes of JSON an item usually takes, to size the buffer once.
const TYPICAL_ITEM_JSON: usize = 220;

impl IndexBuilder {
    /// A builder with room for `items` items.
    pub fn with_capacity(items: usize) -> Self {
        Self::continuing(&[], items, items.saturating_mul(TYPICAL_ITEM_JSON))
    }

    /// A builder whose provider numbers continue `providers`' (a snapshot's), so that
    /// its segment sits beside that snapshot's, with room for `items` items of
    /// `json_bytes` in all.
    pub(super) fn continuing(providers: &[Arc<str>], items: usize, json_bytes: usize) -> Self {
        let provider_index = providers
            .iter()
            .enumerate()
            .map(|(i, name)| (Arc::clone(name), u32::try_from(i).unwrap_or(u32::MAX)))
            .collect();
        Self {
            segment: Segment {
                starts: Vec::with_capacity(items),
                ends: Vec::with_capacity(items),
                ids: Vec::with_capacity(items),
                provider_of: Vec::with_capacity(items),
                spans: Vec::with_capacity(items),
                json: Vec::with_capacity(json_bytes),
                by_id: Vec::new(),
            },
            providers: providers.to_vec(),
            provider_index,
            sorted: true,
        }
    }

    /// Items pushed so far.
    pub fn len(&self) -> usize {
        self.segment.len()
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.segment.len() == 0
    }

    /// Adds one item.
    pub fn push(&mut self, item: &SearchItem) {
        let provider = self.provider_number(&item.provider);
        let segment = &mut self.segment;
        let start = segment.json.len();
        render_into(&mut segment.json, item);
        let len = u32::try_from(segment.json.len() - start).unwrap_or(u32::MAX);
        segment.json.push(b',');
        self.record(
            item.start.at.timestamp(),
            item.ends_at().timestamp(),
            item.id,
            provider,
            Span { start, len },
        );
    }

    /// Adds item `i` of `from`, already rendered, under the same provider numbers.
    pub(super) fn push_from(&mut self, from: &Segment, i: usize) {
        let json = from.item_json(i);
        let start = self.segment.json.len();
        self.segment.json.extend_from_slice(json);
        self.segment.json.push(b',');
        let len = u32::try_from(json.len()).unwrap_or(u32::MAX);
        self.record(
            from.starts[i],
            from.ends[i],
            from.ids[i],
            from.provider_of[i],
            Span { start, len },
        );
    }

    fn record(&mut self, starts_at: i64, ends_at: i64, id: Uuid, provider: u32, span: Span) {
        let segment = &mut self.segment;
        if let (Some(&last_start), Some(&last_id)) = (segment.starts.last(), segment.ids.last())
            && (last_start, last_id) > (starts_at, id)
        {
            self.sorted = false;
        }
        segment.starts.push(starts_at);
        segment.ends.push(ends_at);
        segment.ids.push(id);
        segment.provider_of.push(provider);
        segment.spans.push(span);
    }

    fn provider_number(&mut self, name: &str) -> u32 {
        if let Some(&number) = self.provider_index.get(name) {
            return number;
        }
        let name: Arc<str> = Arc::from(name);
        let number = u32::try_from(self.providers.len()).unwrap_or(u32::MAX);
        self.providers.push(Arc::clone(&name));
        self.provider_index.insert(name, number);
        number
    }

    /// The snapshot of the store's data `version`, with a response cache of at most
    /// `cache_bytes`.
    pub fn finish(self, version: i64, cache_bytes: usize) -> SearchIndex {
        let (mut base, providers) = self.finish_segment();
        base.index_ids();
        SearchIndex::from_parts(
            Arc::new(base),
            None,
            Arc::new(Segment::default()),
            providers,
            version,
            ResponseCache::new(cache_bytes),
        )
    }

    /// The sorted segment and the provider names its numbers refer to.
    pub(super) fn finish_segment(mut self) -> (Segment, Vec<Arc<str>>) {
        if !self.sorted {
            self.sort();
        }
        let segment = &mut self.segment;
        segment.starts.shrink_to_fit();
        segment.ends.shrink_to_fit();
        segment.ids.shrink_to_fit();
        segment.provider_of.shrink_to_fit();
        segment.spans.shrink_to_fit();
        segment.json.shrink_to_fit();
        (self.segment, self.providers)
    }

    /// Puts the items in (start, id) order, moving their spans and small fields only:
    /// for a source that does not return them so.
    fn sort(&mut self) {
        let segment = &mut self.segment;
        let mut order: Vec<usize> = (0..segment.len()).collect();
        order.sort_unstable_by_key(|&i| (segment.starts[i], segment.ids[i]));
        segment.starts = order.iter().map(|&i| segment.starts[i]).collect();
        segment.ends = order.iter().map(|&i| segment.ends[i]).collect();
        segment.ids = order.iter().map(|&i| segment.ids[i]).collect();
        segment.provider_of = order.iter().map(|&i| segment.provider_of[i]).collect();
        segment.spans = order.iter().map(|&i| segment.spans[i]).collect();
        self.sorted = true;
    }
}

/// Whole lists of items, for tests and benches (the store streams into [`IndexBuilder`]).
impl SearchIndex {
    /// Builds the index from the store's searchable items at `version`, without a
    /// response cache.
    pub fn build(items: Vec<SearchItem>, version: i64) -> Self {
        Self::build_with_cache(items, version, 0)
    }

    /// Builds the index with a response cache of at most `cache_bytes`.
    pub fn build_with_cache(items: Vec<SearchItem>, version: i64, cache_bytes: usize) -> Self {
        let mut builder = IndexBuilder::with_capacity(items.len());
        for item in items {
            builder.push(&item);
        }
        builder.finish(version, cache_bytes)
    }
}
