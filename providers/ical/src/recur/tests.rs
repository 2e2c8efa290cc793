//! The rules against hand-computed calendars, and the bounds against hostile rules.

use super::*;
use std::time::{Duration, Instant};

fn at(text: &str) -> NaiveDateTime {
    parse_date_time(text).unwrap_or_else(|| panic!("{text}"))
}

fn rule(text: &str) -> Rule {
    Rule::parse(text).unwrap_or_else(|reason| panic!("{text}: {reason}"))
}

/// The occurrences of `text` from `start` (UTC clock) up to 2030, DTSTART first,
/// each as `format`.
fn expand_as(text: &str, start: &str, format: &str) -> Vec<String> {
    let start = at(start);
    let window_end = at("20300101T000000").and_utc();
    let rest = rule(text)
        .occurrences(
            start,
            &|local| local.and_utc(),
            window_end,
            1000,
            &mut MAX_STEPS.clone(),
        )
        .unwrap();
    std::iter::once(start)
        .chain(rest)
        .map(|date| date.format(format).to_string())
        .collect()
}

/// The dates of [`expand_as`].
fn expand(text: &str, start: &str) -> Vec<String> {
    expand_as(text, start, "%Y%m%d")
}

/// Why `text` from `start` cannot be expanded up to 2030.
fn refusal(text: &str, start: &str) -> String {
    let window_end = at("20300101T000000").and_utc();
    let mut steps_left = MAX_STEPS;
    match rule(text).occurrences(
        at(start),
        &|local| local.and_utc(),
        window_end,
        1000,
        &mut steps_left,
    ) {
        Ok(occurrences) => panic!("{text} from {start} gave {} occurrences", occurrences.len()),
        Err(reason) => reason,
    }
}

#[test]
fn daily_with_interval_and_count() {
    assert_eq!(
        expand("FREQ=DAILY;INTERVAL=2;COUNT=3", "20260101T100000"),
        ["20260101", "20260103", "20260105"]
    );
}

#[test]
fn weekly_on_several_days_until_a_date() {
    // 2026-01-06 is a Tuesday.
    assert_eq!(
        expand("FREQ=WEEKLY;BYDAY=TU,TH;UNTIL=20260115", "20260106T200000"),
        ["20260106", "20260108", "20260113", "20260115"]
    );
}

#[test]
fn every_other_week_counts_weeks_from_wkst() {
    assert_eq!(
        expand(
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,SU;WKST=MO;COUNT=4",
            "20260105T100000"
        ),
        ["20260105", "20260111", "20260119", "20260125"]
    );
    assert_eq!(
        expand(
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,SU;WKST=SU;COUNT=4",
            "20260105T100000"
        ),
        ["20260105", "20260118", "20260119", "20260201"]
    );
}

#[test]
fn monthly_skips_months_without_the_day() {
    assert_eq!(
        expand("FREQ=MONTHLY;COUNT=3", "20260131T100000"),
        ["20260131", "20260331", "20260531"]
    );
}

#[test]
fn monthly_by_ordinal_weekday() {
    // The first Friday and the last Sunday of each month.
    assert_eq!(
        expand("FREQ=MONTHLY;BYDAY=1FR;COUNT=3", "20260102T210000"),
        ["20260102", "20260206", "20260306"]
    );
    assert_eq!(
        expand("FREQ=MONTHLY;BYDAY=-1SU;COUNT=2", "20260125T120000"),
        ["20260125", "20260222"]
    );
}

#[test]
fn monthly_last_weekday_by_setpos() {
    assert_eq!(
        expand(
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=3",
            "20260130T100000"
        ),
        ["20260130", "20260227", "20260331"]
    );
}

#[test]
fn monthly_by_negative_month_day() {
    assert_eq!(
        expand("FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=3", "20260131T100000"),
        ["20260131", "20260228", "20260331"]
    );
}

#[test]
fn yearly_on_the_same_day_and_by_month() {
    assert_eq!(
        expand("FREQ=YEARLY;COUNT=3", "20240229T100000"),
        ["20240229", "20280229"]
    );
    assert_eq!(
        expand("FREQ=YEARLY;BYMONTH=6,12;BYDAY=1SA;COUNT=3", "20260606T100000"),
        ["20260606", "20261205", "20270605"]
    );
    assert_eq!(
        expand("FREQ=YEARLY;BYDAY=-1MO;COUNT=2", "20261228T100000"),
        ["20261228", "20271227"]
    );
}

#[test]
fn dtstart_counts_as_the_first_occurrence_even_off_rule() {
    // 2026-01-07 is a Wednesday; the rule says Mondays.
    assert_eq!(
        expand("FREQ=WEEKLY;BYDAY=MO;COUNT=2", "20260107T100000"),
        ["20260107", "20260112"]
    );
}

#[test]
fn until_as_an_instant_includes_the_last_occurrence() {
    assert_eq!(
        expand("FREQ=DAILY;UNTIL=20260103T100000Z", "20260101T100000"),
        ["20260101", "20260102", "20260103"]
    );
}

#[test]
fn until_before_dtstart_leaves_dtstart_alone() {
    assert_eq!(
        expand("FREQ=DAILY;UNTIL=20251231", "20260101T100000"),
        ["20260101"]
    );
}

#[test]
fn by_hour_adds_times_to_each_day() {
    assert_eq!(
        expand_as(
            "FREQ=DAILY;BYHOUR=18,21;COUNT=4",
            "20260101T180000",
            "%Y%m%dT%H%M"
        ),
        ["20260101T1800", "20260101T2100", "20260102T1800", "20260102T2100"]
    );
}

#[test]
fn hourly_rules_step_by_their_interval() {
    assert_eq!(
        expand_as("FREQ=HOURLY;INTERVAL=3;COUNT=4", "20260101T220000", "%Y%m%dT%H%M"),
        ["20260101T2200", "20260102T0100", "20260102T0400", "20260102T0700"]
    );
    // Every hour and a half, within the opening hours.
    assert_eq!(
        expand_as(
            "FREQ=MINUTELY;INTERVAL=90;BYHOUR=10,11,12,13;COUNT=3",
            "20260101T100000",
            "%H%M"
        ),
        ["1000", "1130", "1300"]
    );
}

#[test]
fn by_week_no_selects_iso_weeks() {
    // The Monday of ISO week 20: 2026-05-11, 2027-05-17, 2028-05-15.
    assert_eq!(
        expand("FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO;COUNT=3", "20260511T100000"),
        ["20260511", "20270517", "20280515"]
    );
}

#[test]
fn by_year_day_counts_from_either_end_of_the_year() {
    // Day 100 of 2026 is 10 April; the last day of the year is 31 December.
    assert_eq!(
        expand("FREQ=YEARLY;BYYEARDAY=100,-1;COUNT=4", "20260410T100000"),
        ["20260410", "20261231", "20270410", "20271231"]
    );
    // 2028 is a leap year: its 100th day is 9 April.
    assert_eq!(
        expand("FREQ=YEARLY;BYYEARDAY=100;COUNT=3", "20260410T100000"),
        ["20260410", "20270410", "20280409"]
    );
}

#[test]
fn by_set_pos_picks_among_days_and_times() {
    // The second-to-last weekday of each month.
    assert_eq!(
        expand(
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-2;COUNT=3",
            "20260129T100000"
        ),
        ["20260129", "20260226", "20260330"]
    );
    // The first and the last of the day's three sessions.
    assert_eq!(
        expand_as(
            "FREQ=DAILY;BYHOUR=12,17,21;BYSETPOS=1,-1;COUNT=4",
            "20260101T120000",
            "%dT%H"
        ),
        ["01T12", "01T21", "02T12", "02T21"]
    );
}

#[test]
fn only_the_latest_occurrences_are_kept() {
    let start = at("20260101T100000");
    let window_end = at("20260201T000000").and_utc();
    let kept = rule("FREQ=DAILY")
        .occurrences(
            start,
            &|local| local.and_utc(),
            window_end,
            5,
            &mut MAX_STEPS.clone(),
        )
        .unwrap_or_default();
    assert_eq!(kept.first().copied(), Some(at("20260127T100000")));
    assert_eq!(kept.len(), 5);
}

#[test]
fn an_ancient_start_is_refused_rather_than_walked_forever() {
    let reason = refusal("FREQ=DAILY", "00010101T100000");
    assert!(reason.contains("too far in the past"), "{reason}");
    // From the year 1000: fewer periods than the bound, but periods and
    // occurrences together are more.
    let reason = refusal("FREQ=DAILY", "10000101T100000");
    assert!(reason.contains("steps"), "{reason}");
}

#[test]
fn hostile_rules_are_refused_quickly_and_in_bounded_memory() {
    let began = Instant::now();
    // Billions of seconds before the horizon, with and without a COUNT that
    // would let it run.
    for text in [
        "FREQ=SECONDLY",
        "FREQ=SECONDLY;COUNT=4000000000",
        "FREQ=MINUTELY;UNTIL=20291231T000000Z",
        "FREQ=SECONDLY;BYSECOND=0,30;COUNT=4000000000",
    ] {
        let reason = refusal(text, "19000101T000000");
        assert!(reason.contains("steps"), "{text}: {reason}");
    }
    // 31 million occurrences in each year.
    let every_second = format!(
        "FREQ=YEARLY;BYHOUR={};BYMINUTE={};BYSECOND={}",
        (0..24).map(|n| n.to_string()).collect::<Vec<_>>().join(","),
        (0..60).map(|n| n.to_string()).collect::<Vec<_>>().join(","),
        (0..60).map(|n| n.to_string()).collect::<Vec<_>>().join(","),
    );
    let reason = refusal(&every_second, "20260101T000000");
    assert!(reason.contains("in each FREQ=YEARLY period"), "{reason}");
    // Generous: the refusals take milliseconds; walking the rules would take hours.
    assert!(began.elapsed() < Duration::from_secs(20), "{:?}", began.elapsed());
}

#[test]
fn the_rules_of_one_event_share_their_steps() {
    // A daily rule over a year takes 365 periods and 365 occurrences.
    let start = at("20260101T100000");
    let window_end = at("20261231T235959").and_utc();
    let daily = rule("FREQ=DAILY");
    let mut steps_left = MAX_STEPS;
    let occurrences = daily.occurrences(start, &|local| local.and_utc(), window_end, 1000, &mut steps_left);
    assert_eq!(occurrences.map(|all| all.len()), Ok(364));
    // DTSTART and the occurrence past the window are walked too.
    let spent = MAX_STEPS - steps_left;
    assert!((2 * 364..=2 * 366).contains(&spent), "{spent}");
    // What is left is not enough for the same rule again.
    let mut steps_left = 700;
    let reason = daily
        .occurrences(start, &|local| local.and_utc(), window_end, 1000, &mut steps_left)
        .err()
        .unwrap_or_default();
    assert!(reason.contains("steps"), "{reason}");
}

#[test]
fn a_rule_that_never_matches_ends_at_the_crates_iteration_limit() {
    let began = Instant::now();
    // 30 February never comes.
    assert_eq!(
        expand("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "20260101T100000"),
        ["20260101"]
    );
    assert_eq!(
        expand("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;COUNT=5", "20260101T100000"),
        ["20260101"]
    );
    assert!(began.elapsed() < Duration::from_secs(20), "{:?}", began.elapsed());
}

#[test]
fn a_fine_rule_with_a_count_near_now_is_followed() {
    let times = expand_as("FREQ=SECONDLY;INTERVAL=20;COUNT=4", "20260101T100000", "%H%M%S");
    assert_eq!(times, ["100000", "100020", "100040", "100100"]);
}

#[test]
fn unsupported_and_invalid_rules_say_why() {
    let reason = |text: &str| Rule::parse(text).unwrap_err();
    assert!(reason("FREQ=WEEKLY;BYDAY=2MO").contains("ordinal"));
    assert!(reason("FREQ=YEARLY;BYWEEKNO=1;BYDAY=1MO").contains("BYWEEKNO"));
    assert!(reason("COUNT=2").contains("no FREQ"));
    assert!(reason("FREQ=DAILY;COUNT=0").contains("COUNT=\"0\""));
    assert!(reason("FREQ=DAILY;INTERVAL=x").contains("not a valid INTERVAL"));
    assert!(reason("FREQ=DAILY;INTERVAL=0").contains("INTERVAL=\"0\""));
    assert!(reason("FREQ=DAILY;BYDAY=XX").contains("`XX` is not a valid weekday"));
    assert!(reason("FREQ=DAILY;BYHOUR=24").contains("BYHOUR"));
    assert!(reason("FREQ=FORTNIGHTLY").contains("not a valid frequency"));
    assert!(reason("FREQ=DAILY;FREQ=DAILY").contains("twice"));
    assert!(reason("FREQ=DAILY;COLOUR=RED").contains("unknown"));
    assert!(reason("FREQ=DAILY;UNTIL=tomorrow").contains("UNTIL"));
    // Text the crate's parser should never see.
    assert!(reason("FREQ=DAILY;BYDAY=éa").contains("BYDAY=\"éa\" is not valid"));
    assert!(reason("FREQ=DAILY;BYDAY=MO:X").contains("not valid"));
}

#[test]
fn a_rule_invalid_for_its_start_says_why_when_expanded() {
    // BYMONTHDAY cannot go with WEEKLY (RFC 5545 §3.3.10); the crate checks it.
    let reason = refusal("FREQ=WEEKLY;BYMONTHDAY=1", "20260101T100000");
    assert!(reason.contains("BYMONTHDAY"), "{reason}");
}
