//! The keys of an `ical` instance, besides the common ones every `[providers.<name>]`
//! table has.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use boxoffice_core::SellMode;
use boxoffice_core::http::{check_feed_url, display_url};
use boxoffice_core::registry::{ConfigProblem, parse_options};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, forward_to_deserialize_any};
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
    #[serde(deserialize_with = "feed_url")]
    pub url: Url,
    /// How far past the present recurring events (RRULE) are expanded, as a duration
    /// such as `365d` or `26weeks`. More than 0 and at most 3650 days; default `365d`.
    #[serde(default = "default_horizon", deserialize_with = "bounded_horizon")]
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

/// A URL the kit's HTTP source can fetch (http or https).
fn feed_url<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Url, D::Error> {
    let url = Url::deserialize(deserializer)?;
    check_feed_url(&url).map_err(de::Error::custom)?;
    Ok(url)
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

impl IcalConfig {
    /// Reads and checks the instance's own keys with
    /// [`parse_options`]. Returns every
    /// problem at once, each naming its key: unknown keys first, then the fields in
    /// the order they are declared.
    pub fn parse(options: serde_json::Value) -> Result<Self, Vec<ConfigProblem>> {
        let serde_json::Value::Object(mut remaining) = options else {
            // Serde would read a struct from an array too, and name `[0]`.
            return Err(vec![ConfigProblem::new(
                "",
                "the provider's options must be a table",
            )]);
        };
        // Serde stops at the first problem. To report them all, the key each one
        // names is taken out and the rest read again, until nothing more is found;
        // every round takes a key out, so there are at most as many rounds as keys.
        let mut problems: Vec<ConfigProblem> = Vec::new();
        let mut taken_out = BTreeSet::new();
        loop {
            let found = match parse_options::<IcalConfig>(serde_json::Value::Object(remaining.clone())) {
                Ok(config) if problems.is_empty() => return Ok(config),
                Ok(_) => break,
                Err(found) => found,
            };
            let mut progressed = false;
            for problem in found {
                // A key taken out is now reported missing: it was reported already.
                if taken_out.contains(&problem.key) {
                    continue;
                }
                if remaining.remove(&problem.key).is_some() {
                    taken_out.insert(problem.key.clone());
                    progressed = true;
                }
                problems.push(problem);
            }
            if !progressed {
                break;
            }
        }
        let fields = declared_fields::<IcalConfig>();
        problems.sort_by_key(|problem| {
            fields
                .iter()
                .position(|field| *field == problem.key)
                .map_or(0, |position| position + 1)
        });
        Err(problems)
    }
}

/// The fields a struct with a derived `Deserialize` declares, in order: the derive
/// hands them to [`Deserializer::deserialize_struct`], which [`FieldNames`] records
/// before it refuses to go on. Empty for any other type.
fn declared_fields<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut names = FieldNames(&[]);
    // The error is the point: only the names were wanted.
    let _ = T::deserialize(&mut names);
    names.0
}

/// A deserializer that only learns the field names of the struct asked for.
struct FieldNames(&'static [&'static str]);

impl<'de> Deserializer<'de> for &mut FieldNames {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("only a struct's field names can be read"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0 = fields;
        Err(de::Error::custom("the field names are read"))
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
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
    fn problems_say_what_is_wrong() {
        let problems = IcalConfig::parse(json!({
            "url": "ftp://sala.example/",
            "horizon": "3651d",
            "sell_mode": "sometimes",
            "colour": "red",
        }))
        .err()
        .unwrap_or_default();
        let messages: Vec<_> = problems.iter().map(|problem| problem.message.as_str()).collect();
        assert!(messages[0].contains("unknown field `colour`"), "{messages:?}");
        assert!(messages[1].contains("http or https"), "{messages:?}");
        assert!(messages[2].contains("at most 3650d"), "{messages:?}");
        assert!(messages[3].contains("`online` or `offline`"), "{messages:?}");
        let missing = IcalConfig::parse(json!({})).err().unwrap_or_default();
        assert!(missing[0].message.contains("missing field `url`"), "{missing:?}");
    }

    #[test]
    fn options_that_are_not_a_table_are_one_problem() {
        for options in [
            json!("https://sala.example/a.ics"),
            json!(["https://sala.example/a.ics"]),
        ] {
            let problems = IcalConfig::parse(options).err().unwrap_or_default();
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert_eq!(problems[0].key, "");
            assert!(problems[0].message.contains("table"), "{problems:?}");
        }
    }

    #[test]
    fn the_declared_fields_are_read_from_the_type() {
        assert_eq!(declared_fields::<IcalConfig>(), ["url", "horizon", "sell_mode"]);
        assert!(declared_fields::<String>().is_empty());
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
