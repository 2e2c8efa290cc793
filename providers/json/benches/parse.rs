//! Parser throughput on a generated feed: `cargo bench -p boxoffice-provider-json`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use async_trait::async_trait;
use boxoffice_core::provider::SinkError;
use boxoffice_core::{EventRecord, RecordSink, Rejection};
use boxoffice_provider_json::generate::{FeedShape, write_feed};
use boxoffice_provider_json::{Format, JsonConfig, Mapping, PageReader, Pointer};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// The allocator of the `boxoffice` binary, so that the figure is the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Counts what it is given and keeps nothing: measures the parser alone.
#[derive(Default)]
struct Counting {
    records: u64,
    zones: u64,
}

#[async_trait]
impl RecordSink for Counting {
    async fn accept(&mut self, record: EventRecord) -> Result<(), SinkError> {
        self.records += 1;
        self.zones += record.zones.len() as u64;
        Ok(())
    }
    fn reject(&mut self, _: Rejection) {}
    fn unknown(&mut self, _: &str) {}
}

/// The reader of `tests/fixtures/generated-feed.toml`'s instance, built from its keys
/// as the registry reads them.
fn generated_reader() -> PageReader {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/generated-feed.toml");
    let table: toml::Table = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut instance = table["providers"]["generated"].clone();
    let options = instance.as_table_mut().unwrap();
    // The common keys are the engine's, not the kind's.
    options.remove("kind");
    options.remove("timezone");
    let config: JsonConfig =
        boxoffice_core::registry::parse_options(serde_json::to_value(&instance).unwrap()).unwrap();
    PageReader {
        mapping: Mapping::new("generated", chrono_tz::UTC, config.fields, config.zones).unwrap(),
        format: Format::Json,
        records: config.records.unwrap_or_else(Pointer::whole),
        captures: config.next_page.into_iter().collect(),
    }
}

fn parse(c: &mut Criterion) {
    // The Fever bench's shape: 500 base events x 3 sessions x 100 zones, about 12 MB.
    let mut feed = Vec::new();
    write_feed(
        &mut feed,
        &FeedShape {
            base_events: 500,
            events_per_base: 3,
            zones: 100,
            seed: 1,
        },
    )
    .unwrap();
    let reader = generated_reader();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let mut group = c.benchmark_group("json");
    group.throughput(Throughput::Bytes(feed.len() as u64));
    group.sample_size(20);
    group.bench_function("read", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut sink = Counting::default();
                reader.read(&feed[..], None, &mut sink).await.unwrap();
                assert_eq!(sink.records, 1500);
                sink.zones
            })
        })
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
