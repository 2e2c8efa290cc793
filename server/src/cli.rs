//! The `boxoffice` command line.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use boxoffice_core::RunStatus;
use boxoffice_core::registry;
use boxoffice_core::sync::progress::ProgressSnapshot;
use boxoffice_provider_fever::generate::{FeedShape, write_feed};
use boxoffice_provider_json::generate as json_feed;
use clap::{CommandFactory as _, Parser, Subcommand};

use crate::app::{self, Application, Services};
use crate::config::{self, CONFIG_FILE_ENV, Config};
use crate::progress::{Board, Counting, Display, Shown};
use crate::telemetry;

/// Boxoffice: pulls event providers' feeds into one store and serves a marketplace search.
#[derive(Debug, Parser)]
#[command(name = "boxoffice", version, after_long_help = environment_help())]
pub struct Cli {
    /// Configuration file (default: ./config.toml when it exists).
    #[arg(long, global = true, value_name = "PATH", env = CONFIG_FILE_ENV)]
    pub config: Option<PathBuf>,

    /// Show no progress on the standard error (`sync`, `replay`, `preview`,
    /// `gen-feed`); the standard output is the same.
    #[arg(long, short, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The environment variables the command reads, for `--help` and the manual page.
const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "BOXOFFICE_CONFIG",
        "The configuration file, when --config is not given.",
    ),
    (
        "BOXOFFICE_<SECTION>__<KEY>",
        "Overrides a configuration key, e.g. BOXOFFICE_DATABASE__URL. Other BOXOFFICE_* \
         variables, such as those Kubernetes injects for a Service named boxoffice, are \
         ignored with a warning.",
    ),
    ("RUST_LOG", "A tracing filter; wins over log.level."),
    (
        "NO_COLOR",
        "Set and not empty: no colours in log lines and no progress bar, even on a terminal \
         (a plain progress line every few seconds instead).",
    ),
];

/// The environment, as `--help` ends.
fn environment_help() -> String {
    let mut help = String::from("Environment:");
    for (name, text) in ENVIRONMENT {
        help.push_str(&format!("\n  {name}\n          {text}"));
    }
    help
}

/// The manual page: clap_mangen's sections, with an ENVIRONMENT section of our own in
/// place of its unformatted copy of the help's last paragraph.
fn render_man(out: &mut Vec<u8>) -> std::io::Result<()> {
    use clap_mangen::roff::{Roff, bold, roman};
    let man = clap_mangen::Man::new(Cli::command());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    man.render_subcommands_section(out)?;
    let mut environment = Roff::new();
    environment.control("SH", ["ENVIRONMENT"]);
    for (name, text) in ENVIRONMENT {
        environment.control("TP", []);
        environment.text([bold(*name)]);
        environment.text([roman(*text)]);
    }
    environment.to_writer(out)?;
    man.render_version_section(out)
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
    /// Take every item of a provider instance out of the store and out of search (e.g.
    /// an instance removed or renamed in the configuration). Nothing else ever deletes
    /// items.
    Retire {
        /// The instance whose items to retire (configured or not any more).
        #[arg(long)]
        provider: String,
        /// Confirm: without it, only says how many items would be retired.
        #[arg(long)]
        yes: bool,
    },
    /// Fetch every page of one instance as a sync would, map it and store nothing:
    /// print the first records as they would be served, every rejection with its
    /// reason, the pages read and why paging stopped. Exits non-zero when a sync of it
    /// would fail.
    Preview {
        /// The instance to preview (enabled or not).
        #[arg(long)]
        provider: String,
        /// How many records to print.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Print the preview as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the registered provider kinds and the configured instances.
    Providers,
    /// Validate the configuration and list every problem, each naming its key.
    CheckConfig,
    /// Write a deterministic feed to standard output, for tests and benchmarks: the
    /// Fever XML feed, or its JSON rendition (the same sessions and zones).
    GenFeed {
        /// Base events (`<base_event>` elements; shows in JSON).
        #[arg(long, default_value_t = 5000)]
        base_events: usize,
        /// Sessions per base event (`<event>` elements; records in JSON).
        #[arg(long, default_value_t = 3)]
        events_per_base: usize,
        /// Zones per session (`<zone>` elements; tickets in JSON).
        #[arg(long, default_value_t = 100)]
        zones: usize,
        /// Seed of the pseudo-random values.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// `xml`: the Fever feed (kind `fever-xml`); `json`: its JSON rendition, which
        /// the json kind reads with providers/json/tests/fixtures/generated-feed.toml.
        #[arg(long, value_enum, default_value_t = FeedFormat::Xml)]
        format: FeedFormat,
    },
    /// Serve a demo on 127.0.0.1:8000 without a network: the three recorded Fever
    /// responses synced in turn into a throwaway SQLite store (deleted at Ctrl-C).
    Demo {
        /// Where to serve.
        #[arg(long, default_value = "127.0.0.1:8000")]
        addr: std::net::SocketAddr,
        /// The pause between two syncs, e.g. `5s`.
        #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
        pause: std::time::Duration,
    },
    /// Print a shell completion script to standard output.
    ///
    /// E.g. `boxoffice completions bash > /etc/bash_completion.d/boxoffice`, or
    /// `source <(boxoffice completions bash)` in ~/.bashrc.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) to standard output.
    ///
    /// E.g. `boxoffice man > /usr/local/share/man/man1/boxoffice.1`, or
    /// `boxoffice man | man -l -`.
    Man,
}

/// What `gen-feed` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FeedFormat {
    /// The Fever XML feed.
    Xml,
    /// Its JSON rendition.
    Json,
}

impl Cli {
    /// Runs the command.
    pub async fn run(self) -> anyhow::Result<()> {
        if let Some(Command::GenFeed {
            base_events,
            events_per_base,
            zones,
            seed,
            format,
        }) = self.command
        {
            // Needs no configuration: it writes a file and touches nothing else.
            let shape = FeedShape {
                base_events,
                events_per_base,
                zones,
                seed,
            };
            let written = Arc::new(AtomicU64::new(0));
            let board = Board::new(Display::choose(self.quiet));
            let counted = Arc::clone(&written);
            let shown = board.show("gen-feed", move || {
                Some(ProgressSnapshot {
                    bytes: counted.load(Ordering::Relaxed),
                    ..ProgressSnapshot::default()
                })
            });
            let counting = Arc::clone(&written);
            let outcome = tokio::task::spawn_blocking(move || {
                let stdout = Counting::new(std::io::stdout().lock(), counting);
                let out = std::io::BufWriter::with_capacity(1 << 16, stdout);
                match format {
                    FeedFormat::Xml => write_feed(out, &shape),
                    FeedFormat::Json => json_feed::write_feed(out, &shape),
                }
            })
            .await
            .context("generating the feed")?;
            shown.finish().await;
            return outcome.context("writing the feed to standard output");
        }
        // Its own configuration: it needs no file, and writes none.
        if let Some(Command::Demo { addr, pause }) = self.command {
            let demo = crate::demo::Demo::prepare(addr)?;
            let telemetry = telemetry::init(&demo.config)?;
            let outcome = demo.run(pause).await;
            telemetry.shutdown().await;
            return outcome;
        }
        // Neither needs a configuration: they describe the command line itself.
        if let Some(Command::Completions { shell }) = self.command {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "boxoffice", &mut out);
            return write_stdout(&out);
        }
        if let Some(Command::Man) = self.command {
            let mut out = Vec::new();
            render_man(&mut out).context("rendering the manual page")?;
            return write_stdout(&out);
        }
        let config_path = self.config.as_deref();
        let loaded = Config::load_named(config_path, config_named_by(config_path));
        // The kinds and their keys need no configuration: a missing secret of one
        // instance must not hide them from someone writing a new one.
        if let Some(Command::Providers) = self.command {
            let Ok(config) = &loaded else {
                print_providers(loaded.as_ref());
                return Ok(());
            };
            let telemetry = telemetry::init(config)?;
            warn_about_environment(config_path);
            print_providers(Ok(config));
            telemetry.shutdown().await;
            return Ok(());
        }
        let config = loaded?;
        if let Some(Command::CheckConfig) = self.command {
            println!(
                "configuration OK: {} provider instance(s): {}",
                config.providers.len(),
                config.providers.keys().cloned().collect::<Vec<_>>().join(", ")
            );
            let ignored = config::ignored_environment();
            if !ignored.is_empty() {
                println!(
                    "ignored environment variables (not configuration): {}",
                    ignored.join(", ")
                );
            }
            return Ok(());
        }
        let telemetry = telemetry::init(&config)?;
        warn_about_environment(config_path);
        let outcome = self.run_configured(config).await;
        telemetry.shutdown().await;
        outcome
    }

    async fn run_configured(self, config: Config) -> anyhow::Result<()> {
        match self.command.unwrap_or(Command::Serve) {
            Command::Serve => {
                let app = Application::build(config).await?;
                app.run_until_stopped(app::shutdown_signal()).await
            }
            Command::Sync { provider } => sync(&config, provider, self.quiet).await,
            Command::Replay { provider, run } => {
                let services = Services::start(&config).await?;
                let board = Board::new(Display::choose(self.quiet));
                let shown = watch_engine(&board, &services.engine, &format!("replay {provider}"), &provider);
                let report = services.engine.replay(&provider, run).await;
                shown.finish().await;
                let report = report?;
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).context("printing the report")?
                );
                anyhow::ensure!(report.status.committed(), "the replay failed");
                Ok(())
            }
            Command::Retire { provider, yes } => retire(&config, &provider, yes).await,
            Command::Migrate => {
                Services::start(&config).await?;
                println!("migrations applied to {}", app::redact_url(&config.database.url));
                Ok(())
            }
            Command::Preview {
                provider,
                limit,
                json,
            } => crate::preview::run(&config, &provider, limit, json, Display::choose(self.quiet)).await,
            Command::GenFeed { .. }
            | Command::Providers
            | Command::CheckConfig
            | Command::Completions { .. }
            | Command::Man
            | Command::Demo { .. } => Ok(()),
        }
    }
}

/// Where the configuration file's name came from, to name it when it is missing:
/// clap takes `BOXOFFICE_CONFIG` when `--config` is absent.
fn config_named_by(path: Option<&Path>) -> &'static str {
    match (path, std::env::var_os(CONFIG_FILE_ENV)) {
        (Some(path), Some(from_env)) if path == Path::new(&from_env) => CONFIG_FILE_ENV,
        _ => "--config",
    }
}

/// Logs, once, what of the environment start-up did not take: `BOXOFFICE_*` variables
/// that cannot be configuration keys (e.g. those Kubernetes injects for a Service
/// named boxoffice), and `BOXOFFICE_CONFIG` when `--config` overrode it.
fn warn_about_environment(config_path: Option<&Path>) {
    let ignored = config::ignored_environment();
    if !ignored.is_empty() {
        tracing::warn!(
            variables = %ignored.join(", "),
            "Ignoring environment variables that cannot be configuration: only \
             BOXOFFICE_<SECTION>__<KEY> with a known section is."
        );
    }
    if let Some(from_env) = std::env::var_os(CONFIG_FILE_ENV)
        && config_path.is_some_and(|path| path != Path::new(&from_env))
    {
        tracing::warn!(
            variable = CONFIG_FILE_ENV,
            value = %Path::new(&from_env).display(),
            "Ignoring BOXOFFICE_CONFIG: --config names the configuration file."
        );
    }
}

/// Writes a generated document to standard output; a closed pipe (`| head`) is no error.
fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(error).context("writing to standard output")
        }
        _ => Ok(()),
    }
}

async fn retire(config: &Config, provider: &str, yes: bool) -> anyhow::Result<()> {
    boxoffice_core::registry::InstanceName::parse(provider)?;
    let services = Services::start(config).await?;
    let stored = services.store.item_count(provider).await?;
    if !yes {
        anyhow::bail!(
            "this would delete the {stored} item(s) of {provider:?} from the store and from search; \
             run again with --yes to do it"
        );
    }
    let retired = services.store.retire(provider).await?;
    tracing::warn!(provider, retired, "Items retired by an operator.");
    println!("retired {retired} item(s) of {provider}");
    if config.providers.contains_key(provider) {
        println!("note: {provider} is still configured: its next sync brings its current items back");
    }
    Ok(())
}

/// Shows the progress of the run of `name` the engine has going, as `label`.
fn watch_engine(board: &Board, engine: &Arc<boxoffice_core::SyncEngine>, label: &str, name: &str) -> Shown {
    let engine = Arc::clone(engine);
    let name = name.to_owned();
    board.show(label, move || {
        engine.live_progress(&name).map(|(_, progress)| progress)
    })
}

async fn sync(config: &Config, provider: Option<String>, quiet: bool) -> anyhow::Result<()> {
    let services = Services::start(config).await?;
    let names: Vec<String> = match provider {
        Some(name) => vec![name],
        None => services
            .engine
            .instances()
            .await?
            .into_iter()
            .filter(|instance| instance.enabled)
            .map(|instance| instance.name)
            .collect(),
    };
    anyhow::ensure!(!names.is_empty(), "no enabled provider instance is configured");
    let mut failed = Vec::new();
    let board = Board::new(Display::choose(quiet));
    for name in names {
        let shown = watch_engine(&board, &services.engine, &format!("sync {name}"), &name);
        let report = services.engine.run(&name).await;
        shown.finish().await;
        let report = report?;
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

fn print_providers(config: Result<&Config, &config::ConfigErrors>) {
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
            println!("      {:<26} {doc}{default}", key.name);
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
    let config = match config {
        Ok(config) => config,
        Err(problems) => {
            println!("  (cannot be listed: `boxoffice check-config` shows why)\n{problems}");
            return;
        }
    };
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
