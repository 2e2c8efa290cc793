//! RFC 5545 recurrence rules (§3.3.10), expanded with the `rrule` crate.
//!
//! The crate parses the rule and selects the occurrences; this module keeps what the
//! mapping decides differently from the crate, or what the crate leaves unbounded:
//!
//! - **COUNT and UNTIL** are applied here. DTSTART counts as the first occurrence
//!   even when the rule does not select it, as the RFC says (the crate, like
//!   python-dateutil, counts only what it selects); and UNTIL may be a date, a time on
//!   DTSTART's clock or an instant whatever DTSTART is (the crate insists on the
//!   RFC's pairings, which feeds do not always keep).
//! - **The wall clock.** Occurrences are computed on DTSTART's wall clock, as the RFC
//!   says: the crate is given that clock as if it were UTC, so that a weekly event at
//!   20:00 Madrid time stays at 20:00 across daylight-saving changes, and the caller
//!   turns each occurrence into an instant.
//! - **Bounds.** A feed is untrusted, and a `FREQ=SECONDLY` rule from 1900 is billions
//!   of occurrences before the horizon. Three bounds on one event's rules:
//!   1. at most [`MAX_CANDIDATES_PER_PERIOD`] occurrences in one period of the rule
//!      (the crate buffers a period's occurrences at once: a yearly rule with every
//!      BYHOUR, BYMINUTE and BYSECOND would be 31 million);
//!   2. at most [`MAX_STEPS`] steps (periods walked plus occurrences produced) to
//!      reach the horizon, for all the RRULEs of one event together; checked before
//!      expanding when a rule ends only at UNTIL or the horizon, and while expanding
//!      in any case;
//!   3. the crate's own iteration limit ([`RRuleSet::limit`]): it gives up after
//!      100 000 periods that select nothing (e.g. `BYMONTH=2;BYMONTHDAY=30`).

use std::collections::VecDeque;

use chrono::{DateTime, Datelike, Days, NaiveDateTime, NaiveTime, TimeZone, Utc};
use rrule::{Frequency, NWeekday, RRule, RRuleSet, Unvalidated, Validated};

use crate::content::quote;
use crate::value::{parse_date, parse_date_time};

/// How many steps (periods of the rule walked, plus occurrences produced) the rules
/// of one event may take to reach the horizon: a bound on the work an (old or
/// hostile) rule can cause.
pub(crate) const MAX_STEPS: u64 = 500_000;

/// How many occurrences one period of a rule (a year of a YEARLY rule, a day of a
/// DAILY one) may select. Venues' rules select a few; a yearly rule at every hour and
/// half-hour of every day selects 17 568.
pub(crate) const MAX_CANDIDATES_PER_PERIOD: u64 = 50_000;

/// The rule parts handed to the `rrule` crate; COUNT and UNTIL are kept here.
const CRATE_PARTS: &[&str] = &[
    "FREQ",
    "INTERVAL",
    "BYSECOND",
    "BYMINUTE",
    "BYHOUR",
    "BYDAY",
    "BYMONTHDAY",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYMONTH",
    "BYSETPOS",
    "WKST",
];

/// Where a rule stops, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Until {
    /// `UNTIL=20261231`: the last day, inclusive.
    Date(chrono::NaiveDate),
    /// `UNTIL=20261231T235959`: on DTSTART's clock.
    Local(NaiveDateTime),
    /// `UNTIL=20261231T225959Z`: an instant.
    Instant(DateTime<Utc>),
}

/// A parsed RRULE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    /// The rule without COUNT and UNTIL, as the crate parsed it.
    selection: RRule<Unvalidated>,
    count: Option<u64>,
    until: Option<Until>,
}

impl Rule {
    /// Parses an RRULE value; why it cannot be followed otherwise.
    pub fn parse(value: &str) -> Result<Rule, String> {
        let mut handed = Vec::new();
        let mut count = None;
        let mut until = None;
        let mut seen: Vec<String> = Vec::new();
        for part in value.split(';').map(str::trim).filter(|part| !part.is_empty()) {
            let (name, text) = part
                .split_once('=')
                .ok_or_else(|| format!("RRULE part {} has no '='", quote(part)))?;
            let name = name.trim().to_ascii_uppercase();
            let text = text.trim();
            if seen.contains(&name) {
                return Err(format!("RRULE part {} is given twice", quote(&name)));
            }
            seen.push(name.clone());
            let bad = || format!("RRULE {name}={} is not valid", quote(text));
            match name.as_str() {
                "COUNT" => count = Some(text.parse().ok().filter(|n: &u64| *n > 0).ok_or_else(bad)?),
                "UNTIL" => until = Some(parse_until(text).ok_or_else(bad)?),
                known if CRATE_PARTS.contains(&known) => {
                    // Values are numbers, weekday codes and frequency names: nothing
                    // else reaches the crate's parser (whose weekday parsing slices
                    // bytes and could panic on other text).
                    let plain = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b',' | b'+' | b'-');
                    if text.is_empty() || !text.bytes().all(plain) {
                        return Err(bad());
                    }
                    handed.push(format!("{name}={text}"));
                }
                _ => return Err(format!("RRULE part {} is unknown", quote(&name))),
            }
        }
        if !seen.iter().any(|name| name == "FREQ") {
            return Err("RRULE has no FREQ".into());
        }
        let selection: RRule<Unvalidated> = handed
            .join(";")
            .parse()
            .map_err(|error| format!("RRULE {} cannot be followed: {error}", quote(value)))?;
        if selection.get_interval() == 0 {
            return Err("RRULE INTERVAL=\"0\" is not valid".into());
        }
        // RFC 5545 §3.3.10: BYDAY ordinals belong to MONTHLY and YEARLY rules, and not
        // beside BYWEEKNO. The crate would quietly drop the ordinal instead.
        let ordinals = selection
            .get_by_weekday()
            .iter()
            .any(|day| matches!(day, NWeekday::Nth(..)));
        if ordinals && !matches!(selection.get_freq(), Frequency::Monthly | Frequency::Yearly) {
            return Err("RRULE BYDAY with an ordinal (e.g. 2TU) needs FREQ=MONTHLY or YEARLY".into());
        }
        if ordinals && !selection.get_by_week_no().is_empty() {
            return Err("RRULE BYDAY with an ordinal (e.g. 2TU) cannot be used with BYWEEKNO".into());
        }
        Ok(Rule {
            selection,
            count,
            until,
        })
    }

    /// The occurrences after `start` (DTSTART, which the caller adds itself and which
    /// counts as the first for COUNT), up to COUNT, UNTIL and `window_end`, in order;
    /// only the last `keep` of them when there are more. `to_instant` reads a time on
    /// DTSTART's clock. The steps taken are deducted from `steps_left`, which the
    /// rules of one event share (RFC 5545 allows several RRULEs, and each must not get
    /// a bound of its own). Fails, saying why, when the rule is invalid for this
    /// DTSTART or would take more steps than are left to reach the horizon.
    pub fn occurrences(
        &self,
        start: NaiveDateTime,
        to_instant: &dyn Fn(NaiveDateTime) -> DateTime<Utc>,
        window_end: DateTime<Utc>,
        keep: usize,
        steps_left: &mut u64,
    ) -> Result<Vec<NaiveDateTime>, String> {
        // DTSTART's wall clock, carried as UTC (see the module's doc).
        let dt_start = rrule::Tz::UTC.from_utc_datetime(&start);
        let rule = self
            .selection
            .clone()
            .validate(dt_start)
            .map_err(|error| format!("the RRULE cannot be followed: {error}"))?;
        check_period_size(&rule)?;
        let (frequency, interval) = (rule.get_freq(), rule.get_interval());
        let too_much_work = || {
            format!(
                "the RRULE takes more than {MAX_STEPS} steps to reach the horizon: FREQ={frequency} \
                 from DTSTART {} is too fine or too far in the past",
                start.date()
            )
        };
        if self.count.is_none() {
            // Without COUNT the rule runs to UNTIL or the horizon, through every
            // period in between: refuse it before walking. The horizon is compared on
            // UTC's clock, which is at most a day off DTSTART's: close enough here.
            let end = match self.until.map(|until| until.on_start_clock()) {
                Some(until) => until.min(window_end.naive_utc()),
                None => window_end.naive_utc(),
            };
            if periods_between(frequency, interval, start, end) > *steps_left {
                return Err(too_much_work());
            }
        }

        let set = RRuleSet::new(dt_start).rrule(rule).limit();
        let mut kept = VecDeque::new();
        // DTSTART is the first occurrence, whether or not the rule selects it.
        let mut counted: u64 = 1;
        let mut produced: u64 = 0;
        let mut spent: u64 = 0;
        for occurrence in &set {
            let occurrence = occurrence.naive_utc();
            produced += 1;
            spent = produced.saturating_add(periods_between(frequency, interval, start, occurrence));
            if spent > *steps_left {
                return Err(too_much_work());
            }
            if occurrence <= start {
                continue;
            }
            if self.is_past_until(occurrence, to_instant) || to_instant(occurrence) > window_end {
                break;
            }
            counted += 1;
            if self.count.is_some_and(|count| counted > count) {
                break;
            }
            kept.push_back(occurrence);
            if kept.len() > keep {
                kept.pop_front();
            }
        }
        *steps_left -= spent;
        Ok(kept.into())
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

impl Until {
    /// About where the rule ends on DTSTART's clock (an instant is taken on UTC's).
    fn on_start_clock(self) -> NaiveDateTime {
        match self {
            Until::Date(date) => date
                .checked_add_days(Days::new(1))
                .unwrap_or(date)
                .and_time(NaiveTime::MIN),
            Until::Local(local) => local,
            Until::Instant(at) => at.naive_utc(),
        }
    }
}

/// Refuses a rule whose periods can each select more than
/// [`MAX_CANDIDATES_PER_PERIOD`] occurrences: the crate would build them all at once.
fn check_period_size(rule: &RRule<Validated>) -> Result<(), String> {
    // An empty list stands for one value: the crate fills in DTSTART's where needed.
    let size = |list: usize| u64::try_from(list.max(1)).unwrap_or(u64::MAX);
    let (hours, minutes, seconds) = (
        size(rule.get_by_hour().len()),
        size(rule.get_by_minute().len()),
        size(rule.get_by_second().len()),
    );
    let frequency = rule.get_freq();
    let (days, times) = match frequency {
        Frequency::Yearly => (366, hours * minutes * seconds),
        Frequency::Monthly => (31, hours * minutes * seconds),
        Frequency::Weekly => (7, hours * minutes * seconds),
        Frequency::Daily => (1, hours * minutes * seconds),
        Frequency::Hourly => (1, minutes * seconds),
        Frequency::Minutely => (1, seconds),
        Frequency::Secondly => (1, 1),
    };
    let candidates = days * times;
    if candidates > MAX_CANDIDATES_PER_PERIOD {
        return Err(format!(
            "the RRULE can select up to {candidates} occurrences in each FREQ={frequency} period; \
             at most {MAX_CANDIDATES_PER_PERIOD} are followed"
        ));
    }
    Ok(())
}

/// How many periods of `frequency` × `interval` lie from `from` to `to` (0 when `to`
/// is not after `from`).
fn periods_between(frequency: Frequency, interval: u16, from: NaiveDateTime, to: NaiveDateTime) -> u64 {
    if to <= from {
        return 0;
    }
    let span = to - from;
    let months = || i64::from(to.year() - from.year()) * 12 + i64::from(to.month()) - i64::from(from.month());
    let units = match frequency {
        Frequency::Yearly => i64::from(to.year() - from.year()),
        Frequency::Monthly => months(),
        Frequency::Weekly => span.num_weeks(),
        Frequency::Daily => span.num_days(),
        Frequency::Hourly => span.num_hours(),
        Frequency::Minutely => span.num_minutes(),
        Frequency::Secondly => span.num_seconds(),
    };
    u64::try_from(units).unwrap_or(0) / u64::from(interval.max(1))
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

#[cfg(test)]
mod tests;
