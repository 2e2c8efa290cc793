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
use boxoffice_core::store::{EventStore, SearchItem, SearchWindow, StoreError};
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
    json: Box<[u8]>,
}

/// An immutable snapshot of the searchable items.
pub struct SearchIndex {
    entries: Vec<Entry>,
    version: i64,
}

impl SearchIndex {
    /// Builds the index from the store's searchable items at `version`.
    pub fn build(mut items: Vec<SearchItem>, version: i64) -> Self {
        items.sort_by(|a, b| (a.start.at, a.id).cmp(&(b.start.at, b.id)));
        let entries = items
            .iter()
            .map(|item| Entry {
                starts_at: item.start.at.timestamp(),
                ends_at: item.ends_at().timestamp(),
                json: render(item).into_boxed_slice(),
            })
            .collect();
        Self { entries, version }
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

    /// The whole /search response body for `window`.
    pub fn search(&self, window: SearchWindow) -> Bytes {
        let from = window.starts_at.map(|t| t.timestamp());
        let to = window.ends_at.map(|t| t.timestamp());
        let first = from.map_or(0, |from| self.entries.partition_point(|e| e.starts_at < from));
        // Items end no earlier than they start (checked at ingest), so none past `to`
        // by its start can match: the scan stops there.
        let matching = self.entries[first..]
            .iter()
            .take_while(|entry| to.is_none_or(|to| entry.starts_at <= to))
            .filter(|entry| to.is_none_or(|to| entry.ends_at <= to));
        let mut body = BytesMut::with_capacity(256);
        body.put_slice(ENVELOPE_HEAD);
        for (index, entry) in matching.enumerate() {
            if index > 0 {
                body.put_u8(b',');
            }
            body.put_slice(&entry.json);
        }
        body.put_slice(ENVELOPE_TAIL);
        body.freeze()
    }
}

fn render(item: &SearchItem) -> Vec<u8> {
    let summary = EventSummary {
        id: item.id,
        title: &item.title,
        start_date: item.start.date.format("%Y-%m-%d").to_string(),
        start_time: item.start.time.map(|t| t.format("%H:%M:%S").to_string()),
        end_date: item.end.map(|end| end.date.format("%Y-%m-%d").to_string()),
        end_time: item
            .end
            .and_then(|end| end.time)
            .map(|t| t.format("%H:%M:%S").to_string()),
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
}

impl ReadModel {
    /// Loads the searchable items from the store.
    pub async fn load(store: Arc<dyn EventStore>) -> Result<Self, StoreError> {
        let model = Self {
            current: ArcSwap::from_pointee(SearchIndex::build(Vec::new(), -1)),
            store,
            refreshing: Mutex::new(()),
        };
        model.refresh().await?;
        Ok(model)
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<SearchIndex> {
        self.current.load_full()
    }

    /// Rebuilds the snapshot if the store's data version moved. Returns whether it did.
    pub async fn refresh(&self) -> Result<bool, StoreError> {
        let _one_at_a_time = self.refreshing.lock().await;
        let version = self.store.data_version().await?;
        if version == self.current.load().version() {
            return Ok(false);
        }
        // Read the version before the items: a commit in between is picked up by the
        // next refresh, never missed.
        let items = self.store.search(SearchWindow::default()).await?;
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
    fn an_empty_window_renders_an_empty_list() {
        let index = SearchIndex::build(vec![item(1, 10, 12)], 1);
        let body = index.search(SearchWindow {
            starts_at: at(13),
            ends_at: None,
        });
        assert_eq!(&body[..], br#"{"data":{"events":[]},"error":null}"#);
    }
}
