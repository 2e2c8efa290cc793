//! The sync engine: runs each provider instance on demand (and, through
//! `schedule.rs`, on its schedule), one run at a time per instance, with retries and
//! the circuit breaker, and reports.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
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
use super::breaker::{Breaker, CircuitState};
use super::report::{fail, log_report, record_metrics};
use super::retry::RetryPolicy;
use crate::registry::BuiltProvider;
use crate::store::{EventStore, RunStatus, StoreError, SyncReport};

/// A configured instance and its run state.
pub(super) struct Instance {
    pub built: BuiltProvider,
    pub enabled: AtomicBool,
    running: tokio::sync::Mutex<()>,
    pub state: Mutex<RunState>,
}

/// What the engine remembers of an instance's runs in this process.
#[derive(Default)]
pub(super) struct RunState {
    last_report: Option<SyncReport>,
    last_success: Option<DateTime<Utc>>,
    pub breaker: Breaker,
}

/// What the engine tells of an instance.
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
    pub(super) instances: BTreeMap<String, Arc<Instance>>,
    batch_size: usize,
    archive: Option<PayloadArchive>,
    committed: watch::Sender<u64>,
    /// Where runs execute; `None`: on the caller's runtime.
    runtime: Option<tokio::runtime::Handle>,
    /// Cancelled at shutdown: every run stops at once and rolls back.
    pub(super) shutdown: CancellationToken,
}

/// Aborts the task when dropped: a caller that stops waiting cancels the run, which
/// rolls its transaction back.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
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
                    circuit: state.breaker.state(now),
                    consecutive_failures: state.breaker.consecutive_failures,
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

    pub(super) fn instance(&self, name: &str) -> Result<&Arc<Instance>, SyncError> {
        self.instances
            .get(name)
            .ok_or_else(|| SyncError::UnknownProvider(name.to_owned()))
    }

    /// Runs one sync of `name` now and returns its report. A failed fetch is a
    /// report with status `failed`, not an `Err`.
    pub async fn run(self: &Arc<Self>, name: &str) -> Result<SyncReport, SyncError> {
        self.run_on_runtime(name, Source::Fetch).await
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
        self.run_on_runtime(name, Source::Replay(pages)).await
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
        let config = &instance.built.config;
        if report.status.committed() {
            state.last_success = Some(report.finished_at);
            state.breaker.succeeded();
        } else if state.breaker.failed(
            report.finished_at,
            config.breaker_threshold,
            config.breaker_cooldown,
        ) {
            warn!(provider = %name, failures = state.breaker.consecutive_failures, "Circuit breaker open: scheduled runs pause for the cool-down.");
        }
        state.last_report = Some(report.clone());
        record_metrics(&report, state.breaker.state(Utc::now()), state.last_success);
        drop(state);
        Ok(report)
    }

    async fn run_locked(&self, instance: &Instance, source: Source) -> Result<SyncReport, SyncError> {
        let name = &instance.built.name;
        let config = &instance.built.config;
        let mut report = SyncReport::started(name);
        tracing::Span::current().record("run_id", tracing::field::display(report.run_id));
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

pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
