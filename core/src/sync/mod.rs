//! The sync engine, on top of everything else in core: it runs provider instances
//! into a store.
//!
//! - `engine.rs`: the engine, one run at a time per instance, its state and reports;
//! - `schedule.rs`: each instance's schedule;
//! - `attempt.rs`: one attempt: a transaction, every page read into it, commit;
//! - `pages.rs`: every page of a feed in one run (a sync's and a preview's);
//! - `feed.rs`: reading one document within its limits (deadline, size, archive copy);
//! - `checked.rs`: the model's checks and one copy of a session per run;
//! - `sink.rs`: the batching sink records go through;
//! - `preview.rs`: a run that stores nothing, for a person to read;
//! - `progress.rs`: how far a running run has got, for whoever watches it;
//! - `retry.rs`, `breaker.rs`: what happens after a failure;
//! - `report.rs`: reports logged and published as metrics;
//! - `archive.rs`: the payload archive `replay` re-maps.

pub mod archive;
mod attempt;
pub mod breaker;
pub mod checked;
mod engine;
pub mod feed;
pub mod pages;
pub mod preview;
pub mod progress;
pub mod report;
pub mod retry;
mod schedule;
pub mod sink;

pub use breaker::{CircuitState, circuit};
pub use engine::{InstanceStatus, SyncEngine};

/// Why a run could not start, or stopped without a report.
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
