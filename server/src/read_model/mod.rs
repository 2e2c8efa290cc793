//! The in-memory read model /search is served from.
//!
//! Every searchable item is held sorted by (start instant, id) with its JSON rendered
//! once, when the model is built, in a compact snapshot ([`index`]): flat arrays of
//! instants, ids and providers and one buffer of JSON. A request binary-searches the
//! window's start and copies the matching runs of pre-rendered items into one buffer:
//! no I/O, no lock a sync holds, no per-item serialization. Whole responses are then
//! kept per snapshot ([`cache`]), with their gzip and brotli variants, so a repeated
//! query costs a hash lookup. The model is rebuilt from the store after each committed
//! sync (here, or in another process, seen through the store's data version) and
//! swapped atomically; readers keep the snapshot they started with, and a new
//! snapshot starts with an empty response cache.

mod builder;
pub mod cache;
pub mod encoding;
pub mod index;
pub mod query;
mod summary;

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use boxoffice_core::{EventStore, StoreError};
use tokio::sync::{Mutex, watch};
use tracing::{debug, info, warn};

pub use builder::IndexBuilder;
pub use cache::{Rendered, ResponseCache};
pub use encoding::Encoding;
pub use index::SearchIndex;
pub use query::{Cursor, SearchKey, SearchQuery};

/// The process's resident memory in MiB, where the system tells (Linux); 0 elsewhere.
fn resident_mb() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096 / (1024 * 1024))
}

/// The current snapshot and how to refresh it.
pub struct ReadModel {
    current: ArcSwap<SearchIndex>,
    /// The byte budget of each snapshot's response cache.
    cache_bytes: usize,
    store: Arc<dyn EventStore>,
    refreshing: Mutex<()>,
    /// Where rebuilds run (the sync runtime): off the HTTP workers.
    runtime: Option<tokio::runtime::Handle>,
}

impl ReadModel {
    /// Loads the searchable items from the store; later rebuilds run on `runtime`
    /// when given. Each snapshot keeps up to `cache_bytes` of rendered responses.
    pub async fn load(
        store: Arc<dyn EventStore>,
        runtime: Option<tokio::runtime::Handle>,
        cache_bytes: usize,
    ) -> Result<Arc<Self>, StoreError> {
        let model = Arc::new(Self {
            current: ArcSwap::from_pointee(SearchIndex::build(Vec::new(), -1)),
            cache_bytes,
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
        let started = Instant::now();
        let rss_before = resident_mb();
        // Streamed from the store: each item is rendered into the snapshot as it
        // arrives and its strings freed at once.
        // Sized once: the last snapshot's size, or at the first load the store's hint
        // (growing a 300 MB buffer by doubling leaves the halves it outgrew resident).
        let mut expected = self.current.load().len();
        if expected == 0 {
            let hint = self.store.searchable_hint().await.unwrap_or(0);
            expected = usize::try_from(hint).unwrap_or(0);
        }
        let mut builder = IndexBuilder::with_capacity(expected);
        self.store
            .for_each_searchable(&mut |item| builder.push(&item))
            .await?;
        let loaded = started.elapsed();
        let rss_loaded = resident_mb();
        let index = builder.finish(version, self.cache_bytes);
        // What streaming the store's items into the snapshot and sorting it cost, for
        // `make bench` and operators sizing a host (resident sizes are the process's).
        debug!(
            items = index.len(),
            version,
            snapshot_mb = index.heap_bytes() / (1024 * 1024),
            stream_ms = loaded.as_millis() as u64,
            sort_ms = (started.elapsed() - loaded).as_millis() as u64,
            rss_before_mb = rss_before,
            rss_after_stream_mb = rss_loaded,
            rss_after_build_mb = resident_mb(),
            "Read model rebuilt."
        );
        self.current.store(Arc::new(index));
        Ok(true)
    }

    /// Keeps the snapshot fresh until `shutdown`: at once after a local commit or one
    /// that `others` announces, and every `poll` for commits made by other processes.
    pub fn spawn_refresher(
        self: &Arc<Self>,
        mut commits: watch::Receiver<u64>,
        mut others: Option<watch::Receiver<u64>>,
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
                    changed = other_commit(&mut others) => if changed.is_err() { others = None },
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

/// The next commit another process announced (PostgreSQL's notifications); never,
/// without a listener.
async fn other_commit(others: &mut Option<watch::Receiver<u64>>) -> Result<(), watch::error::RecvError> {
    match others {
        Some(others) => others.changed().await,
        None => std::future::pending().await,
    }
}
