//! Single events in every time form: TZID (IANA and Windows names), UTC, floating,
//! all-day, and how each ends.

use boxoffice_core::SellMode;
use boxoffice_provider_ical::ParseContext;

use super::*;

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
    assert_eq!(
        session_ids_of(&sink, "w"),
        ["20261018T180000Z", "20261025T190000Z"]
    );
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
