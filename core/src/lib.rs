//! Boxoffice's core: the canonical event model, the [`Provider`] and [`EventStore`]
//! traits, the provider registry and the sync engine.
//!
//! This crate knows nothing of HTTP servers or SQL: providers are testable without a
//! database and stores without a network. Errors by layer:
//! - a provider fails a whole fetch with [`ProviderError`] and rejects single records
//!   with a [`Rejection`] (the neighbours are kept);
//! - a store fails with [`StoreError`], whose variants carry the HTTP meaning the
//!   server gives them (not found, conflict, unavailable);
//! - a run is summed up in a [`SyncReport`], whatever happened.

pub mod archive;
pub mod conformance;
pub mod feed;
pub mod http;
pub mod model;
pub mod provider;
pub mod registry;
pub mod store;
pub mod sync;
pub mod time;

pub use model::{EventRecord, ExternalKey, LocalMoment, PriceRange, SellMode, Zone};
pub use provider::{Feed, FeedBody, FetchStats, Provider, ProviderError, RecordSink, Rejection};
pub use registry::{InstanceSettings, ProviderConfig, ProviderRegistration};
pub use store::{
    BatchOutcome, EventStore, SearchItem, SearchWindow, StoreError, StoredEvent, SyncTransaction,
};
pub use sync::{RunStatus, SyncEngine, SyncError, SyncReport};

/// Re-exported so that `register_provider!` works without the provider crate naming it.
#[doc(hidden)]
pub use inventory;
