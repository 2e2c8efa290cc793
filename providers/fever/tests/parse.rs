//! The parser against the recorded responses of the feed and hand-written edge cases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::str::FromStr;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use boxoffice_core::provider::CollectingSink;
use boxoffice_core::provider::SinkError;
use boxoffice_core::{EventRecord, ProviderError, RecordSink, Rejection, SellMode, StoreError};
use boxoffice_provider_fever::{ParseContext, parse_feed};
use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;

const RESPONSE_1: &str = include_str!("fixtures/response_1.xml");
const RESPONSE_2: &str = include_str!("fixtures/response_2.xml");
const RESPONSE_3: &str = include_str!("fixtures/response_3.xml");

fn context(timezone: chrono_tz::Tz) -> ParseContext {
    ParseContext {
        provider: "fever".into(),
        timezone,
    }
}

async fn parse_in(timezone: chrono_tz::Tz, feed: &[u8]) -> (Result<u64, ProviderError>, CollectingSink) {
    let mut sink = CollectingSink::default();
    let result = parse_feed(feed, &context(timezone), &mut sink).await;
    (result, sink)
}

async fn parse(feed: &[u8]) -> (Result<u64, ProviderError>, CollectingSink) {
    parse_in(chrono_tz::UTC, feed).await
}

/// Parses a feed that must be accepted as a whole.
async fn parse_ok(feed: &str) -> CollectingSink {
    let (result, sink) = parse(feed.as_bytes()).await;
    if let Err(error) = result {
        panic!("the feed failed: {error}");
    }
    sink
}

/// Parses a feed that must fail as a whole; the `Malformed` message.
async fn malformed_message(feed: &[u8]) -> String {
    match parse(feed).await.0 {
        Err(ProviderError::Malformed(message)) => message,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

fn record<'a>(sink: &'a CollectingSink, base: &str, event: &str) -> &'a EventRecord {
    sink.records
        .iter()
        .find(|r| r.key.series_id == base && r.key.session_id == event)
        .unwrap_or_else(|| panic!("no record {base}/{event} in {:?}", keys(sink)))
}

fn keys(sink: &CollectingSink) -> Vec<String> {
    sink.records
        .iter()
        .map(|r| format!("{}/{}", r.key.series_id, r.key.session_id))
        .collect()
}

fn at(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").unwrap()
}

fn price(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

/// A whole feed around `base_events`.
fn feed(base_events: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<eventList xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="1.0" xsi:noNamespaceSchemaLocation="eventList.xsd"><output>{base_events}</output></eventList>"#
    )
}

/// A good base event with one good event, `base_event_id` `base`, event `event`.
fn good(base: &str, event: &str) -> String {
    format!(
        r#"<base_event base_event_id="{base}" sell_mode="online" title="Good {base}">
  <event event_start_date="2021-06-30T21:00:00" event_end_date="2021-06-30T22:00:00" event_id="{event}" sold_out="false">
    <zone zone_id="1" capacity="10" price="20.00" name="Platea" numbered="true" />
  </event>
</base_event>"#
    )
}

/// A feed of a good record, then `bad`, then another good record.
fn among_good(bad: &str) -> String {
    feed(&format!("{}{bad}{}", good("1", "1"), good("3", "3")))
}

fn only_rejection(sink: &CollectingSink) -> &Rejection {
    assert_eq!(sink.rejections.len(), 1, "{:?}", sink.rejections);
    &sink.rejections[0]
}

fn assert_neighbours_kept(sink: &CollectingSink) {
    assert_eq!(keys(sink), ["1/1", "3/3"]);
}

// ----- the recorded responses -----

#[tokio::test]
async fn response_1_maps_every_session_of_every_base_event() {
    let sink = parse_ok(RESPONSE_1).await;

    assert_eq!(keys(&sink), ["291/291", "322/1642", "1591/1642"]);
    assert!(sink.rejections.is_empty(), "{:?}", sink.rejections);
    assert!(sink.unknown.is_empty(), "{:?}", sink.unknown);
    assert!(sink.records.iter().all(|r| r.sell_mode == SellMode::Online));
    assert!(sink.records.iter().all(|r| r.key.provider == "fever"));

    let camela = record(&sink, "291", "291");
    assert_eq!(camela.title, "Camela en concierto");
    assert_eq!(camela.organizer_company_id, None);
    assert!(!camela.sold_out);
    assert_eq!(
        camela.start.date,
        NaiveDate::from_ymd_opt(2021, 6, 30).unwrap_or_default()
    );
    assert_eq!(camela.start.at.naive_utc(), at("2021-06-30T21:00:00"));
    assert_eq!(
        camela.end.map(|end| end.at.naive_utc()),
        Some(at("2021-06-30T22:00:00"))
    );
    assert_eq!(camela.sell_from, Some(at("2020-07-01T00:00:00")));
    assert_eq!(camela.sell_to, Some(at("2021-06-30T20:00:00")));
    let zones: Vec<_> = camela
        .zones
        .iter()
        .map(|z| {
            (
                z.zone_id.as_str(),
                z.name.as_str(),
                z.capacity,
                z.price,
                z.numbered,
            )
        })
        .collect();
    assert_eq!(
        zones,
        [
            ("40", "Platea", 243, price("20.00"), true),
            ("38", "Grada 2", 100, price("15.00"), false),
            ("30", "A28", 90, price("30.00"), true),
        ]
    );

    let pantomima = record(&sink, "322", "1642");
    assert_eq!(pantomima.title, "Pantomima Full");
    assert_eq!(pantomima.organizer_company_id.as_deref(), Some("2"));
    assert_eq!(pantomima.zones.len(), 1);
    assert_eq!(pantomima.zones[0].price, price("55.00"));
    assert_eq!(
        pantomima.end.map(|end| end.at.naive_utc()),
        Some(at("2021-02-10T21:30:00"))
    );

    let morancos = record(&sink, "1591", "1642");
    assert_eq!(morancos.title, "Los Morancos");
    assert_eq!(morancos.zones.len(), 2);
}

#[tokio::test]
async fn sessions_sharing_an_event_id_under_different_base_events_have_distinct_ids() {
    let sink = parse_ok(RESPONSE_1).await;
    assert_ne!(
        record(&sink, "322", "1642").id(),
        record(&sink, "1591", "1642").id()
    );
}

#[tokio::test]
async fn two_zones_with_the_same_id_are_both_kept_in_feed_order() {
    let sink = parse_ok(RESPONSE_1).await;
    let zones: Vec<_> = record(&sink, "1591", "1642")
        .zones
        .iter()
        .map(|z| (z.zone_id.as_str(), z.capacity, z.price, z.numbered))
        .collect();
    assert_eq!(
        zones,
        [
            ("186", 2, price("75.00"), true),
            ("186", 16, price("65.00"), false)
        ]
    );
}

#[tokio::test]
async fn parse_reports_the_bytes_of_the_document() {
    let (result, _) = parse(RESPONSE_1.as_bytes()).await;
    assert_eq!(result.ok(), Some(RESPONSE_1.len() as u64));
}

#[tokio::test]
async fn response_2_keeps_good_sessions_and_rejects_the_impossible_date() {
    let sink = parse_ok(RESPONSE_2).await;

    assert_eq!(keys(&sink), ["291/291", "1591/1642"]);
    assert!(sink.unknown.is_empty(), "{:?}", sink.unknown);

    let camela = record(&sink, "291", "291");
    let capacities: Vec<_> = camela.zones.iter().map(|z| z.capacity).collect();
    assert_eq!(capacities, [240, 50, 90]);

    let morancos = record(&sink, "1591", "1642");
    assert_eq!(
        morancos.end.map(|end| end.at.naive_utc()),
        Some(at("2021-07-31T21:20:00"))
    );
    let capacities: Vec<_> = morancos.zones.iter().map(|z| z.capacity).collect();
    assert_eq!(capacities, [0, 14]);

    let rejection = only_rejection(&sink);
    assert_eq!(rejection.record, "base_event 444 / event 1642");
    assert!(
        rejection
            .reason
            .contains(r#"event_start_date "2021-09-31T20:00:00" is not a valid date-time"#),
        "{}",
        rejection.reason
    );
    let raw = rejection.raw.as_deref().unwrap_or_default();
    assert!(raw.contains(r#"event_start_date="2021-09-31T20:00:00""#), "{raw}");
    assert!(raw.contains("Tributo a Juanito Valderrama"), "{raw}");
    assert!(raw.len() <= 4096);
}

#[tokio::test]
async fn response_2_no_longer_has_the_session_of_322() {
    let sink = parse_ok(RESPONSE_2).await;
    assert!(sink.records.iter().all(|r| r.key.series_id != "322"));
}

#[tokio::test]
async fn response_3_carries_the_changed_values() {
    let sink = parse_ok(RESPONSE_3).await;

    assert_eq!(keys(&sink), ["291/291", "1591/1642"]);
    let camela = record(&sink, "291", "291");
    assert_eq!(
        camela.end.map(|end| end.at.naive_utc()),
        Some(at("2021-06-30T21:30:00"))
    );
    let capacities: Vec<_> = camela.zones.iter().map(|z| z.capacity).collect();
    assert_eq!(capacities, [200, 0, 80]);
    let morancos = record(&sink, "1591", "1642");
    let capacities: Vec<_> = morancos.zones.iter().map(|z| z.capacity).collect();
    assert_eq!(capacities, [0, 12]);
    assert_eq!(only_rejection(&sink).record, "base_event 444 / event 1642");
}

#[tokio::test]
async fn wall_clock_times_are_read_in_the_instance_time_zone() {
    let (result, sink) = parse_in(chrono_tz::Europe::Madrid, RESPONSE_1.as_bytes()).await;
    assert!(result.is_ok(), "{result:?}");
    let camela = record(&sink, "291", "291");
    assert_eq!(camela.start.at.naive_utc(), at("2021-06-30T19:00:00"));
    assert_eq!(camela.start.at.to_rfc3339(), "2021-06-30T19:00:00+00:00");
    assert_eq!(
        camela.start.time.map(|time| time.to_string()).as_deref(),
        Some("21:00:00")
    );
    assert_eq!(camela.start.date.to_string(), "2021-06-30");
    // Winter: one hour ahead.
    let pantomima = record(&sink, "322", "1642");
    assert_eq!(pantomima.start.at.naive_utc(), at("2021-02-10T19:00:00"));
    // Sales windows stay wall-clock.
    assert_eq!(camela.sell_to, Some(at("2021-06-30T20:00:00")));
}

// ----- bad records among good ones -----

#[tokio::test]
async fn a_non_numeric_price_rejects_only_its_session() {
    let sink = parse_ok(&among_good(
        r#"<base_event base_event_id="2" sell_mode="online" title="Bad"><event event_start_date="2021-06-30T21:00:00" event_end_date="2021-06-30T22:00:00" event_id="20"><zone zone_id="9" capacity="5" price="twenty" /></event></base_event>"#,
    ))
    .await;
    assert_neighbours_kept(&sink);
    let rejection = only_rejection(&sink);
    assert_eq!(rejection.record, "base_event 2 / event 20");
    assert!(
        rejection
            .reason
            .contains(r#"zone 9: price "twenty" is not a decimal number"#),
        "{}",
        rejection.reason
    );
    assert!(
        rejection
            .raw
            .as_deref()
            .unwrap_or_default()
            .contains(r#"price="twenty""#)
    );
}

#[tokio::test]
async fn a_non_numeric_capacity_rejects_only_its_session() {
    let sink = parse_ok(&among_good(
        r#"<base_event base_event_id="2" sell_mode="online" title="Bad"><event event_start_date="2021-06-30T21:00:00" event_end_date="2021-06-30T22:00:00" event_id="20"><zone zone_id="9" capacity="lots" price="1.00" /></event></base_event>"#,
    ))
    .await;
    assert_neighbours_kept(&sink);
    assert!(only_rejection(&sink).reason.contains(r#"capacity "lots""#));
}

#[tokio::test]
async fn a_missing_event_id_rejects_the_session_with_a_question_mark_for_its_id() {
    let sink = parse_ok(&among_good(
        r#"<base_event base_event_id="2" sell_mode="online" title="Bad"><event event_start_date="2021-06-30T21:00:00" event_end_date="2021-06-30T22:00:00" /></base_event>"#,
    ))
    .await;
    assert_neighbours_kept(&sink);
    let rejection = only_rejection(&sink);
    assert_eq!(rejection.record, "base_event 2 / event ?");
    assert_eq!(rejection.reason, "event_id is missing");
}

#[tokio::test]
async fn a_bad_sell_mode_rejects_every_session_of_its_base_event() {
    let sink = parse_ok(&among_good(
        r#"<base_event base_event_id="2" sell_mode="sometimes" title="Bad">
             <event event_start_date="2021-06-30T21:00:00" event_end_date="2021-06-30T22:00:00" event_id="20" />
             <event event_start_date="2021-07-30T21:00:00" event_end_date="2021-07-30T22:00:00" event_id="21" />
           </base_event>"#,
    ))
    .await;
    assert_neighbours_kept(&sink);
    let rejected: Vec<_> = sink.rejections.iter().map(|r| r.record.as_str()).collect();
    assert_eq!(rejected, ["base_event 2 / event 20", "base_event 2 / event 21"]);
    assert!(
        sink.rejections.iter().all(|r| r
            .reason
            .contains(r#"sell_mode "sometimes" is neither "online" nor "offline""#)),
        "{:?}",
        sink.rejections
    );
}

#[tokio::test]
async fn a_bad_sold_out_rejects_only_its_session() {
    let sink = parse_ok(&among_good(
        r#"<base_event base_event_id="2" sell_mode="online" title="Bad"><event event_start_date="2021-06-30T21:00:00" event_end_date="2021-06-30T22:00:00" event_id="20" sold_out="maybe" /></base_event>"#,
    ))
    .await;
    assert_neighbours_kept(&sink);
    assert!(
        only_rejection(&sink)
            .reason
            .contains(r#"sold_out "maybe" is neither "true" nor "false""#)
    );
}

#[tokio::test]
async fn a_negative_price_rejects_only_its_session() {
    let sink = parse_ok(&among_good(
        r#"<base_event base_event_id="2" sell_mode="online" title="Bad"><event event_start_date="2021-06-30T21:00:00" event_end_date="2021-06-30T22:00:00" event_id="20"><zone zone_id="9" capacity="5" price="-3.50" /></event></base_event>"#,
    ))
    .await;
    assert_neighbours_kept(&sink);
    assert!(
        only_rejection(&sink)
            .reason
            .contains(r#"price "-3.50" is negative"#)
    );
}

#[tokio::test]
async fn a_missing_base_event_id_names_the_record_with_a_question_mark() {
    let sink = parse_ok(&among_good(
        r#"<base_event sell_mode="online" title="Bad"><event event_start_date="2021-06-30T21:00:00" event_end_date="2021-06-30T22:00:00" event_id="20" /></base_event>"#,
    ))
    .await;
    assert_neighbours_kept(&sink);
    let rejection = only_rejection(&sink);
    assert_eq!(rejection.record, "base_event ? / event 20");
    assert_eq!(rejection.reason, "base_event_id is missing");
}

#[tokio::test]
async fn a_session_ending_before_it_starts_is_rejected() {
    let sink = parse_ok(&among_good(
        r#"<base_event base_event_id="2" sell_mode="online" title="Bad"><event event_start_date="2021-06-30T21:00:00" event_end_date="2021-06-30T20:00:00" event_id="20" /></base_event>"#,
    ))
    .await;
    assert_neighbours_kept(&sink);
    assert!(only_rejection(&sink).reason.contains("ends"));
}

#[tokio::test]
async fn an_event_without_zones_is_a_record_without_zones() {
    let sink = parse_ok(&feed(
        r#"<base_event base_event_id="2" sell_mode="offline" title="No zones"><event event_start_date="2021-06-30T21:00:00" event_end_date="2021-06-30T22:00:00" event_id="20" /></base_event>"#,
    ))
    .await;
    assert!(sink.rejections.is_empty(), "{:?}", sink.rejections);
    let record = record(&sink, "2", "20");
    assert!(record.zones.is_empty());
    assert_eq!(record.sell_mode, SellMode::Offline);
    assert!(!record.sold_out);
}

#[tokio::test]
async fn optional_attributes_take_their_defaults() {
    let sink = parse_ok(&feed(
        r#"<base_event base_event_id="2" sell_mode="online" title="Minimal &amp; fine"><event event_start_date="2021-06-30T21:00:00" event_end_date="2021-06-30T22:00:00" event_id="20" sold_out="true"><zone zone_id="9" capacity="5" price="1" /></event></base_event>"#,
    ))
    .await;
    let record = record(&sink, "2", "20");
    assert_eq!(record.title, "Minimal & fine");
    assert!(record.sold_out);
    assert_eq!(record.sell_from, None);
    assert_eq!(record.organizer_company_id, None);
    assert_eq!(record.zones[0].name, "");
    assert!(!record.zones[0].numbered);
}

// ----- unknown elements and attributes -----

#[tokio::test]
async fn unknown_elements_and_attributes_are_counted_and_skipped() {
    let sink = parse_ok(&feed(
        r#"<banner><event event_id="x" /></banner>
           <base_event base_event_id="2" sell_mode="online" title="Drift" mood="happy">
             <foo><bar/></foo>
             <event event_start_date="2021-06-30T21:00:00" event_end_date="2021-06-30T22:00:00" event_id="20" colour="red">
               <zone zone_id="9" capacity="5" price="1.00" seat_map="x"><note>ok</note></zone>
               <promo />
             </event>
             <event event_start_date="2021-06-30T21:00:00" event_end_date="2021-06-30T22:00:00" event_id="21" colour="blue" />
           </base_event>"#,
    ))
    .await;
    assert_eq!(keys(&sink), ["2/20", "2/21"]);
    assert!(sink.rejections.is_empty(), "{:?}", sink.rejections);
    assert_eq!(record(&sink, "2", "20").zones.len(), 1);
    let unknown: Vec<_> = sink.unknown.iter().map(|(what, n)| (what.as_str(), *n)).collect();
    assert_eq!(
        unknown,
        [
            ("base_event/foo", 1),
            ("base_event@mood", 1),
            ("event/promo", 1),
            ("event@colour", 2),
            ("output/banner", 1),
            ("zone/note", 1),
            ("zone@seat_map", 1),
        ]
    );
}

#[tokio::test]
async fn unknown_root_attributes_are_counted_but_the_schema_ones_are_not() {
    let sink = parse_ok(r#"<eventList version="1.0" generated="now"><output/></eventList>"#).await;
    assert_eq!(sink.unknown.keys().collect::<Vec<_>>(), ["eventList@generated"]);
}

// ----- feeds that fail as a whole -----

#[tokio::test]
async fn an_empty_output_is_zero_records() {
    let sink = parse_ok(&feed("")).await;
    assert!(sink.records.is_empty());
    let sink = parse_ok(r#"<eventList version="1.0"><output/></eventList>"#).await;
    assert!(sink.records.is_empty());
    assert!(sink.rejections.is_empty());
}

#[tokio::test]
async fn a_feed_cut_in_the_middle_is_malformed_and_says_truncated() {
    let cut = &RESPONSE_1.as_bytes()[..RESPONSE_1.len() / 2];
    let message = malformed_message(cut).await;
    assert!(message.contains("truncated"), "{message}");
}

#[tokio::test]
async fn a_feed_cut_anywhere_before_its_end_tag_fails_as_truncated() {
    let end = RESPONSE_1.find("</eventList>").unwrap_or_default() + "</eventList>".len();
    assert!(end > 100);
    for length in 0..end {
        let (result, _) = parse(&RESPONSE_1.as_bytes()[..length]).await;
        match result {
            Err(ProviderError::Malformed(message)) if message.contains("truncated") => {}
            other => panic!("cut at {length}: expected a truncated feed, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_empty_body_is_malformed() {
    let message = malformed_message(b"").await;
    assert!(message.contains("empty"), "{message}");
}

#[tokio::test]
async fn garbage_bytes_are_malformed() {
    malformed_message(b"\x00\x9f\x92\x96 not xml at all <<<>>>").await;
    malformed_message(b"Service temporarily unavailable").await;
    malformed_message(b"{\"events\": []}").await;
}

#[tokio::test]
async fn a_doctype_is_refused_at_once_without_expanding_entities() {
    let billion_laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<eventList version="1.0"><output><base_event base_event_id="1" sell_mode="online" title="&lol9;"/></output></eventList>"#;
    let started = Instant::now();
    let message = malformed_message(billion_laughs.as_bytes()).await;
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        message.contains("DOCTYPE declarations are not accepted"),
        "{message}"
    );
}

#[tokio::test]
async fn an_undefined_entity_without_a_doctype_is_malformed() {
    let message = malformed_message(
        feed(r#"<base_event base_event_id="1" sell_mode="online" title="&lol9;"/>"#).as_bytes(),
    )
    .await;
    assert!(message.contains("lol9"), "{message}");
}

#[tokio::test]
async fn another_root_element_is_malformed() {
    let message = malformed_message(b"<html><body>Maintenance</body></html>").await;
    assert!(message.contains("<html>"), "{message}");
}

#[tokio::test]
async fn mismatched_tags_are_malformed() {
    malformed_message(feed("<base_event></event>").as_bytes()).await;
}

#[tokio::test]
async fn a_second_root_or_trailing_text_is_malformed() {
    malformed_message(b"<eventList><output/></eventList><eventList/>").await;
    malformed_message(b"<eventList><output/></eventList> trailing").await;
}

#[tokio::test]
async fn a_duplicate_attribute_is_malformed() {
    malformed_message(
        feed(r#"<base_event base_event_id="1" base_event_id="2" sell_mode="online" title="x"/>"#).as_bytes(),
    )
    .await;
}

#[tokio::test]
async fn invalid_utf8_inside_an_attribute_fails_the_feed_without_panicking() {
    let mut bytes = feed(
        r#"<base_event base_event_id="2" sell_mode="online" title="Caf#"><event event_start_date="2021-06-30T21:00:00" event_end_date="2021-06-30T22:00:00" event_id="20" /></base_event>"#,
    )
    .into_bytes();
    let hash = bytes.iter().position(|&b| b == b'#').unwrap_or_default();
    bytes[hash] = 0xE9; // Latin-1 'é'
    let message = malformed_message(&bytes).await;
    assert!(message.contains("UTF-8"), "{message}");
}

#[tokio::test]
async fn a_declared_non_utf8_encoding_is_malformed() {
    let message =
        malformed_message(br#"<?xml version="1.0" encoding="ISO-8859-1"?><eventList><output/></eventList>"#)
            .await;
    assert!(message.contains("UTF-8"), "{message}");
}

#[tokio::test]
async fn a_utf8_byte_order_mark_is_accepted() {
    let mut bytes = vec![0xEF, 0xBB, 0xBF];
    bytes.extend_from_slice(RESPONSE_1.as_bytes());
    let (result, sink) = parse(&bytes).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(sink.records.len(), 3);
}

#[tokio::test]
async fn random_mutations_of_a_fixture_never_panic() {
    // A small deterministic fuzz: flip bytes all over a real response. Every outcome
    // is acceptable except a panic (which fails the test).
    let original = RESPONSE_2.as_bytes();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..500 {
        let mut bytes = original.to_vec();
        for _ in 0..(next() % 4 + 1) {
            let at = (next() % bytes.len() as u64) as usize;
            bytes[at] = (next() % 256) as u8;
        }
        let _ = parse(&bytes).await;
    }
}

// ----- the sink -----

/// A sink whose store fails on the second record.
#[derive(Default)]
struct FailingSink {
    accepted: usize,
}

#[async_trait]
impl RecordSink for FailingSink {
    async fn accept(&mut self, _record: EventRecord) -> Result<(), SinkError> {
        self.accepted += 1;
        if self.accepted == 2 {
            return Err(SinkError::new(StoreError::Unavailable("database down".into())));
        }
        Ok(())
    }
    fn reject(&mut self, _rejection: Rejection) {}
    fn unknown(&mut self, _what: &str) {}
}

#[tokio::test]
async fn a_store_failure_stops_the_parse_and_is_returned() {
    let mut sink = FailingSink::default();
    let result = parse_feed(RESPONSE_1.as_bytes(), &context(chrono_tz::UTC), &mut sink).await;
    assert!(
        matches!(&result, Err(ProviderError::Sink(error)) if error.to_string().contains("database down")),
        "{result:?}"
    );
    assert_eq!(sink.accepted, 2);
}
