//! The compact snapshot: flat arrays of instants, ids and providers, and every item's
//! rendered JSON in one buffer.
//!
//! Per item it holds 16 bytes of id, 8 + 8 of instants, 4 of provider and 16 of span
//! beside the JSON itself (about 200 bytes), in a handful of allocations for the whole
//! snapshot instead of a few per item. The JSON of consecutive items is stored
//! comma-separated, so a run of matching items is copied into a response as one slice.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use uuid::Uuid;

use super::cache::ResponseCache;
use super::query::{Cursor, SearchKey, SearchQuery};

const ENVELOPE_HEAD: &[u8] = br#"{"data":{"events":["#;
const ENVELOPE_TAIL: &[u8] = br#"]},"error":null}"#;

/// An immutable snapshot of the searchable items, sorted by (start instant, id).
pub struct SearchIndex {
    pub(super) starts: Vec<i64>,
    pub(super) ends: Vec<i64>,
    pub(super) ids: Vec<Uuid>,
    /// Index into `providers`.
    pub(super) provider_of: Vec<u32>,
    /// Where item `i`'s JSON is in `json`: its start and length (each item is followed
    /// by a comma). In the store's order the items lie in `json` in this order, so
    /// runs of items are runs of bytes; an unordered source is sorted by moving these
    /// spans, never the bytes (a million items' JSON is ~300 MB).
    pub(super) spans: Vec<Span>,
    pub(super) json: Vec<u8>,
    pub(super) providers: Vec<Arc<str>>,
    pub(super) version: i64,
    pub(super) cache: ResponseCache,
}

/// What a response holds: runs of matching items (`[from, to)` indexes), the item a
/// next page would follow, and the response's size in bytes (at most).
pub struct Plan {
    runs: Vec<(usize, usize)>,
    next: Option<usize>,
    bytes: usize,
}

impl Plan {
    /// The response's size in bytes, at most.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// Room for what follows the items: the tail of the envelope, with a page's cursor.
const PAGE_TAIL_BYTES: usize = 128;

/// An item's place in the JSON buffer.
#[derive(Debug, Clone, Copy)]
pub(super) struct Span {
    pub(super) start: usize,
    pub(super) len: u32,
}

impl Span {
    fn end(self) -> usize {
        self.start + self.len as usize
    }
}

impl SearchIndex {
    /// How many items each provider instance has, by name.
    pub fn counts_by_provider(&self) -> Vec<(Arc<str>, usize)> {
        let mut counts = vec![0_usize; self.providers.len()];
        for &provider in &self.provider_of {
            if let Some(count) = counts.get_mut(provider as usize) {
                *count += 1;
            }
        }
        self.providers.iter().cloned().zip(counts).collect()
    }

    /// Items held.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Whether no item is held.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// The store's data version the snapshot was built from.
    pub fn version(&self) -> i64 {
        self.version
    }

    /// The responses rendered from this snapshot (dropped with it).
    pub fn cache(&self) -> &ResponseCache {
        &self.cache
    }

    /// Bytes the snapshot holds, less its response cache.
    pub fn heap_bytes(&self) -> usize {
        self.starts.capacity() * 8
            + self.ends.capacity() * 8
            + self.ids.capacity() * 16
            + self.provider_of.capacity() * 4
            + self.spans.capacity() * std::mem::size_of::<Span>()
            + self.json.capacity()
    }

    /// The whole /search response body for the contract's `window` alone.
    pub fn search(&self, window: boxoffice_core::SearchWindow) -> Bytes {
        self.query(&SearchQuery {
            window,
            ..SearchQuery::default()
        })
    }

    /// The whole /search response body for `query`.
    pub fn query(&self, query: &SearchQuery) -> Bytes {
        self.render(&SearchKey::of(query))
    }

    /// The whole /search response body for `key`: the items that start at or after
    /// `from` and end at or before `to`, in (start, id) order.
    pub fn render(&self, key: &SearchKey) -> Bytes {
        self.write(key, &self.plan(key))
    }

    /// Which items answer `key`, and how many bytes their response takes: known before
    /// a byte of it is written.
    pub fn plan(&self, key: &SearchKey) -> Plan {
        let window = key.window;
        let mut first = window
            .from
            .map_or(0, |from| self.starts.partition_point(|&s| s < from));
        if let Some(cursor) = key.cursor {
            first = first.max(self.after(cursor));
        }
        // An unknown provider matches nothing.
        let provider = key.provider.as_deref().map(|name| {
            self.providers
                .iter()
                .position(|p| **p == *name)
                .map_or(u32::MAX, |i| u32::try_from(i).unwrap_or(u32::MAX))
        });
        let matches = |i: usize| {
            window.contains(self.starts[i], self.ends[i]) && provider.is_none_or(|p| self.provider_of[i] == p)
        };
        // The scan stops at the first item the window is past (by its start).
        let end = first + self.starts[first..].partition_point(|&s| !window.is_past(s));
        let limit = key.limit.unwrap_or(usize::MAX);
        // Runs of consecutive matching items, each one slice of `json`.
        let mut runs: Vec<(usize, usize)> = Vec::new();
        let mut taken = 0_usize;
        let mut last = None;
        let mut more = false;
        let mut i = first;
        while i < end {
            if !matches(i) {
                i += 1;
                continue;
            }
            if taken == limit {
                more = true;
                break;
            }
            let run_start = i;
            while i < end && taken < limit && matches(i) {
                taken += 1;
                i += 1;
            }
            runs.push((run_start, i));
            last = Some(i - 1);
        }
        let items_len: usize = runs
            .iter()
            .flat_map(|&(a, b)| &self.spans[a..b])
            .map(|span| span.len as usize + 1)
            .sum();
        Plan {
            runs,
            next: last.filter(|_| more),
            bytes: ENVELOPE_HEAD.len() + items_len + PAGE_TAIL_BYTES,
        }
    }

    /// The response `plan` (made by [`Self::plan`] for `key`) describes.
    pub fn write(&self, key: &SearchKey, plan: &Plan) -> Bytes {
        let mut body = BytesMut::with_capacity(plan.bytes);
        body.put_slice(ENVELOPE_HEAD);
        let mut first_item = true;
        for &(a, b) in &plan.runs {
            // Items whose JSON lies end to end (with the comma between) are one copy.
            let mut i = a;
            while i < b {
                let start = self.spans[i].start;
                let mut end = self.spans[i].end();
                i += 1;
                while i < b && self.spans[i].start == end + 1 {
                    end = self.spans[i].end();
                    i += 1;
                }
                if !first_item {
                    body.put_u8(b',');
                }
                first_item = false;
                body.put_slice(&self.json[start..end]);
            }
        }
        if key.limit.is_some() {
            match plan.next {
                Some(last) => {
                    let next = Cursor {
                        starts_at: self.starts[last],
                        id: self.ids[last],
                    };
                    body.put_slice(br#"],"next_cursor":""#);
                    body.put_slice(next.encode().as_bytes());
                    body.put_slice(br#""},"error":null}"#);
                }
                None => body.put_slice(br#"],"next_cursor":null},"error":null}"#),
            }
        } else {
            body.put_slice(ENVELOPE_TAIL);
        }
        body.freeze()
    }

    /// The first item after `cursor` in (start, id) order.
    fn after(&self, cursor: Cursor) -> usize {
        let low = self.starts.partition_point(|&s| s < cursor.starts_at);
        let high = low + self.starts[low..].partition_point(|&s| s <= cursor.starts_at);
        low + self.ids[low..high].partition_point(|id| *id <= cursor.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_model::summary::{render_into, render_with_serde};
    use boxoffice_core::SearchWindow;
    use boxoffice_core::model::LocalMoment;
    use boxoffice_core::store::SearchItem;
    use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
    use rust_decimal::Decimal;

    fn item(id: u128, start_hour: u32, end_hour: u32) -> SearchItem {
        let moment = |hour| {
            let local = NaiveDate::from_ymd_opt(2021, 6, 30)
                .and_then(|d| d.and_hms_opt(hour, 0, 0))
                .unwrap_or_default();
            LocalMoment {
                date: local.date(),
                time: Some(local.time()),
                at: Utc.from_utc_datetime(&local),
            }
        };
        SearchItem {
            id: Uuid::from_u128(id),
            provider: "fever".into(),
            title: format!("Show \"{id}\""),
            start: moment(start_hour),
            end: Some(moment(end_hour)),
            min_price: Some(Decimal::new(1500, 2)),
            max_price: Some(Decimal::new(3000, 2)),
        }
    }

    fn at(hour: u32) -> Option<chrono::DateTime<Utc>> {
        Utc.with_ymd_and_hms(2021, 6, 30, hour, 0, 0).single()
    }

    fn ids(body: &Bytes) -> Vec<String> {
        let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        value["data"]["events"]
            .as_array()
            .map(|events| {
                events
                    .iter()
                    .map(|e| e["id"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn search_filters_inclusively_and_orders_by_start_then_id() {
        let index = SearchIndex::build(
            vec![item(3, 12, 13), item(2, 10, 11), item(1, 10, 12), item(4, 14, 20)],
            1,
        );
        let body = index.search(SearchWindow {
            starts_at: at(10),
            ends_at: at(13),
        });
        assert_eq!(
            ids(&body),
            [Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3)].map(|u| u.to_string())
        );
        let body = index.search(SearchWindow {
            starts_at: at(11),
            ends_at: None,
        });
        assert_eq!(ids(&body).len(), 2);
    }

    #[test]
    fn search_renders_the_contract_envelope() {
        let index = SearchIndex::build(vec![item(1, 10, 12)], 1);
        let value: serde_json::Value =
            serde_json::from_slice(&index.search(SearchWindow::default())).unwrap_or_default();
        assert_eq!(value["error"], serde_json::Value::Null);
        let event = &value["data"]["events"][0];
        assert_eq!(event["title"], "Show \"1\"");
        assert_eq!(event["start_date"], "2021-06-30");
        assert_eq!(event["start_time"], "10:00:00");
        assert_eq!(event["end_time"], "12:00:00");
        assert_eq!(event["min_price"], 15.0);
        assert_eq!(event["max_price"], 30.0);
    }

    #[test]
    fn pages_follow_each_other_without_gaps_or_repeats() {
        let items: Vec<_> = (1..=7).map(|i| item(i, 10 + (i % 3) as u32, 20)).collect();
        let index = SearchIndex::build(items, 1);
        let everything = ids(&index.search(SearchWindow::default()));
        let mut paged = Vec::new();
        let mut cursor = None;
        loop {
            let body = index.query(&SearchQuery {
                limit: Some(3),
                cursor,
                ..SearchQuery::default()
            });
            paged.extend(ids(&body));
            let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            match value["data"]["next_cursor"].as_str() {
                Some(next) => cursor = Cursor::decode(next),
                None => break,
            }
            assert!(cursor.is_some());
        }
        assert_eq!(paged, everything);
    }

    #[test]
    fn a_provider_filter_keeps_only_its_items() {
        let mut other = item(9, 10, 12);
        other.provider = "other".into();
        let index = SearchIndex::build(vec![item(1, 10, 12), other], 1);
        let only = |name: &str| {
            ids(&index.query(&SearchQuery {
                provider: Some(name.into()),
                ..SearchQuery::default()
            }))
        };
        assert_eq!(only("other"), [Uuid::from_u128(9).to_string()]);
        assert!(only("missing").is_empty());
        assert_eq!(index.counts_by_provider().len(), 2);
    }

    #[test]
    fn an_empty_window_renders_an_empty_list() {
        let index = SearchIndex::build(vec![item(1, 10, 12)], 1);
        let body = index.search(SearchWindow {
            starts_at: at(13),
            ends_at: None,
        });
        assert_eq!(&body[..], br#"{"data":{"events":[]},"error":null}"#);
    }

    /// Varied items: odd titles, open ends, missing times and prices, far years, a
    /// leap second, several providers, equal starts.
    fn varied(count: u128) -> Vec<SearchItem> {
        let titles = [
            "plain",
            "quote \" and \\ backslash",
            "control \u{1}\n\t",
            "ünïcödé ✓ 🎭",
            "</script>",
            "",
        ];
        (0..count)
            .map(|n| {
                let mut item = item(n * 7919 % 1000, 10 + (n % 5) as u32, 20);
                item.title = titles[(n % titles.len() as u128) as usize].to_owned();
                item.provider = ["a", "b", "c"][(n % 3) as usize].to_owned();
                match n % 7 {
                    0 => item.end = None,
                    1 => item.start.time = None,
                    2 => item.min_price = None,
                    3 => {
                        item.max_price = Some(Decimal::new(123_456_789, 4));
                        item.min_price = Some(Decimal::new(1, 28));
                    }
                    4 => {
                        item.start.date = NaiveDate::from_ymd_opt(12_345, 1, 2).unwrap_or_default();
                        if let Some(end) = item.end.as_mut() {
                            end.date = NaiveDate::from_ymd_opt(7, 3, 4).unwrap_or_default();
                            end.time = None;
                        }
                    }
                    5 => {
                        item.start.time = NaiveTime::from_hms_milli_opt(23, 59, 59, 1_500);
                    }
                    _ => {}
                }
                item
            })
            .collect()
    }

    #[test]
    fn the_fast_renderer_writes_what_serde_writes() {
        for item in varied(60) {
            let mut fast = Vec::new();
            render_into(&mut fast, &item);
            assert_eq!(
                String::from_utf8_lossy(&fast),
                String::from_utf8_lossy(&render_with_serde(&item)),
                "{item:?}"
            );
        }
    }

    /// The reference: every item rendered with serde, filtered and ordered the plain way.
    fn reference(items: &[SearchItem], key: &SearchKey) -> Vec<String> {
        let mut sorted: Vec<&SearchItem> = items.iter().collect();
        sorted.sort_by_key(|item| (item.start.at.timestamp(), item.id));
        sorted
            .into_iter()
            .filter(|item| {
                key.window
                    .from
                    .is_none_or(|from| item.start.at.timestamp() >= from)
            })
            .filter(|item| key.window.to.is_none_or(|to| item.ends_at().timestamp() <= to))
            .filter(|item| key.provider.as_deref().is_none_or(|p| item.provider == p))
            .filter(|item| {
                key.cursor
                    .is_none_or(|c| (item.start.at.timestamp(), item.id) > (c.starts_at, c.id))
            })
            .take(key.limit.unwrap_or(usize::MAX))
            .map(|item| String::from_utf8_lossy(&render_with_serde(item)).into_owned())
            .collect()
    }

    #[test]
    fn every_window_answers_what_the_plain_filter_answers() {
        let items = varied(40);
        let index = SearchIndex::build(items.clone(), 1);
        let hour = |h: i64| {
            Utc.with_ymd_and_hms(2021, 6, 30, 0, 0, 0)
                .single()
                .map(|t| t.timestamp() + h * 3600)
        };
        let some_cursor = Cursor {
            starts_at: hour(11).unwrap_or_default(),
            id: Uuid::from_u128(500),
        };
        for from in [None, hour(9), hour(11), hour(12), hour(15)] {
            for to in [None, hour(11), hour(14), hour(20), hour(30)] {
                for provider in [None, Some("b"), Some("zz")] {
                    for limit in [None, Some(1), Some(4), Some(100)] {
                        for cursor in [None, Some(some_cursor)] {
                            let key = SearchKey {
                                window: boxoffice_core::WindowBounds { from, to },
                                provider: provider.map(Box::from),
                                limit,
                                cursor,
                            };
                            let value: serde_json::Value =
                                serde_json::from_slice(&index.render(&key)).unwrap_or_default();
                            let got: Vec<String> = value["data"]["events"]
                                .as_array()
                                .map(|events| events.iter().map(|e| e.to_string()).collect())
                                .unwrap_or_else(|| panic!("{key:?}: not an envelope"));
                            let expected: Vec<String> = reference(&items, &key)
                                .iter()
                                .map(|json| {
                                    serde_json::from_str::<serde_json::Value>(json)
                                        .map(|v| v.to_string())
                                        .unwrap_or_default()
                                })
                                .collect();
                            assert_eq!(got, expected, "{key:?}");
                            // A next cursor exactly when more items follow.
                            if limit.is_some() {
                                let mut unlimited = key.clone();
                                unlimited.limit = None;
                                let more = reference(&items, &unlimited).len() > expected.len();
                                assert_eq!(value["data"]["next_cursor"].is_string(), more, "{key:?}");
                            } else {
                                assert!(value["data"].get("next_cursor").is_none());
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn items_pushed_out_of_order_are_sorted_with_their_json() {
        let items = varied(25);
        let mut sorted = items.clone();
        sorted.sort_by_key(|item| (item.start.at.timestamp(), item.id));
        let shuffled = SearchIndex::build(items, 1);
        let in_order = SearchIndex::build(sorted, 1);
        assert_eq!(
            shuffled.search(SearchWindow::default()),
            in_order.search(SearchWindow::default())
        );
        assert_eq!(shuffled.counts_by_provider().len(), 3);
    }
}
