//! `[providers.<name>.headers]`: request headers an instance sends with every request
//! (an API key, an `Authorization`), each value a string, `{ env = "NAME" }` or
//! `{ file = "PATH" }`. Every value is treated as a secret: never printed, logged,
//! reported or quoted in an error.

use std::collections::BTreeMap;
use std::fmt;

use boxoffice_core::registry::ConfigProblem;
use boxoffice_core::secret::SecretSource;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

/// Headers the client sets itself or that would break the exchange.
const RESERVED: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "te",
    "upgrade",
    "accept-encoding",
    "if-none-match",
    "if-modified-since",
];

/// An instance's request headers.
#[derive(Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct Headers(#[schemars(with = "BTreeMap<String, SecretSource>")] BTreeMap<String, SecretSource>);

impl Headers {
    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The header names, as configured.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// The headers with their values read now (each open: a rotated secret is picked
    /// up); an error names the header and where its value was looked for.
    pub fn resolve(&self) -> Result<HeaderMap, String> {
        let mut map = HeaderMap::with_capacity(self.0.len());
        for (name, source) in &self.0 {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("headers.{name}: not a header name"))?;
            let secret = source
                .resolve()
                .map_err(|reason| format!("headers.{name}: {reason}"))?;
            let mut value = HeaderValue::from_str(secret.expose()).map_err(|_| {
                format!("headers.{name}: the value is not a valid header value (control characters?)")
            })?;
            value.set_sensitive(true);
            map.insert(header, value);
        }
        Ok(map)
    }

    /// Problems reading the values now, each naming its key (`headers.X-Api-Key`).
    pub fn problems(&self) -> Vec<ConfigProblem> {
        self.0
            .iter()
            .filter_map(|(name, source)| {
                let reason = match source.resolve() {
                    Err(reason) => reason,
                    Ok(secret) if HeaderValue::from_str(secret.expose()).is_err() => {
                        "the value is not a valid header value (control characters?)".into()
                    }
                    Ok(_) => return None,
                };
                Some(ConfigProblem::new(format!("headers.{name}"), reason))
            })
            .collect()
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter()).finish()
    }
}

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let headers = BTreeMap::<String, SecretSource>::deserialize(deserializer)?;
        for name in headers.keys() {
            if HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(serde::de::Error::custom(format!("{name:?} is not a header name")));
            }
            if RESERVED.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(serde::de::Error::custom(format!(
                    "{name} is set by the HTTP client itself and cannot be configured"
                )));
            }
        }
        Ok(Headers(headers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_read_when_used_and_never_shown() {
        let headers: Headers = serde_json::from_value(json!({
            "X-Api-Key": "hunter2",
            "Authorization": {"env": "BOXOFFICE_KIT_TEST_SURELY_UNSET"},
        }))
        .unwrap();
        assert!(!format!("{headers:?}").contains("hunter2"));
        let json = serde_json::to_string(&headers).unwrap();
        assert!(json.contains("X-Api-Key") && !json.contains("hunter2"), "{json}");
        let problems = headers.problems();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].key, "headers.Authorization");
        assert!(problems[0].message.contains("BOXOFFICE_KIT_TEST_SURELY_UNSET"));
        let error = headers.resolve().err().unwrap_or_default();
        assert!(error.starts_with("headers.Authorization:"), "{error}");
    }

    #[test]
    fn bad_and_reserved_names_are_refused_and_bad_values_never_quoted() {
        assert!(serde_json::from_value::<Headers>(json!({"Bad Name": "x"})).is_err());
        assert!(serde_json::from_value::<Headers>(json!({"Host": "x"})).is_err());
        let headers: Headers = serde_json::from_value(json!({"X-Key": "line\nbreak"})).unwrap_or_default();
        let problems = headers.problems();
        assert_eq!(problems.len(), 1);
        assert!(!problems[0].message.contains("line"), "{}", problems[0].message);
        let map: Headers = serde_json::from_value(json!({"X-Key": "abc"})).unwrap_or_default();
        let resolved = map.resolve().unwrap_or_default();
        assert!(resolved["x-key"].is_sensitive());
    }
}
