//! Boxoffice's server: the HTTP API, the sea-orm store, configuration and the CLI.

pub mod app;
pub mod cli;
pub mod config;
pub mod demo;
pub mod http;
pub mod metrics;
pub mod pages;
pub mod preview;
pub mod progress;
pub mod providers;
pub mod read_model;
pub mod serve;
pub mod store;
pub mod telemetry;

pub use app::{Application, Services};
pub use config::Config;
