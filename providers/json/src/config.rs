//! The keys of a `json` instance, besides the common ones every `[providers.<name>]`
//! table has (`timezone`, `max_pages`…): one serde type, read by the registry (every
//! problem at once, each naming its key) and described by `boxoffice providers` from
//! its doc comments. Pointers are checked as they are read ([`Pointer`]); what involves
//! two keys (`next_page` with `page_param`) is checked by [`JsonConfig::problems`].

use boxoffice_core::registry::ConfigProblem;
use boxoffice_kit::{FeedUrl, Headers};
use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::Value;

use crate::pointer::Pointer;

/// The configuration of a `json` instance.
///
/// ```toml
/// [providers.acme]
/// kind = "json"
/// url = "https://api.example.com/v1/shows?page=1"
/// records = "/shows"
/// next_page = "/next"
///
/// [providers.acme.fields]
/// base_id = "/show_id"
/// title = "/name"
/// starts_at = "/starts"
/// ```
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonConfig {
    /// The first page's address: an `http` or `https` URL that answers a GET with a
    /// JSON document. It may carry a token; logs and errors show it without its query
    /// and credentials. Further pages must stay on its origin.
    pub url: FeedUrl,
    /// Request headers sent with every request (e.g. an API key): each a string,
    /// `{ env = "NAME" }` or `{ file = "PATH" }`; never printed.
    #[serde(default)]
    pub headers: Headers,
    /// RFC 6901 JSON Pointer to each document's array of records, e.g. `/shows`; `""`
    /// when the document is the array. A document without it fails the run.
    pub records: Pointer,
    /// Pointer to the next page's URL in each document (absolute, or relative to the
    /// page); `null`, `""` or absent ends the run. Not with `page_param`.
    #[serde(default)]
    pub next_page: Option<Pointer>,
    /// Page-number pagination: the query parameter to increment, e.g. `page`. The
    /// first request is `url` as configured (page 1 when the parameter is absent); the
    /// run ends on a page without records or past `last_page`. Not with `next_page`.
    #[serde(default)]
    #[schemars(transform = without_default)]
    pub page_param: Option<String>,
    /// With `page_param`: pointer to the number of the last page in each document
    /// (an integer or a numeric string), e.g. `/meta/last_page`.
    #[serde(default)]
    pub last_page: Option<Pointer>,
    /// Pointers inside one record: `base_id`, `title`, `starts_at` (required),
    /// `event_id`, `ends_at`, `online`, `sold_out`.
    ///
    /// `base_id` and `event_id` are strings or integers (`event_id` defaults to
    /// `base_id`'s value); times are RFC 3339 with an offset, a local date-time (read
    /// in `timezone`), a date alone (all day) or epoch seconds; `online` is a pointer
    /// to a boolean or `{ path = "/status", equals = "onsale" }` (absent: every record
    /// is sold online); `sold_out` a pointer to a boolean.
    pub fields: Fields,
    /// Price zones inside one record: `path` (the record's array of zones) and
    /// `price` (required), `price_scale`, `capacity`, `name`, `id`. Absent: no zones,
    /// prices null.
    ///
    /// `price` is a number or a numeric string, divided by `price_scale` (default 1,
    /// e.g. 100 for cents); a zone without `capacity` counts as available.
    #[serde(default)]
    pub zones: Option<Zones>,
}

/// `[providers.<name>.fields]`: where each value of the canonical record is in one
/// record of the feed.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fields {
    /// The provider's id of the event (the title-bearing parent): a string or an
    /// integer. Part of every item's id.
    pub base_id: Pointer,
    /// The provider's id of the session, unique within its event: a string or an
    /// integer. Absent: `base_id`'s value (one session per event).
    #[serde(default)]
    pub event_id: Option<Pointer>,
    /// The title: a string.
    pub title: Pointer,
    /// When the session starts: RFC 3339 with an offset, a local date-time (read in
    /// the instance's `timezone`), a date alone (all day) or epoch seconds.
    pub starts_at: Pointer,
    /// When the session ends, in the forms of `starts_at`; a date alone is the last
    /// day. Absent: the item ends when it starts.
    #[serde(default)]
    pub ends_at: Option<Pointer>,
    /// Whether the record is sold online: a pointer to a boolean, or
    /// `{ path = "/status", equals = "onsale" }`. Absent: every record is sold online.
    #[serde(default)]
    pub online: Option<Online>,
    /// Whether the session is sold out: a pointer to a boolean; `false` when the
    /// record has no value there.
    #[serde(default)]
    pub sold_out: Option<Pointer>,
}

/// How a record says whether it is sold online.
#[derive(Debug, Clone, PartialEq)]
pub enum Online {
    /// A boolean at this pointer.
    Flag(Pointer),
    /// Online when the value at `path` equals `equals`.
    Equals {
        /// Where the value is.
        path: Pointer,
        /// The value that means online: a string, a number or a boolean.
        equals: Value,
    },
}

/// `[providers.<name>.zones]`: where a record's price zones are, and what is in each.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Zones {
    /// Pointer to the record's array of zones; a record without it has no zones.
    pub path: Pointer,
    /// Pointer inside one zone to its price: a number or a numeric string.
    pub price: Pointer,
    /// What the price is divided by (e.g. `100` for cents): a whole number from 1.
    #[serde(default = "default_scale", deserialize_with = "positive")]
    #[schemars(extend("default" = 1))]
    pub price_scale: u32,
    /// Pointer inside one zone to the seats left: a whole number. Absent (or no value
    /// there): the capacity is unknown and the zone counts as available.
    #[serde(default)]
    pub capacity: Option<Pointer>,
    /// Pointer inside one zone to its name. Absent: no name.
    #[serde(default)]
    pub name: Option<Pointer>,
    /// Pointer inside one zone to its id: a string or an integer. Absent: the zone's
    /// position in the array, from 1.
    #[serde(default)]
    pub id: Option<Pointer>,
}

/// Leaves out the `null` default schemars gives an optional string: `boxoffice
/// providers` would print it, and no other optional key shows one.
fn without_default(schema: &mut schemars::Schema) {
    schema.remove("default");
}

fn default_scale() -> u32 {
    1
}

fn positive<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let scale = u32::deserialize(deserializer)?;
    if scale == 0 {
        return Err(de::Error::custom("must be a whole number from 1 (a divisor)"));
    }
    Ok(scale)
}

impl JsonConfig {
    /// What is wrong with keys taken together, each problem naming its key.
    pub fn problems(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if self.next_page.is_some() && self.page_param.is_some() {
            problems.push(ConfigProblem::new(
                "page_param",
                "next_page and page_param are exclusive: a feed is paginated by links (next_page) \
                 or by page numbers (page_param), not both",
            ));
        }
        if self.last_page.is_some() && self.page_param.is_none() {
            problems.push(ConfigProblem::new(
                "last_page",
                "last_page is read only with page_param (page-number pagination)",
            ));
        }
        if let Some(param) = &self.page_param
            && param.trim().is_empty()
        {
            problems.push(ConfigProblem::new(
                "page_param",
                "must name a query parameter, e.g. \"page\"",
            ));
        }
        problems
    }
}

impl<'de> Deserialize<'de> for Online {
    /// A string is a pointer to a boolean; a table is `{ path, equals }`, with its own
    /// messages (an untagged enum would only say that nothing matched).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Comparison {
            path: Pointer,
            equals: Value,
        }
        match Value::deserialize(deserializer)? {
            Value::String(text) => Pointer::parse(&text).map(Online::Flag).map_err(de::Error::custom),
            table @ Value::Object(_) => {
                let Comparison { path, equals } = serde_json::from_value(table).map_err(de::Error::custom)?;
                match equals {
                    Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                        Ok(Online::Equals { path, equals })
                    }
                    _ => Err(de::Error::custom(
                        "`equals` must be a string, a number or a boolean",
                    )),
                }
            }
            _ => Err(de::Error::custom(
                "expected a pointer to a boolean, e.g. \"/online\", or { path = \"/status\", equals = \"onsale\" }",
            )),
        }
    }
}

impl JsonSchema for Online {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Online".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "oneOf": [
                { "type": "string", "description": "a pointer to a boolean" },
                {
                    "type": "object",
                    "properties": {
                        "path": { "type": "string" },
                        "equals": { "type": ["string", "number", "boolean"] }
                    },
                    "required": ["path", "equals"]
                }
            ]
        })
    }
}
