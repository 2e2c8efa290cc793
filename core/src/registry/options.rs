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
/// comments; a key that is a table of its own (`fields`, `auth`) is followed by its
/// keys (`fields.title`, `auth.token`).
pub fn keys_of<T: JsonSchema>() -> Vec<KeyDoc> {
    let schema = schemars::schema_for!(T);
    let root = schema.as_value();
    let mut keys = Vec::new();
    describe(root, root, "", &mut keys);
    keys
}

/// The keys of the table `schema` describes, under `prefix` (`variant`: one of several
/// tables the key may be, whose keys are then never required of every table).
fn describe(root: &serde_json::Value, schema: &serde_json::Value, prefix: &str, keys: &mut Vec<KeyDoc>) {
    describe_table(root, schema, prefix, false, keys);
}

fn describe_table(
    root: &serde_json::Value,
    schema: &serde_json::Value,
    prefix: &str,
    variant: bool,
    keys: &mut Vec<KeyDoc>,
) {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(|r| r.as_array())
        .filter(|_| !variant)
        .map(|names| names.iter().filter_map(|n| n.as_str()).collect())
        .unwrap_or_default();
    let Some(properties) = schema.get("properties").and_then(|p| p.as_object()) else {
        return;
    };
    for (name, property) in properties {
        if keys.iter().any(|key| key.name == format!("{prefix}{name}")) {
            continue;
        }
        let mut doc = property
            .get("description")
            .and_then(|d| d.as_str())
            .unwrap_or_default()
            .to_owned();
        if let (true, Some(tag)) = (doc.is_empty(), property.get("const").and_then(|c| c.as_str())) {
            doc = format!("`{tag}`");
        }
        keys.push(KeyDoc {
            name: format!("{prefix}{name}"),
            required: required.contains(&name.as_str()),
            default: property.get("default").filter(|default| !default.is_null()).map(
                |default| match default {
                    serde_json::Value::String(text) => format!("{text:?}"),
                    other => other.to_string(),
                },
            ),
            doc,
        });
        let tables = tables(root, property);
        let several = tables.len() > 1;
        for table in &tables {
            describe_table(root, table, &format!("{prefix}{name}."), several, keys);
        }
        if several {
            // A tagged table: its tag says which, with every value it takes.
            let tags: Vec<&str> = tables
                .iter()
                .filter_map(|table| table.pointer("/properties/type/const").and_then(|c| c.as_str()))
                .collect();
            if let Some(tag) = keys
                .iter_mut()
                .find(|key| key.name == format!("{prefix}{name}.type"))
                && !tags.is_empty()
            {
                tag.doc = format!(
                    "Which: {}.",
                    tags.iter()
                        .map(|t| format!("`{t}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
    }
}

/// The tables a property's schema is (through references, optional wrappers, and the
/// variants of a tagged enum whose every variant is a table); none for a value.
fn tables<'a>(root: &'a serde_json::Value, schema: &'a serde_json::Value) -> Vec<&'a serde_json::Value> {
    let schema = resolve(root, schema);
    if schema.get("properties").is_some() {
        return vec![schema];
    }
    for combinator in ["anyOf", "oneOf"] {
        let Some(variants) = schema.get(combinator).and_then(|v| v.as_array()) else {
            continue;
        };
        let variants: Vec<&serde_json::Value> = variants
            .iter()
            .map(|variant| resolve(root, variant))
            .filter(|variant| variant.get("type").and_then(|t| t.as_str()) != Some("null"))
            .collect();
        if !variants.is_empty() && variants.iter().all(|variant| variant.get("properties").is_some()) {
            return variants;
        }
        if let [one] = variants.as_slice() {
            return tables(root, one);
        }
    }
    Vec::new()
}

/// `schema`, or what its `$ref` names in the root's `$defs`.
fn resolve<'a>(root: &'a serde_json::Value, schema: &'a serde_json::Value) -> &'a serde_json::Value {
    match schema
        .get("$ref")
        .and_then(|r| r.as_str())
        .and_then(|r| r.strip_prefix("#/$defs/"))
    {
        Some(name) => root
            .get("$defs")
            .and_then(|defs| defs.get(name))
            .unwrap_or(schema),
        None => schema,
    }
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
    parse_checked_options(options, |_: &T| Vec::new())
}

/// [`parse_options`], then `checks` (what the keys mean together, e.g. two that
/// exclude each other) on what could be read: its problems join serde's, except those
/// of keys serde already named.
pub fn parse_checked_options<T: DeserializeOwned + JsonSchema>(
    options: serde_json::Value,
    checks: impl Fn(&T) -> Vec<ConfigProblem>,
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
                Ok(options) => {
                    let top = |key: &str| key.split(['.', '[']).next().unwrap_or_default().to_owned();
                    problems.extend(
                        checks(&options)
                            .into_iter()
                            .filter(|problem| !taken_out.contains(&top(&problem.key))),
                    );
                    if problems.is_empty() {
                        return Ok(options);
                    }
                    break;
                }
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
    let order: Vec<String> = keys_of::<T>()
        .into_iter()
        .map(|key| key.name)
        .filter(|name| !name.contains('.'))
        .collect();
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
        assert_eq!(names, ["url", "count", "flag", "inner", "inner.path"]);
        assert!(keys[4].required && keys[4].doc == "Required.");
        assert!(keys[0].required && !keys[1].required);
        assert_eq!(keys[0].doc, "The feed's address.");
        assert_eq!(keys[1].default.as_deref(), Some("3"));
    }
}
