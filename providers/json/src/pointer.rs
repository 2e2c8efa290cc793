//! RFC 6901 JSON Pointers, checked when the configuration is read and split into
//! tokens once, so that resolving one in each record allocates nothing; with one
//! addition, `*`, which stands for each element of an array (`/offers/*/price`), and
//! fallbacks ([`Pointers`]: the first pointer that finds a value wins).

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
/// one (`0`, or digits without a leading zero); `each` for `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) name: String,
    pub(crate) index: Option<usize>,
    pub(crate) each: bool,
}

impl Pointer {
    /// `""`: the whole value.
    pub fn whole() -> Self {
        Self {
            text: String::new(),
            tokens: Vec::new(),
        }
    }

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
                    each: raw == "*",
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

    /// Whether a token is `*`.
    pub fn has_each(&self) -> bool {
        self.tokens.iter().any(|token| token.each)
    }

    /// The value `self` points to inside `value`, as `serde_json::Value::pointer`
    /// finds it; through a `*`, the first element that leads to a value.
    pub fn resolve<'v>(&self, value: &'v Node) -> Option<&'v Node> {
        let mut found: Option<&Node> = None;
        self.walk(value, &self.tokens, &mut |node| {
            if found.is_none_or(Node::is_null) {
                found = Some(node);
            }
            node.is_null()
        });
        found
    }

    /// Every value `self` points to inside `value`: one, or through a `*` one per
    /// element (a value that is not an array counts as one element), `null`s left out.
    pub fn resolve_all<'v>(&self, value: &'v Node) -> Vec<&'v Node> {
        let mut found = Vec::new();
        self.walk(value, &self.tokens, &mut |node| {
            if !node.is_null() {
                found.push(node);
            }
            true
        });
        found
    }

    /// Calls `visit` with each value reached until it answers `false`; whether to go on.
    fn walk<'v>(&self, value: &'v Node, tokens: &[Token], visit: &mut dyn FnMut(&'v Node) -> bool) -> bool {
        let Some((token, rest)) = tokens.split_first() else {
            return visit(value);
        };
        match value {
            Node::Array(items) if token.each => items.iter().all(|item| self.walk(item, rest, visit)),
            _ if token.each => self.walk(value, rest, visit),
            Node::Object(_) => value
                .member(&token.name)
                .is_none_or(|member| self.walk(member, rest, visit)),
            Node::Array(items) => token
                .index
                .and_then(|index| items.get(index))
                .is_none_or(|item| self.walk(item, rest, visit)),
            _ => true,
        }
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

/// One pointer or several, tried in order: the first that finds a value (not absent,
/// not `null`) wins. Configured as a string or an array of strings.
#[derive(Clone, PartialEq, Eq)]
pub struct Pointers(Vec<Pointer>);

impl Pointers {
    /// One pointer.
    pub fn one(pointer: Pointer) -> Self {
        Self(vec![pointer])
    }

    /// The pointers, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Pointer> {
        self.0.iter()
    }

    /// The first value found, with the pointer that found it.
    pub fn find<'v>(&self, record: &'v Node) -> Option<(&Pointer, &'v Node)> {
        self.0.iter().find_map(|pointer| {
            pointer
                .resolve(record)
                .filter(|value| !value.is_null())
                .map(|value| (pointer, value))
        })
    }

    /// Every value of the first pointer that finds any (see [`Pointer::resolve_all`]).
    pub fn find_all<'v>(&self, record: &'v Node) -> Option<(&Pointer, Vec<&'v Node>)> {
        self.0.iter().find_map(|pointer| {
            let values = pointer.resolve_all(record);
            (!values.is_empty()).then_some((pointer, values))
        })
    }
}

impl fmt::Display for Pointers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, pointer) in self.0.iter().enumerate() {
            if position > 0 {
                f.write_str(", ")?;
            }
            fmt::Display::fmt(pointer, f)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Pointers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter()).finish()
    }
}

impl<'de> Deserialize<'de> for Pointers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Spelled {
            One(String),
            Several(Vec<String>),
        }
        let texts = match Spelled::deserialize(deserializer) {
            Ok(Spelled::One(text)) => vec![text],
            Ok(Spelled::Several(texts)) if !texts.is_empty() => texts,
            Ok(Spelled::Several(_)) => {
                return Err(serde::de::Error::custom("expected at least one pointer"));
            }
            Err(_) => {
                return Err(serde::de::Error::custom(
                    "expected a JSON Pointer (\"/name\") or an array of them ([\"/name\", \"/title\"]: the first found wins)",
                ));
            }
        };
        texts
            .iter()
            .map(|text| Pointer::parse(text))
            .collect::<Result<Vec<_>, _>>()
            .map(Pointers)
            .map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Pointers {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "JsonPointers".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "oneOf": [
                { "type": "string", "description": "a JSON Pointer" },
                { "type": "array", "items": { "type": "string" }, "description": "pointers tried in order" }
            ]
        })
    }
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
        Pointer::parse(text).unwrap()
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
    fn a_star_reaches_each_element_and_a_single_value_counts_as_one() {
        let node: Node = serde_json::from_value(json!({
            "offers": [{"price": 10}, {"price": null}, {"other": 1}, {"price": "12.5"}],
            "single": {"price": 7},
        }))
        .unwrap_or(Node::Null);
        let texts = |found: Vec<&Node>| -> Vec<String> {
            found
                .into_iter()
                .map(|n| serde_json::to_string(n).unwrap_or_default())
                .collect()
        };
        assert_eq!(
            texts(pointer("/offers/*/price").resolve_all(&node)),
            ["10", "\"12.5\""]
        );
        assert_eq!(texts(pointer("/single/*/price").resolve_all(&node)), ["7"]);
        assert_eq!(
            pointer("/offers/*/price")
                .resolve(&node)
                .map(|n| serde_json::to_string(n).unwrap_or_default()),
            Some("10".into())
        );
        assert!(pointer("/offers/*/nothing").resolve_all(&node).is_empty());
        assert!(pointer("/offers/*").has_each() && !pointer("/offers/0").has_each());
    }

    #[test]
    fn fallbacks_take_the_first_pointer_that_finds_a_value() {
        let node: Node =
            serde_json::from_value(json!({"name": null, "title": "T", "alt": "A"})).unwrap_or(Node::Null);
        let pointers: Pointers = serde_json::from_value(json!(["/name", "/title", "/alt"])).unwrap();
        let found = pointers
            .find(&node)
            .map(|(p, v)| (p.as_str().to_owned(), v.clone()));
        assert_eq!(found, Some(("/title".into(), Node::String("T".into()))));
        assert_eq!(pointers.to_string(), "/name, /title, /alt");
        assert!(serde_json::from_value::<Pointers>(json!([])).is_err());
        assert!(serde_json::from_value::<Pointers>(json!(["name"])).is_err());
        assert!(serde_json::from_value::<Pointers>(json!("/one")).is_ok());
    }

    #[test]
    fn a_pointer_must_be_empty_or_start_with_a_slash_and_escape_tildes() {
        let error = Pointer::parse("shows").unwrap_err();
        assert!(error.contains("\"/shows\""), "{error}");
        assert!(Pointer::parse("/a~2").is_err());
        assert!(Pointer::parse("/a~").is_err());
        assert_eq!(pointer("/a~1b~0").tokens()[0].name, "a/b~");
        assert_eq!(pointer("/shows/0").tokens()[1].index, Some(0));
        assert_eq!(pointer("/shows/007").tokens()[1].index, None);
        assert_eq!(pointer("").tokens().len(), 0);
    }
}
