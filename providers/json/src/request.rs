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
    /// With `for_each`: the listed values, and which one this page is of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub each: Option<Each>,
}

/// The values a `for_each` list gave, and the one being read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Each {
    /// Every value, in the list's order.
    pub values: Vec<String>,
    /// The one whose pages are being read.
    pub at: usize,
}

impl PageRef {
    /// The page at `url`.
    pub fn at(url: &Url) -> Self {
        Self {
            url: url.to_string(),
            cursor: None,
            each: None,
        }
    }

    /// What the engine is handed.
    pub fn encode(&self) -> String {
        match (&self.cursor, &self.each) {
            (None, None) => self.url.clone(),
            // Strings always serialize.
            _ => serde_json::to_string(self).unwrap_or_else(|_| self.url.clone()),
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
            each: None,
        }
    }
}

/// The most values a `for_each` list may give: each is a run's worth of pages.
pub const MAX_EACH_VALUES: usize = 1000;

/// The longest `for_each` list read.
pub const MAX_LIST_BYTES: u64 = 4 * 1024 * 1024;

/// Whether `url` has `{name}` (as written, or as the URL keeps it, percent-encoded).
pub fn has_placeholder(url: &Url, name: &str) -> bool {
    let text = url.as_str();
    text.contains(&format!("{{{name}}}")) || text.contains(&format!("%7B{name}%7D"))
}

/// `url` with `{name}` filled by `value`, which must be URL-safe as it is (letters,
/// digits, `-`, `.`, `_`, `~`: what ids are).
pub fn fill(url: &Url, name: &str, value: &str) -> Result<Url, String> {
    if value.is_empty()
        || !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    {
        return Err(format!(
            "the listed value {} is not an id a URL can carry as it is",
            crate::values::shorten(&format!("{value:?}"))
        ));
    }
    let text = url
        .as_str()
        .replace(&format!("{{{name}}}"), value)
        .replace(&format!("%7B{name}%7D"), value);
    Url::parse(&text).map_err(|error| format!("url with {{{name}}} filled is not a URL: {error}"))
}

/// The values of a `for_each` list document: the `value` of each element of the array
/// at `records`.
pub fn listed_values(document: &[u8], records: &Pointer, value: &Pointer) -> Result<Vec<String>, String> {
    let document: crate::node::Node = serde_json::from_slice(document)
        .map_err(|error| format!("the for_each list is not JSON: {error}"))?;
    let Some(crate::node::Node::Array(items)) = records.resolve(&document) else {
        return Err(format!("the for_each list has no array at {records}"));
    };
    if items.len() > MAX_EACH_VALUES {
        return Err(format!(
            "the for_each list names {} values, more than {MAX_EACH_VALUES}",
            items.len()
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let found = value
                .resolve(item)
                .ok_or_else(|| format!("element {index} has no value at {value}"))?;
            crate::values::id(found).map_err(|problem| format!("element {index}: {value} {problem}"))
        })
        .collect()
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
            each: None,
        };
        assert_eq!(plain.encode(), "https://api.example.com/events?page=2");
        assert_eq!(PageRef::decode(&plain.encode()), plain);
        let posted = PageRef {
            url: "https://api.example.com/graphql".into(),
            cursor: Some("Y3Vyc29y".into()),
            each: None,
        };
        let listed = PageRef {
            each: Some(Each {
                values: vec!["1".into(), "2".into()],
                at: 1,
            }),
            ..plain.clone()
        };
        assert_eq!(PageRef::decode(&listed.encode()), listed);
        assert!(posted.encode().starts_with('{'));
        assert_eq!(PageRef::decode(&posted.encode()), posted);
    }

    #[test]
    fn listed_values_fill_the_placeholder_and_odd_ones_are_refused() -> Result<(), String> {
        let url = Url::parse(
            "https://www.eventbriteapi.com/v3/organizations/{organization_id}/events/?status=live",
        )
        .map_err(|e| e.to_string())?;
        assert!(has_placeholder(&url, "organization_id"));
        assert_eq!(
            fill(&url, "organization_id", "271828")?.as_str(),
            "https://www.eventbriteapi.com/v3/organizations/271828/events/?status=live"
        );
        assert!(fill(&url, "organization_id", "../admin").is_err());
        let list = br#"{"organizations": [{"id": "271828"}, {"id": 314159}], "pagination": {}}"#;
        let records = Pointer::parse("/organizations").map_err(|e| e.to_string())?;
        let value = Pointer::parse("/id").map_err(|e| e.to_string())?;
        assert_eq!(listed_values(list, &records, &value)?, ["271828", "314159"]);
        let error = listed_values(br#"{"organizations": [{"name": "x"}]}"#, &records, &value).err();
        assert!(error.is_some_and(|e| e.contains("element 0")));
        Ok(())
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
