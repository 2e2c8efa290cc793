//! Boxoffice's core, in layers that point one way: [`model`], [`provider`],
//! [`registry`], [`store`], and the [`sync`] engine on top.
//!
//! No HTTP or SQL here, so that providers are testable without a database and stores
//! without a network. A provider fails a whole fetch with [`ProviderError`] or rejects
//! one record with a [`Rejection`] (its neighbours are kept); a store fails with
//! [`StoreError`], whose variants carry the HTTP meaning the server gives them; a run
//! is summed up in a [`SyncReport`] whatever happened.

pub mod model;
pub mod provider;
pub mod registry;
pub mod secret;
pub mod store;
pub mod sync;

pub use model::{
    EventRecord, ExternalKey, LocalMoment, PriceRange, SearchWindow, SellMode, WindowBounds, Zone,
};
pub use provider::{
    CollectingSink, Document, Feed, FeedBody, OpenRequest, Opened, PageName, Parsed, Provider, ProviderError,
    RecordSink, Rejection, ResponseHeaders, Validators, read_error,
};
pub use registry::{ConfigProblem, InstanceSettings, ProviderConfig, ProviderRegistration};
pub use secret::{Secret, SecretSource};
pub use store::{
    BatchOutcome, EventStore, InstanceStore, ItemStore, RunStatus, RunStore, SearchItem, StoreError,
    StoredEvent, SyncReport, SyncTransaction,
};
pub use sync::{SyncEngine, SyncError};

/// Re-exported so that `register_provider!` works without the provider crate naming it.
#[doc(hidden)]
pub use inventory;
/// Re-exported for `register_provider!`.
#[doc(hidden)]
pub use serde_json;
