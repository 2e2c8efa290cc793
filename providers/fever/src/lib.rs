//! The Fever XML feed provider, kind `fever-xml`.
//!
//! [`FeverProvider`] streams the body of a GET of the instance's `url` through
//! [`parse::parse_feed`] into the engine's sink: the feed is never held whole in memory,
//! and the engine cuts a body at `max_feed_bytes` as soon as it gets there.

mod config;
pub mod generate;
pub mod parse;

use std::sync::Arc;

use async_trait::async_trait;
use boxoffice_core::registry::{ConfigProblem, InstanceSettings};
use boxoffice_core::{Document, OpenRequest, Opened, Parsed, Provider, ProviderError, RecordSink};
use boxoffice_kit::HttpSource;

pub use config::FeverConfig;
pub use parse::{ParseContext, parse_feed};

boxoffice_core::register_provider! {
    kind: "fever-xml",
    description: "Fever's XML event feed (eventList / base_event / event / zone), fetched over HTTP(S)",
    options: FeverConfig,
    build: FeverProvider::build,
}

/// Called by the binary so that the linker keeps this crate and its registration.
pub fn link() {}

/// A `fever-xml` instance: fetches its feed over HTTP(S) and maps it.
#[derive(Debug)]
pub struct FeverProvider {
    source: HttpSource,
    context: ParseContext,
}

impl FeverProvider {
    /// Builds the instance and its HTTP source; problems name their key.
    pub fn build(
        settings: &InstanceSettings,
        config: FeverConfig,
    ) -> Result<Arc<dyn Provider>, Vec<ConfigProblem>> {
        let source = HttpSource::build(
            &config.url,
            &config.headers,
            settings,
            "application/xml, text/xml;q=0.9, */*;q=0.1",
        )?;
        let context = ParseContext {
            provider: settings.name.clone(),
            timezone: settings.timezone,
        };
        Ok(Arc::new(Self { source, context }))
    }
}

#[async_trait]
impl Provider for FeverProvider {
    async fn open(&self, request: OpenRequest<'_>) -> Result<Opened, ProviderError> {
        self.source.open(request).await
    }

    async fn parse(&self, document: Document, sink: &mut dyn RecordSink) -> Result<Parsed, ProviderError> {
        parse_feed(document.body, &self.context, sink).await?;
        Ok(Parsed::default())
    }
}
