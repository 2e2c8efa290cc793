//! Boxoffice's test kit, a dev-dependency of the providers, core and the server: a
//! [`MockFeedServer`], the parser [`conformance`] checks, [`instance_from_toml`], a
//! [`MemoryStore`] to test the engine without SQL, and the
//! [`store_contract`](mod@store_contract) every store passes (memory here, SQLite and
//! PostgreSQL in the server's tests).
//!
//! Everything here listens on loopback only and stops with its owner.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod conformance;
mod instance;
mod memory_store;
mod mock;
pub mod store_contract;

pub use instance::{instance_from_toml, read_first_page, settings};
pub use memory_store::MemoryStore;
pub use mock::{Credential, MockFeedServer, MockResponse, RecordedRequest};
