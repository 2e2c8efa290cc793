//! The Fever XML feed provider, kind `fever-xml`.
//!
//! [`FeverProvider`] GETs the instance's `url` through the kit's
//! [`HttpSource`](boxoffice_core::http::HttpSource) and streams the body through
//! [`parse::parse_feed`] into the sync engine's sink: the feed is never held whole in
//! memory, and the engine cuts a body larger than `max_feed_bytes` as soon as it is.
//!
//! Errors: fetch failures are the kit's `HttpError`s, turned into
//! [`boxoffice_core::ProviderError`] (which says whether to retry); a record that cannot
//! be mapped is a [`boxoffice_core::Rejection`] and its neighbours are kept.

mod config;
pub mod generate;
pub mod parse;

use std::sync::Arc;

use async_trait::async_trait;
use boxoffice_core::http::HttpSource;
use boxoffice_core::registry::ConfigProblem;
use boxoffice_core::{Feed, FeedBody, InstanceSettings, Provider, ProviderError, RecordSink};

pub use config::FeverConfig;
pub use parse::{ParseContext, parse_feed};

boxoffice_core::register_provider!(boxoffice_core::ProviderRegistration {
    kind: "fever-xml",
    description: "Fever's XML event feed (eventList / base_event / event / zone), fetched over HTTP(S)",
    config_keys: &[(
        "url",
        "The feed's http(s) address; a GET returns the whole eventList document",
    )],
    build: build_provider,
});

/// Called by the binary so that the linker keeps this crate and its registration.
pub fn link() {}

fn build_provider(
    settings: &InstanceSettings,
    options: serde_json::Value,
) -> Result<Arc<dyn Provider>, Vec<ConfigProblem>> {
    let config = FeverConfig::parse(options)?;
    let provider = FeverProvider::build(config, settings)
        .map_err(|error| vec![ConfigProblem::new("", error.to_string())])?;
    Ok(Arc::new(provider))
}

/// A `fever-xml` instance: fetches its feed over HTTP(S) and maps it.
#[derive(Debug)]
pub struct FeverProvider {
    source: HttpSource,
    context: ParseContext,
}

impl FeverProvider {
    /// Builds the instance and its HTTP source. Fails only when the HTTP client cannot
    /// be built.
    pub fn build(
        config: FeverConfig,
        settings: &InstanceSettings,
    ) -> Result<Self, boxoffice_core::http::HttpError> {
        let source = HttpSource::build(config.url, settings, "application/xml, text/xml;q=0.9, */*;q=0.1")?;
        let context = ParseContext {
            provider: settings.name.clone(),
            timezone: settings.timezone,
        };
        Ok(Self { source, context })
    }
}

#[async_trait]
impl Provider for FeverProvider {
    async fn open(&self) -> Result<Feed, ProviderError> {
        self.source.open().await
    }

    async fn parse(&self, body: FeedBody, sink: &mut dyn RecordSink) -> Result<(), ProviderError> {
        parse_feed(body, &self.context, sink).await.map(|_| ())
    }
}
