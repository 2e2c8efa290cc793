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
use std::path::Path;

pub use boxoffice_core::Secret;
use boxoffice_core::registry::{BuiltProvider, ConfigProblem, ProviderConfig};
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::{Deserialize, Serialize};

mod environment;
mod sections;

pub use environment::{ignored_environment, is_configuration_key};
pub use sections::{
    AdminConfig, ArchiveConfig, CorsConfig, DatabaseConfig, LogConfig, LogFormat, RateLimitConfig,
    RetentionConfig, ServerConfig, SyncConfig, TelemetryConfig,
};

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
    "retention",
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
    /// How much run history is kept.
    #[serde(default)]
    pub retention: RetentionConfig,
    /// Traces exported over OpenTelemetry.
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    /// Provider instances, by name: `[providers.<name>]`.
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderConfig>,
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
        let file = path.or_else(|| {
            Path::new(DEFAULT_CONFIG_FILE)
                .is_file()
                .then_some(Path::new(DEFAULT_CONFIG_FILE))
        });
        let base = file
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        Self::from_figment_in(figment.merge(environment), &base)
    }

    /// Extracts and checks a configuration from any figment (tests build their own);
    /// relative `file:` feed addresses are read from the working directory.
    pub fn from_figment(figment: Figment) -> Result<Self, ConfigErrors> {
        Self::from_figment_in(figment, Path::new(""))
    }

    /// [`Self::from_figment`], relative `file:` feed addresses read from `base` (the
    /// configuration file's directory).
    pub fn from_figment_in(figment: Figment, base: &Path) -> Result<Self, ConfigErrors> {
        let mut config: Config = figment.extract().map_err(|errors| {
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
        for provider in config.providers.values_mut() {
            absolute_file_addresses(&mut provider.options, base);
        }
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
        if self.retention.runs == 0 {
            problems.push(ConfigProblem::new("retention.runs", "must be at least 1"));
        }
        for (key, duration) in [
            ("retention.rejects", self.retention.rejects),
            ("server.header_timeout", self.server.header_timeout),
            ("server.idle_timeout", self.server.idle_timeout),
            ("server.write_stall_timeout", self.server.write_stall_timeout),
            ("admin.failure_window", self.admin.failure_window),
        ] {
            if duration.is_zero() {
                problems.push(ConfigProblem::new(key, "must be longer than 0s"));
            }
        }
        for (key, count) in [
            ("server.max_connections", self.server.max_connections),
            (
                "server.max_connections_per_client",
                self.server.max_connections_per_client,
            ),
            ("server.listen_backlog", self.server.listen_backlog as usize),
        ] {
            if count == 0 {
                problems.push(ConfigProblem::new(key, "must be at least 1"));
            }
        }
        if self.server.max_pending_head_bytes < crate::serve::MAX_HEAD_BYTES {
            problems.push(ConfigProblem::new(
                "server.max_pending_head_bytes",
                "must be at least 65536 (one request head)",
            ));
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

/// Rewrites every `url` of a provider's keys (its tables' too) that is a relative
/// `file:` address into an absolute one, relative to `base`: a partner's feed file
/// next to the configuration is `url = "file:feeds/partner.xml"`.
fn absolute_file_addresses(options: &mut serde_json::Map<String, serde_json::Value>, base: &Path) {
    let base = if base.as_os_str().is_empty() {
        std::env::current_dir().unwrap_or_default()
    } else {
        std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf())
    };
    for (key, value) in options.iter_mut() {
        match value {
            serde_json::Value::String(text) if key == "url" => {
                if let Some(relative) = boxoffice_kit::relative_file(text)
                    && let Ok(url) = url::Url::from_file_path(base.join(relative))
                {
                    *text = url.to_string();
                }
            }
            serde_json::Value::Object(table) => absolute_file_addresses(table, &base),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::environment::ignored_variables;
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
        let config = from_toml("").unwrap();
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
                .unwrap();
        let token = config.admin_token().ok().flatten();
        assert_eq!(token.as_ref().map(Secret::expose), Some("hunter2"));
        assert!(!format!("{config:?}").contains("hunter2"));
        let json = serde_json::to_string(&config).unwrap();
        assert!(json.contains("[redacted]") && !json.contains("hunter2"), "{json}");
    }

    #[test]
    fn numeric_looking_tokens_are_accepted() {
        let config =
            Config::from_figment(Figment::new().merge(Serialized::default("admin.token", 12345))).unwrap();
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
        .unwrap();
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
        .unwrap();
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
        let config = from_toml("").unwrap();
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
