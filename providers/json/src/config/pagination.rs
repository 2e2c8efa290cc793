//! `[pagination]`: how a feed's pages follow each other.

use boxoffice_core::registry::ConfigProblem;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::pointer::Pointer;

/// How pages follow each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PageKind {
    /// Each document links the next (`next`).
    NextLink,
    /// A query parameter numbers the pages (`param`, from `first`).
    PageNumber,
    /// A query parameter counts the records to skip (`param`), `size` at a time.
    Offset,
    /// Each document (`cursor`) or response header (`cursor_header`) gives a token
    /// that asks for the next page, sent back as a query parameter (`param`) or in the
    /// request's body (`body`).
    Cursor,
    /// The response's `Link` header names the next page (RFC 8288, `rel="next"`).
    LinkHeader,
}

/// `[providers.<name>.pagination]`, e.g. `type = "page_number"`, `param = "page"`,
/// `first = 0`. Whatever the type, a page with `has_more` false is the last; so is a
/// page without records, for page numbers and offsets.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pagination {
    /// `next_link`, `page_number`, `offset`, `cursor` or `link_header`.
    #[serde(rename = "type")]
    pub kind: PageKind,
    /// `next_link`: pointer to the next page's URL (absolute, or relative to the
    /// page's); `null`, `""` or absent ends the run.
    #[serde(default)]
    pub next: Option<Pointer>,
    /// The query parameter that carries the page's number (`page_number`), its first
    /// record's offset (`offset`) or the cursor (`cursor`).
    #[serde(default)]
    pub param: Option<String>,
    /// `page_number`: the first page's number, also read when `url` has no `param`
    /// (default 1; 0 for APIs counting from 0). `offset`: the first offset (default 0).
    #[serde(default)]
    pub first: Option<u64>,
    /// The query parameter that carries the page size (`size`, `limit`, `per_page`);
    /// with `size` it is set on every request, else the size is read from the URL.
    #[serde(default)]
    pub size_param: Option<String>,
    /// The page size: a page with fewer records is the last (`offset`), and with
    /// `total` the number of pages follows from it.
    #[serde(default)]
    pub size: Option<u64>,
    /// `page_number`: pointer to the last page's number, in the numbering of `first`.
    #[serde(default)]
    pub last_page: Option<Pointer>,
    /// `page_number`: pointer to how many pages there are.
    #[serde(default)]
    pub page_count: Option<Pointer>,
    /// `page_number`, `offset`: pointer to how many records there are in all.
    #[serde(default)]
    pub total: Option<Pointer>,
    /// `page_number`, `offset`: pointer to the page size the API used (with `total`).
    #[serde(default)]
    pub page_size: Option<Pointer>,
    /// `cursor`: pointer to the next page's cursor in each document; absent, `null` or
    /// `""` ends the run.
    #[serde(default)]
    pub cursor: Option<Pointer>,
    /// `cursor`: the response header that carries the next cursor.
    #[serde(default)]
    pub cursor_header: Option<String>,
    /// `cursor`: pointer in the request body (`body`) where the cursor is written, for
    /// APIs that take it there (GraphQL's `/variables/after`); else it goes in `param`.
    #[serde(default)]
    pub body: Option<Pointer>,
    /// Pointer to whether more pages follow: `false` ends the run.
    #[serde(default)]
    pub has_more: Option<Pointer>,
    /// The most pages a run reads, after which it ends as a success, for APIs that
    /// refuse to page deeper (Ticketmaster: page × size under 1,000): narrow the query
    /// (dates, filters) to reach the rest. Unlike the common `max_pages`, which fails
    /// a run that would read more.
    #[serde(default)]
    pub stop_after: Option<u32>,
}

impl Pagination {
    /// The document pointers the pages are found with, in one list.
    pub fn captures(&self) -> Vec<&Pointer> {
        [
            &self.next,
            &self.last_page,
            &self.page_count,
            &self.total,
            &self.page_size,
            &self.cursor,
            &self.has_more,
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// What is wrong with the keys taken together, each naming its key.
    pub fn problems(&self, post: bool) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        let mut problem = |key: &str, message: String| {
            problems.push(ConfigProblem::new(format!("pagination.{key}"), message));
        };
        let kind = self.kind;
        let name = match kind {
            PageKind::NextLink => "next_link",
            PageKind::PageNumber => "page_number",
            PageKind::Offset => "offset",
            PageKind::Cursor => "cursor",
            PageKind::LinkHeader => "link_header",
        };
        let only = |allowed: &[PageKind]| allowed.contains(&kind);
        let given: [(&str, bool, &[PageKind]); 12] = [
            ("next", self.next.is_some(), &[PageKind::NextLink]),
            (
                "param",
                self.param.is_some(),
                &[PageKind::PageNumber, PageKind::Offset, PageKind::Cursor],
            ),
            (
                "first",
                self.first.is_some(),
                &[PageKind::PageNumber, PageKind::Offset],
            ),
            (
                "size_param",
                self.size_param.is_some(),
                &[PageKind::PageNumber, PageKind::Offset],
            ),
            (
                "size",
                self.size.is_some(),
                &[PageKind::PageNumber, PageKind::Offset],
            ),
            ("last_page", self.last_page.is_some(), &[PageKind::PageNumber]),
            ("page_count", self.page_count.is_some(), &[PageKind::PageNumber]),
            (
                "total",
                self.total.is_some(),
                &[PageKind::PageNumber, PageKind::Offset],
            ),
            (
                "page_size",
                self.page_size.is_some(),
                &[PageKind::PageNumber, PageKind::Offset],
            ),
            ("cursor", self.cursor.is_some(), &[PageKind::Cursor]),
            ("cursor_header", self.cursor_header.is_some(), &[PageKind::Cursor]),
            ("body", self.body.is_some(), &[PageKind::Cursor]),
        ];
        for (key, set, kinds) in given {
            if set && !only(kinds) {
                problem(key, format!("is not read with type = \"{name}\""));
            }
        }
        let required = |set: bool, key: &str, what: &str, problem: &mut dyn FnMut(&str, String)| {
            if !set {
                problem(key, format!("type = \"{name}\" needs {what}"));
            }
        };
        match kind {
            PageKind::NextLink => required(
                self.next.is_some(),
                "next",
                "a pointer to the next page's URL",
                &mut problem,
            ),
            PageKind::PageNumber | PageKind::Offset => {
                required(
                    self.param.is_some(),
                    "param",
                    "the query parameter to set, e.g. \"page\"",
                    &mut problem,
                );
            }
            PageKind::Cursor => {
                if self.cursor.is_some() == self.cursor_header.is_some() {
                    problem(
                        "cursor",
                        "type = \"cursor\" needs exactly one of cursor (a pointer in the document) and \
                         cursor_header (a response header)"
                            .into(),
                    );
                }
                if self.param.is_some() == self.body.is_some() {
                    problem(
                        "param",
                        "type = \"cursor\" needs exactly one of param (the cursor sent back as a query \
                         parameter) and body (a pointer in the request body)"
                            .into(),
                    );
                }
                if self.body.is_some() && !post {
                    problem(
                        "body",
                        "the cursor goes in the body only with method = \"POST\"".into(),
                    );
                }
            }
            PageKind::LinkHeader => {}
        }
        if let Some(param) = &self.param
            && param.trim().is_empty()
        {
            problem("param", "must name a query parameter".into());
        }
        if kind == PageKind::PageNumber && self.first.is_some_and(|first| first > 1) {
            problem("first", "pages are numbered from 0 or from 1".into());
        }
        if self.stop_after == Some(0) {
            problem("stop_after", "must be at least 1".into());
        }
        if self.size == Some(0) {
            problem("size", "must be at least 1".into());
        }
        if self.size.is_some() && self.size_param.is_none() && kind == PageKind::PageNumber {
            problem(
                "size",
                "is set on requests through size_param: name it too".into(),
            );
        }
        for (key, pointer) in [
            ("next", &self.next),
            ("last_page", &self.last_page),
            ("page_count", &self.page_count),
            ("total", &self.total),
            ("page_size", &self.page_size),
            ("cursor", &self.cursor),
            ("has_more", &self.has_more),
        ] {
            if pointer.as_ref().is_some_and(Pointer::has_each) {
                problem(
                    key,
                    "a pagination pointer names one value: `*` is not read here".into(),
                );
            }
        }
        problems
    }
}
