//! Test helpers: a real server on port 0 over a fresh database (a SQLite file or a
//! new PostgreSQL database), and a local mock provider serving recorded feeds.
//!
//! Tests that need an outside service skip, saying so, when it is absent: the
//! PostgreSQL ones when `TEST_DATABASE_URL` is unset (no server is looked for
//! anywhere else), the Chromium one when there is no Chromium. Under `make test`,
//! which provisions both, `TEST_REQUIRE_SERVICES=1` turns every skip into a
//! failure.

use std::io::Write as _;
use std::sync::Once;
use std::time::Duration;

use axum::http::StatusCode;
use boxoffice_server::{Application, Config};
use figment::Figment;
use figment::providers::{Format, Toml};
use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const ADMIN_TOKEN: &str = "test-admin-token";

/// A recorded Fever response.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../providers/fever/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// Which store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates `<test>::sqlite` and `<test>::postgres` from `async fn <test>(Backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    $crate::skip_without_postgres!();
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            }
        )*
    };
}

/// A fresh, empty database of `backend`, dropped by [`TestDatabase::drop_now`].
pub struct TestDatabase {
    pub url: String,
    postgres_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

/// Set (to anything but `0`) by `make test`: a test that would skip fails instead.
/// Not `BOXOFFICE_*`: the server reads those as configuration and refuses unknown keys.
pub const REQUIRE_SERVICES: &str = "TEST_REQUIRE_SERVICES";

fn services_required() -> bool {
    std::env::var(REQUIRE_SERVICES).is_ok_and(|value| !value.is_empty() && value != "0")
}

/// The running test's name: libtest names each test's thread after it (but for
/// `--test-threads=1`, where tests run on the main thread).
fn current_test(module: &str) -> String {
    match std::thread::current().name() {
        Some(name) if name != "main" => name.to_owned(),
        _ => format!("a test of {module}"),
    }
}

/// Skips the calling test (which must return next): prints `SKIPPED <test>: <reason>`
/// to the standard error, past the harness's output capture, so that a skip is never
/// a silent pass. Panics instead when [`REQUIRE_SERVICES`] is set.
pub fn skip(module: &str, reason: &str) {
    let test = current_test(module);
    assert!(
        !services_required(),
        "{test} may not skip when {REQUIRE_SERVICES} is set (as make test does): {reason}"
    );
    // `eprintln!` would be captured and shown only on failure; a direct write is not.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {reason}");
}

/// Why PostgreSQL tests cannot run here, if they cannot: `TEST_DATABASE_URL` is
/// unset. No server is probed (not even 127.0.0.1:5432), so whether they run never
/// depends on whatever happens to listen there.
pub fn postgres_unavailable() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => None,
        _ => Some(
            "TEST_DATABASE_URL is unset (make test provisions a PostgreSQL; or set it to one, \
             e.g. TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test)"
                .into(),
        ),
    }
}

/// Returns from the calling test, after [`skip`], when PostgreSQL is unavailable.
#[macro_export]
macro_rules! skip_without_postgres {
    () => {
        if let Some(reason) = $crate::helpers::postgres_unavailable() {
            $crate::helpers::skip(module_path!(), &reason);
            return;
        }
    };
}

/// `$TEST_DATABASE_URL`: a database on a server where the tests may create databases.
fn postgres_admin_url() -> String {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!("TEST_DATABASE_URL is unset: a PostgreSQL test must begin with skip_without_postgres!()"),
    }
}

impl TestDatabase {
    pub async fn create(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
                let url = format!("sqlite://{}/boxoffice.db?mode=rwc", dir.path().display());
                Self {
                    url,
                    postgres_name: None,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url();
                let admin = Database::connect(&admin_url).await.unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL at TEST_DATABASE_URL={admin_url} does not answer: {e} \
                         (unset TEST_DATABASE_URL to skip the PostgreSQL tests; make test provisions one)"
                    )
                });
                sweep_old_databases(&admin).await;
                let now = chrono::Utc::now().timestamp();
                let name = format!("bxt_{now}_{}", uuid::Uuid::new_v4().simple());
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .unwrap_or_else(|e| panic!("creating database {name}: {e}"));
                let base = admin_url
                    .rsplit_once('/')
                    .map_or(admin_url.as_str(), |(base, _)| base);
                let url = format!("{base}/{name}");
                Self {
                    url,
                    postgres_name: Some(name),
                    _dir: None,
                }
            }
        }
    }

    pub async fn drop_now(self) {
        if let Some(name) = &self.postgres_name
            && let Ok(admin) = Database::connect(&postgres_admin_url()).await
        {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
        }
    }
}

/// Drops test databases left by runs that died more than an hour ago.
async fn sweep_old_databases(admin: &sea_orm::DatabaseConnection) {
    static ONCE: Once = Once::new();
    let mut first = false;
    ONCE.call_once(|| first = true);
    if !first {
        return;
    }
    let cutoff = chrono::Utc::now().timestamp() - 3600;
    let Ok(rows) = admin
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT datname FROM pg_database WHERE datname LIKE 'bxt_%'",
        ))
        .await
    else {
        return;
    };
    for row in rows {
        let Ok(name) = row.try_get::<String>("", "datname") else {
            continue;
        };
        let stamp = name
            .split('_')
            .nth(1)
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(i64::MAX);
        if stamp < cutoff {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
        }
    }
}

pub use boxoffice_testkit::MockResponse;

/// A generated Fever feed: `base_events` × `sessions` sessions (items) of `zones`
/// zones each, starting over 2021-2023.
pub fn generated_feed(base_events: usize, sessions: usize, zones: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    let shape = boxoffice_provider_fever::generate::FeedShape {
        base_events,
        events_per_base: sessions,
        zones,
        seed: 7,
    };
    boxoffice_provider_fever::generate::write_feed(&mut bytes, &shape).unwrap();
    bytes
}

/// A local provider serving whatever it is told to, at `/feed` (the test kit's mock).
pub struct MockProvider {
    pub url: String,
    server: boxoffice_testkit::MockFeedServer,
}

impl MockProvider {
    pub async fn start(first: MockResponse) -> Self {
        let server = boxoffice_testkit::MockFeedServer::serving("/feed", first).await;
        Self {
            url: server.url("/feed"),
            server,
        }
    }

    pub fn serve(&self, response: MockResponse) {
        self.server.serve("/feed", response);
    }

    /// Serves each response once, in order, then the last one for good.
    pub fn serve_sequence(&self, responses: Vec<MockResponse>) {
        self.server.serve_sequence("/feed", responses);
    }

    pub fn serve_fixture(&self, name: &str) {
        self.serve(MockResponse::ok(fixture(name)));
    }

    pub fn hits(&self) -> u64 {
        self.server.hits("/feed") as u64
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<boxoffice_testkit::RecordedRequest> {
        self.server.requests()
    }
}

/// A running server.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

/// Options of a test server.
pub struct AppOptions {
    pub feed_url: String,
    pub enabled: bool,
    pub admin_token: Option<&'static str>,
    pub extra_toml: String,
    /// Lines of the `[server]` table.
    pub server_toml: String,
}

impl AppOptions {
    /// A `fever` instance on `feed_url`, scheduled syncs off (tests sync through the admin API).
    pub fn manual(feed_url: &str) -> Self {
        Self {
            feed_url: feed_url.to_owned(),
            enabled: false,
            admin_token: Some(ADMIN_TOKEN),
            extra_toml: String::new(),
            server_toml: String::new(),
        }
    }
}

pub fn config_for(database_url: &str, options: &AppOptions) -> Config {
    let token = options
        .admin_token
        .map(|t| format!("token = \"{t}\""))
        .unwrap_or_default();
    let toml = format!(
        r#"
[server]
addr = "127.0.0.1:0"
{server}
[database]
url = "{database_url}"
max_connections = 4
poll_interval = "200ms"
[admin]
{token}
[log]
level = "warn"
[archive]
dir = "{archive}"
[providers.fever]
kind = "fever-xml"
enabled = {enabled}
url = "{feed_url}"
interval = "1h"
timeout = "2s"
timezone = "UTC"
retry_backoff = "50ms"
{extra}
"#,
        enabled = options.enabled,
        archive = std::env::temp_dir()
            .join(format!("boxoffice-test-{}", uuid::Uuid::new_v4().simple()))
            .display(),
        feed_url = options.feed_url,
        extra = options.extra_toml,
        server = options.server_toml,
    );
    Config::from_figment(Figment::new().merge(Toml::string(&toml))).unwrap()
}

impl TestApp {
    pub async fn spawn(database_url: &str, options: AppOptions) -> Self {
        Self::spawn_config(config_for(database_url, &options)).await
    }

    pub async fn spawn_config(config: Config) -> Self {
        boxoffice_server::providers::link_all();
        let app = Application::build(config)
            .await
            .unwrap_or_else(|e| panic!("building the app: {e:#}"));
        let address = format!("http://{}", app.local_addr().unwrap());
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = rx.await;
        }));
        // No transparent decoding: tests see the content codings the server sends.
        let client = reqwest::Client::builder()
            .no_gzip()
            .no_brotli()
            .no_deflate()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            address,
            client,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let result = tokio::time::timeout(Duration::from_secs(20), task).await;
            assert!(result.is_ok(), "the server did not stop within 20s");
        }
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::IM_A_TEAPOT);
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    pub async fn search(&self, query: &str) -> Vec<Value> {
        let (status, body) = self.get(&format!("/search?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["data"]["events"].as_array().cloned().unwrap_or_default()
    }

    pub async fn sync_with(&self, token: Option<&str>) -> (StatusCode, Value) {
        let mut request = self
            .client
            .post(format!("{}/admin/providers/fever/sync", self.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("sync: {e}"));
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::IM_A_TEAPOT);
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// An admin request with the right token: its status and JSON body.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(ADMIN_TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::IM_A_TEAPOT);
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Runs a sync through the admin API and returns its report.
    pub async fn sync(&self) -> (StatusCode, Value) {
        let (status, body) = self.sync_with(Some(ADMIN_TOKEN)).await;
        (status, body["data"]["report"].clone())
    }
}

/// The window of the end-to-end scenario: deployed 2021-02-01, asking up to 2022-07-03.
pub const SCENARIO_WINDOW: &str = "starts_at=2021-02-01T00:00:00Z&ends_at=2022-07-03T00:00:00Z";

pub fn titles(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["title"].as_str().unwrap_or_default().to_owned())
        .collect()
}

pub fn find<'a>(events: &'a [Value], title: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["title"] == title)
        .unwrap_or_else(|| panic!("{title} not in {events:?}"))
}
