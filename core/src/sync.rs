//! The sync engine: runs each provider instance on its schedule or on demand, streams
//! its records into the store in batches inside one transaction, and reports.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{Instrument, info, info_span, warn};
use uuid::Uuid;

use crate::model::EventRecord;
use crate::provider::{ProviderError, RecordSink, Rejection};
use crate::registry::BuiltProvider;
use crate::store::{BatchOutcome, EventStore, StoreError, SyncTransaction};

/// How many rejections a report lists; the count is always exact.
pub const MAX_LISTED_REJECTIONS: usize = 100;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// The feed was read and every valid record stored.
    Succeeded,
    /// Nothing was stored: the feed could not be fetched or read, or the store failed.
    Failed,
}

impl RunStatus {
    /// The lowercase name used in reports and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
        }
    }
}

/// What one run of one provider instance did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    /// The run's id.
    pub run_id: Uuid,
    /// The provider instance's name.
    pub provider: String,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
    /// How it ended.
    pub status: RunStatus,
    /// Records the feed carried, valid or not.
    pub seen: u64,
    /// Items new to the store.
    pub inserted: u64,
    /// Items whose content changed.
    pub updated: u64,
    /// Items unchanged (not rewritten).
    pub unchanged: u64,
    /// Records rejected.
    pub rejected: u64,
    /// The first rejections, with their reasons.
    pub rejections: Vec<Rejection>,
    /// Elements and attributes the provider's mapping does not know, with counts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unknown: BTreeMap<String, u64>,
    /// Bytes of feed read.
    pub bytes: u64,
    /// Why the run failed.
    pub error: Option<String>,
}

impl SyncReport {
    fn started(provider: &str) -> Self {
        let now = Utc::now();
        Self {
            run_id: Uuid::new_v4(),
            provider: provider.to_owned(),
            started_at: now,
            finished_at: now,
            status: RunStatus::Succeeded,
            seen: 0,
            inserted: 0,
            updated: 0,
            unchanged: 0,
            rejected: 0,
            rejections: Vec::new(),
            unknown: BTreeMap::new(),
            bytes: 0,
            error: None,
        }
    }

    fn fail(&mut self, error: impl ToString) {
        self.status = RunStatus::Failed;
        self.error = Some(error.to_string());
        // Nothing of a failed run is kept.
        self.inserted = 0;
        self.updated = 0;
        self.unchanged = 0;
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SyncError {
    /// No provider instance of that name is configured.
    #[error("no provider instance is named {0:?}")]
    UnknownProvider(String),
    /// A run of that instance is already going on, here or in another process.
    #[error("a sync of {0:?} is already running")]
    AlreadyRunning(String),
}

/// A configured instance and its run state.
struct Instance {
    built: BuiltProvider,
    enabled: AtomicBool,
    running: tokio::sync::Mutex<()>,
    last_report: Mutex<Option<SyncReport>>,
}

/// What the engine tells of an instance.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceStatus {
    /// The instance's name.
    pub name: String,
    /// Its kind.
    pub kind: &'static str,
    /// Whether it syncs.
    pub enabled: bool,
    /// Time between syncs.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Whether a run is going on in this process.
    pub running: bool,
    /// The last run's report in this process.
    pub last_report: Option<SyncReport>,
}

/// Runs provider instances into a store.
pub struct SyncEngine {
    store: Arc<dyn EventStore>,
    instances: BTreeMap<String, Arc<Instance>>,
    batch_size: usize,
    committed: watch::Sender<u64>,
}

impl SyncEngine {
    /// An engine over `providers`, writing `batch_size` records per statement batch.
    pub fn new(store: Arc<dyn EventStore>, providers: Vec<BuiltProvider>, batch_size: usize) -> Self {
        let instances = providers
            .into_iter()
            .map(|built| {
                let instance = Instance {
                    enabled: AtomicBool::new(built.config.enabled),
                    built,
                    running: tokio::sync::Mutex::new(()),
                    last_report: Mutex::new(None),
                };
                (instance.built.name.clone(), Arc::new(instance))
            })
            .collect();
        Self {
            store,
            instances,
            batch_size: batch_size.max(1),
            committed: watch::channel(0).0,
        }
    }

    /// Changes each time a run commits changes to the store.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.committed.subscribe()
    }

    /// The configured instances, sorted by name.
    pub fn instances(&self) -> Vec<InstanceStatus> {
        self.instances
            .values()
            .map(|instance| InstanceStatus {
                name: instance.built.name.clone(),
                kind: instance.built.kind,
                enabled: instance.enabled.load(Ordering::Relaxed),
                interval: instance.built.config.interval,
                running: instance.running.try_lock().is_err(),
                last_report: lock(&instance.last_report).clone(),
            })
            .collect()
    }

    /// Switches an instance's scheduled syncs on or off; its data stays served.
    pub fn set_enabled(&self, name: &str, enabled: bool) -> Result<(), SyncError> {
        let instance = self.instance(name)?;
        instance.enabled.store(enabled, Ordering::Relaxed);
        Ok(())
    }

    fn instance(&self, name: &str) -> Result<&Arc<Instance>, SyncError> {
        self.instances
            .get(name)
            .ok_or_else(|| SyncError::UnknownProvider(name.to_owned()))
    }

    /// Runs one sync of `name` now and returns its report. A failed fetch is a
    /// report with status `failed`, not an `Err`.
    pub async fn run(&self, name: &str) -> Result<SyncReport, SyncError> {
        let instance = self.instance(name)?;
        let Ok(_running) = instance.running.try_lock() else {
            return Err(SyncError::AlreadyRunning(name.to_owned()));
        };
        let span = info_span!("sync", provider = %name, kind = instance.built.kind);
        let report = self.run_locked(instance).instrument(span).await?;
        *lock(&instance.last_report) = Some(report.clone());
        Ok(report)
    }

    async fn run_locked(&self, instance: &Instance) -> Result<SyncReport, SyncError> {
        let name = &instance.built.name;
        let mut report = SyncReport::started(name);
        match self.store.begin_sync(name).await {
            Err(StoreError::Conflict(_)) => return Err(SyncError::AlreadyRunning(name.clone())),
            Err(error) => report.fail(error),
            Ok(transaction) => {
                let mut sink = BatchingSink::new(transaction, self.batch_size, report.started_at);
                let fetched = instance.built.provider.fetch(&mut sink).await;
                let result = match fetched {
                    Ok(stats) => {
                        report.bytes = stats.bytes;
                        sink.finish().await
                    }
                    Err(error) => Err(error),
                };
                let counts = sink.counts;
                report.seen = counts.seen;
                report.rejected = counts.rejected;
                report.rejections = sink.rejections;
                report.unknown = sink.unknown;
                match result {
                    Ok(outcome) => {
                        report.inserted = outcome.inserted;
                        report.updated = outcome.updated;
                        report.unchanged = outcome.unchanged;
                    }
                    Err(error) => report.fail(error),
                }
            }
        }
        report.finished_at = Utc::now();
        if report.status == RunStatus::Succeeded && (report.inserted > 0 || report.updated > 0) {
            self.committed.send_modify(|version| *version += 1);
        }
        if let Err(error) = self.store.record_run(&report).await {
            warn!(%error, "Could not record the run in the history.");
        }
        log_report(&report);
        Ok(report)
    }

    /// Starts one task per instance that syncs at start-up and then every interval
    /// while enabled, until `shutdown` turns true. A run in progress at shutdown is
    /// dropped, which rolls its transaction back.
    pub fn spawn_schedules(self: &Arc<Self>, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        self.instances
            .keys()
            .map(|name| {
                let engine = Arc::clone(self);
                let name = name.clone();
                let mut shutdown = shutdown.clone();
                tokio::spawn(async move {
                    let Ok(instance) = engine.instance(&name).cloned() else {
                        return;
                    };
                    let mut ticks = tokio::time::interval(instance.built.config.interval);
                    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    loop {
                        tokio::select! {
                            _ = ticks.tick() => {}
                            _ = shutdown.wait_for(|stop| *stop) => return,
                        }
                        if !instance.enabled.load(Ordering::Relaxed) {
                            continue;
                        }
                        tokio::select! {
                            result = engine.run(&name) => {
                                if let Err(error) = result {
                                    info!(provider = %name, %error, "Scheduled sync skipped.");
                                }
                            }
                            _ = shutdown.wait_for(|stop| *stop) => {
                                warn!(provider = %name, "Sync cancelled by shutdown; nothing of it was committed.");
                                return;
                            }
                        }
                    }
                })
            })
            .collect()
    }
}

fn log_report(report: &SyncReport) {
    let elapsed_ms = (report.finished_at - report.started_at).num_milliseconds();
    match report.status {
        RunStatus::Succeeded => info!(
            provider = %report.provider,
            run_id = %report.run_id,
            seen = report.seen,
            inserted = report.inserted,
            updated = report.updated,
            unchanged = report.unchanged,
            rejected = report.rejected,
            bytes = report.bytes,
            elapsed_ms,
            "Sync finished."
        ),
        RunStatus::Failed => warn!(
            provider = %report.provider,
            run_id = %report.run_id,
            error = report.error.as_deref().unwrap_or_default(),
            elapsed_ms,
            "Sync failed; the store is unchanged."
        ),
    }
    for rejection in &report.rejections {
        warn!(provider = %report.provider, record = %rejection.record, reason = %rejection.reason, "Record rejected.");
    }
    for (what, count) in &report.unknown {
        warn!(provider = %report.provider, what = %what, count, "The feed carries something the mapping does not know.");
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Debug, Default, Clone, Copy)]
struct SinkCounts {
    seen: u64,
    rejected: u64,
}

/// Batches records into the run's transaction as the provider parses them.
struct BatchingSink {
    transaction: Box<dyn SyncTransaction>,
    batch: Vec<EventRecord>,
    batch_size: usize,
    seen_at: DateTime<Utc>,
    seen_ids: HashSet<Uuid>,
    outcome: BatchOutcome,
    counts: SinkCounts,
    rejections: Vec<Rejection>,
    unknown: BTreeMap<String, u64>,
}

impl BatchingSink {
    fn new(transaction: Box<dyn SyncTransaction>, batch_size: usize, seen_at: DateTime<Utc>) -> Self {
        Self {
            transaction,
            batch: Vec::with_capacity(batch_size),
            batch_size,
            seen_at,
            seen_ids: HashSet::new(),
            outcome: BatchOutcome::default(),
            counts: SinkCounts::default(),
            rejections: Vec::new(),
            unknown: BTreeMap::new(),
        }
    }

    async fn flush(&mut self) -> Result<(), StoreError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(self.batch_size));
        self.outcome += self.transaction.upsert(batch, self.seen_at).await?;
        Ok(())
    }

    async fn finish(&mut self) -> Result<BatchOutcome, ProviderError> {
        self.flush().await?;
        let transaction = std::mem::replace(&mut self.transaction, Box::new(Finished));
        transaction.commit().await?;
        Ok(self.outcome)
    }
}

#[async_trait]
impl RecordSink for BatchingSink {
    async fn accept(&mut self, record: EventRecord) -> Result<(), StoreError> {
        self.counts.seen += 1;
        let key = &record.key;
        let name = format!("base_event {} / event {}", key.base_event_id, key.event_id);
        if let Err(reason) = record.validate() {
            self.reject(Rejection {
                record: name,
                reason,
                raw: None,
            });
            self.counts.seen -= 1; // `reject` counted it already.
            return Ok(());
        }
        if !self.seen_ids.insert(record.id()) {
            self.reject(Rejection {
                record: name,
                reason: "the feed carries this session more than once; the first one is kept".into(),
                raw: None,
            });
            self.counts.seen -= 1;
            return Ok(());
        }
        self.batch.push(record);
        if self.batch.len() >= self.batch_size {
            self.flush().await?;
        }
        Ok(())
    }

    fn reject(&mut self, mut rejection: Rejection) {
        self.counts.seen += 1;
        self.counts.rejected += 1;
        if self.rejections.len() < MAX_LISTED_REJECTIONS {
            rejection.raw = None;
            self.rejections.push(rejection);
        }
    }

    fn unknown(&mut self, what: &str) {
        *self.unknown.entry(what.to_owned()).or_default() += 1;
    }
}

/// Stands in for a transaction already committed; never written to.
struct Finished;

#[async_trait]
impl SyncTransaction for Finished {
    async fn upsert(&mut self, _: Vec<EventRecord>, _: DateTime<Utc>) -> Result<BatchOutcome, StoreError> {
        Err(StoreError::Backend(
            "the sync transaction is already committed".into(),
        ))
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        Ok(())
    }
}
