//! Which page comes next, and why there is none: the strategies of `[pagination]`
//! (next link, page number, offset, cursor, `Link` header), each reading what the page
//! said (its captured values, its records, its response headers). The engine opens the
//! next page in the same run and transaction, stops at `max_pages` and fails a run
//! whose pages loop or repeat.

use boxoffice_core::{ProviderError, ResponseHeaders};
use boxoffice_kit::display_url;
use serde_json::Value;
use url::Url;

use crate::config::{PageKind, Pagination};
use crate::parse::PageSummary;
use crate::pointer::Pointer;
use crate::request::PageRef;
use crate::values::{quote, whole};

/// How an instance's feed is paginated.
#[derive(Debug, Clone)]
pub struct Paging {
    config: Option<Pagination>,
}

/// What the page just read said, for the strategies.
#[derive(Debug, Clone, Copy)]
pub struct PageSeen<'a> {
    /// How many pages of records the run has read, this one included.
    pub number: u32,
    /// How the page was asked for.
    pub request: &'a PageRef,
    /// Where it came from, after redirects (relative links resolve against it).
    pub location: &'a Url,
    /// Its response's headers.
    pub headers: &'a ResponseHeaders,
    /// What its document held.
    pub summary: &'a PageSummary,
}

/// What follows a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// This page.
    Page(PageRef),
    /// Nothing: the run ends, for this reason.
    End(String),
}

impl Paging {
    /// The pagination of `config` (`None`: one document).
    pub fn new(config: Option<Pagination>) -> Self {
        Self { config }
    }

    /// Whether the feed has pages (not one document).
    pub fn is_paginated(&self) -> bool {
        self.config.is_some()
    }

    /// Whether a page may lack the records pointer: paging by number or offset asks
    /// past the end to find it (Ticketmaster then leaves the records out). Links and
    /// cursors name pages that exist, so there a page without it is malformed.
    pub fn allows_missing_records(&self) -> bool {
        self.config
            .as_ref()
            .is_some_and(|config| matches!(config.kind, PageKind::PageNumber | PageKind::Offset))
    }

    /// The document pointers the strategies read.
    pub fn captures(&self) -> Vec<Pointer> {
        self.config
            .as_ref()
            .map(|config| config.captures().into_iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The first page's URL: `url` with the page size set, when one is configured.
    pub fn first_url(&self, url: &Url) -> Url {
        match &self.config {
            Some(Pagination {
                size_param: Some(param),
                size: Some(size),
                ..
            }) => with_param(url, param, &size.to_string()),
            _ => url.clone(),
        }
    }

    /// What follows the page `seen`.
    pub fn next(&self, seen: &PageSeen<'_>) -> Result<Next, ProviderError> {
        let Some(config) = &self.config else {
            return Ok(Next::End("the feed is one document".into()));
        };
        let summary = seen.summary;
        if let Some(most) = config.stop_after
            && seen.number >= most
        {
            return Ok(Next::End(format!(
                "the run read {most} pages (pagination.stop_after)"
            )));
        }
        if let Some(pointer) = &config.has_more {
            match summary.value(pointer) {
                Some(Value::Bool(false)) => return Ok(Next::End(format!("has_more ({pointer}) is false"))),
                None | Some(Value::Bool(true) | Value::Null) => {}
                Some(other) => {
                    return Err(ProviderError::Malformed(format!(
                        "has_more ({pointer}) {} is not true or false",
                        quote(other)
                    )));
                }
            }
        }
        let url = || Url::parse(&seen.request.url).unwrap_or_else(|_| seen.location.clone());
        match config.kind {
            PageKind::NextLink => {
                let pointer = config.next.as_ref().ok_or_else(|| missing("next"))?;
                link(seen.location, pointer, summary.value(pointer))
            }
            PageKind::PageNumber => {
                let param = config.param.as_deref().ok_or_else(|| missing("param"))?;
                if summary.records == 0 {
                    return Ok(Next::End("the page has no records".into()));
                }
                let first = config.first.unwrap_or(1);
                let url = url();
                let current = query_number(&url, param)?.unwrap_or(first);
                if let Some(last) = last_page(config, summary, first)?
                    && current >= last
                {
                    return Ok(Next::End(format!(
                        "page {current} is the last (of {first}..={last})"
                    )));
                }
                Ok(Next::Page(PageRef::at(&with_param(
                    &url,
                    param,
                    &(current + 1).to_string(),
                ))))
            }
            PageKind::Offset => {
                let param = config.param.as_deref().ok_or_else(|| missing("param"))?;
                if summary.records == 0 {
                    return Ok(Next::End("the page has no records".into()));
                }
                let url = url();
                let offset = query_number(&url, param)?.unwrap_or(config.first.unwrap_or(0));
                let next = offset + summary.records;
                if let Some(size) = page_size(config, summary, &url)?
                    && summary.records < size
                {
                    return Ok(Next::End(format!(
                        "the page has {} records, fewer than the page size {size}",
                        summary.records
                    )));
                }
                if let Some(total) = counted(config.total.as_ref(), summary, "total")?
                    && next >= total
                {
                    return Ok(Next::End(format!("{next} of {total} records are read")));
                }
                Ok(Next::Page(PageRef::at(&with_param(
                    &url,
                    param,
                    &next.to_string(),
                ))))
            }
            PageKind::Cursor => {
                let cursor = match (&config.cursor, &config.cursor_header) {
                    (Some(pointer), _) => match summary.value(pointer) {
                        None | Some(Value::Null) => None,
                        Some(Value::String(text)) => Some(text.clone()),
                        Some(Value::Number(number)) => Some(number.to_string()),
                        Some(other) => {
                            return Err(ProviderError::Malformed(format!(
                                "the cursor ({pointer}) {} is not a string or a number",
                                quote(other)
                            )));
                        }
                    },
                    (None, Some(header)) => seen.headers.get(header).map(str::to_owned),
                    (None, None) => return Err(missing("cursor")),
                };
                let Some(cursor) = cursor.filter(|cursor| !cursor.trim().is_empty()) else {
                    return Ok(Next::End("the page names no next cursor".into()));
                };
                match &config.param {
                    Some(param) => Ok(Next::Page(PageRef::at(&with_param(&url(), param, &cursor)))),
                    None => Ok(Next::Page(PageRef {
                        url: seen.request.url.clone(),
                        cursor: Some(cursor),
                        each: None,
                    })),
                }
            }
            PageKind::LinkHeader => {
                let next = seen
                    .headers
                    .get_all("link")
                    .flat_map(links)
                    .find(|(_, rels)| rels.iter().any(|rel| rel.eq_ignore_ascii_case("next")))
                    .map(|(target, _)| target);
                match next {
                    None => Ok(Next::End("the Link header names no next page".into())),
                    Some(target) => seen
                        .location
                        .join(&target)
                        .map(|url| Next::Page(PageRef::at(&url)))
                        .map_err(|error| {
                            ProviderError::Malformed(format!(
                                "the Link header's next page is not a URL reference: {error}"
                            ))
                        }),
                }
            }
        }
    }
}

fn missing(key: &str) -> ProviderError {
    ProviderError::Malformed(format!("pagination.{key} is not configured"))
}

/// The last page's number, in the numbering from `first`, when the document says.
fn last_page(config: &Pagination, summary: &PageSummary, first: u64) -> Result<Option<u64>, ProviderError> {
    if let Some(last) = counted(config.last_page.as_ref(), summary, "the last page")? {
        return Ok(Some(last));
    }
    if let Some(count) = counted(config.page_count.as_ref(), summary, "the page count")? {
        // No pages: the first is the last.
        return Ok(Some((first + count).saturating_sub(1).max(first)));
    }
    if let (Some(total), Some(size)) = (
        counted(config.total.as_ref(), summary, "total")?,
        match (config.size, &config.page_size) {
            (Some(size), _) => Some(size),
            (None, pointer) => counted(pointer.as_ref(), summary, "the page size")?,
        },
    ) && size > 0
    {
        let pages = total.div_ceil(size).max(1);
        return Ok(Some(first + pages - 1));
    }
    Ok(None)
}

/// The page size: configured, in the document, or in the URL's `size_param`.
fn page_size(config: &Pagination, summary: &PageSummary, url: &Url) -> Result<Option<u64>, ProviderError> {
    if let Some(size) = config.size {
        return Ok(Some(size));
    }
    if let Some(size) = counted(config.page_size.as_ref(), summary, "the page size")? {
        return Ok(Some(size));
    }
    match &config.size_param {
        Some(param) => query_number(url, param),
        None => Ok(None),
    }
}

/// A whole number the document holds at `pointer` (a number or a numeric string).
fn counted(
    pointer: Option<&Pointer>,
    summary: &PageSummary,
    what: &str,
) -> Result<Option<u64>, ProviderError> {
    let Some(pointer) = pointer else {
        return Ok(None);
    };
    match summary.value(pointer) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => whole(value).map(Some).ok_or_else(|| {
            ProviderError::Malformed(format!(
                "{what} ({pointer}) {} is not a whole number",
                quote(value)
            ))
        }),
    }
}

/// The next page of a next link: `null`, `""` or absent ends the run.
fn link(page: &Url, pointer: &Pointer, value: Option<&Value>) -> Result<Next, ProviderError> {
    match value {
        None | Some(Value::Null) => Ok(Next::End(format!("the next link ({pointer}) is absent or null"))),
        Some(Value::String(text)) if text.trim().is_empty() => {
            Ok(Next::End(format!("the next link ({pointer}) is empty")))
        }
        Some(Value::String(text)) if looks_like_a_token(text.trim()) => {
            Err(ProviderError::Malformed(format!(
                "the next page ({pointer}) holds a token of {} characters, not a URL: to send it back, \
             use [pagination] type = \"cursor\" with cursor = \"{pointer}\" and param = the query \
             parameter the API reads it from",
                text.trim().chars().count()
            )))
        }
        Some(Value::String(text)) => page
            .join(text.trim())
            .map(|url| Next::Page(PageRef::at(&url)))
            // The link is not quoted: it may carry a token.
            .map_err(|error| {
                ProviderError::Malformed(format!(
                    "the next page ({pointer}) is not a URL reference: {error}"
                ))
            }),
        Some(other) => Err(ProviderError::Malformed(format!(
            "the next page ({pointer}) {} is not a string or null",
            quote(other)
        ))),
    }
}

/// A value no URL reference looks like: no `/`, `?`, `.`, `=`, `:` or `#` in it (a
/// relative link names a path or a query), and not short.
fn looks_like_a_token(text: &str) -> bool {
    text.len() >= 8 && !text.contains(['/', '?', '.', '=', ':', '#', '&'])
}

/// The whole number of the query parameter `param` of `url`, when it has one.
fn query_number(url: &Url, param: &str) -> Result<Option<u64>, ProviderError> {
    match url.query_pairs().find(|(name, _)| name == param) {
        None => Ok(None),
        Some((_, value)) => value.trim().parse().map(Some).map_err(|_| {
            ProviderError::Malformed(format!(
                "the query parameter {param:?} of {} is not a whole number",
                display_url(url)
            ))
        }),
    }
}

/// `url` with the parameter set to `value`, the rest of its query left byte for byte
/// as it was (re-encoding it could change what a token means).
fn with_param(url: &Url, param: &str, value: &str) -> Url {
    let mut out = url.clone();
    let encoded: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair(param, value)
        .finish();
    let mut replaced = false;
    let mut parts: Vec<String> = url
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let name = part.split('=').next().unwrap_or_default();
            let decoded: String = url::form_urlencoded::parse(name.as_bytes())
                .next()
                .map(|(name, _)| name.into_owned())
                .unwrap_or_default();
            if !replaced && decoded == param {
                replaced = true;
                encoded.clone()
            } else {
                part.to_owned()
            }
        })
        .collect();
    if !replaced {
        parts.push(encoded);
    }
    out.set_query(Some(&parts.join("&")));
    out
}

/// The links of one `Link` header value (RFC 8288 §3): each target with its `rel`
/// types. A malformed link is skipped.
fn links(value: &str) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>').map(|at| open + at) else {
            break;
        };
        let target = rest[open + 1..close].trim().to_owned();
        rest = &rest[close + 1..];
        // Parameters run to the next `,` outside a quoted string.
        let mut end = rest.len();
        let mut quoted = false;
        for (at, c) in rest.char_indices() {
            match c {
                '"' => quoted = !quoted,
                ',' if !quoted => {
                    end = at;
                    break;
                }
                _ => {}
            }
        }
        let params = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or_default();
        let rels = params
            .split(';')
            .filter_map(|param| {
                let (name, value) = param.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("rel")
                    .then(|| value.trim().trim_matches('"').to_owned())
            })
            .flat_map(|rels| rels.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .collect();
        found.push((target, rels));
    }
    found
}

#[cfg(test)]
mod tests;
