//! The provider kit's conformance checks: every provider crate runs them on its own
//! fixtures, so that all providers keep the same promises to the sync engine.
//!
//! ```ignore
//! #[tokio::test]
//! async fn the_provider_conforms() {
//!     let parse = |bytes: Vec<u8>| async move {
//!         let mut sink = CollectingSink::default();
//!         let result = my_provider::parse(&bytes[..], &context(), &mut sink).await;
//!         (result, sink)
//!     };
//!     conformance::check_parser("mine", &[fixture("good.xml")], &[fixture("bad.xml")], parse).await;
//! }
//! ```
//!
//! The checks panic with a message naming the broken promise: they are test helpers.

use std::collections::HashSet;
use std::future::Future;

use boxoffice_core::{CollectingSink, ProviderError};

/// What one parse returns: the outcome and what the sink collected.
pub type ParseOutcome = (Result<(), ProviderError>, CollectingSink);

/// Checks a provider's parser against the contract:
/// - each of `good` parses without error, into at least one record, each valid, of
///   instance `provider`, with distinct ids, and none rejected;
/// - parsing the same bytes twice gives the same ids (identity is stable);
/// - each of `with_bad_records` parses without error, rejects at least one record with a
///   reason, and still yields the valid ones;
/// - truncations and byte corruptions of every fixture never panic (an error or
///   rejections are fine).
pub async fn check_parser<F, Fut>(provider: &str, good: &[Vec<u8>], with_bad_records: &[Vec<u8>], parse: F)
where
    F: Fn(Vec<u8>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ParseOutcome> + Send + 'static,
{
    for (index, bytes) in good.iter().enumerate() {
        let (result, sink) = parse(bytes.clone()).await;
        assert!(result.is_ok(), "good fixture #{index} failed: {result:?}");
        assert!(!sink.records.is_empty(), "good fixture #{index} yields no record");
        assert!(
            sink.rejections.is_empty(),
            "good fixture #{index} has rejections: {:?}",
            sink.rejections
        );
        check_records(provider, index, &sink);
        let (_, again) = parse(bytes.clone()).await;
        let first: Vec<_> = sink.records.iter().map(|r| r.id()).collect();
        let second: Vec<_> = again.records.iter().map(|r| r.id()).collect();
        assert_eq!(
            first, second,
            "good fixture #{index}: ids differ between two parses"
        );
    }
    for (index, bytes) in with_bad_records.iter().enumerate() {
        let (result, sink) = parse(bytes.clone()).await;
        assert!(
            result.is_ok(),
            "fixture with bad records #{index} failed as a whole: {result:?}"
        );
        assert!(
            !sink.rejections.is_empty(),
            "fixture with bad records #{index} rejects nothing"
        );
        assert!(
            !sink.records.is_empty(),
            "fixture with bad records #{index} lost its good neighbours"
        );
        for rejection in &sink.rejections {
            assert!(
                !rejection.reason.trim().is_empty(),
                "a rejection has no reason: {rejection:?}"
            );
            assert!(
                !rejection.record.trim().is_empty(),
                "a rejection names no record: {rejection:?}"
            );
        }
        check_records(provider, index, &sink);
    }
    for bytes in good.iter().chain(with_bad_records) {
        for mutated in mutations(bytes) {
            let parse = parse.clone();
            let outcome = tokio::spawn(async move { parse(mutated).await }).await;
            assert!(outcome.is_ok(), "the parser panicked on a mutated fixture");
        }
    }
}

fn check_records(provider: &str, index: usize, sink: &CollectingSink) {
    let mut ids = HashSet::new();
    for record in &sink.records {
        assert_eq!(
            record.key.provider, provider,
            "fixture #{index}: a record of another instance"
        );
        if let Err(reason) = record.validate() {
            panic!("fixture #{index}: invalid record {:?}: {reason}", record.key);
        }
        assert!(
            ids.insert(record.id()),
            "fixture #{index}: two records share id {}",
            record.id()
        );
    }
}

/// Deterministic mutations of a document: truncations at many points, and bytes
/// overwritten with markup and non-UTF-8 values.
pub fn mutations(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let len = bytes.len();
    if len == 0 {
        return vec![Vec::new()];
    }
    let step = (len / 40).max(1);
    for cut in (0..len).step_by(step) {
        out.push(bytes[..cut].to_vec());
    }
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let replacements: &[u8] = b"<>&\"'=/\0\xff\xfe\n:;";
    for round in 0..60 {
        let mut copy = bytes.to_vec();
        for _ in 0..(1 + round % 4) {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let position = (state >> 33) as usize % len;
            copy[position] = replacements[(state >> 13) as usize % replacements.len()];
        }
        out.push(copy);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_are_deterministic_and_cover_truncations() {
        let doc = b"<a><b x=\"1\"/></a>".to_vec();
        let first = mutations(&doc);
        assert_eq!(first, mutations(&doc));
        assert!(first.contains(&Vec::new()));
        assert!(first.iter().any(|m| m.len() == doc.len() && *m != doc));
    }
}
