//! A JSON API provider configured without code, kind `json`: where the records are in
//! each document and where each value is in a record are JSON Pointers in the
//! instance's table (see [`JsonConfig`] and `docs/adding-a-provider.md`).
//!
//! [`JsonProvider`] GETs its pages through the kit's [`HttpSource`] (headers, gzip,
//! conditional requests for a one-page feed, pages kept on the feed's origin) and
//! streams each body through [`PageReader`]: a record at a time, so that memory is
//! bounded by a record, not by the document.
//!
//! # Mapping decisions
//! - **Identity.** `ExternalKey { provider: instance name, base_event_id: base_id,
//!   event_id: event_id or base_id }`, integers written in decimal.
//! - **Times.** See [`time`]: RFC 3339 with an offset is the instant it names, served
//!   on the wall clock as written; a local date-time is read in the instance's
//!   `timezone`; a date alone is all day; an integer is epoch seconds, served on the
//!   `timezone`'s wall clock. An item without `ends_at` ends when it starts.
//! - **Sell mode.** `online` decides `Online`/`Offline` (absent: every record is
//!   online); searchability then follows the store's rule (online once, searchable
//!   for good).
//! - **Prices.** Each zone's `price` divided by `price_scale`; the item's range is the
//!   model's ([`boxoffice_core::PriceRange`]: zones with capacity, else all zones). A
//!   zone without `capacity` is stored with [`UNKNOWN_CAPACITY`] (2,147,483,647), so
//!   that it counts as available. Zones are never numbered.
//! - **Rejections.** A record that cannot be mapped is rejected with every problem,
//!   each naming the key, the pointer and the value (quoted, at most 80 characters),
//!   and its JSON (at most 4 KiB); its neighbours are kept.
//! - **Unknown.** Members of a record that no pointer reads are reported as
//!   `record/<member>`, counted, at most [`parse::MAX_UNKNOWN_NAMES`] names a page.
//! - **Malformed.** A page that is not JSON, is truncated, lacks the records array or
//!   fails to arrive fails the run: the engine keeps nothing of any page.

mod config;
pub mod generate;
mod map;
pub mod node;
mod paging;
pub mod parse;
mod pointer;
mod stream;
pub mod time;
mod values;

use std::sync::Arc;

use async_trait::async_trait;
use boxoffice_core::registry::{ConfigProblem, InstanceSettings};
use boxoffice_core::{Document, OpenRequest, Opened, Parsed, Provider, ProviderError, RecordSink};
use boxoffice_kit::HttpSource;
use url::Url;

pub use config::{Fields, JsonConfig, Online, Zones};
pub use map::{Mapping, Refusal, UNKNOWN_CAPACITY};
pub use node::Node;
pub use paging::Pagination;
pub use parse::{PageReader, PageSummary};
pub use pointer::Pointer;

boxoffice_core::register_provider! {
    kind: "json",
    description: "A JSON API over HTTP(S), described in the configuration: JSON Pointers to the records and to each value",
    options: JsonConfig,
    build: JsonProvider::build,
}

/// Called by the binary so that the linker keeps this crate and its registration.
pub fn link() {}

/// A `json` instance: fetches its pages over HTTP(S) and maps them.
#[derive(Debug)]
pub struct JsonProvider {
    source: HttpSource,
    reader: PageReader,
    pagination: Pagination,
}

impl JsonProvider {
    /// Builds the instance and its HTTP source; problems name their key.
    pub fn build(
        settings: &InstanceSettings,
        config: JsonConfig,
    ) -> Result<Arc<dyn Provider>, Vec<ConfigProblem>> {
        let mut problems = config.problems();
        let source = HttpSource::build(
            &config.url,
            &config.headers,
            settings,
            "application/json, */*;q=0.1",
        );
        let source = match source {
            Ok(source) if problems.is_empty() => source,
            Ok(_) => return Err(problems),
            Err(found) => {
                problems.extend(found);
                return Err(problems);
            }
        };
        let pagination = match (&config.next_page, &config.page_param) {
            (Some(pointer), _) => Pagination::Links(pointer.clone()),
            (None, Some(param)) => Pagination::Numbers {
                param: param.clone(),
                last: config.last_page.clone(),
            },
            (None, None) => Pagination::Single,
        };
        let reader = PageReader {
            mapping: Mapping::new(&settings.name, settings.timezone, config.fields, config.zones),
            records: config.records,
            next_page: config.next_page,
            last_page: config.last_page,
        };
        Ok(Arc::new(Self {
            source,
            reader,
            pagination,
        }))
    }
}

#[async_trait]
impl Provider for JsonProvider {
    async fn open(&self, request: OpenRequest<'_>) -> Result<Opened, ProviderError> {
        self.source.open(request).await
    }

    async fn parse(&self, document: Document, sink: &mut dyn RecordSink) -> Result<Parsed, ProviderError> {
        let summary = self.reader.read(document.body, sink).await?;
        // An archived payload has no address: relative links resolve against the
        // configured one (a replay reads no further pages anyway).
        let page = document
            .location
            .as_deref()
            .and_then(|location| Url::parse(location).ok())
            .unwrap_or_else(|| self.source.url().url().clone());
        Ok(Parsed {
            next_page: self.pagination.next(&page, &summary)?,
        })
    }
}
