//! The application: built once from a configuration, used by `main` and by tests.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::http::HeaderValue;
use boxoffice_core::store::EventStore;
use boxoffice_core::sync::SyncEngine;
use boxoffice_core::sync::archive::PayloadArchive;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::info;

use crate::config::Config;
use crate::http::middleware::render_budget::RenderBudget;
use crate::http::{self, AppState};
use crate::read_model::{ReadModel, SnapshotFile};
use crate::serve::{ServeOptions, serve};
use crate::store::{SeaOrmStore, StoreOptions};

/// A store connected and migrated, with the sync engine over the configured providers.
pub struct Services {
    /// The store.
    pub store: Arc<dyn EventStore>,
    /// The engine.
    pub engine: Arc<SyncEngine>,
}

impl Services {
    /// Checks the configuration, connects, migrates and builds the providers.
    pub async fn start(config: &Config) -> anyhow::Result<Self> {
        let providers = config.check()?;
        let options = StoreOptions {
            max_connections: config.database.max_connections,
            ..StoreOptions::default()
        };
        let sea_orm = SeaOrmStore::connect(&config.database.url, &options)
            .await
            .with_context(|| format!("connecting to the store at {}", redact_url(&config.database.url)))?;
        sea_orm.migrate().await.context("migrating the store")?;
        let store: Arc<dyn EventStore> = Arc::new(sea_orm.clone());
        let archive = config
            .archive
            .enabled
            .then(|| PayloadArchive::new(&config.archive.dir, config.archive.retention));
        let engine = SyncEngine::new(Arc::clone(&store), providers, config.sync.batch_size, archive)
            .with_retention(config.retention.policy());
        let engine = Arc::new(match sync_runtime() {
            Some(runtime) => engine.with_runtime(runtime),
            None => engine,
        });
        if let Err(error) = engine.refresh_toggles().await {
            tracing::warn!(%error, "Cannot read the runtime provider switches; using the configuration.");
        }
        Ok(Self { store, engine })
    }
}

/// The server, bound and ready to run.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    config: Config,
}

impl Application {
    /// Builds everything and binds `server.addr` (port 0 picks a free port).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        crate::metrics::handle();
        let services = Services::start(&config).await?;
        let read_model = ReadModel::load(
            Arc::clone(&services.store),
            sync_runtime(),
            config.server.search_cache_bytes,
            config
                .server
                .snapshot_file
                .as_ref()
                .filter(|path| !path.as_os_str().is_empty())
                .map(|path| SnapshotFile::new(path, &config.database.url)),
        )
        .await
        .context("loading the searchable items")?;
        let admin = Arc::new(http::AdminAuth::new(
            config.admin_token()?,
            config.admin.max_failures,
            config.admin.failure_window,
            http::middleware::client::TrustedProxies::new(config.server.trusted_proxies.clone()),
        ));
        let listener = bind(config.server.addr, config.server.listen_backlog)
            .with_context(|| format!("binding {}", config.server.addr))?;
        let state = AppState {
            store: services.store,
            engine: services.engine,
            read_model,
            admin,
            search_cache_control: HeaderValue::from_str(&format!(
                "public, max-age={}",
                config.server.search_max_age.as_secs()
            ))?,
            search_render_budget: Arc::new(RenderBudget::new(config.server.search_inflight_bytes)),
            recent_pages: Arc::default(),
        };
        Ok(Self {
            listener,
            state,
            config,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// The shared state (tests drive the engine through it).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, syncing enabled providers on their schedule.
    /// Then (ADR 0005): stops accepting, cancels every running sync (rolled back),
    /// lets in-flight requests finish within `server.shutdown_timeout`, and closes
    /// whatever is still open at that deadline.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let engine = Arc::clone(&self.state.engine);
        let schedules = engine.spawn_schedules();
        let database = &self.config.database.url;
        let others = (database.starts_with("postgres://") || database.starts_with("postgresql://"))
            .then(|| crate::store::notify::listen(database.clone(), stop_rx.clone()));
        let refresher = self.state.read_model.spawn_refresher(
            engine.subscribe(),
            others,
            self.config.database.poll_interval,
            stop_rx,
        );
        let notice = spawn_unreachable_notice(Arc::clone(&engine), Arc::clone(&self.state.read_model));
        let read_model = Arc::clone(&self.state.read_model);
        let limits = &self.config.server;
        let proxies = http::middleware::client::TrustedProxies::new(limits.trusted_proxies.clone());
        let guard = http::middleware::guard::GuardConfig {
            max_query_bytes: limits.max_query_bytes,
            limiter: limits.rate_limit.enabled.then(|| {
                Arc::new(http::middleware::guard::RateLimiter::new(
                    limits.rate_limit.per_second,
                    limits.rate_limit.burst,
                ))
            }),
            proxies: proxies.clone(),
        };
        let options = ServeOptions {
            header_timeout: limits.header_timeout,
            idle_timeout: limits.idle_timeout,
            write_stall_timeout: limits.write_stall_timeout,
            shutdown_timeout: limits.shutdown_timeout,
            max_connections: limits.max_connections,
            max_connections_per_client: limits.max_connections_per_client,
            max_pending_head_bytes: limits.max_pending_head_bytes,
            proxies,
        };
        let router = http::router(
            self.state,
            http::RouterOptions {
                request_timeout: limits.request_timeout,
                guard,
                cors: http::middleware::cors::layer(&limits.cors),
                access_log: self.config.log.access,
            },
        );
        info!(addr = %self.listener.local_addr()?, "Serving.");
        let stopping = async move {
            shutdown.await;
            info!("Shutting down: cancelling running syncs, finishing in-flight requests.");
            engine.shut_down();
            let _ = stop_tx.send(true);
        };
        serve(self.listener, router, options, stopping).await;
        for task in schedules {
            task.abort();
            let _ = task.await;
        }
        refresher.abort();
        let _ = refresher.await;
        read_model.save().await;
        notice.abort();
        let _ = notice.await;
        info!("Stopped.");
        Ok(())
    }
}

/// Says once, in plain words, what a first run that cannot reach its provider means
/// for a newcomer: nothing to search until a sync succeeds (`make run` on a machine
/// without the network), and where to go instead. Watches the first run of each
/// enabled instance, then ends.
fn spawn_unreachable_notice(
    engine: Arc<boxoffice_core::SyncEngine>,
    read_model: Arc<ReadModel>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut waiting: Option<Vec<String>> = None;
        for _ in 0..300 {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            let Ok(instances) = engine.instances().await else {
                continue;
            };
            let pending = waiting.get_or_insert_with(|| {
                instances
                    .iter()
                    .filter(|i| i.enabled)
                    .map(|i| i.name.clone())
                    .collect()
            });
            for instance in &instances {
                let Some(report) = instance
                    .last_report
                    .as_ref()
                    .filter(|_| pending.contains(&instance.name))
                else {
                    continue;
                };
                pending.retain(|name| *name != instance.name);
                let error = report.error.as_deref().unwrap_or_default();
                if read_model.snapshot().is_empty() && error.contains("could not connect") {
                    tracing::warn!(
                        provider = %instance.name,
                        %error,
                        "The provider {} cannot be reached, so /search stays empty until one of its \
                         syncs succeeds. To see Boxoffice at work without a network, run `make demo` \
                         (boxoffice demo); the provider's address is providers.{}.url in the configuration.",
                        instance.name,
                        instance.name
                    );
                }
            }
            if pending.is_empty() {
                return;
            }
        }
    })
}

/// The runtime syncs run on: one thread at the lowest scheduling priority, so that
/// parsing and writing a large feed yields the CPU to request handling (ADR 0002).
/// One per process; `None` (run on the caller's runtime) if it cannot be started.
fn sync_runtime() -> Option<tokio::runtime::Handle> {
    static RUNTIME: std::sync::OnceLock<Option<tokio::runtime::Handle>> = std::sync::OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let (sender, receiver) = std::sync::mpsc::channel();
            let spawned = std::thread::Builder::new().name("boxoffice-sync".into()).spawn(move || {
                // Nice 9: a sync still progresses under a saturating load (nice 19
                // starved it in `make bench`), while request handling comes first.
                let lower = thread_priority::ThreadPriority::Crossplatform(
                    thread_priority::ThreadPriorityValue::try_from(25_u8).unwrap_or_default(),
                );
                if let Err(error) = thread_priority::set_current_thread_priority(lower) {
                    tracing::warn!(?error, "Cannot lower the sync thread's priority.");
                }
                match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(runtime) => {
                        let _ = sender.send(Some(runtime.handle().clone()));
                        runtime.block_on(std::future::pending::<()>());
                    }
                    Err(error) => {
                        tracing::warn!(%error, "Cannot start the sync runtime; syncs share the HTTP workers.");
                        let _ = sender.send(None);
                    }
                }
            });
            spawned.ok().and_then(|_| receiver.recv().ok().flatten())
        })
        .clone()
}

/// A database URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("[redacted]"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}

/// A listener on `addr` with a kernel queue of `backlog` connections (tokio's
/// `bind` asks for 128: 2,000 clients connecting at once waited seconds for SYN
/// retries).
fn bind(addr: std::net::SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}
