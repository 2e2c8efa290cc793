//! Builds the compact snapshot ([`SearchIndex`]) one item at a time, as the store
//! streams them: each item's JSON rendered once, straight into the snapshot's buffer.

use std::collections::HashMap;
use std::sync::Arc;

use boxoffice_core::store::SearchItem;
use uuid::Uuid;

use super::cache::ResponseCache;
use super::index::{SearchIndex, Span};
use super::summary::render_into;

/// Builds a [`SearchIndex`] from items pushed one at a time, in any order (in the
/// index's order, as the store returns them, nothing is moved when finishing).
pub struct IndexBuilder {
    starts: Vec<i64>,
    ends: Vec<i64>,
    ids: Vec<Uuid>,
    provider_of: Vec<u32>,
    spans: Vec<Span>,
    json: Vec<u8>,
    providers: Vec<Arc<str>>,
    provider_index: HashMap<Arc<str>, u32>,
    sorted: bool,
}

/// The bytes of JSON an item usually takes, to size the buffer once.
const TYPICAL_ITEM_JSON: usize = 220;

impl IndexBuilder {
    /// A builder with room for `items` items.
    pub fn with_capacity(items: usize) -> Self {
        Self {
            starts: Vec::with_capacity(items),
            ends: Vec::with_capacity(items),
            ids: Vec::with_capacity(items),
            provider_of: Vec::with_capacity(items),
            spans: Vec::with_capacity(items),
            json: Vec::with_capacity(items.saturating_mul(TYPICAL_ITEM_JSON)),
            providers: Vec::new(),
            provider_index: HashMap::new(),
            sorted: true,
        }
    }

    /// Adds one item.
    pub fn push(&mut self, item: &SearchItem) {
        let starts_at = item.start.at.timestamp();
        if let (Some(&last_start), Some(&last_id)) = (self.starts.last(), self.ids.last())
            && (last_start, last_id) > (starts_at, item.id)
        {
            self.sorted = false;
        }
        let provider = match self.provider_index.get(item.provider.as_str()) {
            Some(&index) => index,
            None => {
                let name: Arc<str> = Arc::from(item.provider.as_str());
                let index = u32::try_from(self.providers.len()).unwrap_or(u32::MAX);
                self.providers.push(Arc::clone(&name));
                self.provider_index.insert(name, index);
                index
            }
        };
        self.starts.push(starts_at);
        self.ends.push(item.ends_at().timestamp());
        self.ids.push(item.id);
        self.provider_of.push(provider);
        let start = self.json.len();
        render_into(&mut self.json, item);
        let len = u32::try_from(self.json.len() - start).unwrap_or(u32::MAX);
        self.spans.push(Span { start, len });
        self.json.push(b',');
    }

    /// The snapshot of the store's data `version`, with a response cache of at most
    /// `cache_bytes`.
    pub fn finish(mut self, version: i64, cache_bytes: usize) -> SearchIndex {
        if !self.sorted {
            self.sort();
        }
        self.starts.shrink_to_fit();
        self.ends.shrink_to_fit();
        self.ids.shrink_to_fit();
        self.provider_of.shrink_to_fit();
        self.spans.shrink_to_fit();
        self.json.shrink_to_fit();
        SearchIndex {
            starts: self.starts,
            ends: self.ends,
            ids: self.ids,
            provider_of: self.provider_of,
            spans: self.spans,
            json: self.json,
            providers: self.providers,
            version,
            cache: ResponseCache::new(cache_bytes),
        }
    }

    /// Puts the items in (start, id) order, moving their spans and small fields only:
    /// for a source that does not return them so.
    fn sort(&mut self) {
        let mut order: Vec<usize> = (0..self.starts.len()).collect();
        order.sort_unstable_by_key(|&i| (self.starts[i], self.ids[i]));
        self.starts = order.iter().map(|&i| self.starts[i]).collect();
        self.ends = order.iter().map(|&i| self.ends[i]).collect();
        self.ids = order.iter().map(|&i| self.ids[i]).collect();
        self.provider_of = order.iter().map(|&i| self.provider_of[i]).collect();
        self.spans = order.iter().map(|&i| self.spans[i]).collect();
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
