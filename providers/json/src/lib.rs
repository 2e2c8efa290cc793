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

pub use config::{Condition, Fields, Format, JsonConfig, Method, PageKind, Pagination, TimeField, Zones};
pub use map::{Mapping, Refusal, UNKNOWN_CAPACITY};
pub use node::Node;
pub use paging::{Next, PageSeen, Paging};
pub use parse::{PageReader, PageSummary};
pub use pointer::{Pointer, Pointers};
pub use request::{Body, PageRef};

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
}

impl JsonProvider {
    /// Builds the instance and its HTTP source; problems name their key.
    pub fn build(
        settings: &InstanceSettings,
        config: JsonConfig,
    ) -> Result<Arc<dyn Provider>, Vec<ConfigProblem>> {
        // The registry checked the keys taken together (`JsonConfig::problems`).
        let mut problems = Vec::new();
        let accept = match config.format {
            config::Format::Json => "application/json, */*;q=0.1",
            config::Format::Html => "text/html, application/xhtml+xml, */*;q=0.1",
        };
        let post = config.method == Method::Post;
        let source = HttpSource::build_with(
            HttpOptions {
                url: &config.url,
                headers: &config.headers,
                query: &config.query,
                auth: config.auth.as_ref(),
                post,
                accept,
            },
            settings,
        );
        let paging = Paging::new(config.paging());
        let fields = match config.format {
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
        let mapping = match config.format {
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
            format: config.format,
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
        }))
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
        let request = self.page_ref(page.as_deref());
        let name = self.paging.is_paginated().then(|| PageName {
            number,
            label: self.page_label(page.as_deref()),
        });
        let content_type = headers.content_type();
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
            request: &request,
            location: &location,
            headers: &headers,
            summary: &summary,
        };
        Ok(match self.paging.next(&seen)? {
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
        ("text/html" | "application/xhtml+xml", config::Format::Json) => {
            ": set format = \"html\" to read the schema.org events of a web page"
        }
        _ => "",
    };
    ProviderError::Malformed(format!(
        "{message} (the response's Content-Type is {content_type}{hint})"
    ))
}
