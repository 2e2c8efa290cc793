//! The keys of a `json` instance, besides the common ones every `[providers.<name>]`
//! table has (`timezone`, `max_pages`…): one serde type, read by the registry (every
//! problem at once, each naming its key) and described by `boxoffice providers` from
//! its doc comments. Pointers are checked as they are read ([`Pointer`]); what involves
//! several keys is checked by [`JsonConfig::problems`].

mod condition;
mod fields;
mod pagination;

pub use condition::{Condition, Test};
pub use fields::{Fields, TimeField, Zones};
pub use pagination::{PageKind, Pagination};

use boxoffice_core::registry::ConfigProblem;
use boxoffice_kit::{Auth, FeedUrl, Headers, Query};
use schemars::JsonSchema;
use serde::Deserialize;
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
    /// The first page's address: an `http` or `https` URL, or a file
    /// (`file:///srv/feeds/shows.json`, or `file:shows.json` beside the configuration
    /// file). It may carry a token; logs and errors show it without its query and
    /// credentials. Further pages must stay on its origin (a file's: its directory).
    pub url: FeedUrl,
    /// Request headers sent with every request (e.g. an API key): each a string,
    /// `{ env = "NAME" }` or `{ file = "PATH" }`; never printed.
    #[serde(default)]
    pub headers: Headers,
    /// Query parameters set on every request, followed next links included (e.g.
    /// `apikey = { env = "TICKETMASTER_API_KEY" }`): each a string, `{ env }` or
    /// `{ file }`; never printed.
    #[serde(default)]
    pub query: Query,
    /// How requests authenticate besides `headers` and `query`: `{ type = "bearer",
    /// token = … }`, `{ type = "basic", username = …, password = … }` or `{ type =
    /// "oauth2", token_url = "…", client_id = …, client_secret = …, scope = "…" }`
    /// (client credentials; the token is kept until it expires). Values are secrets.
    #[serde(default)]
    pub auth: Option<Auth>,
    /// `GET` (default) or `POST`, for APIs that take their query in a JSON body
    /// (GraphQL).
    #[serde(default)]
    pub method: Method,
    /// The JSON body of every request, as a table (with `method = "POST"`), e.g. `{
    /// query = "…", variables = { first = 50 } }`; a cursor may be written into it
    /// (`pagination.body`).
    #[serde(default)]
    pub body: Option<serde_json::Map<String, Value>>,
    /// What the pages are: `json`, or `html` for web pages whose schema.org `Event`s
    /// are published in `<script type="application/ld+json">` blocks (the fields then
    /// default to schema.org's: `@id`, `name`, `startDate`, `endDate`, `eventStatus`,
    /// `offers`). Absent: `json`, or `html` when neither `records` nor any field nor
    /// zones are configured (`kind` and `url` alone read a venue's page).
    #[serde(default)]
    pub format: Option<Format>,
    /// RFC 6901 JSON Pointer to each document's array of records, e.g. `/shows`; `""`
    /// when the document is the array. Required with `format = "json"`. `null` or `{}`
    /// there is a page without records; in a one-document feed, a document without the
    /// pointer fails the run.
    #[serde(default)]
    pub records: Option<Pointer>,
    /// Pointer to an API's own report of failure in a document it answered with 2xx
    /// (GraphQL's `/errors`): a value there other than `null`, `[]`, `{}` or `""` fails
    /// the run, quoted.
    #[serde(default)]
    pub errors: Option<Pointer>,
    /// Pointer to the next page's URL in each document (absolute, or relative to the
    /// page); `null`, `""` or absent ends the run. The same as `[pagination] type =
    /// "next_link"`. Not with `page_param` or `[pagination]`.
    #[serde(default)]
    pub next_page: Option<Pointer>,
    /// Page-number pagination: the query parameter to increment, e.g. `page`. The
    /// first request is `url` as configured (page 1 when the parameter is absent); the
    /// run ends on a page without records or past `last_page`. The same as
    /// `[pagination] type = "page_number"`. Not with `next_page` or `[pagination]`.
    #[serde(default)]
    #[schemars(transform = without_default)]
    pub page_param: Option<String>,
    /// With `page_param`: pointer to the number of the last page in each document
    /// (an integer or a numeric string), e.g. `/meta/last_page`.
    #[serde(default)]
    pub last_page: Option<Pointer>,
    /// How pages follow each other: `type` = `next_link`, `page_number`, `offset`,
    /// `cursor` or `link_header`, with that type's keys (see its table).
    #[serde(default)]
    pub pagination: Option<Pagination>,
    /// Pointers inside one record: `base_id`, `title`, `starts_at` (required with
    /// `format = "json"`), `event_id`, `ends_at`, `timezone`, `online`, `sold_out`,
    /// `min_price`, `max_price`, `price_scale`, `currency` (see its table).
    #[serde(default)]
    pub fields: Fields,
    /// Price zones inside one record: `path` and `price` (or `min_price`/`max_price`),
    /// `price_scale`, `capacity`, `name`, `id`. Absent: no zones.
    #[serde(default)]
    pub zones: Option<Zones>,
    /// The feed read once for each value a first request lists, e.g. each of the
    /// account's organizations: `placeholder` (the `{name}` in `url` a value fills),
    /// `url` (the list, on `url`'s origin), `records` (its array) and `value` (the
    /// pointer in one element).
    #[serde(default)]
    pub for_each: Option<ForEach>,
}

/// `[providers.<name>.for_each]`: a list fetched first, each of whose values fills a
/// placeholder of `url`; every value's pages are read in the same run.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForEach {
    /// The placeholder's name: `organization_id` for `{organization_id}` in `url`.
    pub placeholder: String,
    /// The list's address, on `url`'s origin, sent with the same headers, query and
    /// auth (e.g. `https://www.eventbriteapi.com/v3/users/me/organizations/`).
    pub url: FeedUrl,
    /// Pointer to the list's array, e.g. `/organizations`.
    pub records: Pointer,
    /// Pointer inside one element to its value (a string or an integer), e.g. `/id`.
    pub value: Pointer,
}

/// The request method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum Method {
    /// `GET`.
    #[default]
    #[serde(rename = "GET", alias = "get")]
    Get,
    /// `POST`, with `body`.
    #[serde(rename = "POST", alias = "post")]
    Post,
}

/// What the pages are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// JSON documents.
    #[default]
    Json,
    /// HTML pages with schema.org JSON-LD.
    Html,
}

/// Leaves out the `null` default schemars gives an optional string: `boxoffice
/// providers` would print it, and no other optional key shows one.
fn without_default(schema: &mut schemars::Schema) {
    schema.remove("default");
}

impl JsonConfig {
    /// What the pages are: as configured, else HTML when nothing says where a JSON
    /// document's records and values are.
    pub fn format(&self) -> Format {
        match self.format {
            Some(format) => format,
            None if self.records.is_none() && self.fields.is_empty() && self.zones.is_none() => Format::Html,
            None => Format::Json,
        }
    }

    /// The pagination the keys describe: `[pagination]`, or the shorthand
    /// `next_page` / `page_param` + `last_page`.
    pub fn paging(&self) -> Option<Pagination> {
        if let Some(pagination) = &self.pagination {
            return Some(pagination.clone());
        }
        let empty = |kind| Pagination {
            kind,
            next: None,
            param: None,
            first: None,
            size_param: None,
            size: None,
            last_page: None,
            page_count: None,
            total: None,
            page_size: None,
            cursor: None,
            cursor_header: None,
            body: None,
            has_more: None,
            stop_after: None,
        };
        match (&self.next_page, &self.page_param) {
            (Some(next), _) => Some(Pagination {
                next: Some(next.clone()),
                ..empty(PageKind::NextLink)
            }),
            (None, Some(param)) => Some(Pagination {
                param: Some(param.clone()),
                last_page: self.last_page.clone(),
                ..empty(PageKind::PageNumber)
            }),
            (None, None) => None,
        }
    }

    /// What is wrong with keys taken together, each problem naming its key.
    pub fn problems(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        let mut problem = |key: &str, message: &str| problems.push(ConfigProblem::new(key, message));
        if self.next_page.is_some() && self.page_param.is_some() {
            problem(
                "page_param",
                "next_page and page_param are exclusive: a feed is paginated by links (next_page) \
                 or by page numbers (page_param), not both",
            );
        }
        if self.pagination.is_some() && (self.next_page.is_some() || self.page_param.is_some()) {
            problem(
                "pagination",
                "[pagination] replaces next_page and page_param: keep one way of paging",
            );
        }
        if self.last_page.is_some() && self.page_param.is_none() {
            problem(
                "last_page",
                "last_page is read only with page_param (page-number pagination)",
            );
        }
        if let Some(param) = &self.page_param
            && param.trim().is_empty()
        {
            problem("page_param", "must name a query parameter, e.g. \"page\"");
        }
        let post = self.method == Method::Post;
        if self.body.is_some() && !post {
            problem("body", "a body is sent only with method = \"POST\"");
        }
        if self.auth.is_some() && self.headers_name("authorization") {
            problem(
                "auth",
                "auth and headers.Authorization both set the Authorization header: keep one",
            );
        }
        match self.format() {
            Format::Json => {
                if self.records.is_none() {
                    problem(
                        "records",
                        "missing field `records`: a pointer to each document's array of records (\"\" when \
                         the document is the array)",
                    );
                }
                for (key, missing) in [
                    ("fields.base_id", self.fields.base_id.is_none()),
                    ("fields.title", self.fields.title.is_none()),
                    ("fields.starts_at", self.fields.starts_at.is_none()),
                ] {
                    if missing {
                        let field = key.trim_start_matches("fields.");
                        problem(key, &format!("missing field `{field}`"));
                    }
                }
            }
            Format::Html => {
                if self.records.is_some() {
                    problem(
                        "records",
                        "with format = \"html\" the records are the page's schema.org Events: records is not read",
                    );
                }
                if self.pagination.as_ref().is_some_and(|p| !p.captures().is_empty())
                    || self.next_page.is_some()
                {
                    problem(
                        "pagination",
                        "an HTML page has no JSON to point into: page it by number, offset or Link header",
                    );
                }
            }
        }
        for (key, pointer) in [("records", &self.records), ("errors", &self.errors)] {
            if pointer.as_ref().is_some_and(Pointer::has_each) {
                problem(key, "names one value: `*` is not read here");
            }
        }
        if let Some(zones) = &self.zones
            && zones.price.is_none()
            && zones.min_price.is_none()
            && zones.max_price.is_none()
        {
            problem(
                "zones.price",
                "missing field `price` (or `min_price`/`max_price` for zones that are ranges)",
            );
        }
        if let Some(pagination) = &self.pagination {
            problems.extend(pagination.problems(post));
        }
        if let Some(each) = &self.for_each {
            let name = &each.placeholder;
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                problems.push(ConfigProblem::new(
                    "for_each.placeholder",
                    "a placeholder's name is letters, digits and '_'",
                ));
            } else if !crate::request::has_placeholder(self.url.url(), name) {
                problems.push(ConfigProblem::new(
                    "for_each.placeholder",
                    format!("url has no {{{name}}} for the listed values to fill"),
                ));
            }
            if each.url.url().origin() != self.url.url().origin() {
                problems.push(ConfigProblem::new(
                    "for_each.url",
                    "must be on url's origin: it is sent with the instance's credentials",
                ));
            }
        }
        problems
    }

    fn headers_name(&self, name: &str) -> bool {
        self.headers.names().any(|key| key.eq_ignore_ascii_case(name))
    }
}
