//! Recurring events: rules, RDATE and EXDATE, overrides, the horizon and the bounds,
//! and the sell mode of a series and its occurrences.

use std::time::Duration;

use boxoffice_core::SellMode;
use boxoffice_provider_ical::{MAX_OCCURRENCES, ParseContext};

use super::*;

// ----- recurrence -----

#[tokio::test]
async fn a_weekly_rule_with_count_and_exdate_yields_the_right_occurrences() {
    assert!(
        WEEKLY_SERIES.contains("\r\n"),
        "the fixture lost its CRLF line ends"
    );
    let sink = parse_ok(WEEKLY_SERIES).await;
    // COUNT=6 from Thursday 5 November at 20:30 Madrid (19:30Z), less the 19th.
    assert_eq!(
        session_ids_of(&sink, "impro-thursdays@teatro.example"),
        [
            "20261105T193000Z",
            "20261112T193000Z",
            "20261126T193000Z",
            "20261203T193000Z",
            "20261210T193000Z",
        ]
    );
    let first = record(&sink, "impro-thursdays@teatro.example", "20261105T193000Z");
    assert_eq!(first.title, "Impro los jueves");
    assert_eq!(first.start.time, time("20:30"));
    assert_eq!(first.end.map(|end| end.time), Some(time("22:00")));
}

#[tokio::test]
async fn a_moved_occurrence_replaces_the_generated_one_under_the_same_id() {
    let sink = parse_ok(WEEKLY_SERIES).await;
    let moved: Vec<_> = sink
        .records
        .iter()
        .filter(|r| r.key.session_id == "20261203T193000Z")
        .collect();
    assert_eq!(moved.len(), 1, "the override was added beside the occurrence");
    let moved = moved[0];
    assert_eq!(moved.title, "Impro los jueves (sesión especial)");
    assert_eq!(
        (moved.start.date, moved.start.time),
        (date("2026-12-03"), time("21:30"))
    );
    assert_eq!(moved.start.at, instant("2026-12-03T20:30:00Z"));
    assert_eq!(moved.end.map(|end| end.time), Some(time("23:00")));
}

#[tokio::test]
async fn a_weekly_rule_keeps_its_wall_clock_across_a_daylight_saving_change() {
    let sink = parse_ok(&calendar(&[
        "UID:w\nSUMMARY:Semanal\nDTSTART;TZID=Europe/Madrid:20261018T200000\nRRULE:FREQ=WEEKLY;COUNT=2",
    ]))
    .await;
    let starts: Vec<_> = sink.records.iter().map(|r| (r.start.time, r.start.at)).collect();
    assert_eq!(
        starts,
        [
            (time("20:00"), instant("2026-10-18T18:00:00Z")),
            (time("20:00"), instant("2026-10-25T19:00:00Z")),
        ]
    );
}

#[tokio::test]
async fn a_monthly_rule_on_the_first_friday_is_followed() {
    let sink = parse_ok(&calendar(&[
        "UID:m\nSUMMARY:Primer viernes\nDTSTART:20261106T220000\nRRULE:FREQ=MONTHLY;BYDAY=1FR;COUNT=3",
    ]))
    .await;
    let dates: Vec<_> = sink.records.iter().map(|r| r.start.date).collect();
    assert_eq!(
        dates,
        [date("2026-11-06"), date("2026-12-04"), date("2027-01-01")]
    );
}

#[tokio::test]
async fn exdate_in_utc_excludes_the_same_instant_as_a_tzid_start() {
    let sink = parse_ok(&calendar(&[
        "UID:x\nSUMMARY:Diario\nDTSTART;TZID=Europe/Madrid:20261201T200000\nRRULE:FREQ=DAILY;COUNT=3\nEXDATE:20261202T190000Z",
    ]))
    .await;
    assert_eq!(
        session_ids_of(&sink, "x"),
        ["20261201T190000Z", "20261203T190000Z"]
    );
}

#[tokio::test]
async fn an_all_day_series_uses_dates_as_occurrence_ids() {
    let sink = parse_ok(&calendar(&[
        "UID:d\nSUMMARY:Feria\nDTSTART;VALUE=DATE:20261207\nRRULE:FREQ=DAILY;COUNT=3\nEXDATE;VALUE=DATE:20261208",
    ]))
    .await;
    assert_eq!(session_ids_of(&sink, "d"), ["20261207", "20261209"]);
    assert!(sink.records.iter().all(|r| r.start.time.is_none()));
}

#[tokio::test]
async fn rdate_adds_an_occurrence() {
    let sink = parse_ok(&calendar(&[
        "UID:r\nSUMMARY:Funciones\nDTSTART:20261201T190000Z\nRDATE:20261215T190000Z,20261220T190000Z",
    ]))
    .await;
    assert_eq!(
        session_ids_of(&sink, "r"),
        ["20261201T190000Z", "20261215T190000Z", "20261220T190000Z"]
    );
}

#[tokio::test]
async fn the_horizon_limits_an_endless_rule() {
    let month = ParseContext {
        horizon: Duration::from_secs(30 * 86_400),
        ..context()
    };
    let sink = parse_ok_with(&month, ENDLESS_DAILY).await;
    // Every day from 1 October (past ones too) until the horizon, 1 December 00:00Z.
    assert_eq!(sink.records.len(), 31 + 30);
    assert_eq!(sink.records[0].start.date, date("2026-10-01"));
    let last = sink.records.last().map(|r| r.start.date);
    assert_eq!(last, Some(date("2026-11-30")));

    let year = parse_ok(ENDLESS_DAILY).await;
    assert_eq!(year.records.len(), 31 + 365);
}

#[tokio::test]
async fn a_rule_with_more_occurrences_than_the_cap_keeps_the_latest() {
    let sink = parse_ok(&calendar(&[
        "UID:old\nSUMMARY:Desde 2020\nDTSTART;TZID=Europe/Madrid:20200101T190000\nRRULE:FREQ=DAILY",
    ]))
    .await;
    assert_eq!(sink.records.len(), MAX_OCCURRENCES);
    let last = sink.records.last().map(|r| r.start.date);
    assert_eq!(last, Some(date("2027-10-31")));
    assert!(sink.records.iter().all(|r| r.start.date > date("2020-01-01")));
}

#[tokio::test]
async fn an_unsupported_rule_rejects_its_event_only() {
    let sink = parse_ok(&calendar(&[
        "UID:f\nSUMMARY:Cada quincena\nDTSTART:20261201T100000Z\nRRULE:FREQ=FORTNIGHTLY",
        "UID:ok\nSUMMARY:Bien\nDTSTART:20261201T100000Z",
    ]))
    .await;
    assert_eq!(keys(&sink), ["ok/"]);
    assert_eq!(sink.rejections.len(), 1);
    assert!(
        sink.rejections[0].reason.contains("FORTNIGHTLY"),
        "{:?}",
        sink.rejections
    );
}

#[tokio::test]
async fn an_hourly_rule_yields_an_occurrence_per_hour_on_the_zones_wall_clock() {
    let sink = parse_ok(&calendar(&[
        "UID:h\nSUMMARY:Visita guiada\nDTSTART;TZID=Europe/Madrid:20261201T100000\nDTEND;TZID=Europe/Madrid:20261201T104500\nRRULE:FREQ=HOURLY;BYHOUR=10,11,12,17,18;COUNT=7",
    ]))
    .await;
    assert_eq!(
        session_ids_of(&sink, "h"),
        [
            "20261201T090000Z",
            "20261201T100000Z",
            "20261201T110000Z",
            "20261201T160000Z",
            "20261201T170000Z",
            "20261202T090000Z",
            "20261202T100000Z",
        ]
    );
    let evening = record(&sink, "h", "20261201T170000Z");
    assert_eq!(evening.start.time, time("18:00"));
    assert_eq!(evening.end.map(|end| end.time), Some(time("18:45")));
}

#[tokio::test]
async fn a_yearly_rule_by_week_number_and_set_position_is_followed() {
    // The last weekday of ISO week 10, at 19:00 Madrid time: Friday 2027-03-12, then
    // Friday 2028-03-10, within a horizon of three years.
    let three_years = ParseContext {
        horizon: Duration::from_secs(3 * 365 * 86_400),
        ..context()
    };
    let sink = parse_ok_with(&three_years, &calendar(&[
        "UID:y\nSUMMARY:Aniversario\nDTSTART;TZID=Europe/Madrid:20261120T190000\nRRULE:FREQ=YEARLY;BYWEEKNO=10;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=3",
    ]),
    )
    .await;
    let dates: Vec<_> = sink.records.iter().map(|r| r.start.date).collect();
    assert_eq!(
        dates,
        [date("2026-11-20"), date("2027-03-12"), date("2028-03-10")]
    );
}

#[tokio::test]
async fn a_hostile_rule_is_rejected_with_a_reason_and_its_neighbours_kept() {
    let sink = parse_ok(&calendar(&[
        "UID:storm\nSUMMARY:Cada segundo\nDTSTART:19000101T000000Z\nRRULE:FREQ=SECONDLY",
        "UID:storm-count\nSUMMARY:Cada segundo\nDTSTART:19000101T000000Z\nRRULE:FREQ=SECONDLY;COUNT=4000000000",
        "UID:ok\nSUMMARY:Bien\nDTSTART:20261201T100000Z",
    ]))
    .await;
    assert_eq!(keys(&sink), ["ok/"]);
    let reasons: Vec<_> = sink.rejections.iter().map(|r| r.reason.as_str()).collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons.iter().all(|reason| reason.contains("500000 steps")),
        "{reasons:?}"
    );
}

// ----- sell mode -----

#[tokio::test]
async fn a_cancelled_event_is_kept_offline() {
    let sink = parse_ok(WEEKLY_SERIES).await;
    let gala = record(&sink, "cancelled-gala@teatro.example", "");
    assert_eq!(gala.sell_mode, SellMode::Offline);
    let others = sink
        .records
        .iter()
        .filter(|r| r.key.series_id != "cancelled-gala@teatro.example");
    assert!(others.clone().count() > 0);
    assert!(others.into_iter().all(|r| r.sell_mode == SellMode::Online));
}

#[tokio::test]
async fn a_cancelled_occurrence_is_offline_while_its_series_is_not() {
    let sink = parse_ok(&calendar(&[
        "UID:s\nSUMMARY:Serie\nDTSTART:20261201T190000Z\nRRULE:FREQ=DAILY;COUNT=2",
        "UID:s\nRECURRENCE-ID:20261202T190000Z\nSUMMARY:Serie\nSTATUS:CANCELLED\nDTSTART:20261202T190000Z",
    ]))
    .await;
    let modes: Vec<_> = sink.records.iter().map(|r| r.sell_mode).collect();
    assert_eq!(modes, [SellMode::Online, SellMode::Offline]);
}
