//! What the crate's integration tests share: the made-up "acme" API's instance table,
//! the fixtures, and instances built through the registry as `config.toml` builds them.
#![allow(dead_code)]

use std::sync::Arc;

use std::time::Duration;

use boxoffice_core::registry::BuiltProvider;
use boxoffice_core::{CollectingSink, Document, Parsed, Provider, ProviderError, SyncEngine, SyncReport};
use boxoffice_provider_json::{Format, JsonConfig, Mapping, PageReader, Pointer};
use boxoffice_testkit::instance_from_toml;
use boxoffice_testkit::{MemoryStore, MockResponse};

/// The instance table of the keyed API the fixtures come from, on `url`.
pub fn acme_table(url: &str) -> String {
    format!(
        r#"
kind = "json"
url = "{url}"
timezone = "Europe/Madrid"
records = "/shows"
next_page = "/next"
timeout = "5s"
retries = 0

[headers]
X-Api-Key = "acme-key"

[fields]
base_id = "/show_id"
event_id = "/session_id"
title = "/name"
starts_at = "/starts"
ends_at = "/ends"
online = "/online"
sold_out = "/sold_out"

[zones]
path = "/tickets"
price = "/price_cents"
price_scale = 100
capacity = "/left"
name = "/tier"
id = "/tier_id"
"#
    )
}

pub const ACME_URL: &str = "https://api.example.com/v1/shows?page=1";

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|error| panic!("reading {path}: {error}"))
}

/// Instance `name` built through the registry from its table's body.
pub fn built(name: &str, table: &str) -> BuiltProvider {
    boxoffice_provider_json::link();
    instance_from_toml(name, table).unwrap_or_else(|problems| panic!("building {name}: {problems:?}"))
}

pub fn acme() -> Arc<dyn Provider> {
    built("acme", &acme_table(ACME_URL)).provider
}

/// Parses `bytes` as the engine parses a document read from `location`.
pub async fn parse(
    provider: &dyn Provider,
    bytes: &[u8],
    location: Option<&str>,
) -> (Result<Parsed, ProviderError>, CollectingSink) {
    let mut sink = CollectingSink::default();
    let document = Document {
        location: location.map(str::to_owned),
        ..Document::new(Box::new(std::io::Cursor::new(bytes.to_vec())))
    };
    let result = provider.parse(document, &mut sink).await;
    (result, sink)
}

/// The body of `[providers.generated]` in the generated feed's fixture, with its
/// sub-tables, and `extra` lines in the instance's own table.
pub fn generated_table(url: &str, extra: &str) -> String {
    let text = String::from_utf8(fixture("generated-feed.toml")).unwrap_or_default();
    let mut table: toml::Table = toml::from_str(&text).unwrap();
    let mut instance = table
        .remove("providers")
        .and_then(|providers| providers.get("generated").cloned())
        .and_then(|instance| instance.as_table().cloned())
        .unwrap_or_default();
    instance.insert("url".into(), toml::Value::String(url.to_owned()));
    let extra: toml::Table = toml::from_str(extra).unwrap();
    instance.extend(extra);
    toml::to_string(&instance).unwrap()
}

/// A page reader for the generated feed's fixture, built from its keys as the
/// registry reads them (for what only the reader tells: its buffer's peak).
pub fn generated_reader() -> PageReader {
    let table: toml::Table = toml::from_str(&generated_table("http://127.0.0.1:9/feed.json", "")).unwrap();
    let mut options = serde_json::to_value(table).unwrap_or_default();
    if let Some(options) = options.as_object_mut() {
        // The common keys are the engine's, not the kind's.
        options.remove("kind");
        options.remove("timezone");
    }
    let config: JsonConfig = boxoffice_core::registry::parse_options(options).unwrap();
    PageReader {
        mapping: Mapping::new("generated", chrono_tz::UTC, config.fields, config.zones)
            .unwrap_or_else(|| panic!("the generated feed's fields are complete")),
        format: Format::Json,
        records: config.records.unwrap_or_else(Pointer::whole),
        captures: Vec::new(),
    }
}

/// Runs `name` once through an engine over `store`, within 10 s whatever happens.
pub async fn run(store: &MemoryStore, built: BuiltProvider) -> SyncReport {
    let name = built.name.clone();
    let engine = Arc::new(SyncEngine::new(Arc::new(store.clone()), vec![built], 2, None));
    tokio::time::timeout(Duration::from_secs(10), engine.run(&name))
        .await
        .unwrap_or_else(|_| panic!("the run of {name} took more than 10 s"))
        .unwrap()
}

pub fn stored(store: &MemoryStore, provider: &str) -> Vec<(String, String)> {
    let mut ids: Vec<_> = store
        .items(provider)
        .into_iter()
        .map(|item| (item.record.key.series_id, item.record.key.session_id))
        .collect();
    ids.sort();
    ids
}

pub fn json_page(value: serde_json::Value) -> MockResponse {
    MockResponse::ok(value.to_string()).header("content-type", "application/json")
}
