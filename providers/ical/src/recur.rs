//! The subset of RFC 5545 recurrence rules (§3.3.10) that venues' calendars use.
//!
//! Supported: `FREQ=DAILY|WEEKLY|MONTHLY|YEARLY`, `INTERVAL`, `COUNT`, `UNTIL`, `BYDAY`
//! (with ordinals such as `2TU` or `-1FR` in MONTHLY and YEARLY rules), `BYMONTHDAY`,
//! `BYMONTH`, `BYSETPOS` and `WKST`. Anything else (`BYHOUR`, `BYWEEKNO`, `BYYEARDAY`,
//! sub-daily frequencies...) is refused with a reason rather than guessed at.
//!
//! Occurrences are computed on the wall clock of DTSTART, as the RFC says: a weekly
//! event at 20:00 Madrid time stays at 20:00 across daylight-saving changes.

use std::collections::VecDeque;

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, NaiveDateTime, TimeDelta, Utc, Weekday};

use crate::content::quote;
use crate::value::{parse_date, parse_date_time};

/// How many periods and candidate days one rule may walk through before reaching the
/// horizon: a bound on the work an (old or hostile) rule can cause.
pub(crate) const MAX_STEPS: u64 = 500_000;

/// The unit a rule repeats in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Frequency {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

/// Where a rule stops, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Until {
    /// `UNTIL=20261231`: the last day, inclusive.
    Date(NaiveDate),
    /// `UNTIL=20261231T235959`: on DTSTART's clock.
    Local(NaiveDateTime),
    /// `UNTIL=20261231T225959Z`: an instant.
    Instant(DateTime<Utc>),
}

/// A parsed RRULE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    frequency: Frequency,
    interval: u32,
    count: Option<u64>,
    until: Option<Until>,
    /// Weekdays, with an ordinal within the month or year when given (`-1FR`).
    by_day: Vec<(Option<i32>, Weekday)>,
    by_month_day: Vec<i32>,
    by_month: Vec<u32>,
    by_set_pos: Vec<i32>,
    week_start: Weekday,
}

impl Rule {
    /// Parses an RRULE value; why it cannot be followed otherwise.
    pub fn parse(value: &str) -> Result<Rule, String> {
        let mut frequency = None;
        let mut rule = Rule {
            frequency: Frequency::Daily,
            interval: 1,
            count: None,
            until: None,
            by_day: Vec::new(),
            by_month_day: Vec::new(),
            by_month: Vec::new(),
            by_set_pos: Vec::new(),
            week_start: Weekday::Mon,
        };
        let mut seen: Vec<String> = Vec::new();
        for part in value.split(';').map(str::trim).filter(|part| !part.is_empty()) {
            let (name, text) = part
                .split_once('=')
                .ok_or_else(|| format!("RRULE part {} has no '='", quote(part)))?;
            let name = name.trim().to_ascii_uppercase();
            let text = text.trim();
            if seen.contains(&name) {
                return Err(format!("RRULE part {name} is given twice"));
            }
            seen.push(name.clone());
            let bad = || format!("RRULE {name}={} is not valid", quote(text));
            match name.as_str() {
                "FREQ" => {
                    frequency = Some(match text.to_ascii_uppercase().as_str() {
                        "DAILY" => Frequency::Daily,
                        "WEEKLY" => Frequency::Weekly,
                        "MONTHLY" => Frequency::Monthly,
                        "YEARLY" => Frequency::Yearly,
                        "SECONDLY" | "MINUTELY" | "HOURLY" => {
                            return Err(format!("RRULE FREQ={text} is not supported"));
                        }
                        _ => return Err(bad()),
                    });
                }
                "INTERVAL" => {
                    rule.interval = text.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?;
                }
                "COUNT" => rule.count = Some(text.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?),
                "UNTIL" => rule.until = Some(parse_until(text).ok_or_else(bad)?),
                "BYDAY" => rule.by_day = list(text, parse_by_day).ok_or_else(bad)?,
                "BYMONTHDAY" => {
                    rule.by_month_day = list(text, |item| {
                        item.parse().ok().filter(|n: &i32| (1..=31).contains(&n.abs()))
                    })
                    .ok_or_else(bad)?;
                }
                "BYMONTH" => {
                    rule.by_month = list(text, |item| item.parse().ok().filter(|n| (1..=12).contains(n)))
                        .ok_or_else(bad)?;
                }
                "BYSETPOS" => {
                    rule.by_set_pos = list(text, |item| {
                        item.parse().ok().filter(|n: &i32| (1..=366).contains(&n.abs()))
                    })
                    .ok_or_else(bad)?;
                }
                "WKST" => rule.week_start = parse_weekday(text).ok_or_else(bad)?,
                "BYSECOND" | "BYMINUTE" | "BYHOUR" | "BYYEARDAY" | "BYWEEKNO" => {
                    return Err(format!("RRULE part {name} is not supported"));
                }
                _ => return Err(format!("RRULE part {} is unknown", quote(&name))),
            }
        }
        rule.frequency = frequency.ok_or_else(|| "RRULE has no FREQ".to_owned())?;
        let ordinals = rule.by_day.iter().any(|(ordinal, _)| ordinal.is_some());
        if ordinals && matches!(rule.frequency, Frequency::Daily | Frequency::Weekly) {
            return Err("RRULE BYDAY with an ordinal (e.g. 2TU) needs FREQ=MONTHLY or YEARLY".into());
        }
        if !rule.by_month_day.is_empty() && rule.frequency == Frequency::Weekly {
            return Err("RRULE BYMONTHDAY cannot be used with FREQ=WEEKLY".into());
        }
        Ok(rule)
    }

    /// The occurrences after `start` (DTSTART, which the caller adds itself and which
    /// counts as the first for COUNT), up to COUNT, UNTIL and `window_end`, in order;
    /// only the last `keep` of them when there are more. `to_instant` reads a time on
    /// DTSTART's clock.
    pub fn occurrences(
        &self,
        start: NaiveDateTime,
        to_instant: &dyn Fn(NaiveDateTime) -> DateTime<Utc>,
        window_end: DateTime<Utc>,
        keep: usize,
    ) -> Result<Vec<NaiveDateTime>, String> {
        let mut kept = VecDeque::new();
        // DTSTART is the first occurrence, whether or not it matches the rule.
        let mut counted: u64 = 1;
        let mut steps: u64 = 0;
        // Candidates start on their period's first day, at DTSTART's time or later:
        // a period beginning more than a day after the window cannot hold any.
        let last_period_start = window_end
            .checked_add_signed(TimeDelta::days(1))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let time = start.time();
        'periods: for period in 0u64.. {
            let Some(first_day) = self.period_start(start.date(), period) else {
                break;
            };
            if to_instant(first_day.and_time(time)) > last_period_start || self.until_is_before_day(first_day)
            {
                break;
            }
            let dates = self.candidates(start.date(), period);
            steps += 1 + dates.len() as u64;
            if steps > MAX_STEPS {
                return Err(format!(
                    "the RRULE takes more than {MAX_STEPS} steps to reach the horizon (DTSTART {} is too far in the past)",
                    start.date()
                ));
            }
            for date in dates {
                let occurrence = date.and_time(time);
                if occurrence <= start {
                    continue;
                }
                if self.is_past_until(occurrence, to_instant) || to_instant(occurrence) > window_end {
                    break 'periods;
                }
                counted += 1;
                if self.count.is_some_and(|count| counted > count) {
                    break 'periods;
                }
                kept.push_back(occurrence);
                if kept.len() > keep {
                    kept.pop_front();
                }
            }
        }
        Ok(kept.into())
    }

    /// The first day of period number `period` (0 holds DTSTART).
    fn period_start(&self, start: NaiveDate, period: u64) -> Option<NaiveDate> {
        let step = period.checked_mul(u64::from(self.interval))?;
        match self.frequency {
            Frequency::Daily => start.checked_add_days(Days::new(step)),
            Frequency::Weekly => {
                week_start(start, self.week_start).checked_add_days(Days::new(step.checked_mul(7)?))
            }
            Frequency::Monthly => start
                .with_day(1)?
                .checked_add_months(Months::new(u32::try_from(step).ok()?)),
            Frequency::Yearly => {
                let year = start.year().checked_add(i32::try_from(step).ok()?)?;
                NaiveDate::from_ymd_opt(year, 1, 1)
            }
        }
    }

    /// The days of period number `period` the rule selects, sorted, BYSETPOS applied.
    fn candidates(&self, start: NaiveDate, period: u64) -> Vec<NaiveDate> {
        let Some(first_day) = self.period_start(start, period) else {
            return Vec::new();
        };
        let mut dates = match self.frequency {
            Frequency::Daily => {
                let matches = self.month_allowed(first_day.month())
                    && (self.by_month_day.is_empty() || month_days_match(&self.by_month_day, first_day))
                    && (self.by_day.is_empty()
                        || self.by_day.iter().any(|(_, day)| *day == first_day.weekday()));
                if matches { vec![first_day] } else { Vec::new() }
            }
            Frequency::Weekly => first_day
                .iter_days()
                .take(7)
                .filter(|date| self.month_allowed(date.month()))
                .filter(|date| {
                    if self.by_day.is_empty() {
                        date.weekday() == start.weekday()
                    } else {
                        self.by_day.iter().any(|(_, day)| *day == date.weekday())
                    }
                })
                .collect(),
            Frequency::Monthly => {
                if self.month_allowed(first_day.month()) {
                    self.month_dates(first_day, start.day())
                } else {
                    Vec::new()
                }
            }
            Frequency::Yearly => self.year_dates(first_day.year(), start),
        };
        dates.sort_unstable();
        dates.dedup();
        if self.by_set_pos.is_empty() {
            return dates;
        }
        let mut selected: Vec<NaiveDate> = self
            .by_set_pos
            .iter()
            .filter_map(|position| {
                let index = if *position > 0 {
                    usize::try_from(*position - 1).ok()?
                } else {
                    dates
                        .len()
                        .checked_sub(usize::try_from(position.unsigned_abs()).ok()?)?
                };
                dates.get(index).copied()
            })
            .collect();
        selected.sort_unstable();
        selected.dedup();
        selected
    }

    fn month_allowed(&self, month: u32) -> bool {
        self.by_month.is_empty() || self.by_month.contains(&month)
    }

    /// The days of the month starting on `first` that the rule selects; DTSTART's day
    /// of the month when no BYMONTHDAY or BYDAY says otherwise (months without that
    /// day are skipped, as the RFC says).
    fn month_dates(&self, first: NaiveDate, default_day: u32) -> Vec<NaiveDate> {
        let days = days_in_month(first);
        if !self.by_month_day.is_empty() {
            return self
                .by_month_day
                .iter()
                .filter_map(|day| resolve_month_day(first, *day, days))
                .filter(|date| self.by_day.is_empty() || self.weekday_in_month_matches(*date, days))
                .collect();
        }
        if !self.by_day.is_empty() {
            return (0..days)
                .filter_map(|offset| first.checked_add_days(Days::new(u64::from(offset))))
                .filter(|date| self.weekday_in_month_matches(*date, days))
                .collect();
        }
        first
            .with_day(default_day)
            .map(|date| vec![date])
            .unwrap_or_default()
    }

    /// Whether `date`'s weekday is among BYDAY, at the ordinal given if any (counted
    /// within its month, of `days` days).
    fn weekday_in_month_matches(&self, date: NaiveDate, days: u32) -> bool {
        let from_start = (date.day() - 1) / 7 + 1;
        let from_end = days.saturating_sub(date.day()) / 7 + 1;
        self.by_day.iter().any(|(ordinal, weekday)| {
            *weekday == date.weekday()
                && match ordinal {
                    None => true,
                    Some(n) if *n > 0 => n.unsigned_abs() == from_start,
                    Some(n) => n.unsigned_abs() == from_end,
                }
        })
    }

    /// The days of `year` a YEARLY rule selects.
    fn year_dates(&self, year: i32, start: NaiveDate) -> Vec<NaiveDate> {
        let months: Vec<u32> = if !self.by_month.is_empty() {
            self.by_month.clone()
        } else if !self.by_month_day.is_empty() {
            (1..=12).collect()
        } else if !self.by_day.is_empty() {
            return self.weekdays_of_year(year);
        } else {
            vec![start.month()]
        };
        months
            .into_iter()
            .filter_map(|month| NaiveDate::from_ymd_opt(year, month, 1))
            .flat_map(|first| self.month_dates(first, start.day()))
            .collect()
    }

    /// BYDAY in a YEARLY rule without BYMONTH: ordinals count within the year.
    fn weekdays_of_year(&self, year: i32) -> Vec<NaiveDate> {
        let (Some(first), Some(last)) = (
            NaiveDate::from_ymd_opt(year, 1, 1),
            NaiveDate::from_ymd_opt(year, 12, 31),
        ) else {
            return Vec::new();
        };
        let days = last.ordinal();
        let mut dates = Vec::new();
        for (ordinal, weekday) in &self.by_day {
            let all = first
                .iter_days()
                .take(days as usize)
                .filter(|date| date.weekday() == *weekday);
            match ordinal {
                None => dates.extend(all),
                Some(n) if *n > 0 => dates.extend(all.skip(n.unsigned_abs() as usize - 1).take(1)),
                Some(n) => {
                    let all: Vec<_> = all.collect();
                    if let Some(index) = all.len().checked_sub(n.unsigned_abs() as usize) {
                        dates.extend(all.get(index).copied());
                    }
                }
            }
        }
        dates
    }

    /// Whether UNTIL ends the rule before `day` begins.
    fn until_is_before_day(&self, day: NaiveDate) -> bool {
        match self.until {
            Some(Until::Date(until)) => day > until,
            Some(Until::Local(until)) => day > until.date(),
            // The instant's date on DTSTART's clock is at most a day away.
            Some(Until::Instant(until)) => until
                .date_naive()
                .checked_add_days(Days::new(1))
                .is_some_and(|last| day > last),
            None => false,
        }
    }

    /// Whether `occurrence` comes after UNTIL (UNTIL itself is included).
    fn is_past_until(
        &self,
        occurrence: NaiveDateTime,
        to_instant: &dyn Fn(NaiveDateTime) -> DateTime<Utc>,
    ) -> bool {
        match self.until {
            Some(Until::Date(until)) => occurrence.date() > until,
            Some(Until::Local(until)) => occurrence > until,
            Some(Until::Instant(until)) => to_instant(occurrence) > until,
            None => false,
        }
    }
}

/// The first day of the week holding `date`, weeks starting on `week_start`.
fn week_start(date: NaiveDate, week_start: Weekday) -> NaiveDate {
    let back = (7 + date.weekday().num_days_from_monday() - week_start.num_days_from_monday()) % 7;
    date.checked_sub_days(Days::new(u64::from(back))).unwrap_or(date)
}

fn days_in_month(first: NaiveDate) -> u32 {
    first
        .checked_add_months(Months::new(1))
        .and_then(|next| next.pred_opt())
        .map_or(28, |last| last.day())
}

/// A BYMONTHDAY entry in the month starting on `first`: `-1` is its last day.
fn resolve_month_day(first: NaiveDate, day: i32, days: u32) -> Option<NaiveDate> {
    let day = if day > 0 {
        day.unsigned_abs()
    } else {
        (days + 1).checked_sub(day.unsigned_abs())?
    };
    if day == 0 || day > days {
        return None;
    }
    first.with_day(day)
}

fn month_days_match(by_month_day: &[i32], date: NaiveDate) -> bool {
    let days = date.with_day(1).map_or(28, days_in_month);
    by_month_day.iter().any(|day| {
        date.with_day(1)
            .and_then(|first| resolve_month_day(first, *day, days))
            == Some(date)
    })
}

/// `20261231`, `20261231T235959` or `20261231T225959Z`.
fn parse_until(text: &str) -> Option<Until> {
    if let Some(date) = parse_date(text) {
        return Some(Until::Date(date));
    }
    match text.strip_suffix('Z').or_else(|| text.strip_suffix('z')) {
        Some(utc) => parse_date_time(utc).map(|at| Until::Instant(at.and_utc())),
        None => parse_date_time(text).map(Until::Local),
    }
}

/// A comma-separated list, each item parsed by `item`; `None` if any item fails.
fn list<T>(text: &str, item: impl Fn(&str) -> Option<T>) -> Option<Vec<T>> {
    text.split(',').map(|part| item(part.trim())).collect()
}

/// `MO`, `2TU`, `-1FR`, `+3WE`.
fn parse_by_day(text: &str) -> Option<(Option<i32>, Weekday)> {
    let split = text.len().checked_sub(2)?;
    let (ordinal, day) = (text.get(..split)?, text.get(split..)?);
    let weekday = parse_weekday(day)?;
    if ordinal.is_empty() {
        return Some((None, weekday));
    }
    let n: i32 = ordinal.parse().ok()?;
    (1..=53).contains(&n.abs()).then_some((Some(n), weekday))
}

fn parse_weekday(text: &str) -> Option<Weekday> {
    Some(match text.to_ascii_uppercase().as_str() {
        "MO" => Weekday::Mon,
        "TU" => Weekday::Tue,
        "WE" => Weekday::Wed,
        "TH" => Weekday::Thu,
        "FR" => Weekday::Fri,
        "SA" => Weekday::Sat,
        "SU" => Weekday::Sun,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        parse_date_time(text).unwrap_or_else(|| panic!("{text}"))
    }

    fn rule(text: &str) -> Rule {
        Rule::parse(text).unwrap_or_else(|reason| panic!("{text}: {reason}"))
    }

    /// The occurrences of `text` from `start` (UTC clock) up to 2030, DTSTART first.
    fn expand(text: &str, start: &str) -> Vec<String> {
        let start = at(start);
        let window_end = at("20300101T000000").and_utc();
        let rest = rule(text)
            .occurrences(start, &|local| local.and_utc(), window_end, 1000)
            .unwrap_or_else(|reason| panic!("{reason}"));
        std::iter::once(start)
            .chain(rest)
            .map(|date| date.format("%Y%m%d").to_string())
            .collect()
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
    fn only_the_latest_occurrences_are_kept() {
        let start = at("20260101T100000");
        let window_end = at("20260201T000000").and_utc();
        let kept = rule("FREQ=DAILY")
            .occurrences(start, &|local| local.and_utc(), window_end, 5)
            .unwrap_or_default();
        assert_eq!(kept.first().copied(), Some(at("20260127T100000")));
        assert_eq!(kept.len(), 5);
    }

    #[test]
    fn an_ancient_start_is_refused_rather_than_walked_forever() {
        let start = at("00010101T100000");
        let window_end = at("20300101T000000").and_utc();
        let result = rule("FREQ=DAILY").occurrences(start, &|local| local.and_utc(), window_end, 1000);
        assert!(result.is_err_and(|reason| reason.contains("too far in the past")));
    }

    #[test]
    fn unsupported_and_invalid_rules_say_why() {
        let reason = |text: &str| Rule::parse(text).err().unwrap_or_default();
        assert!(reason("FREQ=HOURLY").contains("not supported"));
        assert!(reason("FREQ=DAILY;BYHOUR=10").contains("BYHOUR"));
        assert!(reason("FREQ=WEEKLY;BYDAY=2MO").contains("ordinal"));
        assert!(reason("COUNT=2").contains("FREQ"));
        assert!(reason("FREQ=DAILY;COUNT=0").contains("COUNT"));
        assert!(reason("FREQ=DAILY;INTERVAL=x").contains("INTERVAL"));
        assert!(reason("FREQ=DAILY;BYDAY=XX").contains("BYDAY"));
        assert!(reason("FREQ=DAILY;FREQ=DAILY").contains("twice"));
        assert!(reason("FREQ=DAILY;COLOUR=RED").contains("unknown"));
    }
}
