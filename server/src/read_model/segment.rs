//! One sorted run of items: flat arrays of instants, ids and providers, and every
//! item's rendered JSON in one buffer.
//!
//! Per item it holds 16 bytes of id, 8 + 8 of instants, 4 of provider, 16 of span and
//! (in a base segment) 4 of id order beside the JSON itself (about 200 bytes), in a
//! handful of allocations for the whole segment. The JSON of consecutive items is
//! stored comma-separated, so a run of matching items is copied as one slice.

use uuid::Uuid;

use super::query::Cursor;

/// Where an item's JSON is in the segment's buffer: its start and length (each item
/// is followed by a comma).
#[derive(Debug, Clone, Copy)]
pub(super) struct Span {
    pub(super) start: usize,
    pub(super) len: u32,
}

impl Span {
    pub(super) fn end(self) -> usize {
        self.start + self.len as usize
    }
}

/// Items sorted by (start instant, id); immutable once built.
#[derive(Default)]
pub(super) struct Segment {
    pub(super) starts: Vec<i64>,
    pub(super) ends: Vec<i64>,
    pub(super) ids: Vec<Uuid>,
    /// Index into the snapshot's provider names.
    pub(super) provider_of: Vec<u32>,
    /// In the store's order the items lie in `json` in this order, so runs of items
    /// are runs of bytes; an unordered source is sorted by moving these spans, never
    /// the bytes (a million items' JSON is ~300 MB).
    pub(super) spans: Vec<Span>,
    pub(super) json: Vec<u8>,
    /// Item indexes in id order: how a change finds the item it replaces without a
    /// hash map (4 bytes an item instead of ~40). Empty in a delta, which is scanned.
    pub(super) by_id: Vec<u32>,
}

impl Segment {
    pub(super) fn len(&self) -> usize {
        self.starts.len()
    }

    pub(super) fn key(&self, i: usize) -> (i64, Uuid) {
        (self.starts[i], self.ids[i])
    }

    pub(super) fn item_json(&self, i: usize) -> &[u8] {
        let span = self.spans[i];
        &self.json[span.start..span.end()]
    }

    /// Where the item `id` is, if held.
    pub(super) fn position(&self, id: Uuid) -> Option<usize> {
        if self.by_id.len() != self.ids.len() {
            return self.ids.iter().position(|&held| held == id);
        }
        let found = self
            .by_id
            .binary_search_by(|&i| self.ids[i as usize].cmp(&id))
            .ok()?;
        Some(self.by_id[found] as usize)
    }

    /// Fills `by_id` (for a base segment).
    pub(super) fn index_ids(&mut self) {
        let count = u32::try_from(self.ids.len()).unwrap_or(u32::MAX);
        let mut order: Vec<u32> = (0..count).collect();
        order.sort_unstable_by_key(|&i| self.ids[i as usize]);
        self.by_id = order;
    }

    /// The first item at or after `from` and after `cursor`.
    pub(super) fn first(&self, from: Option<i64>, cursor: Option<Cursor>) -> usize {
        let first = from.map_or(0, |from| self.starts.partition_point(|&s| s < from));
        match cursor {
            Some(cursor) => first.max(self.after(cursor)),
            None => first,
        }
    }

    /// The first item after `cursor` in (start, id) order.
    fn after(&self, cursor: Cursor) -> usize {
        let low = self.starts.partition_point(|&s| s < cursor.starts_at);
        let high = low + self.starts[low..].partition_point(|&s| s <= cursor.starts_at);
        low + self.ids[low..high].partition_point(|id| *id <= cursor.id)
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.starts.capacity() * 8
            + self.ends.capacity() * 8
            + self.ids.capacity() * 16
            + self.provider_of.capacity() * 4
            + self.spans.capacity() * std::mem::size_of::<Span>()
            + self.json.capacity()
            + self.by_id.capacity() * 4
    }
}
