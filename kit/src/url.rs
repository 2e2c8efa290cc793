//! Feed addresses: `http`, `https`, or `file` for a feed on this machine's disk; never
//! shown with their credentials or query.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use url::Url;

/// A feed's address, checked when read: `http`, `https`, or `file:///absolute/path`
/// (a `file:relative/path` is resolved against the configuration file's directory
/// before it gets here). It may carry credentials or a token in its query;
/// [`Display`](fmt::Display) and logs show it without them.
#[derive(Clone, PartialEq, Eq)]
pub struct FeedUrl(Url);

impl FeedUrl {
    /// Checks `url`.
    pub fn parse(url: &str) -> Result<Self, String> {
        if relative_file(url).is_some() {
            return Err(format!(
                "{url:?} is a relative file address, read relative to the configuration file; \
                 without one, write file:///absolute/path"
            ));
        }
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
        "file" if url.to_file_path().is_ok() => Ok(()),
        "file" => {
            Err("a file address names an absolute path on this machine: file:///srv/feeds/x.xml".into())
        }
        other => Err(format!("the scheme must be http, https or file, not {other:?}")),
    }
}

/// The path of a `file:` address relative to the configuration file (`file:feeds/x.xml`,
/// `file:./x.xml`), if `text` is one.
pub fn relative_file(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("file:")?;
    (!rest.starts_with('/') && !rest.is_empty()).then_some(rest)
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

/// Whether two addresses share scheme, host and port; any two files do (their pages
/// are kept to the first one's directory instead).
pub fn same_origin(a: &Url, b: &Url) -> bool {
    (a.scheme() == "file" && b.scheme() == "file") || a.origin() == b.origin()
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
        let json = serde_json::to_string(&url).unwrap();
        assert!(
            json.contains("provider.example") && !json.contains("abc"),
            "{json}"
        );
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
    fn only_http_https_and_absolute_files_are_accepted() {
        assert!(FeedUrl::parse("ftp://x/").is_err());
        assert!(FeedUrl::parse("not a url").is_err());
        let error = serde_json::from_value::<FeedUrl>(serde_json::json!("gopher://x/?token=abc"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("scheme") && !error.contains("abc"), "{error}");
        assert!(FeedUrl::parse("file:///srv/feeds/partner.xml").is_ok());
        let relative = FeedUrl::parse("file:feeds/partner.xml").err().unwrap_or_default();
        assert!(
            relative.contains("relative to the configuration file"),
            "{relative}"
        );
        assert_eq!(relative_file("file:./x.xml"), Some("./x.xml"));
        assert_eq!(relative_file("file:///x.xml"), None);
    }
}
