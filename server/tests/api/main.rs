//! The server's integration tests: one binary, real servers on port 0, real SQLite
//! files and a real PostgreSQL, a local mock provider serving recorded feeds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod admin;
mod cli;
mod cluster;
mod e2e;
mod events;
mod faults;
mod hostile;
mod routes;
mod search_cache;
mod shutdown;
mod status;
