//! Whole documents: bad events among good ones, broken documents, identity, unknown
//! properties, and the kit's conformance check.

use std::collections::HashSet;

use boxoffice_core::EventRecord;
use boxoffice_core::provider::CollectingSink;
use boxoffice_provider_ical::{ParseContext, parse_calendar};
use boxoffice_testkit::conformance;

use super::*;

// ----- bad events among good ones -----

#[tokio::test]
async fn bad_events_are_rejected_with_reasons_and_their_neighbours_kept() {
    let sink = parse_ok(BAD_AMONG_GOOD).await;
    assert_eq!(
        keys(&sink),
        ["good-before@sala.example/", "good-after@sala.example/"]
    );
    let reasons: Vec<(&str, &str)> = sink
        .rejections
        .iter()
        .map(|r| (r.record.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 5, "{reasons:?}");
    let reason_of = |record: &str| {
        reasons
            .iter()
            .find(|(name, _)| *name == record)
            .map(|(_, reason)| *reason)
            .unwrap_or_else(|| panic!("{record} was not rejected: {reasons:?}"))
    };
    assert_eq!(reason_of("VEVENT no-start@sala.example"), "DTSTART is missing");
    assert!(
        reason_of("VEVENT impossible-date@sala.example")
            .contains("\"20261331T100000\" is not a valid date-time")
    );
    assert!(reason_of("VEVENT unknown-zone@sala.example").contains("unknown TZID \"Europe/Atlantis\""));
    assert_eq!(reason_of("VEVENT no-title@sala.example"), "SUMMARY is missing");
    let no_uid = reasons
        .iter()
        .find(|(name, _)| name.starts_with("VEVENT at line"))
        .map(|(_, reason)| *reason);
    assert_eq!(no_uid, Some("UID is missing"));
    assert!(sink.rejections.iter().all(|r| {
        r.raw
            .as_deref()
            .is_some_and(|raw| raw.starts_with("BEGIN:VEVENT"))
    }));
}

#[tokio::test]
async fn a_broken_line_rejects_only_its_event() {
    let sink = parse_ok(&calendar(&[
        "UID:a\nSUMMARY:Roto\nDTSTART:20261201T190000Z\nthis is not a content line",
        "UID:b\nSUMMARY:Bien\nDTSTART:20261201T190000Z",
    ]))
    .await;
    assert_eq!(keys(&sink), ["b/"]);
    assert!(
        sink.rejections[0].reason.contains("line 8"),
        "{:?}",
        sink.rejections
    );
}

#[tokio::test]
async fn an_end_before_the_start_is_rejected() {
    let sink = parse_ok(&calendar(&[
        "UID:a\nSUMMARY:Al revés\nDTSTART:20261201T190000Z\nDTEND:20261201T180000Z",
        "UID:b\nSUMMARY:Bien\nDTSTART:20261201T190000Z",
    ]))
    .await;
    assert_eq!(keys(&sink), ["b/"]);
    assert!(
        sink.rejections[0].reason.contains("before DTSTART"),
        "{:?}",
        sink.rejections
    );
}

#[tokio::test]
async fn a_second_event_with_the_same_uid_is_rejected_and_the_first_kept() {
    let sink = parse_ok(&calendar(&[
        "UID:dup\nSUMMARY:Primero\nDTSTART:20261201T190000Z",
        "UID:dup\nSUMMARY:Segundo\nDTSTART:20261202T190000Z",
    ]))
    .await;
    assert_eq!(sink.records.len(), 1);
    assert_eq!(sink.records[0].title, "Primero");
    assert!(
        sink.rejections[0].reason.contains("earlier VEVENT"),
        "{:?}",
        sink.rejections
    );
}

// ----- broken documents -----

#[tokio::test]
async fn a_truncated_calendar_is_malformed() {
    let message = malformed_message(TRUNCATED.as_bytes()).await;
    assert!(message.contains("truncated"), "{message}");
}

#[tokio::test]
async fn a_calendar_cut_after_its_last_event_is_malformed_too() {
    let whole = parse_ok(SINGLE_EVENTS).await;
    assert!(!whole.records.is_empty());
    let cut = SINGLE_EVENTS.trim_end().trim_end_matches("END:VCALENDAR");
    let message = malformed_message(cut.as_bytes()).await;
    assert!(
        message.contains("BEGIN:VCALENDAR of line 1 is never closed"),
        "{message}"
    );
}

#[tokio::test]
async fn unbalanced_begin_and_end_are_malformed() {
    let message = malformed_message(b"BEGIN:VCALENDAR\nBEGIN:VEVENT\nEND:VTODO\nEND:VCALENDAR\n").await;
    assert!(
        message.contains("END:VTODO does not close BEGIN:VEVENT"),
        "{message}"
    );
}

#[tokio::test]
async fn a_document_that_is_not_a_calendar_is_malformed() {
    for document in [
        &b""[..],
        b"<html><body>Not found</body></html>",
        b"BEGIN:VCARD\nEND:VCARD\n",
    ] {
        malformed_message(document).await;
    }
}

#[tokio::test]
async fn a_calendar_that_is_not_utf8_is_malformed() {
    let latin1 = b"BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nSUMMARY:M\xfasica\nDTSTART:20261201T190000Z\nEND:VEVENT\nEND:VCALENDAR\n";
    let message = malformed_message(latin1).await;
    assert!(message.contains("UTF-8"), "{message}");
}

#[tokio::test]
async fn an_empty_calendar_is_fine_and_yields_nothing() {
    let sink = parse_ok("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n").await;
    assert!(sink.records.is_empty() && sink.rejections.is_empty());
}

// ----- identity -----

#[tokio::test]
async fn ids_are_stable_across_parses_and_distinct() {
    let mut all = HashSet::new();
    for fixture in [SINGLE_EVENTS, WEEKLY_SERIES, ENDLESS_DAILY] {
        let first = parse_ok(fixture).await;
        let again = parse_ok(fixture).await;
        let ids: Vec<_> = first.records.iter().map(EventRecord::id).collect();
        assert_eq!(ids, again.records.iter().map(EventRecord::id).collect::<Vec<_>>());
        for id in ids {
            assert!(all.insert(id), "id {id} is shared");
        }
    }
    // Another instance reading the same calendar has other ids.
    let other = ParseContext {
        provider: "other-venue".into(),
        ..context()
    };
    let theirs = parse_ok_with(&other, SINGLE_EVENTS).await;
    assert!(theirs.records.iter().all(|r| !all.contains(&r.id())));
}

#[tokio::test]
async fn a_single_event_has_an_empty_session_id() {
    let sink = parse_ok(SINGLE_EVENTS).await;
    assert!(sink.records.iter().all(|r| r.key.session_id.is_empty()));
}

#[tokio::test]
async fn occurrence_ids_do_not_depend_on_the_instance_zone() {
    let ctx = ParseContext {
        timezone: chrono_tz::Asia::Tokyo,
        ..context()
    };
    let sink = parse_ok_with(&ctx, WEEKLY_SERIES).await;
    assert_eq!(
        session_ids_of(&sink, "impro-thursdays@teatro.example")
            .first()
            .copied(),
        Some("20261105T193000Z")
    );
}

// ----- unknown properties -----

#[tokio::test]
async fn unknown_properties_are_counted_and_harmless_ones_are_not() {
    let sink = parse_ok(SINGLE_EVENTS).await;
    let unknown: Vec<_> = sink.unknown.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    // DTSTAMP, LOCATION, DESCRIPTION, TRANSP, CATEGORIES, X-WR-*, VTIMEZONE and
    // VALARM are expected; CONFERENCE is not mapped.
    assert_eq!(unknown, [("VEVENT/CONFERENCE", 1)]);
}

#[tokio::test]
async fn unknown_components_are_counted() {
    let sink = parse_ok(
        "BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:t\nEND:VTODO\nBEGIN:VEVENT\nUID:e\nSUMMARY:E\nDTSTART:20261201T190000Z\nGEO:40.4;-3.7\nPERCENT-COMPLETE:5\nEND:VEVENT\nEND:VCALENDAR\n",
    )
    .await;
    let unknown: Vec<_> = sink.unknown.keys().map(String::as_str).collect();
    assert_eq!(unknown, ["VCALENDAR/VTODO", "VEVENT/PERCENT-COMPLETE"]);
}

// ----- the conformance kit -----

#[tokio::test]
async fn the_parser_keeps_the_providers_contract() {
    let parse = |bytes: Vec<u8>| async move {
        let mut sink = CollectingSink::default();
        let result = parse_calendar(&bytes, &context(), &mut sink).await;
        (result, sink)
    };
    conformance::check_parser(
        "venue",
        &[
            SINGLE_EVENTS.as_bytes().to_vec(),
            WEEKLY_SERIES.as_bytes().to_vec(),
            ENDLESS_DAILY.as_bytes().to_vec(),
        ],
        &[BAD_AMONG_GOOD.as_bytes().to_vec()],
        parse,
    )
    .await;
}
