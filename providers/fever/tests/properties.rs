//! Properties of the parser over arbitrary and mutated feeds: it never panics, it
//! reads no further than the size limit, and every `<event>` of a well-formed feed
//! comes out as exactly one record or one rejection. Plus the provider kit's
//! conformance checks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use boxoffice_core::provider::CollectingSink;
use boxoffice_core::{Provider, ProviderError};
use boxoffice_provider_fever::generate::{FeedShape, write_feed};
use boxoffice_provider_fever::{ParseContext, parse_feed};
use boxoffice_testkit::conformance;
use proptest::prelude::*;

fn context() -> ParseContext {
    ParseContext {
        provider: "fever".into(),
        timezone: chrono_tz::Europe::Madrid,
    }
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn parse(bytes: &[u8]) -> (Result<u64, ProviderError>, CollectingSink) {
    runtime().block_on(async {
        let mut sink = CollectingSink::default();
        let result = parse_feed(bytes, &context(), &mut sink).await;
        (result, sink)
    })
}

fn generated(shape: FeedShape) -> Vec<u8> {
    let mut out = Vec::new();
    write_feed(&mut out, &shape).unwrap();
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in 1..=3_usize,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3_u8), 1..12),
    ) {
        let mut bytes = fixture(&format!("response_{which}.xml"));
        for (index, byte, kind) in edits {
            if bytes.is_empty() {
                break;
            }
            let at = index.index(bytes.len());
            match kind {
                0 => bytes[at] = byte,
                1 => { bytes.remove(at); }
                _ => bytes.insert(at, byte),
            }
        }
        let (result, sink) = parse(&bytes);
        // Whatever happened, nothing is invented: never more records than events.
        let events = bytes.windows(6).filter(|w| w == b"<event").count();
        prop_assert!(sink.records.len() + sink.rejections.len() <= events + 1, "{result:?}");
    }

    #[test]
    fn every_event_of_a_well_formed_feed_is_one_record_or_one_rejection(
        base_events in 0..20_usize,
        events_per_base in 0..4_usize,
        zones in 0..6_usize,
        seed in any::<u64>(),
    ) {
        let (result, sink) = parse(&generated(FeedShape { base_events, events_per_base, zones, seed }));
        prop_assert!(result.is_ok(), "{result:?}");
        prop_assert_eq!(sink.records.len() + sink.rejections.len(), base_events * events_per_base);
        prop_assert!(sink.rejections.is_empty(), "{:?}", sink.rejections);
    }
}

/// A provider over in-memory bytes, to run the engine's metered read on them.
struct Bytes(Vec<u8>);

#[async_trait::async_trait]
impl Provider for Bytes {
    async fn open(
        &self,
        _: boxoffice_core::OpenRequest<'_>,
    ) -> Result<boxoffice_core::Opened, ProviderError> {
        Ok(boxoffice_core::Opened::Feed(boxoffice_core::Feed::new(Box::new(
            std::io::Cursor::new(self.0.clone()),
        ))))
    }

    async fn parse(
        &self,
        document: boxoffice_core::Document,
        sink: &mut dyn boxoffice_core::RecordSink,
    ) -> Result<boxoffice_core::Parsed, ProviderError> {
        parse_feed(document.body, &context(), sink).await?;
        Ok(boxoffice_core::Parsed::default())
    }
}

#[test]
fn reading_stops_at_the_size_limit_whatever_the_feed() {
    use boxoffice_core::sync::feed::{FeedLimits, read_page};
    let feed = generated(FeedShape {
        base_events: 200,
        events_per_base: 3,
        zones: 20,
        seed: 3,
    });
    for limit in [10_u64, 1000, 100_000] {
        let result = runtime().block_on(async {
            let mut sink = CollectingSink::default();
            let limits = FeedLimits {
                timeout: std::time::Duration::from_secs(30),
                max_bytes: limit,
            };
            read_page(
                &Bytes(feed.clone()),
                Default::default(),
                1,
                limits,
                None,
                None,
                &mut sink,
            )
            .await
        });
        assert!(
            matches!(result, Err(ProviderError::TooLarge { limit: l }) if l == limit),
            "{result:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_conforms_to_the_kit() {
    let parse = |bytes: Vec<u8>| async move {
        let mut sink = CollectingSink::default();
        let result = parse_feed(&bytes[..], &context(), &mut sink).await.map(|_| ());
        (result, sink)
    };
    let good = vec![
        fixture("response_1.xml"),
        generated(FeedShape {
            base_events: 5,
            events_per_base: 2,
            zones: 3,
            seed: 9,
        }),
    ];
    let with_bad = vec![fixture("response_2.xml"), fixture("response_3.xml")];
    conformance::check_parser("fever", &good, &with_bad, parse).await;
}
