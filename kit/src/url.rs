//! Feed addresses: http or https only, never shown with their credentials or query.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use url::Url;

/// A feed's address, checked when read: `http` or `https`. It may carry credentials
/// or a token in its query; [`Display`](fmt::Display) and logs show it without them.
#[derive(Clone, PartialEq, Eq)]
pub struct FeedUrl(Url);

impl FeedUrl {
    /// Checks `url`.
    pub fn parse(url: &str) -> Result<Self, String> {
        let parsed = Url::parse(url).map_err(|error| format!("not a URL: {error}"))?;
        check_scheme(&parsed)?;
        Ok(Self(parsed))
    }

    /// The address itself (with its secrets): use it, never print it.
    pub fn url(&self) -> &Url {
        &self.0
    }
}

fn check_scheme(url: &Url) -> Result<(), String> {
    match url.scheme() {
        "http" | "https" => Ok(()),
        other => Err(format!("the scheme must be http or https, not {other:?}")),
    }
}

impl fmt::Display for FeedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&display_url(&self.0))
    }
}

impl fmt::Debug for FeedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FeedUrl({})", display_url(&self.0))
    }
}

impl<'de> Deserialize<'de> for FeedUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(deserializer)? {
            // Never quote the address: it may carry a token.
            serde_json::Value::String(text) => FeedUrl::parse(&text).map_err(serde::de::Error::custom),
            serde_json::Value::Object(table) if table.contains_key("env") || table.contains_key("file") => {
                Err(serde::de::Error::custom(
                    "an address is not read from { env } or { file }: set the whole key from the \
                     environment instead (BOXOFFICE_PROVIDERS__<NAME>__URL, the instance's name in \
                     capitals), or keep the URL here and put its secret in [query] or [headers]",
                ))
            }
            _ => Err(serde::de::Error::custom(
                "expected an http or https URL, as a string",
            )),
        }
    }
}

impl Serialize for FeedUrl {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&display_url(&self.0))
    }
}

impl JsonSchema for FeedUrl {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FeedUrl".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "format": "uri" })
    }
}

/// A URL as messages and logs show it: no credentials, and `?…` for a query (which
/// often carries a token).
pub fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    let had_query = shown.query().is_some();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    let mut text = shown.to_string();
    if had_query {
        text.push_str("?…");
    }
    text
}

/// Whether two addresses share scheme, host and port.
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.origin() == b.origin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_credentials_or_query() {
        let url = FeedUrl::parse("https://user:secret@provider.example/feed?token=abc#x")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(url.to_string(), "https://provider.example/feed?…");
        assert!(!format!("{url:?}").contains("secret"));
        assert!(!serde_json::to_string(&url).unwrap_or_default().contains("abc"));
        let plain = FeedUrl::parse("http://provider.example/feed").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plain.to_string(), "http://provider.example/feed");
    }

    #[test]
    fn an_address_from_the_environment_points_to_the_override() {
        let error = serde_json::from_value::<FeedUrl>(serde_json::json!({"env": "EVENTS_URL"}))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.contains("BOXOFFICE_PROVIDERS__") && error.contains("[query]"),
            "{error}"
        );
        assert!(serde_json::from_value::<FeedUrl>(serde_json::json!(7)).is_err());
    }

    #[test]
    fn only_http_and_https_are_accepted() {
        assert!(FeedUrl::parse("ftp://x/").is_err());
        assert!(FeedUrl::parse("not a url").is_err());
        let error = serde_json::from_value::<FeedUrl>(serde_json::json!("file:///etc/passwd?token=abc"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("scheme") && !error.contains("abc"), "{error}");
    }
}
