//! A condition on a record: whether it is on sale (`online`), sold out (`sold_out`).

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::Value;

use crate::node::Node;
use crate::pointer::Pointers;
use crate::values::{quote, same};

/// What a record must hold for a condition to be true.
///
/// - `"/on_sale"` (or `["/a", "/b"]`): a boolean there;
/// - `{ path = "/status", equals = "onsale" }`, `{ path = "/status", in = ["live",
///   "started"] }`, `{ path = "/status", not_in = ["canceled"] }`: the value there
///   compared with a list (numbers by value, anything else exactly);
/// - `[{ … }, { … }]`: every one of those holds.
///
/// Through a `*` in the path a comparison looks at each element: it holds when any of
/// the values does, or with `match = "all"` when every one does.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// A boolean at the first pointer that has a value.
    Flag(Pointers),
    /// The values at a path compared with a list.
    Test(Test),
    /// Every test holds.
    All(Vec<Test>),
}

/// A comparison of the values at `path` with a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Test {
    /// Where the values are.
    pub path: Pointers,
    /// The values compared with.
    pub values: Vec<Value>,
    /// `not_in`: a value holds when it is not in the list.
    pub negated: bool,
    /// `match = "all"`: every value must hold (else any).
    pub every: bool,
}

impl Condition {
    /// Whether it holds for `record`; `Ok(None)` for a flag the record has no value
    /// for (the field decides what that means). A flag that is not a boolean is an
    /// error, quoting it.
    pub fn holds(&self, record: &Node) -> Result<Option<bool>, String> {
        match self {
            Condition::Flag(pointers) => {
                let Some((pointer, values)) = pointers.find_all(record) else {
                    return Ok(None);
                };
                let mut any = false;
                for value in values {
                    match value {
                        Node::Bool(flag) => any |= *flag,
                        other => return Err(format!("({pointer}) {} is not true or false", quote(other))),
                    }
                }
                Ok(Some(any))
            }
            Condition::Test(test) => Ok(Some(test.holds(record))),
            Condition::All(tests) => Ok(Some(tests.iter().all(|test| test.holds(record)))),
        }
    }

    /// The pointers it reads.
    pub fn pointers(&self) -> Vec<&Pointers> {
        match self {
            Condition::Flag(pointers) => vec![pointers],
            Condition::Test(test) => vec![&test.path],
            Condition::All(tests) => tests.iter().map(|test| &test.path).collect(),
        }
    }
}

impl Test {
    fn holds(&self, record: &Node) -> bool {
        let values = self
            .path
            .find_all(record)
            .map(|(_, values)| values)
            .unwrap_or_default();
        if values.is_empty() {
            // Nothing there is in the list; so nothing there is "not in" it.
            return self.negated;
        }
        let holds = |value: &&Node| self.values.iter().any(|expected| same(value, expected)) != self.negated;
        if self.every {
            values.iter().all(holds)
        } else {
            values.iter().any(holds)
        }
    }
}

/// The spelling of a comparison.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Spelled {
    path: Pointers,
    #[serde(default)]
    equals: Option<Value>,
    #[serde(default, rename = "in")]
    one_of: Option<Vec<Value>>,
    #[serde(default)]
    not_in: Option<Vec<Value>>,
    #[serde(default, rename = "match")]
    matching: Option<String>,
}

fn test_of(table: Value) -> Result<Test, String> {
    let Spelled {
        path,
        equals,
        one_of,
        not_in,
        matching,
    } = serde_json::from_value(table).map_err(|error| error.to_string())?;
    let (values, negated) = match (equals, one_of, not_in) {
        (Some(value), None, None) => (vec![value], false),
        (None, Some(values), None) => (values, false),
        (None, None, Some(values)) => (values, true),
        _ => return Err("a comparison takes exactly one of `equals`, `in` and `not_in`".into()),
    };
    if let Some(bad) = values
        .iter()
        .find(|value| !matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_)))
    {
        return Err(format!(
            "the values compared with are strings, numbers or booleans, not {}",
            quote(bad)
        ));
    }
    let every = match matching.as_deref() {
        None | Some("any") => false,
        Some("all") => true,
        Some(other) => return Err(format!("`match` is \"any\" or \"all\", not {other:?}")),
    };
    Ok(Test {
        path,
        values,
        negated,
        every,
    })
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        match value {
            Value::String(_) => serde_json::from_value(value)
                .map(Condition::Flag)
                .map_err(de::Error::custom),
            Value::Array(items) if items.iter().all(Value::is_string) => {
                serde_json::from_value(Value::Array(items))
                    .map(Condition::Flag)
                    .map_err(de::Error::custom)
            }
            Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => items
                .into_iter()
                .map(test_of)
                .collect::<Result<_, _>>()
                .map(Condition::All)
                .map_err(de::Error::custom),
            table @ Value::Object(_) => test_of(table).map(Condition::Test).map_err(de::Error::custom),
            _ => Err(de::Error::custom(
                "expected a pointer to a boolean (\"/on_sale\"), a comparison ({ path = \"/status\", \
                 in = [\"onsale\"] }) or a list of comparisons that must all hold",
            )),
        }
    }
}

impl JsonSchema for Condition {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Condition".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "oneOf": [
                { "type": "string", "description": "a pointer to a boolean" },
                { "type": "array", "items": { "type": "string" }, "description": "pointers to a boolean, the first found wins" },
                {
                    "type": "object",
                    "properties": {
                        "path": { "type": "string" },
                        "equals": { "type": ["string", "number", "boolean"] },
                        "in": { "type": "array" },
                        "not_in": { "type": "array" },
                        "match": { "enum": ["any", "all"] }
                    },
                    "required": ["path"]
                },
                { "type": "array", "items": { "type": "object" }, "description": "comparisons that must all hold" }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn condition(value: Value) -> Condition {
        serde_json::from_value(value).unwrap()
    }

    fn node(value: Value) -> Node {
        serde_json::from_value(value).unwrap_or(Node::Null)
    }

    #[test]
    fn a_list_of_values_says_which_statuses_are_on_sale() {
        let online = condition(json!({"path": "/dates/status/code", "in": ["onsale", "rescheduled"]}));
        let status = |code: &str| online.holds(&node(json!({"dates": {"status": {"code": code}}})));
        assert_eq!(status("onsale"), Ok(Some(true)));
        assert_eq!(status("rescheduled"), Ok(Some(true)));
        assert_eq!(status("canceled"), Ok(Some(false)));
        assert_eq!(online.holds(&node(json!({}))), Ok(Some(false)));
        let not_cancelled = condition(json!({"path": "/status", "not_in": ["canceled", "draft"]}));
        assert_eq!(
            not_cancelled.holds(&node(json!({"status": "live"}))),
            Ok(Some(true))
        );
        assert_eq!(
            not_cancelled.holds(&node(json!({"status": "draft"}))),
            Ok(Some(false))
        );
        assert_eq!(not_cancelled.holds(&node(json!({}))), Ok(Some(true)));
    }

    #[test]
    fn any_element_of_an_array_may_carry_the_status_or_every_one_must() {
        let record = node(json!({"offers": [{"availability": "SoldOut"}, {"availability": "InStock"}]}));
        let any = condition(json!({"path": "/offers/*/availability", "in": ["InStock"]}));
        assert_eq!(any.holds(&record), Ok(Some(true)));
        let all = condition(json!({"path": "/offers/*/availability", "in": ["SoldOut"], "match": "all"}));
        assert_eq!(all.holds(&record), Ok(Some(false)));
        let both = condition(json!([
            {"path": "/offers/*/availability", "in": ["InStock"]},
            {"path": "/status", "not_in": ["cancelled"]},
        ]));
        assert_eq!(both.holds(&record), Ok(Some(true)));
    }

    #[test]
    fn a_flag_is_a_boolean_and_its_absence_is_the_fields_to_judge() {
        let flag = condition(json!(["/on_sale", "/available"]));
        assert_eq!(flag.holds(&node(json!({"available": true}))), Ok(Some(true)));
        assert_eq!(flag.holds(&node(json!({}))), Ok(None));
        let error = flag
            .holds(&node(json!({"on_sale": "yes"})))
            .err()
            .unwrap_or_default();
        assert!(error.contains("/on_sale") && error.contains("\"yes\""), "{error}");
    }

    #[test]
    fn a_comparison_takes_one_list_and_says_what_is_wrong() {
        let wrong = |value: Value| {
            serde_json::from_value::<Condition>(value)
                .unwrap_err()
                .to_string()
        };
        assert!(wrong(json!({"path": "/s", "in": ["a"], "not_in": ["b"]})).contains("exactly one"));
        assert!(wrong(json!({"path": "/s"})).contains("exactly one"));
        assert!(wrong(json!({"path": "/s", "in": [{"a": 1}]})).contains("strings, numbers or booleans"));
        assert!(wrong(json!({"path": "/s", "in": ["a"], "match": "most"})).contains("\"any\" or \"all\""));
        assert!(wrong(json!({"path": "/s", "contains": "a"})).contains("contains"));
        assert!(wrong(json!(3)).contains("a pointer to a boolean"));
    }
}
