//! The sync engine, on top of everything else in core: it runs provider instances
//! into a store. One job per file, each documented there; `engine.rs` is the way in
//! (one run at a time per instance), `attempt.rs` one run's transaction.

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
