//! The keys every `[providers.<name>]` table has, and building an instance from them.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::name::InstanceName;
use super::options::ConfigProblem;
use super::{find, registrations};
use crate::provider::Provider;

/// The keys every `[providers.<name>]` table has, whatever its kind.
#[derive(Clone, Deserialize, Serialize, JsonSchema)]
pub struct ProviderConfig {
    /// Which registered provider reads this feed, e.g. `fever-xml`.
    pub kind: String,
    /// Whether the instance syncs at all; `false` keeps its data and serves it.
    #[serde(default = "defaults::enabled")]
    pub enabled: bool,
    /// Time between two syncs, e.g. `5m`.
    #[serde(default = "defaults::interval", with = "humantime_serde")]
    #[schemars(with = "String", extend("default" = "5m"))]
    pub interval: Duration,
    /// Deadline of one fetch, connection to last byte, e.g. `30s`.
    #[serde(default = "defaults::timeout", with = "humantime_serde")]
    #[schemars(with = "String", extend("default" = "30s"))]
    pub timeout: Duration,
    /// IANA time zone the feed's wall-clock times are in.
    #[serde(default = "defaults::timezone")]
    pub timezone: String,
    /// Largest feed accepted, in bytes; a larger one fails the run.
    #[serde(default = "defaults::max_feed_bytes")]
    pub max_feed_bytes: u64,
    /// Further attempts of a run after a transient failure (timeouts, 5xx, 429).
    #[serde(default = "defaults::retries")]
    pub retries: u32,
    /// First wait before a retry; doubles each attempt, with jitter, and yields to
    /// the provider's `Retry-After`.
    #[serde(default = "defaults::retry_backoff", with = "humantime_serde")]
    #[schemars(with = "String", extend("default" = "1s"))]
    pub retry_backoff: Duration,
    /// Deadline of a whole run, retries included.
    #[serde(default = "defaults::deadline", with = "humantime_serde")]
    #[schemars(with = "String", extend("default" = "10m"))]
    pub deadline: Duration,
    /// Consecutive failed runs that open the circuit breaker (scheduled runs are then
    /// skipped until the cool-down has passed, then one probe runs).
    #[serde(default = "defaults::breaker_threshold")]
    pub breaker_threshold: u32,
    /// How long an open breaker skips scheduled runs.
    #[serde(default = "defaults::breaker_cooldown", with = "humantime_serde")]
    #[schemars(with = "String", extend("default" = "10m"))]
    pub breaker_cooldown: Duration,
    /// Most documents one run reads (pages of a paginated feed); a run that would read
    /// more fails.
    #[serde(default = "defaults::max_pages")]
    pub max_pages: u32,
    /// The kind's own keys (e.g. `url`), checked by the kind's `build`. Never printed
    /// or serialized: they may hold secrets (a tokened URL, header values).
    #[serde(flatten, skip_serializing)]
    #[schemars(skip)]
    pub options: serde_json::Map<String, serde_json::Value>,
}

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("kind", &self.kind)
            .field("enabled", &self.enabled)
            .field("interval", &self.interval)
            .field("timezone", &self.timezone)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

mod defaults {
    use std::time::Duration;

    pub fn enabled() -> bool {
        true
    }
    pub fn interval() -> Duration {
        Duration::from_secs(300)
    }
    pub fn timeout() -> Duration {
        Duration::from_secs(30)
    }
    pub fn timezone() -> String {
        "UTC".into()
    }
    pub fn max_feed_bytes() -> u64 {
        256 * 1024 * 1024
    }
    pub fn retries() -> u32 {
        2
    }
    pub fn retry_backoff() -> Duration {
        Duration::from_secs(1)
    }
    pub fn deadline() -> Duration {
        Duration::from_secs(600)
    }
    pub fn breaker_threshold() -> u32 {
        5
    }
    pub fn breaker_cooldown() -> Duration {
        Duration::from_secs(600)
    }
    pub fn max_pages() -> u32 {
        1000
    }
}

/// The common settings of an instance, checked, as a provider's `build` receives them.
#[derive(Debug, Clone)]
pub struct InstanceSettings {
    /// The instance's name (its table's name): the namespace of its items' ids.
    pub name: String,
    /// The feed's time zone.
    pub timezone: Tz,
    /// Deadline of one fetch.
    pub timeout: Duration,
    /// Largest feed accepted, in bytes.
    pub max_feed_bytes: u64,
    /// Whether the configuration enables the instance's schedule. A disabled
    /// instance's secrets are not required at start-up (see the kit's `Headers`).
    pub enabled: bool,
}

/// A provider instance built from its configuration.
#[derive(Clone)]
pub struct BuiltProvider {
    /// The instance's name.
    pub name: String,
    /// Its registered kind.
    pub kind: &'static str,
    /// The configuration it was built from.
    pub config: ProviderConfig,
    /// The provider itself.
    pub provider: Arc<dyn Provider>,
}

impl fmt::Debug for BuiltProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuiltProvider")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl ProviderConfig {
    /// Checks the common keys and builds the instance through its kind's registration.
    /// Returns every problem found, each naming its key.
    pub fn build(&self, name: &str) -> Result<BuiltProvider, Vec<ConfigProblem>> {
        let prefix = format!("providers.{name}");
        let mut problems = Vec::new();
        if let Err(invalid) = InstanceName::parse(name) {
            problems.push(ConfigProblem::new(&prefix, invalid.to_string()));
        }
        let timezone = match self.timezone.parse::<Tz>() {
            Ok(timezone) => Some(timezone),
            Err(_) => {
                problems.push(ConfigProblem::new(
                    format!("{prefix}.timezone"),
                    format!(
                        "unknown time zone {:?}: use an IANA name such as \"Europe/Madrid\" or \"UTC\"",
                        self.timezone
                    ),
                ));
                None
            }
        };
        if self.interval.is_zero() {
            problems.push(ConfigProblem::new(
                format!("{prefix}.interval"),
                "must be longer than 0s",
            ));
        }
        if self.timeout.is_zero() {
            problems.push(ConfigProblem::new(
                format!("{prefix}.timeout"),
                "must be longer than 0s",
            ));
        }
        if self.deadline < self.timeout {
            problems.push(ConfigProblem::new(
                format!("{prefix}.deadline"),
                "must be at least the timeout",
            ));
        }
        if self.breaker_threshold == 0 {
            problems.push(ConfigProblem::new(
                format!("{prefix}.breaker_threshold"),
                "must be at least 1",
            ));
        }
        if self.max_pages == 0 {
            problems.push(ConfigProblem::new(
                format!("{prefix}.max_pages"),
                "must be at least 1",
            ));
        }
        if self.max_feed_bytes == 0 {
            problems.push(ConfigProblem::new(
                format!("{prefix}.max_feed_bytes"),
                "must be more than 0",
            ));
        }
        let Some(registration) = find(&self.kind) else {
            let kinds: Vec<_> = registrations().iter().map(|r| r.kind).collect();
            problems.push(ConfigProblem::new(
                format!("{prefix}.kind"),
                format!(
                    "unknown provider kind {:?}; registered kinds: {}",
                    self.kind,
                    kinds.join(", ")
                ),
            ));
            return Err(problems);
        };
        let Some(timezone) = timezone else {
            return Err(problems);
        };
        let settings = InstanceSettings {
            name: name.to_owned(),
            timezone,
            timeout: self.timeout,
            max_feed_bytes: self.max_feed_bytes,
            enabled: self.enabled,
        };
        match (registration.build)(&settings, serde_json::Value::Object(self.options.clone())) {
            Ok(provider) if problems.is_empty() => Ok(BuiltProvider {
                name: name.to_owned(),
                kind: registration.kind,
                config: self.clone(),
                provider,
            }),
            Ok(_) => Err(problems),
            Err(found) => {
                // A kind's message may point to this instance's environment variables.
                let variables = format!("BOXOFFICE_PROVIDERS__{}__", name.to_ascii_uppercase());
                problems.extend(found.into_iter().map(|problem| {
                    ConfigProblem {
                        key: format!("{prefix}.{}", problem.key)
                            .trim_end_matches('.')
                            .to_owned(),
                        message: problem
                            .message
                            .replace("BOXOFFICE_PROVIDERS__<NAME>__", &variables),
                    }
                }));
                Err(problems)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_kind_lists_the_registered_kinds() {
        let config: ProviderConfig =
            serde_json::from_value(serde_json::json!({"kind": "nope", "timezone": "Mars/Base"})).unwrap();
        let problems = config.build("x").unwrap_err();
        let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["providers.x.timezone", "providers.x.kind"]);
        assert!(problems[1].message.contains("registered kinds"));
    }

    #[test]
    fn the_kinds_own_keys_are_never_printed() {
        let config: ProviderConfig = serde_json::from_value(serde_json::json!({
            "kind": "x",
            "url": "https://feed.example/?token=s3cret",
            "headers": {"X-Api-Key": "s3cret"},
        }))
        .unwrap();
        assert!(!format!("{config:?}").contains("s3cret"));
        let json = serde_json::to_string(&config).unwrap();
        assert!(
            json.contains("\"kind\":\"x\"") && !json.contains("s3cret"),
            "{json}"
        );
        assert!(format!("{config:?}").contains("headers"));
    }

    #[test]
    fn the_common_keys_are_described_with_their_defaults() {
        let keys = super::super::common_keys();
        let names: Vec<_> = keys.iter().map(|k| k.name.as_str()).collect();
        for expected in [
            "kind",
            "enabled",
            "interval",
            "retries",
            "deadline",
            "breaker_threshold",
            "max_pages",
        ] {
            assert!(names.contains(&expected), "{expected} missing from {names:?}");
        }
        assert!(!names.contains(&"options"));
        let interval = keys.iter().find(|k| k.name == "interval");
        assert_eq!(interval.and_then(|k| k.default.as_deref()), Some("\"5m\""));
        assert!(keys.iter().all(|k| !k.doc.is_empty()), "{keys:?}");
    }
}
