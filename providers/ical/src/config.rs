//! The keys of an `ical` instance, besides the common ones every `[providers.<name>]`
//! table has.

use std::fmt;
use std::time::Duration;

use boxoffice_core::SellMode;
use boxoffice_core::http::{check_feed_url, display_url};
use boxoffice_core::registry::ConfigProblem;
use serde::Deserialize;
use url::Url;

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
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IcalConfig {
    /// The calendar's address: an `http` or `https` URL that answers a GET with an
    /// RFC 5545 document (`webcal://` links are `https://` ones). It may carry a
    /// token; logs and errors show it without its query and credentials.
    pub url: Url,
    /// How far past the present recurring events (RRULE) are expanded, as a duration
    /// such as `365d` or `26weeks`. More than 0 and at most 3650 days; default `365d`.
    #[serde(default = "default_horizon", with = "humantime_serde")]
    pub horizon: Duration,
    /// The sell mode of every event the calendar carries, `online` or `offline`
    /// (calendars say nothing of sales); a cancelled event is offline whatever this
    /// says. Default `online`.
    #[serde(default = "default_sell_mode")]
    pub sell_mode: SellMode,
}

fn default_horizon() -> Duration {
    DEFAULT_HORIZON
}

fn default_sell_mode() -> SellMode {
    SellMode::Online
}

/// The keys [`IcalConfig`] has.
const KEYS: &[&str] = &["url", "horizon", "sell_mode"];

impl IcalConfig {
    /// Reads and checks the instance's own keys. Returns every problem at once, each
    /// naming its key.
    pub fn parse(options: serde_json::Value) -> Result<Self, Vec<ConfigProblem>> {
        let serde_json::Value::Object(options) = options else {
            return Err(vec![ConfigProblem::new(
                "",
                "the provider's options must be a table",
            )]);
        };
        let mut problems = Vec::new();
        for key in options.keys().filter(|key| !KEYS.contains(&key.as_str())) {
            problems.push(ConfigProblem::new(
                key.as_str(),
                format!("unknown key `{key}`; an ical instance has {}", KEYS.join(", ")),
            ));
        }
        let url = match options.get("url") {
            None => {
                problems.push(ConfigProblem::new(
                    "url",
                    "missing key `url`: the calendar's address",
                ));
                None
            }
            Some(value) => check(parse_url(value), "url", &mut problems),
        };
        let horizon = match options.get("horizon") {
            None => Some(DEFAULT_HORIZON),
            Some(value) => check(parse_horizon(value), "horizon", &mut problems),
        };
        let sell_mode = match options.get("sell_mode") {
            None => Some(SellMode::Online),
            Some(value) => check(
                value
                    .as_str()
                    .and_then(SellMode::parse)
                    .ok_or_else(|| format!("must be \"online\" or \"offline\", not {value}")),
                "sell_mode",
                &mut problems,
            ),
        };
        match (url, horizon, sell_mode) {
            (Some(url), Some(horizon), Some(sell_mode)) if problems.is_empty() => Ok(IcalConfig {
                url,
                horizon,
                sell_mode,
            }),
            _ => Err(problems),
        }
    }
}

fn check<T>(result: Result<T, String>, key: &str, problems: &mut Vec<ConfigProblem>) -> Option<T> {
    result
        .map_err(|message| problems.push(ConfigProblem::new(key, message)))
        .ok()
}

fn parse_url(value: &serde_json::Value) -> Result<Url, String> {
    let text = value
        .as_str()
        .ok_or_else(|| format!("must be a string, not {value}"))?;
    let url = Url::parse(text).map_err(|error| format!("not a URL: {error}"))?;
    check_feed_url(&url)?;
    Ok(url)
}

fn parse_horizon(value: &serde_json::Value) -> Result<Duration, String> {
    let text = value
        .as_str()
        .ok_or_else(|| format!("must be a duration such as \"365d\", not {value}"))?;
    let horizon = humantime::parse_duration(text)
        .map_err(|error| format!("{text:?} is not a duration such as \"365d\": {error}"))?;
    if horizon.is_zero() || horizon > MAX_HORIZON {
        return Err(format!("must be more than 0s and at most 3650d, not {text:?}"));
    }
    Ok(horizon)
}

impl fmt::Debug for IcalConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IcalConfig")
            .field("url", &display_url(&self.url))
            .field("horizon", &humantime::format_duration(self.horizon).to_string())
            .field("sell_mode", &self.sell_mode)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problem_keys(options: serde_json::Value) -> Vec<String> {
        IcalConfig::parse(options)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|problem| problem.key)
            .collect()
    }

    #[test]
    fn only_the_url_is_required() {
        let config = IcalConfig::parse(json!({"url": "https://sala.example/agenda.ics"}))
            .unwrap_or_else(|problems| panic!("{problems:?}"));
        assert_eq!(config.horizon, DEFAULT_HORIZON);
        assert_eq!(config.sell_mode, SellMode::Online);
    }

    #[test]
    fn horizon_and_sell_mode_are_read() {
        let config = IcalConfig::parse(json!({
            "url": "http://sala.example/a.ics",
            "horizon": "30d",
            "sell_mode": "offline",
        }))
        .unwrap_or_else(|problems| panic!("{problems:?}"));
        assert_eq!(config.horizon, Duration::from_secs(30 * 86_400));
        assert_eq!(config.sell_mode, SellMode::Offline);
    }

    #[test]
    fn the_checked_parse_agrees_with_serde() {
        let options =
            json!({"url": "https://sala.example/a.ics", "horizon": "2weeks", "sell_mode": "offline"});
        let checked = IcalConfig::parse(options.clone()).ok();
        let derived = serde_json::from_value::<IcalConfig>(options).ok();
        assert!(checked.is_some());
        assert_eq!(checked, derived);
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
    fn debug_output_hides_the_token() {
        let config = IcalConfig::parse(json!({"url": "https://user:pw@sala.example/a.ics?token=abc"}))
            .unwrap_or_else(|problems| panic!("{problems:?}"));
        let shown = format!("{config:?}");
        assert!(!shown.contains("abc") && !shown.contains("pw"), "{shown}");
        assert!(shown.contains("https://sala.example/a.ics?…"), "{shown}");
    }
}
