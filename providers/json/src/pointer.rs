//! RFC 6901 JSON Pointers, checked when the configuration is read and split into
//! tokens once, so that resolving one in each record allocates nothing.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

use crate::node::Node;

/// A JSON Pointer: `""` (the whole value) or `/`-separated reference tokens, with `~1`
/// for `/` and `~0` for `~` inside a token (`/a~1b` names the member `a/b`).
#[derive(Clone, PartialEq, Eq)]
pub struct Pointer {
    text: String,
    tokens: Vec<Token>,
}

/// One reference token: a member name, and the array index it also denotes when it is
/// one (`0`, or digits without a leading zero).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) name: String,
    pub(crate) index: Option<usize>,
}

impl Pointer {
    /// Checks `text`: empty, or starting with `/`, with `~` only in `~0` and `~1`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Ok(Self {
                text: String::new(),
                tokens: Vec::new(),
            });
        }
        let Some(rest) = text.strip_prefix('/') else {
            return Err(format!(
                "{text:?} is not a JSON Pointer: it must be empty or start with \"/\" (e.g. \"/{text}\")"
            ));
        };
        let tokens = rest
            .split('/')
            .map(|raw| {
                let name = unescape(raw).ok_or_else(|| {
                    format!("{text:?} is not a JSON Pointer: \"~\" must be followed by 0 or 1")
                })?;
                Ok(Token {
                    index: array_index(&name),
                    name,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Self {
            text: text.to_owned(),
            tokens,
        })
    }

    /// The pointer as configured.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub(crate) fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// The first token: the member of a record that the pointer reads.
    pub(crate) fn first(&self) -> Option<&str> {
        self.tokens.first().map(|token| token.name.as_str())
    }

    /// The value `self` points to inside `value`, as `serde_json::Value::pointer`
    /// finds it.
    pub fn resolve<'v>(&self, value: &'v Node) -> Option<&'v Node> {
        self.tokens.iter().try_fold(value, |value, token| match value {
            Node::Object(_) => value.member(&token.name),
            Node::Array(items) => items.get(token.index?),
            _ => None,
        })
    }
}

/// `~1` to `/`, `~0` to `~`; `None` for any other `~`.
fn unescape(raw: &str) -> Option<String> {
    if !raw.contains('~') {
        return Some(raw.to_owned());
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// The array index a token denotes (RFC 6901 §4: `0` or digits without a leading zero).
fn array_index(token: &str) -> Option<usize> {
    let digits = token.bytes().all(|b| b.is_ascii_digit());
    if token.is_empty() || !digits || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    token.parse().ok()
}

impl fmt::Display for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.text.is_empty() {
            f.write_str("\"\" (the whole value)")
        } else {
            f.write_str(&self.text)
        }
    }
}

impl fmt::Debug for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pointer({:?})", self.text)
    }
}

impl<'de> Deserialize<'de> for Pointer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Pointer::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Pointer {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "JsonPointer".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "an RFC 6901 JSON Pointer: \"\" or \"/member/0/member\""
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn pointer(text: &str) -> Pointer {
        Pointer::parse(text).unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn pointers_resolve_as_serde_json_resolves_them() {
        let value: Value = json!({
            "a": {"b": [10, {"c": "deep"}]},
            "a/b": 1,
            "m~n": 2,
            "": 3,
            "01": 4,
            "arr": ["x", "y"],
        });
        for text in [
            "",
            "/a",
            "/a/b",
            "/a/b/0",
            "/a/b/1/c",
            "/a~1b",
            "/m~0n",
            "/",
            "/01",
            "/arr/1",
            "/arr/01",
            "/arr/2",
            "/arr/-",
            "/a/b/x",
            "/nope",
            "/a/b/1/c/d",
        ] {
            let node: Node = serde_json::from_value(value.clone()).unwrap_or(Node::Null);
            let expected = value.pointer(text).map(|found| serde_json::to_value(found).ok());
            let found = pointer(text)
                .resolve(&node)
                .map(|found| serde_json::to_value(found).ok());
            assert_eq!(found, expected, "{text}");
        }
    }

    #[test]
    fn a_pointer_must_be_empty_or_start_with_a_slash_and_escape_tildes() {
        let error = Pointer::parse("shows").err().unwrap_or_default();
        assert!(error.contains("\"/shows\""), "{error}");
        assert!(Pointer::parse("/a~2").is_err());
        assert!(Pointer::parse("/a~").is_err());
        assert_eq!(pointer("/a~1b~0").tokens()[0].name, "a/b~");
        assert_eq!(pointer("/shows/0").tokens()[1].index, Some(0));
        assert_eq!(pointer("/shows/007").tokens()[1].index, None);
        assert_eq!(pointer("").tokens().len(), 0);
    }
}
