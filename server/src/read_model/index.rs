//! The snapshot /search is served from: a large base segment, shared between
//! snapshots, with the items later commits replaced or retired masked out, and a small
//! delta segment of what those commits wrote (ADR 0015). A request merges the two in
//! (start, id) order; each stays one run of bytes per run of matching items.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use uuid::Uuid;

use super::cache::ResponseCache;
use super::query::{Cursor, SearchKey, SearchQuery};
use super::segment::Segment;

const ENVELOPE_HEAD: &[u8] = br#"{"data":{"events":["#;
const ENVELOPE_TAIL: &[u8] = br#"]},"error":null}"#;

/// An immutable snapshot of the searchable items, sorted by (start instant, id).
pub struct SearchIndex {
    pub(super) base: Arc<Segment>,
    /// Base items no longer served, one bit each (`None`: all are).
    pub(super) dead: Option<Arc<Vec<u64>>>,
    pub(super) dead_count: usize,
    pub(super) delta: Arc<Segment>,
    /// Provider names, numbered by the segments' `provider_of`; only ever appended to
    /// between full builds, so that the base's numbers stay valid.
    pub(super) providers: Vec<Arc<str>>,
    pub(super) version: i64,
    pub(super) cache: ResponseCache,
}

/// Which segment a run of items is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Base,
    Delta,
}

/// What a response holds: runs of matching items (`[from, to)` indexes of one
/// segment), the key of the item a next page would follow, and the response's size in
/// bytes (at most).
pub struct Plan {
    runs: Vec<(Part, usize, usize)>,
    next: Option<(i64, Uuid)>,
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

pub(super) fn is_dead(dead: Option<&[u64]>, i: usize) -> bool {
    dead.is_some_and(|bits| bits[i / 64] & (1 << (i % 64)) != 0)
}

impl SearchIndex {
    pub(super) fn from_parts(
        base: Arc<Segment>,
        dead: Option<(Arc<Vec<u64>>, usize)>,
        delta: Arc<Segment>,
        providers: Vec<Arc<str>>,
        version: i64,
        cache: ResponseCache,
    ) -> Self {
        let (dead, dead_count) = match dead {
            Some((bits, count)) if count > 0 => (Some(bits), count),
            _ => (None, 0),
        };
        Self {
            base,
            dead,
            dead_count,
            delta,
            providers,
            version,
            cache,
        }
    }

    fn segment(&self, part: Part) -> &Segment {
        match part {
            Part::Base => &self.base,
            Part::Delta => &self.delta,
        }
    }

    /// How many items each provider instance has, by name (instances with none left
    /// out).
    pub fn counts_by_provider(&self) -> Vec<(Arc<str>, usize)> {
        let mut counts = vec![0_usize; self.providers.len()];
        let dead = self.dead.as_deref().map(Vec::as_slice);
        let base = self
            .base
            .provider_of
            .iter()
            .enumerate()
            .filter(|&(i, _)| !is_dead(dead, i));
        for (_, &provider) in base.chain(self.delta.provider_of.iter().enumerate()) {
            if let Some(count) = counts.get_mut(provider as usize) {
                *count += 1;
            }
        }
        self.providers
            .iter()
            .cloned()
            .zip(counts)
            .filter(|&(_, count)| count > 0)
            .collect()
    }

    /// Items held.
    pub fn len(&self) -> usize {
        self.base.len() - self.dead_count + self.delta.len()
    }

    /// Whether no item is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The store's data version the snapshot was built from.
    pub fn version(&self) -> i64 {
        self.version
    }

    /// Items in the delta segment, beside the base.
    pub fn delta_len(&self) -> usize {
        self.delta.len()
    }

    /// The responses rendered from this snapshot (dropped with it).
    pub fn cache(&self) -> &ResponseCache {
        &self.cache
    }

    /// Bytes the snapshot holds, less its response cache (a base shared with the
    /// previous snapshot counted whole).
    pub fn heap_bytes(&self) -> usize {
        self.base.heap_bytes()
            + self.delta.heap_bytes()
            + self.dead.as_ref().map_or(0, |bits| bits.capacity() * 8)
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
        // An unknown provider matches nothing.
        let provider = key.provider.as_deref().map(|name| {
            self.providers
                .iter()
                .position(|p| **p == *name)
                .map_or(u32::MAX, |i| u32::try_from(i).unwrap_or(u32::MAX))
        });
        let dead = self.dead.as_deref().map(Vec::as_slice);
        let matches = |part: Part, i: usize| {
            let segment = self.segment(part);
            window.contains(segment.starts[i], segment.ends[i])
                && provider.is_none_or(|p| segment.provider_of[i] == p)
                && (part == Part::Delta || !is_dead(dead, i))
        };
        // Each segment's scan stops at the first item the window is past (by its start).
        let range = |segment: &Segment| {
            let first = segment.first(window.from, key.cursor);
            (
                first,
                first + segment.starts[first..].partition_point(|&s| !window.is_past(s)),
            )
        };
        let (mut b, b_end) = range(&self.base);
        let (mut d, d_end) = range(&self.delta);
        let limit = key.limit.unwrap_or(usize::MAX);
        let mut runs: Vec<(Part, usize, usize)> = Vec::new();
        let mut taken = 0_usize;
        let mut last = None;
        let mut more = false;
        loop {
            let part = match (b < b_end, d < d_end) {
                (true, true) if self.base.key(b) < self.delta.key(d) => Part::Base,
                (true, true) | (false, true) => Part::Delta,
                (true, false) => Part::Base,
                (false, false) => break,
            };
            let i = match part {
                Part::Base => b,
                Part::Delta => d,
            };
            match part {
                Part::Base => b += 1,
                Part::Delta => d += 1,
            }
            if !matches(part, i) {
                continue;
            }
            if taken == limit {
                more = true;
                break;
            }
            taken += 1;
            match runs.last_mut() {
                Some((run_part, _, to)) if *run_part == part && *to == i => *to = i + 1,
                _ => runs.push((part, i, i + 1)),
            }
            last = Some((part, i));
        }
        let items_len: usize = runs
            .iter()
            .flat_map(|&(part, a, b)| &self.segment(part).spans[a..b])
            .map(|span| span.len as usize + 1)
            .sum();
        Plan {
            runs,
            next: last.filter(|_| more).map(|(part, i)| self.segment(part).key(i)),
            bytes: ENVELOPE_HEAD.len() + items_len + PAGE_TAIL_BYTES,
        }
    }

    /// The response `plan` (made by [`Self::plan`] for `key`) describes.
    pub fn write(&self, key: &SearchKey, plan: &Plan) -> Bytes {
        let mut body = BytesMut::with_capacity(plan.bytes);
        body.put_slice(ENVELOPE_HEAD);
        let mut first_item = true;
        for &(part, a, b) in &plan.runs {
            let segment = self.segment(part);
            // Items whose JSON lies end to end (with the comma between) are one copy.
            let mut i = a;
            while i < b {
                let start = segment.spans[i].start;
                let mut end = segment.spans[i].end();
                i += 1;
                while i < b && segment.spans[i].start == end + 1 {
                    end = segment.spans[i].end();
                    i += 1;
                }
                if !first_item {
                    body.put_u8(b',');
                }
                first_item = false;
                body.put_slice(&segment.json[start..end]);
            }
        }
        if key.limit.is_some() {
            match plan.next {
                Some((starts_at, id)) => {
                    let next = Cursor { starts_at, id };
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
