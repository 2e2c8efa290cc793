//! The keys of an `ical` instance, besides the common ones every `[providers.<name>]`
//! table has: one serde type, read by the registry (every problem at once, each
//! naming its key) and described by `boxoffice providers` from its doc comments.

use std::time::Duration;

use boxoffice_core::SellMode;
use boxoffice_kit::{FeedUrl, Headers};
use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer};

/// The longest `horizon` accepted: ten years of occurrences is already more than any
/// venue publishes, and it bounds the work of expanding a rule.
pub const MAX_HORIZON: Duration = Duration::from_secs(3650 * 86_400);

/// The `horizon` when none is given: a year.
pub const DEFAULT_HORIZON: Duration = Duration::from_secs(365 * 86_400);

/// The configuration of an `ical` instance.
///
/// ```toml
/// [providers.sala]
/// kind = "ical"
/// url = "https://sala.example/agenda.ics"
/// timezone = "Europe/Madrid"   # floating times are read in it
/// horizon = "180d"             # optional, default 365d
/// sell_mode = "offline"        # optional, default online
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IcalConfig {
    /// The calendar's address: an `http` or `https` URL that answers a GET with an
    /// RFC 5545 document (`webcal://` links are `https://` ones), or a file
    /// (`file:///srv/feeds/agenda.ics`, or `file:agenda.ics` beside the configuration
    /// file). It may carry a token; logs and errors show it without its query and
    /// credentials.
    pub url: FeedUrl,
    /// Request headers sent with every request (e.g. an API key): each a string,
    /// `{ env = "NAME" }` or `{ file = "PATH" }`; never printed.
    #[serde(default)]
    pub headers: Headers,
    /// How far past the present recurring events (RRULE) are expanded, as a duration
    /// such as `365d` or `26weeks`. More than 0 and at most 3650 days.
    #[serde(default = "default_horizon", deserialize_with = "bounded_horizon")]
    #[schemars(with = "String", extend("default" = "365d"))]
    pub horizon: Duration,
    /// The sell mode of every event the calendar carries, `online` or `offline`
    /// (calendars say nothing of sales); a cancelled event is offline whatever this
    /// says.
    #[serde(default = "default_sell_mode")]
    #[schemars(with = "String", extend("default" = "online"))]
    pub sell_mode: SellMode,
}

fn default_horizon() -> Duration {
    DEFAULT_HORIZON
}

fn default_sell_mode() -> SellMode {
    SellMode::Online
}

/// A humantime duration within `(0, MAX_HORIZON]`.
fn bounded_horizon<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let horizon: Duration = humantime_serde::deserialize(deserializer)?;
    if horizon.is_zero() || horizon > MAX_HORIZON {
        return Err(de::Error::custom(format!(
            "must be more than 0s and at most 3650d, not {}",
            humantime::format_duration(horizon)
        )));
    }
    Ok(horizon)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(options: serde_json::Value) -> Result<IcalConfig, Vec<boxoffice_core::ConfigProblem>> {
        boxoffice_core::registry::parse_options(options)
    }

    fn problem_keys(options: serde_json::Value) -> Vec<String> {
        parse(options)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|problem| problem.key)
            .collect()
    }

    #[test]
    fn only_the_url_is_required() {
        let config = parse(json!({"url": "https://sala.example/agenda.ics"})).unwrap();
        assert_eq!(config.horizon, DEFAULT_HORIZON);
        assert_eq!(config.sell_mode, SellMode::Online);
    }

    #[test]
    fn horizon_and_sell_mode_are_read() {
        let config = parse(json!({
            "url": "http://sala.example/a.ics",
            "horizon": "30d",
            "sell_mode": "offline",
        }))
        .unwrap();
        assert_eq!(config.horizon, Duration::from_secs(30 * 86_400));
        assert_eq!(config.sell_mode, SellMode::Offline);
    }

    #[test]
    fn every_problem_names_its_key_all_at_once() {
        assert_eq!(
            problem_keys(json!({
                "url": "ftp://sala.example/",
                "horizon": "soon",
                "sell_mode": "sometimes",
                "colour": "red",
            })),
            ["colour", "url", "horizon", "sell_mode"]
        );
        assert_eq!(problem_keys(json!({})), ["url"]);
        assert_eq!(problem_keys(json!({"url": 5})), ["url"]);
        assert_eq!(problem_keys(json!({"url": "not a url"})), ["url"]);
    }

    #[test]
    fn the_horizon_is_bounded() {
        let keys = |horizon: &str| problem_keys(json!({"url": "https://x.example/", "horizon": horizon}));
        assert_eq!(keys("0s"), ["horizon"]);
        assert_eq!(keys("3651d"), ["horizon"]);
        assert!(keys("3650d").is_empty());
    }

    #[test]
    fn problems_say_what_is_wrong() {
        let problems = parse(json!({
            "url": "ftp://sala.example/",
            "horizon": "3651d",
            "sell_mode": "sometimes",
            "colour": "red",
        }))
        .err()
        .unwrap_or_default();
        let messages: Vec<_> = problems.iter().map(|problem| problem.message.as_str()).collect();
        assert!(messages[0].contains("unknown field `colour`"), "{messages:?}");
        assert!(messages[1].contains("http, https or file"), "{messages:?}");
        assert!(messages[2].contains("at most 3650d"), "{messages:?}");
        assert!(messages[3].contains("`online` or `offline`"), "{messages:?}");
        let missing = parse(json!({})).unwrap_err();
        assert!(missing[0].message.contains("missing field `url`"), "{missing:?}");
    }

    #[test]
    fn options_that_are_not_a_table_are_one_problem() {
        for options in [
            json!("https://sala.example/a.ics"),
            json!(["https://sala.example/a.ics"]),
        ] {
            let problems = parse(options).unwrap_err();
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert_eq!(problems[0].key, "");
            assert!(problems[0].message.contains("table"), "{problems:?}");
        }
    }

    #[test]
    fn debug_output_hides_the_token() {
        let config = parse(json!({"url": "https://user:pw@sala.example/a.ics?token=abc"})).unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("abc") && !shown.contains("pw"), "{shown}");
        assert!(shown.contains("https://sala.example/a.ics?…"), "{shown}");
    }
}
