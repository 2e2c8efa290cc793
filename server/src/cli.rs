//! The `boxoffice` command line.

use std::path::PathBuf;

use anyhow::Context;
use boxoffice_core::RunStatus;
use boxoffice_core::registry;
use boxoffice_provider_fever::generate::{FeedShape, write_feed};
use clap::{Parser, Subcommand};

use crate::app::{self, Application, Services};
use crate::config::Config;
use crate::telemetry;

/// Boxoffice: pulls event providers' feeds into one store and serves a marketplace search.
#[derive(Debug, Parser)]
#[command(name = "boxoffice", version)]
pub struct Cli {
    /// Configuration file (default: ./config.toml when it exists).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API and sync enabled providers on schedule (the default).
    Serve,
    /// Run one sync and print its report as JSON; exits non-zero if a run failed.
    Sync {
        /// The instance to sync; default: every enabled instance.
        #[arg(long)]
        provider: Option<String>,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Re-map an archived payload without fetching (e.g. after fixing a mapping bug),
    /// and print the run's report.
    Replay {
        /// The instance whose payload to re-map.
        #[arg(long)]
        provider: String,
        /// The run whose payload to re-map; default: the latest archived one.
        #[arg(long)]
        run: Option<uuid::Uuid>,
    },
    /// List the registered provider kinds and the configured instances.
    Providers,
    /// Validate the configuration and list every problem, each naming its key.
    CheckConfig,
    /// Write a deterministic Fever feed to standard output, for tests and benchmarks.
    GenFeed {
        /// `<base_event>` elements.
        #[arg(long, default_value_t = 5000)]
        base_events: usize,
        /// `<event>` elements per base event.
        #[arg(long, default_value_t = 3)]
        events_per_base: usize,
        /// `<zone>` elements per event.
        #[arg(long, default_value_t = 100)]
        zones: usize,
        /// Seed of the pseudo-random values.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

impl Cli {
    /// Runs the command.
    pub async fn run(self) -> anyhow::Result<()> {
        if let Some(Command::GenFeed {
            base_events,
            events_per_base,
            zones,
            seed,
        }) = self.command
        {
            // Needs no configuration: it writes a file and touches nothing else.
            let shape = FeedShape {
                base_events,
                events_per_base,
                zones,
                seed,
            };
            let stdout = std::io::stdout().lock();
            return write_feed(std::io::BufWriter::with_capacity(1 << 16, stdout), &shape)
                .context("writing the feed to standard output");
        }
        if let Some(Command::CheckConfig) = self.command {
            let config = Config::load(self.config.as_deref())?;
            println!(
                "configuration OK: {} provider instance(s): {}",
                config.providers.len(),
                config.providers.keys().cloned().collect::<Vec<_>>().join(", ")
            );
            return Ok(());
        }
        let config = Config::load(self.config.as_deref())?;
        telemetry::init(&config.log);
        match self.command.unwrap_or(Command::Serve) {
            Command::Serve => {
                let app = Application::build(config).await?;
                app.run_until_stopped(app::shutdown_signal()).await
            }
            Command::Sync { provider } => sync(&config, provider).await,
            Command::Replay { provider, run } => {
                let services = Services::start(&config).await?;
                let report = services.engine.replay(&provider, run).await?;
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).context("printing the report")?
                );
                anyhow::ensure!(report.status.committed(), "the replay failed");
                Ok(())
            }
            Command::Migrate => {
                Services::start(&config).await?;
                println!("migrations applied to {}", app::redact_url(&config.database.url));
                Ok(())
            }
            Command::Providers => {
                print_providers(&config);
                Ok(())
            }
            Command::GenFeed { .. } | Command::CheckConfig => Ok(()),
        }
    }
}

async fn sync(config: &Config, provider: Option<String>) -> anyhow::Result<()> {
    let services = Services::start(config).await?;
    let names: Vec<String> = match provider {
        Some(name) => vec![name],
        None => services
            .engine
            .instances()
            .into_iter()
            .filter(|instance| instance.enabled)
            .map(|instance| instance.name)
            .collect(),
    };
    anyhow::ensure!(!names.is_empty(), "no enabled provider instance is configured");
    let mut failed = Vec::new();
    for name in names {
        let report = services.engine.run(&name).await?;
        println!(
            "{}",
            serde_json::to_string_pretty(&report).context("printing the report")?
        );
        if report.status == RunStatus::Failed {
            failed.push(name);
        }
    }
    anyhow::ensure!(failed.is_empty(), "sync failed for: {}", failed.join(", "));
    Ok(())
}

fn print_providers(config: &Config) {
    let print_keys = |keys: Vec<registry::KeyDoc>| {
        for key in keys {
            let default = match (&key.default, key.required) {
                (_, true) => " (required)".to_owned(),
                (Some(default), false) => format!(" (default {default})"),
                (None, false) => String::new(),
            };
            let doc = key
                .doc
                .split("\n\n")
                .next()
                .unwrap_or_default()
                .replace('\n', " ");
            println!("      {:<18} {doc}{default}", key.name);
        }
    };
    println!("Keys of every [providers.<name>] table:");
    print_keys(registry::common_keys());
    println!();
    println!("Registered provider kinds, with their own keys:");
    for registration in registry::registrations() {
        println!("  {}  {}", registration.kind, registration.description);
        print_keys((registration.keys)());
    }
    println!();
    println!("Configured instances:");
    if config.providers.is_empty() {
        println!("  (none)");
    }
    for (name, instance) in &config.providers {
        println!(
            "  {name}  kind={} enabled={} interval={} timeout={} timezone={}",
            instance.kind,
            instance.enabled,
            humantime::format_duration(instance.interval),
            humantime::format_duration(instance.timeout),
            instance.timezone,
        );
    }
}
