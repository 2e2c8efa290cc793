//! A JSON API provider configured without code, kind `json`: where the records are in
//! each document and where each value is in a record are JSON Pointers in the
//! instance's table (see [`JsonConfig`] and `docs/adding-a-provider.md`).
//!
//! The kind is four layers, each with one job (ADR 0008):
//! 1. **request** ([`request`], the kit's [`HttpSource`]): which URL a page is at, its
//!    method and body, the instance's `[headers]`, `[query]` and `auth`;
//! 2. **pages** ([`paging`]): which page follows, from what a page said (a link, a
//!    cursor, its records, a `Link` header), and why none does;
//! 3. **selector** ([`parse`], `stream`, `html`): the records of one document, a record
//!    at a time: a JSON array streamed, or an HTML page's schema.org events;
//! 4. **mapping** ([`map`], `time`, `values`, [`config::Condition`]): one record to one
//!    canonical record, or every reason it cannot be one.
//!
//! A new source format is a new selector: the layers around it do not change.

pub mod config;
pub mod generate;
mod html;
mod map;
pub mod node;
pub mod paging;
pub mod parse;
mod pointer;
pub mod request;
mod schema_org;
mod stream;
pub mod time;
mod values;

use std::sync::Arc;

use async_trait::async_trait;
use boxoffice_core::registry::{ConfigProblem, InstanceSettings};
use boxoffice_core::{Document, OpenRequest, Opened, PageName, Parsed, Provider, ProviderError, RecordSink};
use boxoffice_kit::{HttpOptions, HttpSource, PageRequest};
use url::Url;

pub use config::{
    Condition, Fields, ForEach, Format, JsonConfig, Method, PageKind, Pagination, TimeField, Zones,
};
pub use map::{Mapping, Refusal, UNKNOWN_CAPACITY};
pub use node::Node;
pub use paging::{Next, PageSeen, Paging};
pub use parse::{PageReader, PageSummary};
pub use pointer::{Pointer, Pointers};
pub use request::{Body, Each, PageRef};

boxoffice_core::register_provider! {
    kind: "json",
    description: "A JSON API (or the schema.org events of web pages) over HTTP(S), described in the configuration: JSON Pointers to the records and to each value",
    options: JsonConfig,
    build: JsonProvider::build,
    checks: JsonConfig::problems,
}

/// Called by the binary so that the linker keeps this crate and its registration.
pub fn link() {}

/// A `json` instance: fetches its pages over HTTP(S) and maps them.
#[derive(Debug)]
pub struct JsonProvider {
    source: HttpSource,
    reader: PageReader,
    paging: Paging,
    body: Option<Body>,
    first_url: Url,
    errors: Option<Pointer>,
    for_each: Option<ForEach>,
}

impl JsonProvider {
    /// Builds the instance and its HTTP source; problems name their key.
    pub fn build(
        settings: &InstanceSettings,
        config: JsonConfig,
    ) -> Result<Arc<dyn Provider>, Vec<ConfigProblem>> {
        // The registry checked the keys taken together (`JsonConfig::problems`).
        let mut problems = Vec::new();
        let format = config.format();
        let accept = match format {
            config::Format::Json => "application/json, */*;q=0.1",
            config::Format::Html => "text/html, application/xhtml+xml, */*;q=0.1",
        };
        let source = HttpSource::build_with(
            HttpOptions {
                url: &config.url,
                headers: &config.headers,
                query: &config.query,
                auth: config.auth.as_ref(),
                accept,
            },
            settings,
        );
        let paging = Paging::new(config.paging());
        let fields = match format {
            config::Format::Json => config.fields,
            config::Format::Html => schema_org::with_defaults(config.fields, schema_org::default_fields()),
        };
        let mapping = Mapping::new(&settings.name, settings.timezone, fields, config.zones);
        let (source, mapping) = match (source, mapping) {
            (Ok(source), Some(mapping)) if problems.is_empty() => (source, mapping),
            (source, _) => {
                problems.extend(source.err().unwrap_or_default());
                return Err(problems);
            }
        };
        let mapping = match format {
            // schema.org's members are not feed drift.
            config::Format::Html => mapping.reading_whole(),
            config::Format::Json => mapping,
        };
        let mut captures = paging.captures();
        captures.extend(config.errors.clone());
        let cursor_at = config
            .pagination
            .as_ref()
            .and_then(|pagination| pagination.body.clone());
        let body = config.body.map(|template| Body { template, cursor_at });
        let reader = PageReader {
            mapping,
            format,
            records: config.records.unwrap_or_else(Pointer::whole),
            captures,
        };
        Ok(Arc::new(Self {
            first_url: paging.first_url(config.url.url()),
            source,
            reader,
            paging,
            body,
            errors: config.errors,
            for_each: config.for_each,
        }))
    }

    /// Whether a document is the `for_each` list: the first of a run (an archived run's
    /// first page too, which has no page reference either).
    fn is_list(&self, page: Option<&str>, number: u32) -> bool {
        self.for_each.is_some() && page.is_none() && number == 1
    }

    /// The first page for the value `at` of `values`.
    fn each_page(&self, values: Vec<String>, at: usize) -> Result<PageRef, ProviderError> {
        let (Some(each), Some(value)) = (&self.for_each, values.get(at)) else {
            return Err(ProviderError::Malformed("for_each has no such value".into()));
        };
        let url =
            request::fill(&self.first_url, &each.placeholder, value).map_err(ProviderError::Malformed)?;
        Ok(PageRef {
            url: url.to_string(),
            cursor: None,
            each: Some(Each { values, at }),
        })
    }

    /// Reads the `for_each` list: its values, and the first of them as the next page.
    async fn parse_list(&self, body: boxoffice_core::FeedBody) -> Result<Parsed, ProviderError> {
        use tokio::io::AsyncReadExt as _;
        let Some(each) = &self.for_each else {
            return Err(ProviderError::Malformed("no for_each is configured".into()));
        };
        let mut bytes = Vec::new();
        body.take(request::MAX_LIST_BYTES + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(|error| boxoffice_core::read_error(&error))?;
        if bytes.len() as u64 > request::MAX_LIST_BYTES {
            return Err(ProviderError::Malformed(format!(
                "the for_each list is larger than {} MiB",
                request::MAX_LIST_BYTES / (1024 * 1024)
            )));
        }
        let values =
            request::listed_values(&bytes, &each.records, &each.value).map_err(ProviderError::Malformed)?;
        if values.is_empty() {
            return Err(ProviderError::Malformed(format!(
                "the for_each list names no values at {}: there is no page to read",
                each.records
            )));
        }
        Ok(Parsed {
            next_page: Some(self.each_page(values, 0)?.encode()),
            ended: None,
        })
    }

    /// How the engine's page reference reads: the first page when it has none.
    fn page_ref(&self, page: Option<&str>) -> PageRef {
        match page {
            Some(page) => PageRef::decode(page),
            None => PageRef::at(&self.first_url),
        }
    }
}

#[async_trait]
impl Provider for JsonProvider {
    async fn open(&self, request: OpenRequest<'_>) -> Result<Opened, ProviderError> {
        if let (None, Some(each)) = (request.page, &self.for_each) {
            let list = each.url.url().to_string();
            return self
                .source
                .open_page(PageRequest {
                    url: Some(&list),
                    body: None,
                    validators: None,
                })
                .await;
        }
        let page = self.page_ref(request.page);
        let body = self.body.as_ref().map(|body| body.render(page.cursor.as_deref()));
        self.source
            .open_page(PageRequest {
                url: Some(&page.url),
                body: body.as_deref(),
                validators: request.validators,
            })
            .await
    }

    async fn parse(&self, document: Document, sink: &mut dyn RecordSink) -> Result<Parsed, ProviderError> {
        let Document {
            body,
            location,
            headers,
            number,
            page,
        } = document;
        if self.is_list(page.as_deref(), number) {
            return self.parse_list(body).await;
        }
        let request = self.page_ref(page.as_deref());
        // A run of several documents names the page of each rejection.
        let name = (self.paging.is_paginated() || self.for_each.is_some()).then(|| PageName {
            number,
            label: self.page_label(page.as_deref()),
        });
        let content_type = headers.content_type();
        if self.reader.format == Format::Html
            && let Some(json) = content_type.as_deref().filter(|kind| kind.contains("json"))
        {
            return Err(ProviderError::Malformed(format!(
                "the page is {json}, not a web page: a JSON API needs records and fields (format = \"json\")"
            )));
        }
        let summary = self
            .reader
            .read(body, name.as_ref(), sink)
            .await
            .map_err(|error| with_content_type(error, content_type.as_deref(), self.reader.format))?;
        if let Some(pointer) = &self.errors
            && let Some(reported) = summary.value(pointer).and_then(parse::reported_errors)
        {
            return Err(ProviderError::Malformed(format!(
                "the document reports errors at {pointer}: {reported}"
            )));
        }
        if !summary.records_found && !self.paging.allows_missing_records() {
            return Err(ProviderError::Malformed(format!(
                "the document has no records array at the records pointer ({})",
                self.reader.records
            )));
        }
        // An archived payload has no address: relative links resolve against the
        // page's own (a replay reads no further pages anyway).
        let location = location
            .as_deref()
            .and_then(|location| Url::parse(location).ok())
            .or_else(|| Url::parse(&request.url).ok())
            .unwrap_or_else(|| self.first_url.clone());
        let seen = PageSeen {
            number: number - u32::from(self.for_each.is_some()),
            request: &request,
            location: &location,
            headers: &headers,
            summary: &summary,
        };
        let next = match (self.paging.next(&seen)?, request.each) {
            (Next::Page(mut page), each) => {
                page.each = each;
                Next::Page(page)
            }
            // The last page of one listed value: the next value's first page.
            (Next::End(_), Some(each)) if each.at + 1 < each.values.len() => {
                Next::Page(self.each_page(each.values, each.at + 1)?)
            }
            (Next::End(why), Some(each)) => Next::End(format!(
                "{why} (for the last of the {} listed values)",
                each.values.len()
            )),
            (end, None) => end,
        };
        Ok(match next {
            Next::Page(page) => Parsed {
                next_page: Some(page.encode()),
                ended: None,
            },
            Next::End(why) => Parsed {
                next_page: None,
                ended: Some(why),
            },
        })
    }

    fn page_label(&self, page: Option<&str>) -> String {
        if let (None, Some(each)) = (page, &self.for_each) {
            return format!("{} (the for_each list)", each.url);
        }
        let page = self.page_ref(page);
        let mut label = self.source.page_label(Some(&page.url));
        if page.cursor.is_some() {
            label.push_str(" (a cursor in the body)");
        }
        label
    }
}

/// A document that is not JSON says what it was instead, when its response said.
fn with_content_type(
    error: ProviderError,
    content_type: Option<&str>,
    format: config::Format,
) -> ProviderError {
    let ProviderError::Malformed(message) = error else {
        return error;
    };
    let Some(content_type) = content_type.filter(|_| message.contains("not JSON")) else {
        return ProviderError::Malformed(message);
    };
    let hint = match (content_type, format) {
        ("text/html" | "application/xhtml+xml", Format::Json) => {
            ": set format = \"html\" to read the schema.org events of a web page"
        }
        _ => "",
    };
    ProviderError::Malformed(format!(
        "{message} (the response's Content-Type is {content_type}{hint})"
    ))
}
