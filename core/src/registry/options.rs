//! Reading a kind's own keys into its options type, and describing them.

use std::fmt;

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// One thing wrong with a configuration, naming its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigProblem {
    /// The dotted key, e.g. `providers.fever.url`.
    pub key: String,
    /// What is wrong with it. Never quotes a secret's value.
    pub message: String,
}

impl ConfigProblem {
    /// A problem with `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// One key as `boxoffice providers` describes it, from the options type's schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyDoc {
    /// The key.
    pub name: String,
    /// Whether the table must have it.
    pub required: bool,
    /// Its default, as TOML would write it, when it has one.
    pub default: Option<String>,
    /// Its doc comment.
    pub doc: String,
}

/// The keys of `T` (a kind's options type), in declaration order, with their doc
/// comments.
pub fn keys_of<T: JsonSchema>() -> Vec<KeyDoc> {
    let schema = schemars::schema_for!(T);
    let value = schema.as_value();
    let required: Vec<&str> = value
        .get("required")
        .and_then(|r| r.as_array())
        .map(|names| names.iter().filter_map(|n| n.as_str()).collect())
        .unwrap_or_default();
    value
        .get("properties")
        .and_then(|p| p.as_object())
        .map(|properties| {
            properties
                .iter()
                .map(|(name, property)| KeyDoc {
                    name: name.clone(),
                    required: required.contains(&name.as_str()),
                    default: property.get("default").map(|default| match default {
                        serde_json::Value::String(text) => format!("{text:?}"),
                        other => other.to_string(),
                    }),
                    doc: property
                        .get("description")
                        .and_then(|d| d.as_str())
                        .unwrap_or_default()
                        .to_owned(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The keys every `[providers.<name>]` table has, whatever its kind.
pub fn common_keys() -> Vec<KeyDoc> {
    keys_of::<super::ProviderConfig>()
}

/// Deserializes a kind's own keys into its options type. Every problem is reported at
/// once, each naming its key relative to the table: serde stops at the first, so the
/// key it names is taken out and the rest read again (at most one round per key).
/// Problems come in the order the type declares its fields, unknown keys first.
pub fn parse_options<T: DeserializeOwned + JsonSchema>(
    options: serde_json::Value,
) -> Result<T, Vec<ConfigProblem>> {
    let serde_json::Value::Object(mut remaining) = options else {
        return Err(vec![ConfigProblem::new(
            "",
            "the provider's options must be a table",
        )]);
    };
    let mut problems: Vec<ConfigProblem> = Vec::new();
    let mut taken_out: Vec<String> = Vec::new();
    loop {
        let error =
            match serde_path_to_error::deserialize::<_, T>(serde_json::Value::Object(remaining.clone())) {
                Ok(options) if problems.is_empty() => return Ok(options),
                Ok(_) => break,
                Err(error) => error,
            };
        let path = error.path().to_string();
        let message = error.inner().to_string();
        // A missing field is named in serde's message, not in the path, which ends at
        // the table that lacks it (`fields` for `fields.title`); at the top, an unknown
        // field too.
        let named = message
            .starts_with("missing field")
            .then(|| field_named_in(&message))
            .flatten();
        let key = match (path.as_str(), named) {
            (".", named) => named.unwrap_or_default(),
            (_, Some(field)) => format!("{path}.{field}"),
            (_, None) => path,
        };
        let top = key.split(['.', '[']).next().unwrap_or_default().to_owned();
        // A key taken out is then reported missing: it was reported already, and
        // serde checks missing fields last, so nothing else is left to find.
        if taken_out.contains(&top) {
            break;
        }
        problems.push(ConfigProblem::new(key, message));
        if top.is_empty() || remaining.remove(&top).is_none() {
            break;
        }
        taken_out.push(top);
    }
    let order: Vec<String> = keys_of::<T>().into_iter().map(|key| key.name).collect();
    problems.sort_by_key(|problem| {
        let top = problem.key.split(['.', '[']).next().unwrap_or_default();
        order
            .iter()
            .position(|name| name == top)
            .map_or(0, |position| position + 1)
    });
    Err(problems)
}

fn field_named_in(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(message[start..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    /// A table inside the options.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        /// Required.
        path: String,
    }

    /// Options of a made-up kind.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Options {
        /// The feed's address.
        url: String,
        /// How many.
        #[serde(default = "three")]
        count: u32,
        /// Whether.
        #[serde(default)]
        flag: bool,
        /// A table.
        #[serde(default)]
        inner: Option<Inner>,
    }

    fn three() -> u32 {
        3
    }

    fn keys(value: serde_json::Value) -> Vec<String> {
        parse_options::<Options>(value)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|problem| problem.key)
            .collect()
    }

    #[test]
    fn every_problem_is_reported_with_its_key_in_declaration_order() {
        assert_eq!(keys(json!({"url": "x", "colour": 1})), ["colour"]);
        assert_eq!(keys(json!({})), ["url"]);
        assert_eq!(
            keys(json!({"flag": "yes", "count": "many", "url": 5, "colour": 1})),
            ["colour", "url", "count", "flag"]
        );
        assert_eq!(keys(json!([1])), [""]);
        // Inside a table, the key is the table's and the field's.
        assert_eq!(keys(json!({"url": "x", "inner": {}})), ["inner.path"]);
        assert_eq!(
            keys(json!({"url": "x", "inner": {"path": "p", "colour": 1}})),
            ["inner.colour"]
        );
        assert_eq!(keys(json!({"url": "x", "inner": {"path": 5}})), ["inner.path"]);
        assert!(parse_options::<Options>(json!({"url": "x"})).is_ok());
    }

    #[test]
    fn keys_are_described_from_the_doc_comments() {
        let keys = keys_of::<Options>();
        let names: Vec<_> = keys.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["url", "count", "flag", "inner"]);
        assert!(keys[0].required && !keys[1].required);
        assert_eq!(keys[0].doc, "The feed's address.");
        assert_eq!(keys[1].default.as_deref(), Some("3"));
    }
}
