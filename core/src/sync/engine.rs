//! The sync engine: runs each provider instance on demand (and, through
//! `schedule.rs`, on its schedule), one run at a time per instance, with retries and
//! the circuit breaker, and reports.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, info_span, warn};
use uuid::Uuid;

use super::SyncError;
use super::archive::PayloadArchive;
use super::attempt::{Attempt, Source};
use super::breaker::{CircuitState, circuit, count_run};
use super::progress::{Progress, ProgressSnapshot};
use super::report::{fail, log_report, record_metrics};
use super::retry::RetryPolicy;
use crate::registry::BuiltProvider;
use crate::store::{
    EventStore, HEARTBEAT_EVERY, InstanceState, Retention, RunStatus, StoreError, SyncReport,
};

/// A configured instance.
pub(super) struct Instance {
    pub built: BuiltProvider,
    pub enabled: AtomicBool,
    /// Held by this process's run of the instance (another process's run is seen
    /// through the store's history and refused by the store's lock).
    running: Arc<tokio::sync::Mutex<()>>,
    /// The run going on in this process, and how far it has got.
    live: std::sync::Mutex<Option<(Uuid, Arc<Progress>)>>,
}

/// What the engine tells of an instance, the same in every process: its switch, and
/// its breaker and runs as the store keeps them.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InstanceStatus {
    /// The instance's name.
    pub name: String,
    /// Its kind.
    pub kind: &'static str,
    /// Whether it syncs on schedule.
    pub enabled: bool,
    /// Time between syncs.
    #[serde(with = "humantime_serde")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "5m"))]
    pub interval: Duration,
    /// Whether a run is going on, in any process.
    pub running: bool,
    /// The circuit breaker's state.
    pub circuit: CircuitState,
    /// Failed runs in a row.
    pub consecutive_failures: u32,
    /// When a run last committed.
    pub last_success: Option<DateTime<Utc>>,
    /// The last finished run's report.
    pub last_report: Option<SyncReport>,
    /// The run going on, in any process, with its figures so far (`seen`, `rejected`,
    /// `bytes`, `pages`: this process's own count, or another's last heartbeat).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<SyncReport>,
}

/// Runs provider instances into a store.
pub struct SyncEngine {
    pub(super) store: Arc<dyn EventStore>,
    pub(super) instances: BTreeMap<String, Arc<Instance>>,
    batch_size: usize,
    archive: Option<PayloadArchive>,
    retention: Retention,
    committed: watch::Sender<u64>,
    /// Where runs execute; `None`: on the caller's runtime.
    runtime: Option<tokio::runtime::Handle>,
    /// Cancelled at shutdown: every run stops at once and rolls back.
    pub(super) shutdown: CancellationToken,
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
                    running: Arc::new(tokio::sync::Mutex::new(())),
                    live: std::sync::Mutex::new(None),
                };
                (instance.built.name.clone(), Arc::new(instance))
            })
            .collect();
        Self {
            store,
            instances,
            batch_size: batch_size.max(1),
            archive,
            retention: Retention::default(),
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

    /// Keeps `retention` of the run history (applied after each run).
    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// Cancels every running sync, scheduled or not, and refuses new ones: their
    /// transactions roll back and nothing of them is ever visible. Schedules stop.
    pub fn shut_down(&self) {
        self.shutdown.cancel();
    }

    /// The run of `name` going on in this process, if any: its id and how far it has
    /// got (a run in another process is seen through the store's history).
    pub fn live_progress(&self, name: &str) -> Option<(Uuid, ProgressSnapshot)> {
        let instance = self.instances.get(name)?;
        let live = instance.live.lock().ok()?;
        live.as_ref()
            .map(|(run_id, progress)| (*run_id, progress.snapshot()))
    }

    /// `report` of a running run with this process's own figures when this process
    /// runs it (fresher than the store's last heartbeat); as it is otherwise.
    pub fn with_live_figures(&self, mut report: SyncReport) -> SyncReport {
        if report.status != RunStatus::Running {
            return report;
        }
        if let Some((run_id, now)) = self.live_progress(&report.provider)
            && run_id == report.run_id
        {
            report.seen = now.records;
            report.rejected = now.rejected;
            report.bytes = now.bytes;
            report.pages = now.pages;
        }
        report
    }

    /// Changes each time a run commits changes to the store.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.committed.subscribe()
    }

    /// The configured instances, sorted by name, with their state as the store keeps
    /// it: every process tells the same.
    pub async fn instances(&self) -> Result<Vec<InstanceStatus>, StoreError> {
        let now = Utc::now();
        let mut statuses = Vec::with_capacity(self.instances.len());
        for (name, instance) in &self.instances {
            let state = self.store.instance_state(name).await?;
            let recent = self.store.runs(name, 2).await?;
            let running_elsewhere = recent.first().is_some_and(|run| run.status == RunStatus::Running);
            let current = recent
                .first()
                .filter(|run| run.status == RunStatus::Running)
                .cloned()
                .map(|run| self.with_live_figures(run));
            statuses.push(InstanceStatus {
                name: name.clone(),
                kind: instance.built.kind,
                enabled: instance.enabled.load(Ordering::Relaxed),
                interval: instance.built.config.interval,
                running: running_elsewhere || instance.running.try_lock().is_err(),
                circuit: circuit(&state, now),
                consecutive_failures: state.consecutive_failures,
                last_success: state.last_success,
                last_report: recent.into_iter().find(|run| run.status != RunStatus::Running),
                current,
            });
        }
        Ok(statuses)
    }

    /// The instance's configuration.
    pub fn config(&self, name: &str) -> Option<&crate::registry::ProviderConfig> {
        self.instances.get(name).map(|instance| &instance.built.config)
    }

    /// Whether an instance of that name is configured.
    pub fn has_instance(&self, name: &str) -> bool {
        self.instances.contains_key(name)
    }

    /// Retires every item of `name` (configured or not any more): refused with
    /// [`StoreError::SyncRunning`] while a sync of it runs, here or (PostgreSQL) in
    /// another process, and no sync of it starts here until it is done.
    pub async fn retire(&self, name: &str) -> Result<u64, StoreError> {
        let _running = match self.instances.get(name) {
            Some(instance) => Some(
                Arc::clone(&instance.running)
                    .try_lock_owned()
                    .map_err(|_| StoreError::SyncRunning(name.to_owned()))?,
            ),
            None => None,
        };
        self.store.retire(name).await
    }

    /// Switches an instance's scheduled syncs on or off in this process; its data stays
    /// served. [`set_provider_enabled`](crate::InstanceStore::set_provider_enabled)
    /// makes it last and reach every process.
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

    pub(super) fn instance(&self, name: &str) -> Result<&Arc<Instance>, SyncError> {
        self.instances
            .get(name)
            .ok_or_else(|| SyncError::UnknownProvider(name.to_owned()))
    }

    /// Runs one sync of `name` now and returns its report. A failed fetch is a
    /// report with status `failed`, not an `Err`. The run goes on if the caller stops
    /// waiting; only shutdown cancels it.
    pub async fn run(self: &Arc<Self>, name: &str) -> Result<SyncReport, SyncError> {
        let (_, finished) = self.launch(name, Source::Fetch).await?;
        finish(name, finished).await
    }

    /// Starts one sync of `name` and returns its run id at once; the run goes on in
    /// the background and is seen through the store's history (`running`, then its
    /// report).
    pub async fn start(self: &Arc<Self>, name: &str) -> Result<Uuid, SyncError> {
        let (run_id, _) = self.launch(name, Source::Fetch).await?;
        Ok(run_id)
    }

    /// Re-maps the archived payloads of `name` without fetching: those of run
    /// `run_id`, or of the latest run that archived any.
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
        let hashes = runs
            .iter()
            .filter(|run| run_id.is_none_or(|id| run.run_id == id))
            .map(SyncReport::archived_payloads)
            .find(|hashes| !hashes.is_empty())
            .ok_or_else(|| {
                SyncError::NothingToReplay(match run_id {
                    Some(id) => format!("run {id} of {name:?} has no archived payload"),
                    None => format!("no run of {name:?} has an archived payload"),
                })
            })?;
        let mut pages = Vec::with_capacity(hashes.len());
        for hash in hashes {
            let bytes = archive
                .read(name, &hash)
                .map_err(|error| SyncError::NothingToReplay(format!("payload {hash}: {error}")))?;
            pages.push((hash, bytes));
        }
        let (_, finished) = self.launch(name, Source::Replay(pages)).await?;
        finish(name, finished).await
    }

    /// Takes the instance, enters the run in the store's history as running, and runs
    /// it on the sync runtime.
    async fn launch(
        self: &Arc<Self>,
        name: &str,
        source: Source,
    ) -> Result<(Uuid, JoinHandle<Result<SyncReport, SyncError>>), SyncError> {
        if self.shutdown.is_cancelled() {
            return Err(SyncError::ShuttingDown(name.to_owned()));
        }
        let instance = Arc::clone(self.instance(name)?);
        let Ok(running) = Arc::clone(&instance.running).try_lock_owned() else {
            return Err(SyncError::AlreadyRunning(name.to_owned()));
        };
        let mut report = SyncReport::started(name);
        report.status = RunStatus::Running;
        if let Err(error) = self.store.run_started(&report).await {
            warn!(provider = %name, %error, "Cannot enter the run in the history; running it anyway.");
        }
        let run_id = report.run_id;
        let engine = Arc::clone(self);
        let execution = async move {
            let _running = running;
            engine.execute(&instance, report, source).await
        };
        let handle = match &self.runtime {
            Some(runtime) => runtime.spawn(execution),
            None => tokio::spawn(execution),
        };
        Ok((run_id, handle))
    }

    /// One run, from its entry in the history to its recorded report: cancelled at
    /// once by shutdown, alive in the store while it goes on.
    async fn execute(
        &self,
        instance: &Instance,
        report: SyncReport,
        source: Source,
    ) -> Result<SyncReport, SyncError> {
        let name = instance.built.name.as_str();
        let run_id = report.run_id;
        let progress = Arc::new(Progress::default());
        if let Ok(mut live) = instance.live.lock() {
            *live = Some((run_id, Arc::clone(&progress)));
        }
        let span = info_span!("sync", provider = %name, kind = instance.built.kind, run_id = %run_id,
            pages = tracing::field::Empty, bytes = tracing::field::Empty,
            records = tracing::field::Empty, rejected = tracing::field::Empty);
        let run = self
            .run_locked(instance, report.clone(), source, &progress)
            .instrument(span.clone());
        let heartbeat = async {
            let mut beats = tokio::time::interval(HEARTBEAT_EVERY);
            beats.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            beats.tick().await;
            let mut running = report.clone();
            loop {
                beats.tick().await;
                // The figures so far go with the heartbeat: every process shows them.
                let now = progress.snapshot();
                running.seen = now.records;
                running.rejected = now.rejected;
                running.bytes = now.bytes;
                running.pages = now.pages;
                if let Err(error) = self.store.run_heartbeat(&running, Utc::now()).await {
                    warn!(provider = %name, %error, "Cannot tell the store the run is alive.");
                }
            }
        };
        let outcome = tokio::select! {
            biased;
            () = self.shutdown.cancelled() => {
                warn!(provider = %name, "Sync cancelled by shutdown; nothing of it was committed.");
                self.end_live(instance);
                let mut cancelled = report;
                fail(&mut cancelled, "cancelled: the service shut down; nothing of the run was kept");
                cancelled.finished_at = Utc::now();
                // Best effort, briefly: the process is stopping.
                let _ = tokio::time::timeout(Duration::from_secs(1), self.store.record_run(&cancelled, &[])).await;
                return Err(SyncError::ShuttingDown(name.to_owned()));
            }
            () = heartbeat => unreachable_heartbeat(),
            outcome = run => outcome,
        };
        self.end_live(instance);
        let report = match outcome {
            Ok(report) => report,
            Err(error) => {
                if let Err(error) = self.store.run_discarded(run_id).await {
                    warn!(provider = %name, %error, "Cannot take the run that never ran out of the history.");
                }
                return Err(error);
            }
        };
        // What the run did, on its trace's span too.
        span.record("pages", report.pages);
        span.record("bytes", report.bytes);
        span.record("records", report.seen);
        span.record("rejected", report.rejected);
        self.after_run(instance, &report).await;
        Ok(report)
    }

    /// The run of `instance` in this process is over.
    fn end_live(&self, instance: &Instance) {
        if let Ok(mut live) = instance.live.lock() {
            *live = None;
        }
    }

    /// The breaker and last success kept for every process, the metrics, the history
    /// trimmed.
    async fn after_run(&self, instance: &Instance, report: &SyncReport) {
        let name = instance.built.name.as_str();
        let config = &instance.built.config;
        let mut state = match self.store.instance_state(name).await {
            Ok(state) => state,
            Err(error) => {
                warn!(provider = %name, %error, "Cannot read the breaker's state; counting from scratch.");
                InstanceState::default()
            }
        };
        if count_run(
            &mut state,
            report,
            config.breaker_threshold,
            config.breaker_cooldown,
        ) {
            warn!(provider = %name, failures = state.consecutive_failures, "Circuit breaker open: scheduled runs pause for the cool-down.");
        }
        if let Err(error) = self.store.save_instance_state(name, &state).await {
            warn!(provider = %name, %error, "Cannot keep the breaker's state.");
        }
        record_metrics(report, circuit(&state, Utc::now()), state.last_success);
        match self.store.apply_retention(name, &self.retention).await {
            Ok((0, 0)) => {}
            Ok((runs, rejects)) => {
                info!(provider = %name, runs, rejects, "Old runs and quarantined records deleted (retention).")
            }
            Err(error) => warn!(provider = %name, %error, "Cannot apply the retention."),
        }
    }

    async fn run_locked(
        &self,
        instance: &Instance,
        mut report: SyncReport,
        source: Source,
        progress: &Arc<Progress>,
    ) -> Result<SyncReport, SyncError> {
        let name = &instance.built.name;
        let config = &instance.built.config;
        let deadline = tokio::time::Instant::now() + config.deadline;
        let policy = RetryPolicy {
            retries: config.retries,
            backoff: config.retry_backoff,
        };
        let attempt = Attempt {
            store: self.store.as_ref(),
            archive: self.archive.as_ref(),
            batch_size: self.batch_size,
            name,
            config,
            provider: instance.built.provider.as_ref(),
            progress,
        };
        let mut quarantine = Vec::new();
        loop {
            report.attempts += 1;
            let error = match attempt.run(&source, &mut report).await? {
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
            fail(&mut report, &error);
            let Some(wait) = policy.wait_after(&error, report.attempts, rand::random_range(0.5..=1.0)) else {
                break;
            };
            if tokio::time::Instant::now() + wait >= deadline {
                info!(provider = %name, wait_ms = wait.as_millis() as u64, "No retry: it would pass the run's deadline.");
                break;
            }
            info!(provider = %name, attempt = report.attempts, %error, wait_ms = wait.as_millis() as u64, "Retrying after a transient failure.");
            tokio::time::sleep(wait).await;
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
}

/// Waits for a launched run's report.
async fn finish(
    name: &str,
    finished: JoinHandle<Result<SyncReport, SyncError>>,
) -> Result<SyncReport, SyncError> {
    match finished.await {
        Ok(result) => result,
        Err(error) => Err(SyncError::Aborted(format!(
            "the sync of {name:?} stopped: {error}"
        ))),
    }
}

/// The heartbeat loop never ends by itself.
fn unreachable_heartbeat() -> Result<SyncReport, SyncError> {
    Err(SyncError::Aborted("the heartbeat stopped".into()))
}
