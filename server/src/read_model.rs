//! The in-memory read model /search is served from.
//!
//! Every searchable item is held sorted by (start instant, id) with its JSON rendered
//! once, when the model is built. A request binary-searches the window's start, copies
//! the pre-rendered items into one buffer and is done: no I/O, no lock a sync holds,
//! no per-item serialization. The model is rebuilt from the store after each committed
//! sync (here, or in another process, seen through the store's data version) and
//! swapped atomically; readers keep the snapshot they started with.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use boxoffice_core::model::format;
use boxoffice_core::{EventStore, SearchItem, SearchWindow, StoreError};
use bytes::{BufMut, Bytes, BytesMut};
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;
use tokio::sync::{Mutex, watch};
use tracing::{debug, info, warn};
use uuid::Uuid;

const ENVELOPE_HEAD: &[u8] = br#"{"data":{"events":["#;
const ENVELOPE_TAIL: &[u8] = br#"]},"error":null}"#;

/// One item as /search prints it (the public contract's `EventSummary`).
#[derive(Serialize)]
struct EventSummary<'a> {
    id: Uuid,
    title: &'a str,
    start_date: String,
    start_time: Option<String>,
    end_date: Option<String>,
    end_time: Option<String>,
    min_price: Option<f64>,
    max_price: Option<f64>,
}

struct Entry {
    starts_at: i64,
    ends_at: i64,
    id: Uuid,
    /// Index into [`SearchIndex::providers`].
    provider: u32,
    json: Box<[u8]>,
}

/// Where a page ends: the (start, id) of its last item. Opaque to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    starts_at: i64,
    id: Uuid,
}

impl Cursor {
    /// The cursor as sent to clients: 48 hex digits.
    pub fn encode(&self) -> String {
        let mut bytes = [0_u8; 24];
        bytes[..8].copy_from_slice(&self.starts_at.to_be_bytes());
        bytes[8..].copy_from_slice(self.id.as_bytes());
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Reads a cursor this server issued; `None` for anything else.
    pub fn decode(text: &str) -> Option<Self> {
        if text.len() != 48 || !text.is_ascii() {
            return None;
        }
        let mut bytes = [0_u8; 24];
        for (index, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[index * 2..index * 2 + 2], 16).ok()?;
        }
        let mut starts_at = [0_u8; 8];
        starts_at.copy_from_slice(&bytes[..8]);
        Some(Self {
            starts_at: i64::from_be_bytes(starts_at),
            id: Uuid::from_slice(&bytes[8..]).ok()?,
        })
    }
}

/// A /search request: the contract's window plus the optional extensions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    /// The contract's `starts_at`/`ends_at`.
    pub window: SearchWindow,
    /// Only items of this provider instance.
    pub provider: Option<String>,
    /// At most this many items, with a `next_cursor` when more follow.
    pub limit: Option<usize>,
    /// Continue after this cursor.
    pub cursor: Option<Cursor>,
}

/// An immutable snapshot of the searchable items.
pub struct SearchIndex {
    entries: Vec<Entry>,
    providers: Vec<Arc<str>>,
    version: i64,
}

impl SearchIndex {
    /// Builds the index from the store's searchable items at `version`.
    pub fn build(mut items: Vec<SearchItem>, version: i64) -> Self {
        items.sort_by_key(|item| (item.start.at.timestamp(), item.id));
        let mut providers: Vec<Arc<str>> = Vec::new();
        let entries = items
            .iter()
            .map(|item| {
                let provider = match providers.iter().position(|p| **p == *item.provider) {
                    Some(index) => index,
                    None => {
                        providers.push(Arc::from(item.provider.as_str()));
                        providers.len() - 1
                    }
                };
                Entry {
                    starts_at: item.start.at.timestamp(),
                    ends_at: item.ends_at().timestamp(),
                    id: item.id,
                    provider: u32::try_from(provider).unwrap_or(u32::MAX),
                    json: render(item).into_boxed_slice(),
                }
            })
            .collect();
        Self {
            entries,
            providers,
            version,
        }
    }

    /// How many items each provider instance has, by name.
    pub fn counts_by_provider(&self) -> Vec<(Arc<str>, usize)> {
        let mut counts = vec![0_usize; self.providers.len()];
        for entry in &self.entries {
            if let Some(count) = counts.get_mut(entry.provider as usize) {
                *count += 1;
            }
        }
        self.providers.iter().cloned().zip(counts).collect()
    }

    /// Items held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no item is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The store's data version the snapshot was built from.
    pub fn version(&self) -> i64 {
        self.version
    }

    /// The whole /search response body for the contract's `window` alone.
    pub fn search(&self, window: SearchWindow) -> Bytes {
        self.query(&SearchQuery {
            window,
            ..SearchQuery::default()
        })
    }

    /// The whole /search response body for `query`.
    pub fn query(&self, query: &SearchQuery) -> Bytes {
        let window = query.window;
        let mut first = window
            .min_start()
            .map_or(0, |from| self.entries.partition_point(|e| e.starts_at < from));
        if let Some(cursor) = query.cursor {
            let after = self
                .entries
                .partition_point(|e| (e.starts_at, e.id) <= (cursor.starts_at, cursor.id));
            first = first.max(after);
        }
        // An unknown provider matches nothing.
        let provider = query.provider.as_ref().map(|name| {
            self.providers
                .iter()
                .position(|p| **p == **name)
                .map_or(u32::MAX, |i| u32::try_from(i).unwrap_or(u32::MAX))
        });
        let mut matching = self.entries[first..]
            .iter()
            .take_while(|entry| !window.is_past(entry.starts_at))
            .filter(|entry| window.contains(entry.starts_at, entry.ends_at))
            .filter(|entry| provider.is_none_or(|p| entry.provider == p));
        let limit = query.limit.unwrap_or(usize::MAX);
        let mut body = BytesMut::with_capacity(256);
        body.put_slice(ENVELOPE_HEAD);
        let mut last = None;
        for (index, entry) in matching.by_ref().take(limit).enumerate() {
            if index > 0 {
                body.put_u8(b',');
            }
            body.put_slice(&entry.json);
            last = Some(entry);
        }
        if query.limit.is_some() {
            let next = match (last, matching.next()) {
                (Some(last), Some(_)) => Cursor {
                    starts_at: last.starts_at,
                    id: last.id,
                }
                .encode(),
                _ => String::new(),
            };
            if next.is_empty() {
                body.put_slice(br#"],"next_cursor":null},"error":null}"#);
            } else {
                body.put_slice(br#"],"next_cursor":""#);
                body.put_slice(next.as_bytes());
                body.put_slice(br#""},"error":null}"#);
            }
        } else {
            body.put_slice(ENVELOPE_TAIL);
        }
        body.freeze()
    }
}

fn render(item: &SearchItem) -> Vec<u8> {
    let summary = EventSummary {
        id: item.id,
        title: &item.title,
        start_date: format::date(item.start.date),
        start_time: item.start.time.map(format::time),
        end_date: item.end.map(|end| format::date(end.date)),
        end_time: item.end.and_then(|end| end.time).map(format::time),
        min_price: item.min_price.and_then(|p| p.to_f64()),
        max_price: item.max_price.and_then(|p| p.to_f64()),
    };
    // A struct of strings, numbers and options always serializes.
    serde_json::to_vec(&summary).unwrap_or_default()
}

/// The current snapshot and how to refresh it.
pub struct ReadModel {
    current: ArcSwap<SearchIndex>,
    store: Arc<dyn EventStore>,
    refreshing: Mutex<()>,
    /// Where rebuilds run (the sync runtime): off the HTTP workers.
    runtime: Option<tokio::runtime::Handle>,
}

impl ReadModel {
    /// Loads the searchable items from the store; later rebuilds run on `runtime`
    /// when given.
    pub async fn load(
        store: Arc<dyn EventStore>,
        runtime: Option<tokio::runtime::Handle>,
    ) -> Result<Arc<Self>, StoreError> {
        let model = Arc::new(Self {
            current: ArcSwap::from_pointee(SearchIndex::build(Vec::new(), -1)),
            store,
            refreshing: Mutex::new(()),
            runtime,
        });
        model.rebuild().await?;
        Ok(model)
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<SearchIndex> {
        self.current.load_full()
    }

    /// Rebuilds the snapshot if the store's data version moved. Returns whether it did.
    pub async fn refresh(self: &Arc<Self>) -> Result<bool, StoreError> {
        let Some(runtime) = &self.runtime else {
            return self.rebuild().await;
        };
        let model = Arc::clone(self);
        runtime
            .spawn(async move { model.rebuild().await })
            .await
            .map_err(|error| StoreError::Backend(format!("the read-model rebuild stopped: {error}")))?
    }

    async fn rebuild(&self) -> Result<bool, StoreError> {
        let _one_at_a_time = self.refreshing.lock().await;
        let version = self.store.data_version().await?;
        if version == self.current.load().version() {
            return Ok(false);
        }
        // Read the version before the items: a commit in between is picked up by the
        // next refresh, never missed.
        let items = self.store.searchable().await?;
        let index = SearchIndex::build(items, version);
        debug!(items = index.len(), version, "Read model rebuilt.");
        self.current.store(Arc::new(index));
        Ok(true)
    }

    /// Keeps the snapshot fresh until `shutdown`: at once after a local commit, and
    /// every `poll` for commits made by other processes.
    pub fn spawn_refresher(
        self: &Arc<Self>,
        mut commits: watch::Receiver<u64>,
        poll: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let model = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(poll);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    changed = commits.changed() => if changed.is_err() { return },
                    _ = shutdown.wait_for(|stop| *stop) => return,
                }
                match model.refresh().await {
                    Ok(_) if failing => {
                        failing = false;
                        info!("The store answers again; the read model is fresh.");
                    }
                    Ok(_) => {}
                    Err(error) if !failing => {
                        failing = true;
                        warn!(%error, "Cannot refresh the read model; serving the last snapshot.");
                    }
                    Err(_) => {}
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use boxoffice_core::model::LocalMoment;
    use chrono::{NaiveDate, TimeZone, Utc};
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
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = Cursor {
            starts_at: -5,
            id: Uuid::from_u128(42),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("nope"), None);
        assert_eq!(Cursor::decode(&"zz".repeat(24)), None);
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
}
