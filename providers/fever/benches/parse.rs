//! Parser throughput on a generated feed: `cargo bench -p boxoffice-provider-fever`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use async_trait::async_trait;
use boxoffice_core::provider::SinkError;
use boxoffice_core::{EventRecord, RecordSink, Rejection};
use boxoffice_provider_fever::generate::{FeedShape, write_feed};
use boxoffice_provider_fever::{ParseContext, parse_feed};
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

fn parse(c: &mut Criterion) {
    // 500 base events x 3 sessions x 100 zones: about 14 MB, the large feed's shape.
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
    let context = ParseContext {
        provider: "fever".into(),
        timezone: chrono_tz::Europe::Madrid,
    };
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let mut group = c.benchmark_group("fever");
    group.throughput(Throughput::Bytes(feed.len() as u64));
    group.sample_size(20);
    group.bench_function("parse_feed", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut sink = Counting::default();
                parse_feed(&feed[..], &context, &mut sink).await.unwrap();
                assert_eq!(sink.records, 1500);
                sink.zones
            })
        })
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
