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
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, info_span, warn};
use uuid::Uuid;

use crate::archive::{PayloadArchive, SharedWriter};
use crate::feed::{FeedLimits, parse_bytes, read_feed};
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
    /// The feed was read and every record stored.
    Succeeded,
    /// The feed was read and every valid record stored; some records were rejected.
    Partial,
    /// Nothing was stored: the feed could not be fetched or read, or the store failed.
    Failed,
}

impl RunStatus {
    /// The lowercase name used in reports and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
        }
    }

    /// Whether the run committed what it read.
    pub fn committed(self) -> bool {
        self != RunStatus::Failed
    }
}

/// The circuit breaker of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CircuitState {
    /// Runs go ahead.
    Closed,
    /// Scheduled runs are skipped until the cool-down has passed.
    Open,
    /// The cool-down has passed: the next run is a probe.
    HalfOpen,
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
    /// Attempts made (1 + retries).
    #[serde(default)]
    pub attempts: u32,
    /// SHA-256 of the archived payload, when archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// Set when the run re-mapped an archived payload instead of fetching.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replayed_from: Option<String>,
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
            attempts: 0,
            payload: None,
            replayed_from: None,
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
    /// A replay found no archived payload to re-map.
    #[error("no archived payload to replay: {0}")]
    NothingToReplay(String),
    /// The run's task stopped before it reported (it panicked or was cancelled).
    #[error("{0}")]
    Aborted(String),
    /// The service is shutting down: the run was cancelled (or refused), and nothing
    /// of it was committed.
    #[error("the service is shutting down: the sync of {0:?} was cancelled and nothing of it was kept")]
    ShuttingDown(String),
}

/// A configured instance and its run state.
struct Instance {
    built: BuiltProvider,
    enabled: AtomicBool,
    running: tokio::sync::Mutex<()>,
    state: Mutex<RunState>,
}

/// What the engine remembers of an instance's runs in this process.
#[derive(Default)]
struct RunState {
    last_report: Option<SyncReport>,
    last_success: Option<DateTime<Utc>>,
    consecutive_failures: u32,
    /// Set while the breaker is open: scheduled runs wait until then.
    open_until: Option<DateTime<Utc>>,
}

impl RunState {
    fn circuit(&self, now: DateTime<Utc>) -> CircuitState {
        match self.open_until {
            None => CircuitState::Closed,
            Some(until) if now < until => CircuitState::Open,
            Some(_) => CircuitState::HalfOpen,
        }
    }
}

/// What the engine tells of an instance.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceStatus {
    /// The instance's name.
    pub name: String,
    /// Its kind.
    pub kind: &'static str,
    /// Whether it syncs on schedule.
    pub enabled: bool,
    /// Time between syncs.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Whether a run is going on in this process.
    pub running: bool,
    /// The circuit breaker's state.
    pub circuit: CircuitState,
    /// Failed runs in a row.
    pub consecutive_failures: u32,
    /// When a run last committed, in this process.
    pub last_success: Option<DateTime<Utc>>,
    /// The last run's report in this process.
    pub last_report: Option<SyncReport>,
}

/// Runs provider instances into a store.
pub struct SyncEngine {
    store: Arc<dyn EventStore>,
    instances: BTreeMap<String, Arc<Instance>>,
    batch_size: usize,
    archive: Option<PayloadArchive>,
    committed: watch::Sender<u64>,
    /// Where runs execute; `None`: on the caller's runtime.
    runtime: Option<tokio::runtime::Handle>,
    /// Cancelled at shutdown: every run stops at once and rolls back.
    shutdown: CancellationToken,
}

/// Aborts the task when dropped: a caller that stops waiting (shutdown, a client
/// gone) cancels the run, which rolls its transaction back.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Where a run's document comes from.
enum Source {
    /// The provider, through `open`.
    Fetch,
    /// An archived payload.
    Replay { hash: String, bytes: Vec<u8> },
}

impl SyncEngine {
    /// An engine over `providers`, writing `batch_size` records per statement batch,
    /// archiving payloads in `archive` when given.
    pub fn new(
        store: Arc<dyn EventStore>,
        providers: Vec<BuiltProvider>,
        batch_size: usize,
        archive: Option<PayloadArchive>,
    ) -> Self {
        let instances = providers
            .into_iter()
            .map(|built| {
                let instance = Instance {
                    enabled: AtomicBool::new(built.config.enabled),
                    built,
                    running: tokio::sync::Mutex::new(()),
                    state: Mutex::new(RunState::default()),
                };
                (instance.built.name.clone(), Arc::new(instance))
            })
            .collect();
        Self {
            store,
            instances,
            batch_size: batch_size.max(1),
            archive,
            committed: watch::channel(0).0,
            runtime: None,
            shutdown: CancellationToken::new(),
        }
    }

    /// Runs syncs on `runtime` rather than the caller's, e.g. a runtime on its own
    /// low-priority thread, so that parsing a large feed never delays a request
    /// handled on the caller's workers.
    pub fn with_runtime(mut self, runtime: tokio::runtime::Handle) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// Cancels every running sync, scheduled or not, and refuses new ones: their
    /// transactions roll back and nothing of them is ever visible. Schedules stop.
    pub fn shut_down(&self) {
        self.shutdown.cancel();
    }

    /// Changes each time a run commits changes to the store.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.committed.subscribe()
    }

    /// The configured instances, sorted by name.
    pub fn instances(&self) -> Vec<InstanceStatus> {
        let now = Utc::now();
        self.instances
            .values()
            .map(|instance| {
                let state = lock(&instance.state);
                InstanceStatus {
                    name: instance.built.name.clone(),
                    kind: instance.built.kind,
                    enabled: instance.enabled.load(Ordering::Relaxed),
                    interval: instance.built.config.interval,
                    running: instance.running.try_lock().is_err(),
                    circuit: state.circuit(now),
                    consecutive_failures: state.consecutive_failures,
                    last_success: state.last_success,
                    last_report: state.last_report.clone(),
                }
            })
            .collect()
    }

    /// Whether an instance of that name is configured.
    pub fn has_instance(&self, name: &str) -> bool {
        self.instances.contains_key(name)
    }

    /// Switches an instance's scheduled syncs on or off in this process; its data stays
    /// served. [`EventStore::set_provider_enabled`] makes it last and reach every process.
    pub fn set_enabled(&self, name: &str, enabled: bool) -> Result<(), SyncError> {
        let instance = self.instance(name)?;
        instance.enabled.store(enabled, Ordering::Relaxed);
        Ok(())
    }

    /// Reads the runtime switches from the store: a switch set there wins over the
    /// configuration's `enabled`.
    pub async fn refresh_toggles(&self) -> Result<(), StoreError> {
        let toggles = self.store.provider_toggles().await?;
        for (name, instance) in &self.instances {
            let enabled = toggles
                .get(name)
                .copied()
                .unwrap_or(instance.built.config.enabled);
            instance.enabled.store(enabled, Ordering::Relaxed);
        }
        Ok(())
    }

    fn instance(&self, name: &str) -> Result<&Arc<Instance>, SyncError> {
        self.instances
            .get(name)
            .ok_or_else(|| SyncError::UnknownProvider(name.to_owned()))
    }

    /// Runs one sync of `name` now and returns its report. A failed fetch is a
    /// report with status `failed`, not an `Err`.
    pub async fn run(self: &Arc<Self>, name: &str) -> Result<SyncReport, SyncError> {
        self.run_on_runtime(name, Source::Fetch).await
    }

    async fn run_on_runtime(self: &Arc<Self>, name: &str, source: Source) -> Result<SyncReport, SyncError> {
        if self.shutdown.is_cancelled() {
            return Err(SyncError::ShuttingDown(name.to_owned()));
        }
        let Some(runtime) = &self.runtime else {
            return self.run_from(name, source).await;
        };
        let engine = Arc::clone(self);
        let owned = name.to_owned();
        let mut task = AbortOnDrop(runtime.spawn(async move { engine.run_from(&owned, source).await }));
        match (&mut task.0).await {
            Ok(result) => result,
            Err(error) => Err(SyncError::Aborted(format!(
                "the sync of {name:?} stopped: {error}"
            ))),
        }
    }

    /// Re-maps an archived payload of `name` without fetching: the payload of run
    /// `run_id`, or the latest archived one.
    pub async fn replay(self: &Arc<Self>, name: &str, run_id: Option<Uuid>) -> Result<SyncReport, SyncError> {
        self.instance(name)?;
        let archive = self
            .archive
            .as_ref()
            .ok_or_else(|| SyncError::NothingToReplay("the payload archive is off".into()))?;
        let runs = self
            .store
            .runs(name, 1000)
            .await
            .map_err(|error| SyncError::NothingToReplay(error.to_string()))?;
        let hash = runs
            .iter()
            .filter(|run| run_id.is_none_or(|id| run.run_id == id))
            .find_map(|run| run.payload.clone())
            .ok_or_else(|| {
                SyncError::NothingToReplay(match run_id {
                    Some(id) => format!("run {id} of {name:?} has no archived payload"),
                    None => format!("no run of {name:?} has an archived payload"),
                })
            })?;
        let bytes = archive
            .read(name, &hash)
            .map_err(|error| SyncError::NothingToReplay(format!("payload {hash}: {error}")))?;
        self.run_on_runtime(name, Source::Replay { hash, bytes }).await
    }

    async fn run_from(&self, name: &str, source: Source) -> Result<SyncReport, SyncError> {
        let instance = self.instance(name)?;
        let Ok(_running) = instance.running.try_lock() else {
            return Err(SyncError::AlreadyRunning(name.to_owned()));
        };
        let span =
            info_span!("sync", provider = %name, kind = instance.built.kind, run_id = tracing::field::Empty);
        let run = self.run_locked(instance, source).instrument(span);
        let report = tokio::select! {
            biased;
            () = self.shutdown.cancelled() => {
                warn!(provider = %name, "Sync cancelled by shutdown; nothing of it was committed.");
                return Err(SyncError::ShuttingDown(name.to_owned()));
            }
            report = run => report?,
        };
        let mut state = lock(&instance.state);
        if report.status.committed() {
            state.last_success = Some(report.finished_at);
            state.consecutive_failures = 0;
            state.open_until = None;
        } else {
            state.consecutive_failures += 1;
            let config = &instance.built.config;
            if state.consecutive_failures >= config.breaker_threshold {
                let cooldown = chrono::Duration::from_std(config.breaker_cooldown).unwrap_or_default();
                state.open_until = Some(report.finished_at + cooldown);
                warn!(provider = %name, failures = state.consecutive_failures, "Circuit breaker open: scheduled runs pause for the cool-down.");
            }
        }
        state.last_report = Some(report.clone());
        record_metrics(&report, state.circuit(Utc::now()), state.last_success);
        drop(state);
        Ok(report)
    }

    async fn run_locked(&self, instance: &Instance, source: Source) -> Result<SyncReport, SyncError> {
        let name = &instance.built.name;
        let config = &instance.built.config;
        let mut report = SyncReport::started(name);
        tracing::Span::current().record("run_id", tracing::field::display(report.run_id));
        let deadline = tokio::time::Instant::now() + config.deadline;
        let mut quarantine = Vec::new();
        let mut backoff = config.retry_backoff;
        loop {
            report.attempts += 1;
            let error = match self.attempt(instance, &source, &mut report).await? {
                Ok(rejected) => {
                    quarantine = rejected;
                    report.status = if report.rejected > 0 {
                        RunStatus::Partial
                    } else {
                        RunStatus::Succeeded
                    };
                    report.error = None;
                    break;
                }
                Err(error) => error,
            };
            let retry_after = match &error {
                ProviderError::Fetch {
                    transient: true,
                    retry_after,
                    ..
                } => Some(retry_after.unwrap_or_default()),
                _ => None,
            };
            report.fail(&error);
            let Some(retry_after) = retry_after.filter(|_| report.attempts <= config.retries) else {
                break;
            };
            // Exponential backoff with jitter, and at least what the provider asked.
            let jitter = rand::random_range(0.5..=1.0);
            let wait = backoff.mul_f64(jitter).max(retry_after);
            if tokio::time::Instant::now() + wait >= deadline {
                info!(provider = %name, wait_ms = wait.as_millis() as u64, "No retry: it would pass the run's deadline.");
                break;
            }
            info!(provider = %name, attempt = report.attempts, %error, wait_ms = wait.as_millis() as u64, "Retrying after a transient failure.");
            tokio::time::sleep(wait).await;
            backoff = backoff.saturating_mul(2);
        }
        report.finished_at = Utc::now();
        if report.status.committed() && (report.inserted > 0 || report.updated > 0) {
            self.committed.send_modify(|version| *version += 1);
        }
        if let Err(error) = self.store.record_run(&report, &quarantine).await {
            warn!(%error, "Could not record the run in the history.");
        }
        log_report(&report);
        Ok(report)
    }

    /// One attempt: a transaction, the document read into it, commit or drop. Returns
    /// the rejections to quarantine, or why the attempt failed (nothing kept).
    async fn attempt(
        &self,
        instance: &Instance,
        source: &Source,
        report: &mut SyncReport,
    ) -> Result<Result<Vec<Rejection>, ProviderError>, SyncError> {
        let name = &instance.built.name;
        let config = &instance.built.config;
        let transaction = match self.store.begin_sync(name).await {
            Err(StoreError::Conflict(_)) => return Err(SyncError::AlreadyRunning(name.clone())),
            Err(error) => return Ok(Err(ProviderError::Store(error))),
            Ok(transaction) => transaction,
        };
        let mut sink = BatchingSink::new(transaction, self.batch_size, report.started_at);
        let provider = instance.built.provider.as_ref();
        let (fetched, archived) = match source {
            Source::Fetch => {
                let writer = self
                    .archive
                    .as_ref()
                    .and_then(|archive| match archive.writer(name) {
                        Ok(writer) => Some(SharedWriter(Arc::new(Mutex::new(Some(writer))))),
                        Err(error) => {
                            warn!(%error, "Cannot archive the payload of this run.");
                            None
                        }
                    });
                let copy = writer
                    .clone()
                    .map(|w| Box::new(w) as Box<dyn std::io::Write + Send>);
                let limits = FeedLimits {
                    timeout: config.timeout,
                    max_bytes: config.max_feed_bytes,
                };
                let fetched = read_feed(provider, limits, copy, &mut sink).await;
                (fetched, writer.and_then(|writer| writer.take()))
            }
            Source::Replay { hash, bytes } => {
                report.replayed_from = Some(hash.clone());
                (parse_bytes(provider, bytes.clone(), &mut sink).await, None)
            }
        };
        if let Some(writer) = archived {
            match fetched.as_ref().map(|stats| stats.bytes) {
                Ok(bytes) if bytes > 0 => match writer.finish() {
                    Ok(hash) => report.payload = Some(hash),
                    Err(error) => warn!(%error, "Cannot archive the payload of this run."),
                },
                _ => writer.discard(),
            }
            if let Some(archive) = &self.archive
                && let Err(error) = archive.prune(name)
            {
                warn!(%error, "Cannot prune the payload archive.");
            }
        }
        let result = match fetched {
            Ok(stats) => {
                report.bytes = stats.bytes;
                sink.finish().await
            }
            Err(error) => Err(error),
        };
        report.seen = sink.counts.seen;
        report.rejected = sink.counts.rejected;
        report.unknown = std::mem::take(&mut sink.unknown);
        report.rejections = sink
            .quarantine
            .iter()
            .take(MAX_LISTED_REJECTIONS)
            .map(|rejection| Rejection {
                raw: None,
                ..rejection.clone()
            })
            .collect();
        Ok(result.map(|outcome| {
            report.inserted = outcome.inserted;
            report.updated = outcome.updated;
            report.unchanged = outcome.unchanged;
            sink.quarantine
        }))
    }

    /// Starts one task per instance that syncs at start-up and then every interval
    /// while enabled and the circuit allows, until [`shut_down`](Self::shut_down). A
    /// run in progress then is cancelled, which rolls its transaction back.
    pub fn spawn_schedules(self: &Arc<Self>) -> Vec<JoinHandle<()>> {
        self.instances
            .keys()
            .map(|name| {
                let engine = Arc::clone(self);
                let name = name.clone();
                let shutdown = self.shutdown.clone();
                tokio::spawn(async move {
                    let Ok(instance) = engine.instance(&name).cloned() else {
                        return;
                    };
                    let mut ticks = tokio::time::interval(instance.built.config.interval);
                    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    loop {
                        tokio::select! {
                            _ = ticks.tick() => {}
                            () = shutdown.cancelled() => return,
                        }
                        if let Err(error) = engine.refresh_toggles().await {
                            warn!(provider = %name, %error, "Cannot read the runtime switches; using the last known.");
                        }
                        if !instance.enabled.load(Ordering::Relaxed) {
                            continue;
                        }
                        if lock(&instance.state).circuit(Utc::now()) == CircuitState::Open {
                            info!(provider = %name, "Scheduled sync skipped: the circuit breaker is open.");
                            continue;
                        }
                        match engine.run(&name).await {
                            Err(SyncError::ShuttingDown(_)) => return,
                            Err(error) => info!(provider = %name, %error, "Scheduled sync skipped."),
                            Ok(_) => {}
                        }
                    }
                })
            })
            .collect()
    }
}

/// Publishes a run through the `metrics` facade (the server exports it).
fn record_metrics(report: &SyncReport, circuit: CircuitState, last_success: Option<DateTime<Utc>>) {
    let provider = report.provider.clone();
    metrics::counter!("boxoffice_sync_runs_total", "provider" => provider.clone(), "status" => report.status.as_str())
        .increment(1);
    for (outcome, count) in [
        ("inserted", report.inserted),
        ("updated", report.updated),
        ("unchanged", report.unchanged),
        ("rejected", report.rejected),
    ] {
        metrics::counter!("boxoffice_sync_records_total", "provider" => provider.clone(), "outcome" => outcome)
            .increment(count);
    }
    if let Some(at) = last_success {
        metrics::gauge!("boxoffice_sync_last_success_timestamp_seconds", "provider" => provider.clone())
            .set(at.timestamp() as f64);
    }
    let circuit = match circuit {
        CircuitState::Closed => 0.0,
        CircuitState::HalfOpen => 1.0,
        CircuitState::Open => 2.0,
    };
    metrics::gauge!("boxoffice_sync_circuit_state", "provider" => provider).set(circuit);
}

fn log_report(report: &SyncReport) {
    let elapsed_ms = (report.finished_at - report.started_at).num_milliseconds();
    match report.status {
        RunStatus::Succeeded | RunStatus::Partial => info!(
            provider = %report.provider,
            run_id = %report.run_id,
            seen = report.seen,
            inserted = report.inserted,
            updated = report.updated,
            unchanged = report.unchanged,
            rejected = report.rejected,
            bytes = report.bytes,
            attempts = report.attempts,
            status = report.status.as_str(),
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
    /// Rejections with their raw elements, for the quarantine (the first
    /// [`MAX_QUARANTINED`] of a run).
    quarantine: Vec<Rejection>,
    unknown: BTreeMap<String, u64>,
}

/// How often (in records) a sync yields its thread to the operating system.
const YIELD_EVERY_RECORDS: u64 = 8;

/// How many rejections of one run go to the quarantine; the count is always exact.
pub const MAX_QUARANTINED: usize = 1000;

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
            quarantine: Vec::new(),
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
        if self.counts.seen.is_multiple_of(YIELD_EVERY_RECORDS) {
            // Parsing a large feed is long CPU work: hand the core to waiting threads
            // (request handling) often, so that a sync adds little to their latency.
            std::thread::yield_now();
        }
        Ok(())
    }

    fn reject(&mut self, rejection: Rejection) {
        self.counts.seen += 1;
        self.counts.rejected += 1;
        if self.quarantine.len() < MAX_QUARANTINED {
            self.quarantine.push(rejection);
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
