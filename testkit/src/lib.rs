//! Boxoffice's test kit, a dev-dependency of the providers, core and the server:
//!
//! - [`MockFeedServer`]: a local provider on `127.0.0.1:0` serving what a test tells
//!   it (statuses, headers, slow and dripping bodies, gzip, `ETag`/304, pages);
//! - [`conformance::check_parser`]: the promises every provider's parser keeps;
//! - [`instance_from_toml`]: an instance built through the registry from a TOML
//!   snippet, exactly as `config.toml` would build it;
//! - [`MemoryStore`]: an [`EventStore`](boxoffice_core::EventStore) in memory, to test
//!   the sync engine without SQL;
//! - [`store_contract`](mod@store_contract): the cases every store passes, the memory store here and the
//!   SQL store on SQLite and PostgreSQL in the server's tests
//!   ([`store_contract!`] makes one test of each).
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
