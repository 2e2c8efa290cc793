//! Configuration: built-in defaults < `config.toml` (or `--config PATH`) < environment
//! variables `BOXOFFICE_*`, with `__` between levels (`BOXOFFICE_DATABASE__URL`).
//!
//! Every field's doc comment is user documentation. A bad configuration stops start-up
//! with every problem listed, each naming its key.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use boxoffice_core::registry::{BuiltProvider, ConfigProblem, ProviderConfig};
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize};

/// The default configuration file, read when it exists.
pub const DEFAULT_CONFIG_FILE: &str = "config.toml";

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The HTTP server.
    #[serde(default)]
    pub server: ServerConfig,
    /// The store.
    #[serde(default)]
    pub database: DatabaseConfig,
    /// The admin API.
    #[serde(default)]
    pub admin: AdminConfig,
    /// Logging.
    #[serde(default)]
    pub log: LogConfig,
    /// The sync engine.
    #[serde(default)]
    pub sync: SyncConfig,
    /// The raw payload archive.
    #[serde(default)]
    pub archive: ArchiveConfig,
    /// Provider instances, by name: `[providers.<name>]`.
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderConfig>,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on, e.g. `127.0.0.1:8000` or `0.0.0.0:8000`.
    pub addr: SocketAddr,
    /// Longest time a request may take before it is answered 503.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// How long clients and caches may reuse a /search response (`Cache-Control:
    /// max-age`); revalidation with `If-None-Match` is always cheap.
    #[serde(with = "humantime_serde")]
    pub search_max_age: Duration,
    /// Bytes of whole /search responses kept per read-model snapshot (with their gzip
    /// and brotli variants, compressed once), so that a repeated query is not rendered
    /// or compressed again; 0 keeps none and serves /search uncompressed. A commit
    /// starts a new snapshot with an empty cache. Default 64 MiB.
    pub search_cache_bytes: usize,
    /// Longest query string accepted (longer: 414 in the error envelope).
    pub max_query_bytes: usize,
    /// Per-client rate limit of every route.
    pub rate_limit: RateLimitConfig,
    /// A connection whose request headers are not complete this long after it opened
    /// (or after the first byte of a later request arrived) is closed: slow or stalled
    /// clients cannot hold connections open.
    #[serde(with = "humantime_serde")]
    pub header_timeout: Duration,
    /// A kept-alive connection that stays idle (no request under way) this long is
    /// closed.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// On SIGTERM or SIGINT, how long in-flight requests may take to finish; whatever
    /// is still open then is closed and the process exits (status 0). Running syncs
    /// are cancelled at once, whatever this says.
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    /// Most connections held at once; past it, new ones wait in the listen backlog
    /// until one closes.
    pub max_connections: usize,
    /// Proxies (CIDR blocks, e.g. `10.0.0.0/8`, or single addresses) whose
    /// `X-Forwarded-For` is believed: a request from one of them is attributed to the
    /// right-most address of that header that is not itself a trusted proxy. Empty
    /// (the default): the socket's peer is the client.
    #[serde(deserialize_with = "networks")]
    pub trusted_proxies: Vec<IpNet>,
}

/// CIDR blocks, or single addresses (a `/32` or `/128` block).
fn networks<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<IpNet>, D::Error> {
    Vec::<String>::deserialize(deserializer)?
        .iter()
        .map(|text| {
            let text = text.trim();
            text.parse::<IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "{text:?} is neither a CIDR block (10.0.0.0/8) nor an IP address"
                    ))
                })
        })
        .collect()
}

/// `[server.rate_limit]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Off by default: a marketplace's own front end is usually the only client.
    pub enabled: bool,
    /// Requests a second each client address may make on average.
    pub per_second: f64,
    /// Requests a client may make at once.
    pub burst: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            per_second: 50.0,
            burst: 100,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8000)),
            request_timeout: Duration::from_secs(10),
            search_max_age: Duration::from_secs(1),
            search_cache_bytes: 64 * 1024 * 1024,
            max_query_bytes: 2048,
            rate_limit: RateLimitConfig::default(),
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            shutdown_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            trusted_proxies: Vec::new(),
        }
    }
}

/// `[database]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH?mode=rwc` (the file is created) or `postgres://USER@HOST:PORT/DB`.
    pub url: String,
    /// Connections in the pool.
    pub max_connections: u32,
    /// How often each process checks whether another one committed a sync, so that
    /// every instance serves it within this delay.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://./data/boxoffice.db?mode=rwc".into(),
            max_connections: 8,
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// `[admin]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Bearer token of the admin API. Unset: the admin API refuses everyone.
    pub token: Option<Secret>,
    /// A file holding the token (its surrounding white space is ignored); wins over `token`.
    pub token_file: Option<PathBuf>,
    /// Failed admin authentications a client may make within `failure_window`; past
    /// that, its admin requests answer 429 until the window has passed. Applies even
    /// when `server.rate_limit` is off.
    pub max_failures: u32,
    /// The window over which failed admin authentications are counted.
    #[serde(with = "humantime_serde")]
    pub failure_window: Duration,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            token: None,
            token_file: None,
            max_failures: 10,
            failure_window: Duration::from_secs(60),
        }
    }
}

/// `[log]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` for people, `json` for log pipelines.
    pub format: LogFormat,
    /// A `tracing` filter, e.g. `info` or `info,boxoffice_core=debug`; `RUST_LOG` wins.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `[sync]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncConfig {
    /// Records written per statement batch; bounds a sync's memory.
    pub batch_size: usize,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self { batch_size: 500 }
    }
}

/// `[archive]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArchiveConfig {
    /// Keep every fetched document, gzip-compressed by hash, for `boxoffice replay`.
    pub enabled: bool,
    /// Where (one folder per provider instance).
    pub dir: PathBuf,
    /// How long a payload is kept after its latest fetch.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
}

impl Default for ArchiveConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            dir: PathBuf::from("./data/archive"),
            retention: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// A secret string: never printed, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A secret holding `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("[redacted]")
    }
}

impl<'de> Deserialize<'de> for Secret {
    /// Accepts numbers too: environment values that look numeric arrive as numbers.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Signed(i64),
            Unsigned(u64),
            Float(f64),
        }
        Ok(Secret(match Raw::deserialize(deserializer)? {
            Raw::Text(text) => text,
            Raw::Signed(n) => n.to_string(),
            Raw::Unsigned(n) => n.to_string(),
            Raw::Float(n) => n.to_string(),
        }))
    }
}

/// A configuration that could not be used, with every problem found.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigProblem>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "the configuration has {} problem(s):", self.0.len())?;
        for problem in &self.0 {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl Config {
    /// Reads the configuration: `path` when given (it must exist), else `config.toml`
    /// when it exists, then the `BOXOFFICE_*` environment.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigErrors> {
        let mut figment = Figment::new();
        match path {
            Some(path) if !path.is_file() => {
                return Err(ConfigErrors(vec![ConfigProblem::new(
                    "--config",
                    format!("{} does not exist or is not a file", path.display()),
                )]));
            }
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None if Path::new(DEFAULT_CONFIG_FILE).is_file() => {
                figment = figment.merge(Toml::file_exact(DEFAULT_CONFIG_FILE));
            }
            None => {}
        }
        Self::from_figment(figment.merge(Env::prefixed("BOXOFFICE_").split("__")))
    }

    /// Extracts and checks a configuration from any figment (tests build their own).
    pub fn from_figment(figment: Figment) -> Result<Self, ConfigErrors> {
        let config: Config = figment.extract().map_err(|errors| {
            ConfigErrors(
                errors
                    .into_iter()
                    .map(|error| {
                        let key = if error.path.is_empty() {
                            "(top level)".to_owned()
                        } else {
                            error.path.join(".")
                        };
                        let source = error
                            .metadata
                            .as_ref()
                            .map(|m| format!(" (from {})", m.name))
                            .unwrap_or_default();
                        ConfigProblem::new(key, format!("{}{source}", error.kind))
                    })
                    .collect(),
            )
        })?;
        config.check().map(|_| config)
    }

    /// Checks what types cannot: URLs, sizes, and every provider instance.
    pub fn check(&self) -> Result<Vec<BuiltProvider>, ConfigErrors> {
        let mut problems = Vec::new();
        if !(self.database.url.starts_with("sqlite:")
            || self.database.url.starts_with("postgres://")
            || self.database.url.starts_with("postgresql://"))
        {
            problems.push(ConfigProblem::new(
                "database.url",
                "must start with sqlite: or postgres:// (e.g. sqlite://./data/boxoffice.db?mode=rwc)",
            ));
        }
        for (key, duration) in [
            ("server.header_timeout", self.server.header_timeout),
            ("server.idle_timeout", self.server.idle_timeout),
            ("admin.failure_window", self.admin.failure_window),
        ] {
            if duration.is_zero() {
                problems.push(ConfigProblem::new(key, "must be longer than 0s"));
            }
        }
        if self.server.max_connections == 0 {
            problems.push(ConfigProblem::new("server.max_connections", "must be at least 1"));
        }
        if self.admin.max_failures == 0 {
            problems.push(ConfigProblem::new("admin.max_failures", "must be at least 1"));
        }
        if self.database.max_connections == 0 {
            problems.push(ConfigProblem::new(
                "database.max_connections",
                "must be at least 1",
            ));
        }
        if self.database.poll_interval.is_zero() {
            problems.push(ConfigProblem::new(
                "database.poll_interval",
                "must be longer than 0s",
            ));
        }
        if self.sync.batch_size == 0 || self.sync.batch_size > 5000 {
            problems.push(ConfigProblem::new(
                "sync.batch_size",
                "must be between 1 and 5000",
            ));
        }
        if let Some(path) = &self.admin.token_file
            && !path.is_file()
        {
            problems.push(ConfigProblem::new(
                "admin.token_file",
                format!("{} does not exist or is not a file", path.display()),
            ));
        }
        let mut built = Vec::new();
        for (name, provider) in &self.providers {
            match provider.build(name) {
                Ok(instance) => built.push(instance),
                Err(found) => problems.extend(found),
            }
        }
        if problems.is_empty() {
            Ok(built)
        } else {
            Err(ConfigErrors(problems))
        }
    }

    /// The admin token, from `token_file` or `token`.
    pub fn admin_token(&self) -> anyhow::Result<Option<Secret>> {
        use anyhow::Context;
        if let Some(path) = &self.admin.token_file {
            let token = std::fs::read_to_string(path)
                .with_context(|| format!("reading admin.token_file {}", path.display()))?;
            let token = token.trim();
            anyhow::ensure!(!token.is_empty(), "admin.token_file {} is empty", path.display());
            return Ok(Some(Secret::new(token)));
        }
        Ok(self
            .admin
            .token
            .clone()
            .filter(|token| !token.expose().is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::providers::Serialized;

    fn from_toml(toml: &str) -> Result<Config, ConfigErrors> {
        Config::from_figment(Figment::new().merge(Toml::string(toml)))
    }

    fn keys(errors: ConfigErrors) -> Vec<String> {
        errors.0.into_iter().map(|problem| problem.key).collect()
    }

    #[test]
    fn defaults_serve_sqlite_on_port_8000() {
        let config = from_toml("").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.server.addr.to_string(), "127.0.0.1:8000");
        assert_eq!(config.database.url, "sqlite://./data/boxoffice.db?mode=rwc");
        assert!(config.providers.is_empty());
    }

    #[test]
    fn unknown_keys_are_named() {
        let errors = from_toml("[server]\ncolour = 'blue'\n")
            .err()
            .map(keys)
            .unwrap_or_default();
        assert_eq!(errors, ["server.colour"]);
    }

    #[test]
    fn bad_durations_are_named() {
        let errors = from_toml("[database]\npoll_interval = 'soon'\n")
            .err()
            .map(keys)
            .unwrap_or_default();
        assert_eq!(errors, ["database.poll_interval"]);
    }

    #[test]
    fn secrets_never_print() {
        let config =
            Config::from_figment(Figment::new().merge(Serialized::default("admin.token", "hunter2")))
                .unwrap_or_else(|e| panic!("{e}"));
        let token = config.admin_token().ok().flatten();
        assert_eq!(token.as_ref().map(Secret::expose), Some("hunter2"));
        assert!(!format!("{config:?}").contains("hunter2"));
        assert!(
            !serde_json::to_string(&config)
                .unwrap_or_default()
                .contains("hunter2")
        );
    }

    #[test]
    fn numeric_looking_tokens_are_accepted() {
        let config = Config::from_figment(Figment::new().merge(Serialized::default("admin.token", 12345)))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            config.admin_token().ok().flatten().map(|t| t.expose().to_owned()),
            Some("12345".into())
        );
    }

    #[test]
    fn a_token_file_wins_over_the_token_and_is_trimmed() {
        let dir = std::env::temp_dir().join(format!("boxoffice-token-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("token");
        let _ = std::fs::write(&path, "  from-file\n");
        let config = from_toml(&format!(
            "[admin]\ntoken = 'inline'\ntoken_file = '{}'\n",
            path.display()
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            config.admin_token().ok().flatten().map(|t| t.expose().to_owned()),
            Some("from-file".into())
        );
        let errors = from_toml("[admin]\ntoken_file = '/nonexistent/token'\n")
            .err()
            .map(keys)
            .unwrap_or_default();
        assert_eq!(errors, ["admin.token_file"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_bad_database_url_is_named() {
        let errors = from_toml("[database]\nurl = 'mysql://x'\n")
            .err()
            .map(keys)
            .unwrap_or_default();
        assert_eq!(errors, ["database.url"]);
    }
}
