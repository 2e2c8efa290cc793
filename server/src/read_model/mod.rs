//! The in-memory read model /search is served from.
//!
//! Every searchable item is held sorted by (start instant, id) with its JSON rendered
//! once, when the model is built, in a compact snapshot ([`index`]): flat arrays of
//! instants, ids and providers and one buffer of JSON. A request binary-searches the
//! window's start and copies the matching runs of pre-rendered items into one buffer:
//! no I/O, no lock a sync holds, no per-item serialization. Whole responses are then
//! kept per snapshot ([`cache`]), with their gzip and brotli variants, so a repeated
//! query costs a hash lookup. After each committed change (here, or in another
//! process, seen through the store's data version) the model is brought forward by
//! what the store says changed ([`changes`]), or rebuilt whole when the store cannot
//! tell, and swapped atomically; readers keep the snapshot they started with, and a
//! new snapshot starts with an empty response cache.

mod builder;
pub mod cache;
mod changes;
pub mod encoding;
pub mod index;
pub mod query;
mod segment;
pub mod snapshot_file;
mod summary;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
pub use snapshot_file::SnapshotFile;

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
    rebuilds: AtomicU64,
    brought_forward: AtomicU64,
    /// Where the snapshot is kept across restarts, if anywhere.
    file: Option<SnapshotFile>,
    /// A write of the file is under way (one at a time; a later one is skipped).
    writing: Arc<AtomicBool>,
}

/// How the snapshots served so far were made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Updates {
    /// Read whole from the store (the first load included).
    pub rebuilds: u64,
    /// Brought forward by what the store said changed.
    pub brought_forward: u64,
}

impl ReadModel {
    /// Loads the searchable items: from `file` when it holds a snapshot of this store
    /// that the store's change log can bring forward, else from the store. Later
    /// rebuilds run on `runtime` when given. Each snapshot keeps up to `cache_bytes`
    /// of rendered responses.
    pub async fn load(
        store: Arc<dyn EventStore>,
        runtime: Option<tokio::runtime::Handle>,
        cache_bytes: usize,
        file: Option<SnapshotFile>,
    ) -> Result<Arc<Self>, StoreError> {
        let started = Instant::now();
        let from_file = match &file {
            Some(file) => read_file(file.clone(), cache_bytes, store.data_version().await?).await,
            None => None,
        };
        let model = Arc::new(Self {
            current: ArcSwap::from_pointee(from_file.unwrap_or_else(|| SearchIndex::build(Vec::new(), -1))),
            cache_bytes,
            store,
            refreshing: Mutex::new(()),
            runtime,
            rebuilds: AtomicU64::new(0),
            brought_forward: AtomicU64::new(0),
            file,
            writing: Arc::new(AtomicBool::new(false)),
        });
        model.rebuild().await?;
        let snapshot = model.snapshot();
        info!(
            items = snapshot.len(),
            version = snapshot.version(),
            took_ms = started.elapsed().as_millis() as u64,
            from_file = model.rebuilds.load(Ordering::Relaxed) == 0,
            "Read model loaded."
        );
        Ok(model)
    }

    /// Writes the current snapshot to the file, if one is configured (at shutdown,
    /// so that the next start reads it instead of the store). Waits for the write.
    pub async fn save(&self) {
        if let Some(handle) = self.spawn_save() {
            let _ = handle.await;
        }
    }

    /// Starts writing the current snapshot to the file on a blocking thread, unless
    /// none is configured or a write is under way.
    fn spawn_save(&self) -> Option<tokio::task::JoinHandle<()>> {
        let file = self.file.clone()?;
        if self.writing.swap(true, Ordering::AcqRel) {
            return None;
        }
        let snapshot = self.snapshot();
        let writing = Arc::clone(&self.writing);
        Some(tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            match file.write(&snapshot) {
                Ok(()) => debug!(
                    path = %file.path().display(),
                    version = snapshot.version(),
                    took_ms = started.elapsed().as_millis() as u64,
                    "Read model written to its file."
                ),
                Err(error) => {
                    warn!(path = %file.path().display(), %error, "Cannot write the read model's file.")
                }
            }
            writing.store(false, Ordering::Release);
        }))
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<SearchIndex> {
        self.current.load_full()
    }

    /// How the snapshots served so far were made.
    pub fn updates(&self) -> Updates {
        Updates {
            rebuilds: self.rebuilds.load(Ordering::Relaxed),
            brought_forward: self.brought_forward.load(Ordering::Relaxed),
        }
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
        let current = self.current.load_full();
        if current.version() >= 0
            && let Some(moved) = self.catch_up(&current).await?
        {
            return Ok(moved);
        }
        let version = self.store.data_version().await?;
        if version == current.version() {
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
        let mut expected = current.len();
        if expected == 0 {
            let hint = self.store.searchable_hint().await.unwrap_or(0);
            expected = usize::try_from(hint).unwrap_or(0);
        }
        drop(current);
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
        self.rebuilds.fetch_add(1, Ordering::Relaxed);
        // A full read is what the file spares the next start: keep it current.
        drop(self.spawn_save());
        Ok(true)
    }

    /// Brings `current` forward by what the store says changed since its version.
    /// Returns whether anything changed; `None` when the store cannot tell (the caller
    /// then reads everything).
    async fn catch_up(&self, current: &SearchIndex) -> Result<Option<bool>, StoreError> {
        let started = Instant::now();
        let mut changed = current.change_builder();
        let Some(changes) = self
            .store
            .changes_since(current.version(), &mut |item| changed.push(&item))
            .await?
        else {
            return Ok(None);
        };
        if changes.version == current.version() {
            return Ok(Some(false));
        }
        let items = changed.len();
        let index = current.apply(changed, &changes.retired, changes.version, self.cache_bytes);
        debug!(
            changed = items,
            retired = changes.retired.len(),
            version = changes.version,
            delta = index.delta_len(),
            items = index.len(),
            took_us = started.elapsed().as_micros() as u64,
            "Read model brought forward."
        );
        self.current.store(Arc::new(index));
        self.brought_forward.fetch_add(1, Ordering::Relaxed);
        Ok(Some(true))
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

/// The snapshot in `file`, if it is of this store and not ahead of its data version
/// `now` (a store restored from an older backup); anything else is said and ignored.
async fn read_file(file: SnapshotFile, cache_bytes: usize, now: i64) -> Option<SearchIndex> {
    let path = file.path().to_owned();
    let read = tokio::task::spawn_blocking(move || file.read(cache_bytes)).await;
    match read {
        Ok(Ok(Some(index))) if index.version() <= now => Some(index),
        Ok(Ok(Some(index))) => {
            warn!(path = %path.display(), file_version = index.version(), store_version = now,
                "The read model's file is ahead of the store; reading the store.");
            None
        }
        Ok(Ok(None)) => None,
        Ok(Err(error)) => {
            warn!(path = %path.display(), %error, "Cannot use the read model's file; reading the store.");
            None
        }
        Err(error) => {
            warn!(%error, "Reading the read model's file stopped; reading the store.");
            None
        }
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
