//! Documents to records, through an instance built from its configuration: ids, times,
//! prices and zones, every rejection reason, unknown members, the conformance kit, and
//! memory bounded by a record on a large generated feed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use boxoffice_core::provider::SinkError;
use boxoffice_core::{EventRecord, ExternalKey, RecordSink, Rejection, SellMode};
use boxoffice_provider_json::UNKNOWN_CAPACITY;
use boxoffice_provider_json::generate::{FeedShape, write_feed};
use boxoffice_testkit::conformance;
use rust_decimal::Decimal;

use common::*;

fn price(text: &str) -> Decimal {
    text.parse().unwrap_or_else(|error| panic!("{text}: {error}"))
}

fn zones(record: &EventRecord) -> Vec<(String, String, u32, Decimal)> {
    record
        .zones
        .iter()
        .map(|zone| (zone.zone_id.clone(), zone.name.clone(), zone.capacity, zone.price))
        .collect()
}

fn times(record: &EventRecord) -> Vec<String> {
    let mut shown = vec![format!(
        "{} {:?} {}",
        record.start.date,
        record.start.time.map(|t| t.to_string()),
        record.start.at.to_rfc3339()
    )];
    if let Some(end) = record.end {
        shown.push(format!(
            "{} {:?} {}",
            end.date,
            end.time.map(|t| t.to_string()),
            end.at.to_rfc3339()
        ));
    }
    shown
}

#[tokio::test]
async fn a_keyed_page_is_mapped_with_ids_times_prices_and_zones() {
    let (result, sink) = parse(acme().as_ref(), &fixture("shows_page_1.json"), None).await;
    let parsed = result.unwrap();
    assert!(sink.rejections.is_empty(), "{:?}", sink.rejections);
    assert!(sink.unknown.is_empty(), "{:?}", sink.unknown);
    // The relative link, against the page's address (the configured one here).
    assert_eq!(
        parsed.next_page.as_deref(),
        Some("https://api.example.com/v1/shows?page=2")
    );
    let [morancos, late, abba] = &sink.records[..] else {
        panic!("{:?}", sink.records);
    };
    assert_eq!(
        morancos.key,
        ExternalKey {
            provider: "acme".into(),
            series_id: "322".into(),
            session_id: "1642".into(),
        }
    );
    assert_eq!(morancos.title, "Los Morancos");
    assert_eq!((morancos.sell_mode, morancos.sold_out), (SellMode::Online, false));
    // A wall clock without an offset is Madrid's (UTC+1 in December).
    assert_eq!(
        times(morancos),
        [
            "2026-12-01 Some(\"20:00:00\") 2026-12-01T19:00:00+00:00",
            "2026-12-01 Some(\"22:00:00\") 2026-12-01T21:00:00+00:00",
        ]
    );
    assert_eq!(
        zones(morancos),
        [
            ("A".into(), "Platea".into(), 14, price("65")),
            ("B".into(), "Anfiteatro".into(), 0, price("75.50")),
        ]
    );
    let range = morancos.price_range().map(|r| (r.min, r.max));
    assert_eq!(
        range,
        Some((price("65"), price("65"))),
        "only zones with seats left"
    );
    // An offset gives the instant; the wall clock is served as written.
    assert_eq!(
        times(late)[0],
        "2026-12-02 Some(\"21:30:00\") 2026-12-02T20:30:00+00:00"
    );
    assert!(late.sold_out);
    let range = late.price_range().map(|r| (r.min, r.max));
    assert_eq!(range, Some((price("65"), price("75.5"))), "sold out: every zone");
    // No session id: the event's; a date alone is all day, ending after its last day.
    assert_eq!(
        (abba.key.series_id.as_str(), abba.key.session_id.as_str()),
        ("abba-2026", "abba-2026")
    );
    assert_eq!(abba.title, "Tributo a ABBA é \"en vivo\"");
    assert_eq!(
        times(abba),
        [
            "2026-12-24 None 2026-12-23T23:00:00+00:00",
            "2026-12-26 None 2026-12-26T23:00:00+00:00",
        ]
    );
    assert!(abba.zones.is_empty() && abba.price_range().is_none());
}

#[tokio::test]
async fn epoch_seconds_offline_records_unknown_capacities_and_members() {
    let location = "https://api.example.com/v1/shows?page=2";
    let (result, sink) = parse(acme().as_ref(), &fixture("shows_page_2.json"), Some(location)).await;
    assert_eq!(
        result.map(|parsed| parsed.next_page).ok(),
        Some(None),
        "null ends the run"
    );
    let [offline, uncounted] = &sink.records[..] else {
        panic!("{:?}", sink.records);
    };
    assert_eq!(offline.sell_mode, SellMode::Offline);
    assert_eq!(
        times(offline),
        ["2026-12-01 Some(\"21:00:00\") 2026-12-01T20:00:00+00:00"],
        "epoch seconds on Madrid's wall clock"
    );
    assert_eq!(offline.end, None, "no end: it ends when it starts");
    assert_eq!(offline.ends_at(), offline.start.at);
    assert_eq!(
        times(uncounted)[0],
        "2026-12-05 Some(\"19:00:00\") 2026-12-05T18:00:00+00:00"
    );
    assert_eq!(
        zones(uncounted),
        [
            ("1".into(), "General".into(), UNKNOWN_CAPACITY, price("12")),
            ("2".into(), "VIP".into(), 0, price("30")),
        ]
    );
    let range = uncounted.price_range().map(|r| (r.min, r.max));
    assert_eq!(
        range,
        Some((price("12"), price("12"))),
        "unknown capacity counts as available"
    );
    assert_eq!(sink.unknown.get("record/venue"), Some(&1), "{:?}", sink.unknown);
    // Ids are the model's: UUIDv5 of instance, event and session.
    let expected = ExternalKey {
        provider: "acme".into(),
        series_id: "444".into(),
        session_id: "1642".into(),
    };
    assert_eq!(offline.id(), expected.id());
}

#[tokio::test]
async fn every_bad_record_is_rejected_naming_pointer_and_value_and_its_neighbours_kept() {
    let (result, sink) = parse(acme().as_ref(), &fixture("records_with_every_problem.json"), None).await;
    assert!(result.is_ok(), "{result:?}");
    let kept: Vec<_> = sink.records.iter().map(|r| r.title.as_str()).collect();
    assert_eq!(kept, ["Good before", "Good after"]);
    let date = "is not a date-time: expected ISO 8601 with an offset (2026-12-01T20:00:00+01:00, \
        …-0100, …Z), a wall clock (2026-12-01T20:00:00), a date (2026-12-01) or an epoch number";
    let expected: Vec<(&str, String)> = vec![
        ("record 2", "base_id (/show_id) is missing".into()),
        (
            "record 3",
            "base_id (/show_id) true is not a string or an integer".into(),
        ),
        (
            "record 4: base_id 4 / event_id ?",
            "event_id (/session_id) \"  \" is blank".into(),
        ),
        (
            "record 5: base_id 5 / event_id 5",
            "title (/name) is missing".into(),
        ),
        (
            "record 6: base_id 6 / event_id 6",
            "title (/name) 66 is not a string".into(),
        ),
        ("record 7: base_id 7 / event_id 7", "the title is empty".into()),
        (
            "record 8: base_id 8 / event_id 8",
            format!("starts_at (/starts) \"2026-02-30T20:00:00\" {date}"),
        ),
        (
            "record 9: base_id 9 / event_id 9",
            "starts_at (/starts) is missing".into(),
        ),
        (
            "record 10: base_id 10 / event_id 10",
            "starts_at (/starts) 1796155200.5 is not a whole number of epoch seconds".into(),
        ),
        (
            "record 11: base_id 11 / event_id 11",
            format!("ends_at (/ends) \"later\" {date}"),
        ),
        (
            "record 12: base_id 12 / event_id 12",
            "the session ends (2026-12-01 18:00:00 UTC) before it starts (2026-12-01 19:00:00 UTC)".into(),
        ),
        (
            "record 13: base_id 13 / event_id 13",
            "online (/online) is missing".into(),
        ),
        (
            "record 14: base_id 14 / event_id 14",
            "online (/online) \"yes\" is not true or false".into(),
        ),
        (
            "record 15: base_id 15 / event_id 15",
            "sold_out (/sold_out) \"maybe\" is not true or false".into(),
        ),
        (
            "record 16: base_id 16 / event_id 16",
            "zones.path (/tickets) {\"tier\":\"General\"} is not an array".into(),
        ),
        (
            "record 17: base_id 17 / event_id 17",
            "zones.price (/tickets/0/price_cents) is missing".into(),
        ),
        (
            "record 18: base_id 18 / event_id 18",
            "zones.price (/tickets/1/price_cents) \"twelve\" is not a number".into(),
        ),
        (
            "record 19: base_id 19 / event_id 19",
            "zones.price (/tickets/0/price_cents) -500 is negative".into(),
        ),
        (
            "record 20: base_id 20 / event_id 20",
            "zones.capacity (/tickets/0/left) -1 is not a whole number from 0 to 4294967295".into(),
        ),
        (
            "record 21: base_id 21 / event_id 21",
            "zones.name (/tickets/0/tier) 7 is not a string".into(),
        ),
        (
            "record 22: base_id 22 / event_id 22",
            "zones.id (/tickets/0/tier_id) 1.5 is not a string or an integer".into(),
        ),
        (
            "record 23",
            "the record is not an object: \"not a record\"".into(),
        ),
        (
            "record 24: base_id 24 / event_id 24",
            format!("title (/name) is missing; starts_at (/starts) \"soon\" {date}"),
        ),
        (
            "record 25",
            "base_id (/show_id) \"a\\u001fb\" contains a control character".into(),
        ),
    ];
    // The feed has pages: each rejection names the page it is on.
    let page = "page 1 (https://api.example.com/v1/shows?…), ";
    let expected: Vec<(String, String)> = expected
        .into_iter()
        .map(|(record, reason)| (format!("{page}{record}"), reason))
        .collect();
    let found: Vec<(String, String)> = sink
        .rejections
        .iter()
        .map(|rejection| (rejection.record.clone(), rejection.reason.clone()))
        .collect();
    assert_eq!(found, expected);
    // Each keeps its record's JSON as sent.
    let raw = |index: usize| sink.rejections[index].raw.clone().unwrap_or_default();
    assert_eq!(
        raw(1),
        r#"{"show_id": true, "session_id": 3, "name": "Boolean base id", "starts": "2026-12-01T20:00:00", "online": true}"#
    );
    assert_eq!(raw(21), "\"not a record\"");
    assert_eq!(sink.unknown.get("record/note"), Some(&1));
}

#[tokio::test]
async fn reasons_and_raw_records_are_bounded() {
    let long = "x".repeat(100_000);
    let document = format!(
        r#"{{"shows": [{{"show_id": 1, "name": "T", "starts": "{long}", "online": true, "pad": "{long}"}}], "next": null}}"#
    );
    let (_, sink) = parse(acme().as_ref(), document.as_bytes(), None).await;
    let rejection: &Rejection = &sink.rejections[0];
    assert!(rejection.reason.len() < 500, "{}", rejection.reason.len());
    assert!(rejection.reason.contains("\"xxxxxxxx"), "{}", rejection.reason);
    let raw = rejection.raw.as_deref().unwrap_or_default();
    assert!(raw.len() <= 4096 && raw.ends_with('…'), "{}", raw.len());
}

#[tokio::test]
async fn a_page_that_is_not_json_or_lacks_its_records_fails_as_a_whole() {
    for (document, expected) in [
        (&b"<html>502 Bad Gateway</html>"[..], "not JSON"),
        (b"{\"shows\": [{\"show_id\": 1,", "truncated"),
        (b"{\"data\": []}", "no records array"),
        (b"{\"shows\": {\"a\": 1}}", "not an array"),
    ] {
        let (result, _) = parse(acme().as_ref(), document, None).await;
        let error = result.unwrap_err().to_string();
        assert!(
            error.starts_with("the feed is malformed") && error.contains(expected),
            "{error}"
        );
    }
}

#[tokio::test]
async fn chunks_of_any_size_give_what_one_chunk_gives() {
    let reader = generated_reader();
    let mut feed = Vec::new();
    let shape = FeedShape {
        base_events: 3,
        events_per_base: 2,
        zones: 4,
        seed: 9,
    };
    write_feed(&mut feed, &shape).unwrap_or_default();
    let mut whole = boxoffice_core::CollectingSink::default();
    let summary = reader.read(&feed[..], None, &mut whole).await;
    assert_eq!(summary.map(|s| s.records).ok(), Some(6));
    for chunk in [5, 17, 64, 333] {
        let mut sink = boxoffice_core::CollectingSink::default();
        let summary = reader.read_in_chunks(&feed[..], chunk, None, &mut sink).await;
        assert_eq!(summary.map(|s| s.records).ok(), Some(6), "chunks of {chunk}");
        assert_eq!(sink.records, whole.records, "chunks of {chunk}");
    }
}

#[tokio::test]
async fn the_fixtures_keep_the_kits_promises() {
    let provider = acme();
    let parse = move |bytes: Vec<u8>| {
        let provider = Arc::clone(&provider);
        async move {
            let (result, sink) = parse(provider.as_ref(), &bytes, None).await;
            (result.map(|_| ()), sink)
        }
    };
    conformance::check_parser(
        "acme",
        &[fixture("shows_page_1.json"), fixture("shows_page_2.json")],
        &[fixture("records_with_every_problem.json")],
        parse,
    )
    .await;
}

/// Counts what it is given and keeps nothing.
#[derive(Default)]
struct CountingSink {
    records: u64,
    zones: u64,
    rejected: u64,
}

#[async_trait]
impl RecordSink for CountingSink {
    async fn accept(&mut self, record: EventRecord) -> Result<(), SinkError> {
        self.records += 1;
        self.zones += record.zones.len() as u64;
        Ok(())
    }

    fn reject(&mut self, _: Rejection) {
        self.rejected += 1;
    }

    fn unknown(&mut self, _: &str) {}
}

#[tokio::test]
async fn a_50_mb_generated_feed_is_mapped_with_memory_bounded_by_a_chunk() {
    let shape = FeedShape {
        base_events: 2_600,
        events_per_base: 3,
        zones: 100,
        seed: 1,
    };
    let mut feed = Vec::new();
    write_feed(&mut feed, &shape).unwrap_or_default();
    assert!(feed.len() > 50_000_000, "{} bytes", feed.len());
    let mut sink = CountingSink::default();
    let summary = generated_reader().read(&feed[..], None, &mut sink).await.unwrap();
    assert_eq!((sink.records, sink.rejected), (7_800, 0));
    assert_eq!(sink.zones, 780_000);
    // The buffer never grew past one chunk: one record (7 KB) fits many times.
    assert_eq!(summary.peak_buffer, 256 * 1024);
}

#[tokio::test]
async fn unknown_members_are_counted_under_a_bounded_number_of_names() {
    let records: Vec<String> = (0..100)
        .map(|n| {
            format!(
                r#"{{"show_id": {n}, "name": "S", "starts": "2026-12-01", "online": true, "extra_{n}": 1, "venue": "V"}}"#
            )
        })
        .collect();
    let document = format!("{{\"shows\": [{}]}}", records.join(","));
    let (_, sink) = parse(acme().as_ref(), document.as_bytes(), None).await;
    assert_eq!(sink.records.len(), 100);
    assert_eq!(sink.unknown.get("record/venue"), Some(&100));
    assert_eq!(sink.unknown.len(), 65, "{:?}", sink.unknown.keys());
    assert_eq!(sink.unknown.get("record/(other members)"), Some(&37));
}
