//! `boxoffice demo` (`make demo`): the service doing its job in its first minute, on a
//! machine without a network. The three recorded Fever responses are replayed in
//! order as the feed of the `fever` instance (a local file, one response per sync, a
//! few seconds apart, then the last one again: "not modified"), over a throwaway
//! SQLite store, served on 127.0.0.1:8000. Ctrl-C stops it and deletes the store.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use boxoffice_core::SyncEngine;
use figment::Figment;
use figment::providers::{Format, Toml};
use tracing::{info, warn};

use crate::app::{Application, shutdown_signal};
use crate::config::Config;

/// The provider's three consecutive responses, as recorded.
const RESPONSES: [&[u8]; 3] = [
    include_bytes!("../../providers/fever/tests/fixtures/response_1.xml"),
    include_bytes!("../../providers/fever/tests/fixtures/response_2.xml"),
    include_bytes!("../../providers/fever/tests/fixtures/response_3.xml"),
];

/// The request the README shows: the challenge's own example.
pub const EXAMPLE_QUERY: &str = "/search?starts_at=2021-02-01T00:00:00&ends_at=2022-07-03T00:00:00";

/// The demo's instance: named as in the shipped configuration, so its items have
/// the ids `make run` gives them.
const INSTANCE: &str = "fever";

/// A demo ready to run: its throwaway directory, its feed file and configuration.
pub struct Demo {
    dir: tempfile::TempDir,
    feed: std::path::PathBuf,
    /// What it serves with (the caller sets logging up from it).
    pub config: Config,
}

impl Demo {
    /// Prepares a demo serving on `addr`: a store directory, the first response as the
    /// feed.
    pub fn prepare(addr: SocketAddr) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("boxoffice-demo-")
            .tempdir()
            .context("creating the demo's store directory")?;
        let feed = dir.path().join("feed.xml");
        std::fs::write(&feed, RESPONSES[0]).context("writing the demo's feed")?;
        let config = config(dir.path(), addr, &feed)?;
        Ok(Self { dir, feed, config })
    }

    /// Serves, a sync every `pause`, until Ctrl-C (or SIGTERM); then deletes the store.
    pub async fn run(self, pause: Duration) -> anyhow::Result<()> {
        run(self, pause).await
    }
}

async fn run(demo: Demo, pause: Duration) -> anyhow::Result<()> {
    let Demo { dir, feed, config } = demo;
    let app = Application::build(config).await?;
    let engine = Arc::clone(&app.state().engine);
    let address = app.local_addr()?;
    info!(
        store = %dir.path().display(),
        "Demo: the three recorded Fever responses are synced in turn, {}s apart. Try: curl 'http://{address}{EXAMPLE_QUERY}' (and http://{address}/status). Ctrl-C stops and deletes the store.",
        pause.as_secs_f64()
    );
    let replay = tokio::spawn(replay(engine, feed, pause));
    let outcome = app.run_until_stopped(shutdown_signal()).await;
    replay.abort();
    let _ = replay.await;
    let shown = dir.path().display().to_string();
    dir.close().context("deleting the demo's store")?;
    info!(store = %shown, "Demo: stopped; its store is deleted.");
    outcome
}

/// The demo's configuration: the shipped `fever` instance on the feed file, synced
/// by the replay (not on a schedule), over a store in `dir`.
fn config(dir: &Path, addr: SocketAddr, feed: &Path) -> anyhow::Result<Config> {
    let feed = url::Url::from_file_path(feed)
        .map_err(|()| anyhow::anyhow!("the demo's feed {} is not an absolute path", feed.display()))?;
    let toml = format!(
        r#"
[server]
addr = "{addr}"
[database]
url = "sqlite://{dir}/demo.db?mode=rwc"
[archive]
dir = "{dir}/archive"
[log]
level = "info"
[providers.{INSTANCE}]
kind = "fever-xml"
enabled = false
url = "{feed}"
timezone = "UTC"
"#,
        dir = dir.display(),
    );
    Config::from_figment(Figment::new().merge(Toml::string(&toml))).map_err(anyhow::Error::from)
}

/// Writes each response in turn as the feed and syncs it, then syncs the last once
/// more (unchanged: "not modified").
async fn replay(engine: Arc<SyncEngine>, feed: std::path::PathBuf, pause: Duration) {
    for turn in 0..=RESPONSES.len() {
        // The last turn leaves the file as it is: its sync finds it unchanged.
        if let Some(response) = RESPONSES.get(turn)
            && turn > 0
            && let Err(error) = std::fs::write(&feed, response)
        {
            warn!(%error, "Demo: cannot write the feed.");
            return;
        }
        let number = turn.min(RESPONSES.len() - 1) + 1;
        match engine.run(INSTANCE).await {
            Ok(report) => info!(
                response = number,
                status = report.status.as_str(),
                inserted = report.inserted,
                updated = report.updated,
                unchanged = report.unchanged,
                not_modified = report.not_modified,
                "Demo: synced recorded response {number} of {}.",
                RESPONSES.len()
            ),
            Err(error) => warn!(%error, "Demo: the sync did not run."),
        }
        tokio::time::sleep(pause).await;
    }
    info!("Demo: every response is synced; /search serves their latest values.");
}
