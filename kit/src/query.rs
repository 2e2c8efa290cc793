//! `[providers.<name>.query]`: query parameters an instance sends with every request,
//! next links included (an API key such as Ticketmaster's `apikey`), each value a
//! string, `{ env = "NAME" }` or `{ file = "PATH" }`. Values are secrets, as headers
//! are: URLs are only ever shown without their query.

use std::collections::BTreeMap;
use std::fmt;

use boxoffice_core::registry::ConfigProblem;
use boxoffice_core::secret::SecretSource;
use boxoffice_core::{Secret, secret::REDACTED};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use url::Url;

/// An instance's query parameters.
#[derive(Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct Query(#[schemars(with = "BTreeMap<String, SecretSource>")] BTreeMap<String, SecretSource>);

/// The parameters with their values read, to set on a request's URL.
pub struct ResolvedQuery(Vec<(String, Secret)>);

impl Query {
    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The values read now (each request: a rotated file is picked up); an error names
    /// the parameter and where its value was looked for.
    pub fn resolve(&self) -> Result<ResolvedQuery, String> {
        self.0
            .iter()
            .map(|(name, source)| {
                let secret = source
                    .resolve()
                    .map_err(|reason| format!("query.{name}: {reason}"))?;
                Ok((name.clone(), secret))
            })
            .collect::<Result<_, String>>()
            .map(ResolvedQuery)
    }

    /// Problems reading the values now, each naming its key (`query.apikey`).
    pub fn problems(&self) -> Vec<ConfigProblem> {
        self.0
            .iter()
            .filter_map(|(name, source)| {
                let reason = source.resolve().err()?;
                Some(ConfigProblem::new(format!("query.{name}"), reason))
            })
            .collect()
    }
}

impl ResolvedQuery {
    /// `url` with each parameter set: a parameter the URL has already (a next link
    /// that carries it) takes the configured value; the rest of the query is kept byte
    /// for byte (re-encoding it could change what a token means).
    pub fn apply(&self, url: &mut Url) {
        if self.0.is_empty() {
            return;
        }
        let mut parts: Vec<String> = url
            .query()
            .unwrap_or_default()
            .split('&')
            .filter(|part| !part.is_empty())
            .filter(|part| {
                let name = part.split('=').next().unwrap_or_default();
                let decoded = url::form_urlencoded::parse(name.as_bytes())
                    .next()
                    .map(|(name, _)| name.into_owned())
                    .unwrap_or_default();
                !self.0.iter().any(|(configured, _)| *configured == decoded)
            })
            .map(str::to_owned)
            .collect();
        for (name, value) in &self.0 {
            let pair: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair(name, value.expose())
                .finish();
            parts.push(pair);
        }
        url.set_query(Some(&parts.join("&")));
    }

    /// The values, for what must never show them (an error body that echoes a key).
    pub(crate) fn values(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(_, value)| value.expose())
    }
}

impl fmt::Debug for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter()).finish()
    }
}

impl fmt::Debug for ResolvedQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(name, _)| (name, REDACTED)))
            .finish()
    }
}

impl<'de> Deserialize<'de> for Query {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let query = BTreeMap::<String, SecretSource>::deserialize(deserializer)?;
        if let Some(name) = query.keys().find(|name| name.trim().is_empty()) {
            return Err(serde::de::Error::custom(format!(
                "{name:?} is not a parameter name"
            )));
        }
        Ok(Query(query))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn query(value: serde_json::Value) -> Query {
        serde_json::from_value(value).unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn parameters_are_set_on_every_url_replacing_what_a_link_carries() -> Result<(), String> {
        let resolved = query(json!({"apikey": "k/1+2", "locale": "en"})).resolve()?;
        let mut url = Url::parse("https://api.example.com/v2/events.json?page=1&size=20&apikey=old")
            .map_err(|e| e.to_string())?;
        resolved.apply(&mut url);
        assert_eq!(
            url.as_str(),
            "https://api.example.com/v2/events.json?page=1&size=20&apikey=k%2F1%2B2&locale=en"
        );
        let mut bare = Url::parse("https://api.example.com/v2/events.json").map_err(|e| e.to_string())?;
        resolved.apply(&mut bare);
        assert_eq!(bare.query(), Some("apikey=k%2F1%2B2&locale=en"));
        Ok(())
    }

    #[test]
    fn values_are_secrets_read_when_used() -> Result<(), String> {
        let configured =
            query(json!({"client_id": "s3cret", "key": {"env": "BOXOFFICE_KIT_TEST_SURELY_UNSET"}}));
        let printed = format!("{configured:?}");
        assert!(
            printed.contains("client_id") && !printed.contains("s3cret"),
            "{printed}"
        );
        let serialized = serde_json::to_string(&configured).map_err(|e| e.to_string())?;
        assert!(
            serialized.contains("client_id") && !serialized.contains("s3cret"),
            "{serialized}"
        );
        let problems = configured.problems();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].key, "query.key");
        let error = configured.resolve().err().unwrap_or_default();
        assert!(error.starts_with("query.key:"), "{error}");
        let resolved = query(json!({"client_id": "s3cret"})).resolve()?;
        assert!(!format!("{resolved:?}").contains("s3cret"));
        Ok(())
    }
}
