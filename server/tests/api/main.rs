//! The server's integration tests: one binary, real servers on port 0, real SQLite
//! files and a real PostgreSQL, a local mock provider serving recorded feeds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod access_log;
mod admin;
mod browser;
mod cli;
mod cluster;
mod completions;
mod cors;
mod demo;
mod docs_page;
mod e2e;
mod environment;
mod events;
mod faults;
mod file_feeds;
mod hostile;
mod incremental;
mod json_provider;
mod migrations;
mod operations;
mod ops_docs;
mod preview;
mod process;
mod progress;
mod provider_kit;
mod real_apis;
mod routes;
mod search_cache;
mod shutdown;
mod slow_clients;
mod status;
mod store_contract;
mod traces;
