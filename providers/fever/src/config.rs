//! The keys of a `fever-xml` instance, besides the common ones every
//! `[providers.<name>]` table has.

use std::fmt;

use boxoffice_core::http::{check_feed_url, display_url};
use boxoffice_core::registry::{ConfigProblem, parse_options};
use serde::Deserialize;
use url::Url;

/// The configuration of a `fever-xml` instance.
///
/// ```toml
/// [providers.fever]
/// kind = "fever-xml"
/// url = "https://provider.example/api/events"
/// ```
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeverConfig {
    /// The feed's address: an `http` or `https` URL that answers a GET with the whole
    /// `eventList` document. It may carry credentials or a token; logs and errors
    /// show it without them.
    pub url: Url,
}

impl FeverConfig {
    /// Reads and checks the instance's own keys, naming the key of each problem.
    pub fn parse(options: serde_json::Value) -> Result<Self, Vec<ConfigProblem>> {
        let given: Vec<String> = options
            .as_object()
            .map(|object| object.keys().cloned().collect())
            .unwrap_or_default();
        let config: FeverConfig = parse_options(options).map_err(|problems| {
            // `url` is the only key: an error that names no key that was given (a
            // malformed URL or a wrong type, where serde quotes the value, not the key)
            // is about it.
            problems
                .into_iter()
                .map(|problem| {
                    if given.contains(&problem.key) {
                        problem
                    } else {
                        ConfigProblem::new("url", problem.message)
                    }
                })
                .collect::<Vec<_>>()
        })?;
        check_feed_url(&config.url).map_err(|message| vec![ConfigProblem::new("url", message)])?;
        Ok(config)
    }
}

impl fmt::Debug for FeverConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FeverConfig")
            .field("url", &display_url(&self.url))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problem_keys(options: serde_json::Value) -> Vec<String> {
        FeverConfig::parse(options)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|problem| problem.key)
            .collect()
    }

    #[test]
    fn an_https_url_is_accepted() {
        let config = FeverConfig::parse(json!({"url": "https://provider.example/api/events"}));
        assert_eq!(
            config.map(|c| c.url.to_string()).ok().as_deref(),
            Some("https://provider.example/api/events")
        );
    }

    #[test]
    fn every_problem_names_its_key() {
        assert_eq!(problem_keys(json!({"url": "ftp://provider.example/"})), ["url"]);
        assert_eq!(problem_keys(json!({"url": "not a url"})), ["url"]);
        assert_eq!(problem_keys(json!({"url": 5})), ["url"]);
        assert_eq!(problem_keys(json!({})), ["url"]);
        assert_eq!(
            problem_keys(json!({"url": "https://x.example/", "colour": "red"})),
            ["colour"]
        );
    }

    #[test]
    fn debug_output_hides_the_token() {
        let config = FeverConfig::parse(json!({"url": "https://provider.example/f?token=abc"}))
            .unwrap_or_else(|problems| panic!("{problems:?}"));
        assert!(!format!("{config:?}").contains("abc"));
    }
}
