//! The parser against hand-written calendars: every time form, recurrence, overrides,
//! cancellations, bad events among good ones, and broken documents.

use std::collections::HashSet;
use std::time::Duration;

use boxoffice_core::conformance;
use boxoffice_core::provider::CollectingSink;
use boxoffice_core::{EventRecord, ProviderError, SellMode};
use boxoffice_provider_ical::{MAX_OCCURRENCES, ParseContext, parse_calendar};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

const SINGLE_EVENTS: &str = include_str!("fixtures/single_events_in_every_time_form.ics");
const WEEKLY_SERIES: &str = include_str!("fixtures/weekly_series_with_a_skipped_and_a_moved_night.ics");
const ENDLESS_DAILY: &str = include_str!("fixtures/endless_daily_series.ics");
const BAD_AMONG_GOOD: &str = include_str!("fixtures/calendar_with_bad_events_among_good_ones.ics");
const TRUNCATED: &str = include_str!("fixtures/truncated_download.ics");

const MADRID: Tz = chrono_tz::Europe::Madrid;

fn instant(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn time(text: &str) -> Option<NaiveTime> {
    Some(NaiveTime::parse_from_str(text, "%H:%M").unwrap_or_else(|e| panic!("{text}: {e}")))
}

/// The instance `venue`, in Madrid, on 2026-11-01 with a year's horizon.
fn context() -> ParseContext {
    ParseContext {
        provider: "venue".into(),
        timezone: MADRID,
        horizon: Duration::from_secs(365 * 86_400),
        sell_mode: SellMode::Online,
        now: instant("2026-11-01T00:00:00Z"),
    }
}

async fn parse_with(ctx: &ParseContext, calendar: &[u8]) -> (Result<(), ProviderError>, CollectingSink) {
    let mut sink = CollectingSink::default();
    let result = parse_calendar(calendar, ctx, &mut sink).await;
    (result, sink)
}

/// Parses a calendar that must be accepted as a whole.
async fn parse_ok(calendar: &str) -> CollectingSink {
    parse_ok_with(&context(), calendar).await
}

async fn parse_ok_with(ctx: &ParseContext, calendar: &str) -> CollectingSink {
    let (result, sink) = parse_with(ctx, calendar.as_bytes()).await;
    if let Err(error) = result {
        panic!("the calendar failed: {error}");
    }
    sink
}

/// Parses a calendar that must fail as a whole; the `Malformed` message.
async fn malformed_message(calendar: &[u8]) -> String {
    match parse_with(&context(), calendar).await {
        (Err(ProviderError::Malformed(message)), sink) => {
            assert!(sink.records.is_empty() && sink.rejections.is_empty());
            message
        }
        (other, _) => panic!("expected Malformed, got {other:?}"),
    }
}

fn record<'a>(sink: &'a CollectingSink, uid: &str, event_id: &str) -> &'a EventRecord {
    sink.records
        .iter()
        .find(|r| r.key.base_event_id == uid && r.key.event_id == event_id)
        .unwrap_or_else(|| panic!("no record {uid}/{event_id} in {:?}", keys(sink)))
}

fn keys(sink: &CollectingSink) -> Vec<String> {
    sink.records
        .iter()
        .map(|r| format!("{}/{}", r.key.base_event_id, r.key.event_id))
        .collect()
}

fn event_ids_of<'a>(sink: &'a CollectingSink, uid: &str) -> Vec<&'a str> {
    sink.records
        .iter()
        .filter(|r| r.key.base_event_id == uid)
        .map(|r| r.key.event_id.as_str())
        .collect()
}

/// A calendar of `events` (VEVENT bodies, without BEGIN/END).
fn calendar(events: &[&str]) -> String {
    let mut text = String::from("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\n");
    for event in events {
        text.push_str("BEGIN:VEVENT\n");
        text.push_str(event.trim());
        text.push_str("\nEND:VEVENT\n");
    }
    text.push_str("END:VCALENDAR\n");
    text
}

// ----- single events in every time form -----

#[tokio::test]
async fn a_tzid_time_is_read_in_its_zone_and_served_on_its_wall_clock() {
    let sink = parse_ok(SINGLE_EVENTS).await;
    let concert = record(&sink, "summer-concert@sala.example", "");
    assert_eq!(concert.title, "Concierto de verano, con orquesta; entrada libre");
    assert_eq!(concert.start.date, date("2026-07-15"));
    assert_eq!(concert.start.time, time("20:00"));
    // Madrid is two hours ahead of UTC in summer.
    assert_eq!(concert.start.at, instant("2026-07-15T18:00:00Z"));
    let end = concert.end.unwrap_or_else(|| panic!("no end"));
    assert_eq!(
        (end.time, end.at),
        (time("22:00"), instant("2026-07-15T20:00:00Z"))
    );
}

#[tokio::test]
async fn a_tzid_time_keeps_its_own_wall_clock_whatever_the_instance_zone() {
    let ctx = ParseContext {
        timezone: chrono_tz::America::New_York,
        ..context()
    };
    let sink = parse_ok_with(&ctx, SINGLE_EVENTS).await;
    let concert = record(&sink, "summer-concert@sala.example", "");
    assert_eq!(concert.start.time, time("20:00"));
    assert_eq!(concert.start.at, instant("2026-07-15T18:00:00Z"));
}

#[tokio::test]
async fn a_utc_time_is_served_on_the_instance_wall_clock() {
    let sink = parse_ok(SINGLE_EVENTS).await;
    let talk = record(&sink, "utc-talk@sala.example", "");
    assert_eq!(talk.start.at, instant("2026-12-01T19:00:00Z"));
    // 19:00Z is 20:00 in Madrid in winter.
    assert_eq!(
        (talk.start.date, talk.start.time),
        (date("2026-12-01"), time("20:00"))
    );
    assert_eq!(talk.end.map(|end| end.time), Some(time("21:30")));
}

#[tokio::test]
async fn a_floating_time_is_read_in_the_instance_zone() {
    let sink = parse_ok(SINGLE_EVENTS).await;
    let jam = record(&sink, "floating-jam@sala.example", "");
    assert_eq!(jam.start.time, time("21:00"));
    assert_eq!(jam.start.at, instant("2026-12-03T20:00:00Z"));

    let in_utc = ParseContext {
        timezone: chrono_tz::UTC,
        ..context()
    };
    let sink = parse_ok_with(&in_utc, SINGLE_EVENTS).await;
    let jam = record(&sink, "floating-jam@sala.example", "");
    assert_eq!(jam.start.time, time("21:00"));
    assert_eq!(jam.start.at, instant("2026-12-03T21:00:00Z"));
}

#[tokio::test]
async fn an_all_day_event_has_dates_without_times_and_ends_at_the_midnight_after_its_last_day() {
    let sink = parse_ok(SINGLE_EVENTS).await;
    let market = record(&sink, "christmas-market@sala.example", "");
    assert_eq!(market.start.date, date("2026-12-24"));
    assert_eq!(market.start.time, None);
    // Midnight in Madrid (UTC+1 in winter).
    assert_eq!(market.start.at, instant("2026-12-23T23:00:00Z"));
    let end = market.end.unwrap_or_else(|| panic!("no end"));
    // DTEND 20261226 is exclusive: the market's last day is the 25th.
    assert_eq!(end.date, date("2026-12-25"));
    assert_eq!(end.time, None);
    assert_eq!(end.at, instant("2026-12-25T23:00:00Z"));
}

#[tokio::test]
async fn an_all_day_event_without_an_end_lasts_its_day() {
    let sink = parse_ok(&calendar(&[
        "UID:day\nSUMMARY:Jornada\nDTSTART;VALUE=DATE:20261208",
    ]))
    .await;
    let end = sink.records[0].end.unwrap_or_else(|| panic!("no end"));
    assert_eq!((end.date, end.time), (date("2026-12-08"), None));
    assert_eq!(end.at, instant("2026-12-08T23:00:00Z"));
}

#[tokio::test]
async fn a_duration_gives_the_end_when_dtend_is_absent() {
    let sink = parse_ok(SINGLE_EVENTS).await;
    let workshop = record(&sink, "percussion-workshop@sala.example", "");
    let end = workshop.end.unwrap_or_else(|| panic!("no end"));
    assert_eq!((end.date, end.time), (date("2026-12-10"), time("19:30")));
    assert_eq!(end.at, instant("2026-12-10T18:30:00Z"));
}

#[tokio::test]
async fn a_duration_in_days_keeps_the_wall_clock_across_a_daylight_saving_change() {
    // Clocks go back on 2026-10-25 in Madrid: a day later is still 20:00, 25 hours on.
    let sink = parse_ok(&calendar(&[
        "UID:fest\nSUMMARY:Festival\nDTSTART;TZID=Europe/Madrid:20261024T200000\nDURATION:P1D",
    ]))
    .await;
    let end = sink.records[0].end.unwrap_or_else(|| panic!("no end"));
    assert_eq!((end.date, end.time), (date("2026-10-25"), time("20:00")));
    assert_eq!(end.at, instant("2026-10-25T19:00:00Z"));
}

#[tokio::test]
async fn an_event_with_neither_dtend_nor_duration_has_no_end() {
    let sink = parse_ok(SINGLE_EVENTS).await;
    assert_eq!(record(&sink, "open-exhibition@sala.example", "").end, None);
}

#[tokio::test]
async fn calendar_records_carry_no_prices_organizer_or_sale_window() {
    let sink = parse_ok(SINGLE_EVENTS).await;
    assert_eq!(sink.records.len(), 6, "{:?}", keys(&sink));
    for record in &sink.records {
        assert_eq!(record.key.provider, "venue");
        assert!(record.zones.is_empty());
        assert_eq!(record.price_range(), None);
        assert_eq!(record.organizer_company_id, None);
        assert!(!record.sold_out);
        assert_eq!((record.sell_from, record.sell_to), (None, None));
        assert_eq!(record.sell_mode, SellMode::Online);
    }
}

#[tokio::test]
async fn an_instance_can_declare_its_events_offline() {
    let ctx = ParseContext {
        sell_mode: SellMode::Offline,
        ..context()
    };
    let sink = parse_ok_with(&ctx, SINGLE_EVENTS).await;
    assert!(sink.records.iter().all(|r| r.sell_mode == SellMode::Offline));
}

// ----- Windows time zones (Outlook, Exchange) -----

#[tokio::test]
async fn a_windows_tzid_is_read_on_berlins_wall_clock_in_summer_and_winter() {
    let sink = parse_ok(&calendar(&[
        "UID:summer\nSUMMARY:Sommer\nDTSTART;TZID=W. Europe Standard Time:20260715T200000\nDTEND;TZID=W. Europe Standard Time:20260715T220000",
        "UID:winter\nSUMMARY:Winter\nDTSTART;TZID=W. Europe Standard Time:20261201T190000",
    ]))
    .await;
    assert!(sink.rejections.is_empty(), "{:?}", sink.rejections);
    let summer = record(&sink, "summer", "");
    // Berlin is UTC+2 in summer: served as 20:00, the instant 18:00Z.
    assert_eq!(
        (summer.start.date, summer.start.time, summer.start.at),
        (date("2026-07-15"), time("20:00"), instant("2026-07-15T18:00:00Z"))
    );
    let end = summer.end.unwrap_or_else(|| panic!("no end"));
    assert_eq!(
        (end.time, end.at),
        (time("22:00"), instant("2026-07-15T20:00:00Z"))
    );
    // And UTC+1 in winter.
    let winter = record(&sink, "winter", "");
    assert_eq!(
        (winter.start.time, winter.start.at),
        (time("19:00"), instant("2026-12-01T18:00:00Z"))
    );
}

#[tokio::test]
async fn a_windows_tzid_keeps_its_wall_clock_whatever_the_instance_zone() {
    let ctx = ParseContext {
        timezone: chrono_tz::Asia::Tokyo,
        ..context()
    };
    let sink = parse_ok_with(
        &ctx,
        &calendar(&[
            "UID:la\nSUMMARY:Los Angeles\nDTSTART;TZID=Pacific Standard Time:20261201T190000",
            "UID:quoted\nSUMMARY:Quoted\nDTSTART;TZID=\"Pacific Standard Time\":20260715T190000",
        ]),
    )
    .await;
    assert!(sink.rejections.is_empty(), "{:?}", sink.rejections);
    // Los Angeles is UTC-8 in December and UTC-7 in July.
    let la = record(&sink, "la", "");
    assert_eq!(
        (la.start.date, la.start.time, la.start.at),
        (date("2026-12-01"), time("19:00"), instant("2026-12-02T03:00:00Z"))
    );
    let quoted = record(&sink, "quoted", "");
    assert_eq!(
        (quoted.start.time, quoted.start.at),
        (time("19:00"), instant("2026-07-16T02:00:00Z"))
    );
}

#[tokio::test]
async fn a_windows_series_recurs_on_its_zones_wall_clock() {
    // Berlin's clocks go back on 2026-10-25: 20:00 stays 20:00, an hour later in UTC.
    let sink = parse_ok(&calendar(&[
        "UID:w\nSUMMARY:Wöchentlich\nDTSTART;TZID=w. europe standard time:20261018T200000\nRRULE:FREQ=WEEKLY;COUNT=2",
    ]))
    .await;
    assert_eq!(event_ids_of(&sink, "w"), ["20261018T180000Z", "20261025T190000Z"]);
}

#[tokio::test]
async fn an_unknown_windows_like_tzid_is_rejected_naming_it() {
    let sink = parse_ok(&calendar(&[
        "UID:mars\nSUMMARY:Marte\nDTSTART;TZID=Mars Standard Time:20261201T190000",
        "UID:ok\nSUMMARY:Bien\nDTSTART;TZID=Romance Standard Time:20261201T190000",
    ]))
    .await;
    assert_eq!(keys(&sink), ["ok/"]);
    assert_eq!(record(&sink, "ok", "").start.at, instant("2026-12-01T18:00:00Z"));
    assert_eq!(sink.rejections.len(), 1);
    let reason = &sink.rejections[0].reason;
    assert!(reason.contains("unknown TZID \"Mars Standard Time\""), "{reason}");
}

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
        event_ids_of(&sink, "impro-thursdays@teatro.example"),
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
        .filter(|r| r.key.event_id == "20261203T193000Z")
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
    assert_eq!(event_ids_of(&sink, "x"), ["20261201T190000Z", "20261203T190000Z"]);
}

#[tokio::test]
async fn an_all_day_series_uses_dates_as_occurrence_ids() {
    let sink = parse_ok(&calendar(&[
        "UID:d\nSUMMARY:Feria\nDTSTART;VALUE=DATE:20261207\nRRULE:FREQ=DAILY;COUNT=3\nEXDATE;VALUE=DATE:20261208",
    ]))
    .await;
    assert_eq!(event_ids_of(&sink, "d"), ["20261207", "20261209"]);
    assert!(sink.records.iter().all(|r| r.start.time.is_none()));
}

#[tokio::test]
async fn rdate_adds_an_occurrence() {
    let sink = parse_ok(&calendar(&[
        "UID:r\nSUMMARY:Funciones\nDTSTART:20261201T190000Z\nRDATE:20261215T190000Z,20261220T190000Z",
    ]))
    .await;
    assert_eq!(
        event_ids_of(&sink, "r"),
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
        event_ids_of(&sink, "h"),
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
        .filter(|r| r.key.base_event_id != "cancelled-gala@teatro.example");
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
async fn a_single_event_has_an_empty_event_id() {
    let sink = parse_ok(SINGLE_EVENTS).await;
    assert!(sink.records.iter().all(|r| r.key.event_id.is_empty()));
}

#[tokio::test]
async fn occurrence_ids_do_not_depend_on_the_instance_zone() {
    let ctx = ParseContext {
        timezone: chrono_tz::Asia::Tokyo,
        ..context()
    };
    let sink = parse_ok_with(&ctx, WEEKLY_SERIES).await;
    assert_eq!(
        event_ids_of(&sink, "impro-thursdays@teatro.example")
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
