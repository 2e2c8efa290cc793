//! Configuration: built-in defaults < `config.toml` (or `--config PATH`, or the file
//! `BOXOFFICE_CONFIG` names) < environment variables `BOXOFFICE_*`, with `__` between
//! levels (`BOXOFFICE_DATABASE__URL`).
//!
//! Only a variable whose first segment names a section of the configuration
//! ([`SECTIONS`]) is configuration: `BOXOFFICE_SERVER__ADRR` is a misspelled key and
//! stops start-up, while `BOXOFFICE_SERVICE_HOST` or `BOXOFFICE_PORT_8000_TCP`, which
//! Kubernetes injects into every pod for a Service named `boxoffice`, cannot be keys
//! and are ignored (start-up names them in one warning: [`ignored_environment`]).
//!
//! Every field's doc comment is user documentation. A bad configuration stops start-up
//! with every problem listed, each naming its key.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use boxoffice_core::Secret;
use boxoffice_core::registry::{BuiltProvider, ConfigProblem, ProviderConfig};
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize};

/// The default configuration file, read when it exists.
pub const DEFAULT_CONFIG_FILE: &str = "config.toml";

/// The prefix of configuration environment variables.
pub const ENV_PREFIX: &str = "BOXOFFICE_";

/// The environment variable naming the configuration file (`--config` wins). It is no
/// configuration key itself.
pub const CONFIG_FILE_ENV: &str = "BOXOFFICE_CONFIG";

/// The top-level sections of [`Config`]: an environment variable is configuration
/// only when its first segment is one of them. A unit test keeps this list equal to
/// the fields of [`Config`].
pub const SECTIONS: &[&str] = &[
    "server",
    "database",
    "admin",
    "log",
    "sync",
    "archive",
    "telemetry",
    "providers",
];

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
    /// Traces exported over OpenTelemetry.
    #[serde(default)]
    pub telemetry: TelemetryConfig,
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
    /// Cross-origin requests from browsers to the public read routes.
    pub cors: CorsConfig,
}

/// `[server.cors]`: which web pages, served from other origins, may read `/search`,
/// `/events/{id}`, `/openapi.json`, `/health` and `/ready` from a browser. The admin
/// API never answers cross-origin requests.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorsConfig {
    /// Origins (`https://shop.example.com`, scheme and host, and a port when it is not
    /// the scheme's default) whose pages may read those routes; `["*"]`: any origin,
    /// never with credentials (cookies, HTTP authentication). Empty (the default): no
    /// CORS headers at all, so browsers let only same-origin pages read the answers.
    pub allowed_origins: Vec<String>,
}

impl CorsConfig {
    /// The one origin value meaning "any origin".
    pub const ANY: &str = "*";

    /// Whether any origin is allowed (`["*"]`).
    pub fn allows_any(&self) -> bool {
        self.allowed_origins.iter().any(|origin| origin == Self::ANY)
    }

    /// What is wrong with the list, if anything: every bad entry, at once.
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.allows_any() && self.allowed_origins.len() > 1 {
            problems.push("\"*\" (any origin) cannot be combined with other origins".to_owned());
        }
        for origin in &self.allowed_origins {
            if origin != Self::ANY
                && let Err(why) = check_origin(origin)
            {
                problems.push(format!("{origin:?} {why}"));
            }
        }
        problems
    }
}

/// An origin as browsers send it in `Origin`: `scheme://host[:port]`, lower case,
/// without the scheme's default port, path, query or credentials. Anything else could
/// never equal a browser's `Origin` header, so it would silently allow nothing.
fn check_origin(origin: &str) -> Result<(), String> {
    let parsed = url::Url::parse(origin)
        .map_err(|error| format!("is not an origin such as https://shop.example.com ({error})"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("must be an http:// or https:// origin".into());
    }
    let canonical = parsed.origin().ascii_serialization();
    if canonical != origin {
        return Err(format!(
            "is not an origin as browsers send it: scheme://host[:port], with no path, \
             query, credentials or default port (did you mean {canonical:?}?)"
        ));
    }
    Ok(())
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
            max_query_bytes: 2048,
            rate_limit: RateLimitConfig::default(),
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            shutdown_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            trusted_proxies: Vec::new(),
            cors: CorsConfig::default(),
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
    /// One line per HTTP request (target `boxoffice::access`, level `info`): method,
    /// route pattern (never the raw path), status, duration, request id.
    pub access: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
            access: true,
        }
    }
}

/// `[telemetry]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// Where to export traces over OTLP/HTTP (protobuf), e.g. `http://127.0.0.1:4318`
    /// (an OpenTelemetry Collector or an agent); `/v1/traces` is appended unless the
    /// path already ends with it. Unset (the default): no tracing pipeline at all.
    pub otlp_endpoint: Option<url::Url>,
    /// `service.name` of the exported traces.
    pub service_name: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            service_name: "boxoffice".into(),
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
        Self::load_named(path, "--config")
    }

    /// As [`Config::load`], naming `path` after where it came from (`--config` or
    /// `BOXOFFICE_CONFIG`) when it does not exist.
    pub fn load_named(path: Option<&Path>, named_by: &str) -> Result<Self, ConfigErrors> {
        let mut figment = Figment::new();
        match path {
            Some(path) if !path.is_file() => {
                return Err(ConfigErrors(vec![ConfigProblem::new(
                    named_by,
                    format!("{} does not exist or is not a file", path.display()),
                )]));
            }
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None if Path::new(DEFAULT_CONFIG_FILE).is_file() => {
                figment = figment.merge(Toml::file_exact(DEFAULT_CONFIG_FILE));
            }
            None => {}
        }
        let environment = Env::prefixed(ENV_PREFIX)
            .filter(|key| is_configuration_key(key.as_str()))
            .split("__");
        Self::from_figment(figment.merge(environment))
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
        for problem in self.server.cors.problems() {
            problems.push(ConfigProblem::new("server.cors.allowed_origins", problem));
        }
        if self.telemetry.service_name.trim().is_empty() {
            problems.push(ConfigProblem::new("telemetry.service_name", "must not be empty"));
        }
        if let Some(endpoint) = &self.telemetry.otlp_endpoint
            && !matches!(endpoint.scheme(), "http" | "https")
        {
            problems.push(ConfigProblem::new(
                "telemetry.otlp_endpoint",
                "must be an http:// or https:// URL (OTLP over HTTP, e.g. http://127.0.0.1:4318)",
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

/// Whether an environment variable, named without the `BOXOFFICE_` prefix, is meant as
/// configuration: its first segment (before `__`) names a section. Case does not
/// matter, as for every configuration variable.
pub fn is_configuration_key(key: &str) -> bool {
    let section = key.split("__").next().unwrap_or_default().trim();
    SECTIONS.iter().any(|known| known.eq_ignore_ascii_case(section))
}

/// The `BOXOFFICE_*` variables of this process that are not configuration (see
/// [`is_configuration_key`]), sorted, for the one warning start-up logs.
/// `BOXOFFICE_CONFIG` is not among them: it names the configuration file.
pub fn ignored_environment() -> Vec<String> {
    ignored_variables(std::env::vars_os().map(|(name, _)| name.to_string_lossy().into_owned()))
}

fn ignored_variables(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut ignored: Vec<String> = names
        .filter(|name| {
            // The prefix matches whatever its case, as figment's does.
            name.get(..ENV_PREFIX.len())
                .is_some_and(|prefix| prefix.eq_ignore_ascii_case(ENV_PREFIX))
                && !name.eq_ignore_ascii_case(CONFIG_FILE_ENV)
                && !is_configuration_key(&name[ENV_PREFIX.len()..])
        })
        .collect();
    ignored.sort();
    ignored
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
    fn every_section_of_the_config_is_listed_and_nothing_else() {
        let value = serde_json::to_value(Config::default()).unwrap_or_default();
        let mut fields: Vec<&str> = value
            .as_object()
            .map(|object| object.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let mut listed = SECTIONS.to_vec();
        fields.sort_unstable();
        listed.sort_unstable();
        assert_eq!(fields, listed);
    }

    #[test]
    fn only_variables_under_a_section_are_configuration() {
        for key in [
            "SERVER__ADDR",
            "server__adrr",
            "DATABASE__URLL",
            "PROVIDERS__FEVER__ENABLED",
            "TELEMETRY__OTLP_ENDPOINT",
            "LOG",
        ] {
            assert!(is_configuration_key(key), "{key}");
        }
        // What Kubernetes injects for a Service named boxoffice (or boxoffice-server).
        for key in [
            "SERVICE_HOST",
            "SERVICE_PORT",
            "SERVICE_PORT_HTTP",
            "PORT",
            "PORT_8000_TCP",
            "PORT_8000_TCP_ADDR",
            "PORT_8000_TCP_PROTO",
            "SERVER_SERVICE_HOST",
            "CONFIG",
            "",
        ] {
            assert!(!is_configuration_key(key), "{key}");
        }
    }

    #[test]
    fn ignored_variables_are_named_but_the_config_file_variable_is_not() {
        let names = [
            "BOXOFFICE_SERVICE_HOST",
            "BOXOFFICE_SERVER__ADDR",
            "boxoffice_port",
            "BOXOFFICE_CONFIG",
            "PATH",
            "BOXOFFICE",
            "BOXOFFICE_PORT_8000_TCP",
        ];
        let ignored = ignored_variables(names.iter().map(|name| (*name).to_owned()));
        assert_eq!(
            ignored,
            [
                "BOXOFFICE_PORT_8000_TCP",
                "BOXOFFICE_SERVICE_HOST",
                "boxoffice_port"
            ]
        );
    }

    #[test]
    fn cors_origins_are_checked_each_naming_the_key() {
        let config = from_toml(
            "[server.cors]\nallowed_origins = ['https://shop.example.com', 'http://127.0.0.1:3000']\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.server.cors.allowed_origins.len(), 2);
        assert!(from_toml("[server.cors]\nallowed_origins = ['*']\n").is_ok());
        for bad in [
            "'https://shop.example.com/'",
            "'https://shop.example.com/path'",
            "'shop.example.com'",
            "'https://Shop.example.com'",
            "'https://shop.example.com:443'",
            "'ftp://shop.example.com'",
            "'https://user@shop.example.com'",
            "'*', 'https://shop.example.com'",
        ] {
            let errors = from_toml(&format!("[server.cors]\nallowed_origins = [{bad}]\n"))
                .err()
                .map(keys)
                .unwrap_or_default();
            assert_eq!(errors, ["server.cors.allowed_origins"], "{bad}");
        }
        let both = from_toml("[server.cors]\nallowed_origins = ['a', 'b']\n")
            .err()
            .map(keys)
            .unwrap_or_default();
        assert_eq!(both.len(), 2, "every bad origin is reported");
    }

    #[test]
    fn telemetry_is_off_by_default_and_checked_when_set() {
        let config = from_toml("").unwrap_or_else(|e| panic!("{e}"));
        assert!(config.telemetry.otlp_endpoint.is_none());
        assert_eq!(config.telemetry.service_name, "boxoffice");
        assert!(config.log.access);
        let errors = from_toml("[telemetry]\notlp_endpoint = 'grpc://127.0.0.1:4317'\nservice_name = ' '\n")
            .err()
            .map(keys)
            .unwrap_or_default();
        assert_eq!(errors, ["telemetry.service_name", "telemetry.otlp_endpoint"]);
        let errors = from_toml("[telemetry]\notlp_endpoint = 'not a url'\n")
            .err()
            .map(keys)
            .unwrap_or_default();
        assert_eq!(errors, ["telemetry.otlp_endpoint"]);
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
