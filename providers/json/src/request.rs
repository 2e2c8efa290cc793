//! The requests of a `json` instance: which URL each page is at, and what its body is.
//!
//! The engine hands back the page reference a parse named ([`Parsed::next_page`]); for
//! this kind it is the page's URL, except when a cursor goes in the request's body:
//! then it is a small JSON object `{"url": …, "cursor": …}`, so that two pages of one
//! URL are still two pages (and a cursor that comes back is still a loop).
//!
//! [`Parsed::next_page`]: boxoffice_core::Parsed::next_page

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use crate::pointer::{Pointer, Token};

/// One page, as the kind names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRef {
    /// The page's absolute URL.
    pub url: String,
    /// The cursor written into the request body, for APIs that take it there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl PageRef {
    /// The page at `url`.
    pub fn at(url: &Url) -> Self {
        Self {
            url: url.to_string(),
            cursor: None,
        }
    }

    /// What the engine is handed.
    pub fn encode(&self) -> String {
        match &self.cursor {
            None => self.url.clone(),
            // Strings always serialize.
            Some(_) => serde_json::to_string(self).unwrap_or_else(|_| self.url.clone()),
        }
    }

    /// What the engine handed back.
    pub fn decode(page: &str) -> Self {
        if page.starts_with('{')
            && let Ok(page) = serde_json::from_str::<PageRef>(page)
        {
            return page;
        }
        Self {
            url: page.to_owned(),
            cursor: None,
        }
    }
}

/// The body of every request, and where a cursor goes in it.
#[derive(Debug, Clone)]
pub struct Body {
    /// The configured template.
    pub template: Map<String, Value>,
    /// Where a cursor is written.
    pub cursor_at: Option<Pointer>,
}

impl Body {
    /// The body of the page with `cursor` (the template as configured for the first).
    pub fn render(&self, cursor: Option<&str>) -> Vec<u8> {
        let mut body = Value::Object(self.template.clone());
        if let (Some(pointer), Some(cursor)) = (&self.cursor_at, cursor) {
            set(&mut body, pointer.tokens(), Value::String(cursor.to_owned()));
        }
        // A map of JSON values always serializes.
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

/// Writes `value` at `tokens` in `target`, making the objects on the way.
fn set(target: &mut Value, tokens: &[Token], value: Value) {
    let Some((token, rest)) = tokens.split_first() else {
        *target = value;
        return;
    };
    if let Value::Array(items) = target
        && let Some(item) = token.index.and_then(|index| items.get_mut(index))
    {
        return set(item, rest, value);
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(members) = target {
        set(
            members.entry(token.name.clone()).or_insert(Value::Null),
            rest,
            value,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_page_is_its_url_unless_a_cursor_goes_in_the_body() {
        let plain = PageRef {
            url: "https://api.example.com/events?page=2".into(),
            cursor: None,
        };
        assert_eq!(plain.encode(), "https://api.example.com/events?page=2");
        assert_eq!(PageRef::decode(&plain.encode()), plain);
        let posted = PageRef {
            url: "https://api.example.com/graphql".into(),
            cursor: Some("Y3Vyc29y".into()),
        };
        assert!(posted.encode().starts_with('{'));
        assert_eq!(PageRef::decode(&posted.encode()), posted);
    }

    #[test]
    fn the_cursor_is_written_into_the_body_making_the_objects_on_the_way() {
        let template = json!({"query": "query($after: String) { … }", "variables": {"first": 50}});
        let body = Body {
            template: template.as_object().cloned().unwrap_or_default(),
            cursor_at: Pointer::parse("/variables/after").ok(),
        };
        let first: Value = serde_json::from_slice(&body.render(None)).unwrap_or_default();
        assert_eq!(first, template);
        let next: Value = serde_json::from_slice(&body.render(Some("abc"))).unwrap_or_default();
        assert_eq!(next["variables"], json!({"first": 50, "after": "abc"}));
        let deep = Body {
            template: Map::new(),
            cursor_at: Pointer::parse("/page/cursor").ok(),
        };
        let deep: Value = serde_json::from_slice(&deep.render(Some("c"))).unwrap_or_default();
        assert_eq!(deep, json!({"page": {"cursor": "c"}}));
    }
}
