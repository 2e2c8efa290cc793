//! The keys of a `fever-xml` instance, besides the common ones every
//! `[providers.<name>]` table has: one serde type, read by the registry (every
//! problem at once, each naming its key) and described by `boxoffice providers`.

use boxoffice_kit::{FeedUrl, Headers};
use schemars::JsonSchema;
use serde::Deserialize;

/// The configuration of a `fever-xml` instance.
///
/// ```toml
/// [providers.fever]
/// kind = "fever-xml"
/// url = "https://provider.example/api/events"
/// ```
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeverConfig {
    /// The feed's address: an `http` or `https` URL that answers a GET with the whole
    /// `eventList` document, or a file (`file:///srv/feeds/fever.xml`, or
    /// `file:fever.xml` beside the configuration file). It may carry credentials or a
    /// token; logs and errors show it without them.
    pub url: FeedUrl,
    /// Request headers sent with every request (e.g. an API key): each a string,
    /// `{ env = "NAME" }` or `{ file = "PATH" }`; never printed.
    #[serde(default)]
    pub headers: Headers,
}

#[cfg(test)]
mod tests {
    use super::*;
    use boxoffice_core::registry::parse_options;
    use serde_json::json;

    fn problem_keys(options: serde_json::Value) -> Vec<String> {
        parse_options::<FeverConfig>(options)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|problem| problem.key)
            .collect()
    }

    #[test]
    fn an_https_url_is_accepted() {
        let config = parse_options::<FeverConfig>(json!({"url": "https://provider.example/api/events"}));
        assert_eq!(
            config.map(|c| c.url.url().to_string()).ok().as_deref(),
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
        assert_eq!(
            problem_keys(json!({"url": "https://x.example/", "headers": {"Host": "x"}})),
            ["headers"]
        );
    }

    #[test]
    fn debug_output_hides_the_token() {
        let config = parse_options::<FeverConfig>(json!({
            "url": "https://provider.example/f?token=abc",
            "headers": {"X-Api-Key": "s3cret"},
        }))
        .unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("abc") && !shown.contains("s3cret"), "{shown}");
    }
}
