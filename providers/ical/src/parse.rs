//! The parser of an iCalendar document: VEVENTs, their occurrences, and records.
//!
//! ```text
//! BEGIN:VCALENDAR
//! BEGIN:VEVENT
//! UID:concierto-42@sala.example
//! SUMMARY:Concierto de Navidad
//! DTSTART;TZID=Europe/Madrid:20261220T200000
//! DTEND;TZID=Europe/Madrid:20261220T220000
//! RRULE:FREQ=WEEKLY;COUNT=3
//! END:VEVENT
//! END:VCALENDAR
//! ```
//!
//! The document is read whole (calendars are small), its structure checked first: it
//! fails as a whole ([`ProviderError::Malformed`]) only when it is not UTF-8, has no
//! VCALENDAR, has content outside one, or has unbalanced BEGIN/END lines (which is
//! what a truncated download looks like). Everything wrong inside one VEVENT rejects
//! that VEVENT with a reason, and its neighbours are kept.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use boxoffice_core::time::local_to_instant;
use boxoffice_core::{EventRecord, ExternalKey, LocalMoment, ProviderError, RecordSink, Rejection, SellMode};
use chrono::{DateTime, Days, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;

use crate::content::{Property, Unfolded, parse_line, quote, shorten, unescape_text, unfold};
use crate::recur::{MAX_STEPS, Rule};
use crate::value::{IcalDuration, When, day_moment, moment_at, parse_duration, parse_when, parse_when_list};

/// The most occurrences one recurring VEVENT yields: the latest ones up to the
/// horizon are kept, older ones dropped.
pub const MAX_OCCURRENCES: usize = 1000;

/// How much of a rejected VEVENT's text is kept for a person to read.
const MAX_RAW_BYTES: usize = 4 * 1024;

/// VEVENT properties that carry nothing the mapping uses and are expected: they are
/// not reported as unknown. `X-` properties are not either.
pub const HARMLESS_EVENT_PROPERTIES: &[&str] = &[
    "DTSTAMP",
    "CREATED",
    "LAST-MODIFIED",
    "SEQUENCE",
    "DESCRIPTION",
    "LOCATION",
    "URL",
    "CLASS",
    "TRANSP",
    "ORGANIZER",
    "CATEGORIES",
    "ATTENDEE",
    "COMMENT",
    "CONTACT",
    "GEO",
    "PRIORITY",
    "ATTACH",
    "RESOURCES",
    "RELATED-TO",
    "IMAGE",
    "COLOR",
];

/// VCALENDAR properties that are expected (besides `X-` ones).
const HARMLESS_CALENDAR_PROPERTIES: &[&str] = &[
    "VERSION",
    "PRODID",
    "CALSCALE",
    "METHOD",
    "NAME",
    "DESCRIPTION",
    "URL",
    "UID",
    "LAST-MODIFIED",
    "REFRESH-INTERVAL",
    "SOURCE",
    "COLOR",
    "IMAGE",
];

/// What the parser needs to know of the instance it parses for.
#[derive(Debug, Clone)]
pub struct ParseContext {
    /// The instance's name: the `provider` of every record's key.
    pub provider: String,
    /// The instance's time zone: floating times are read in it, and UTC times and
    /// all-day dates are served in it.
    pub timezone: Tz,
    /// How far past `now` recurring events are expanded.
    pub horizon: Duration,
    /// The sell mode of every event that is not cancelled.
    pub sell_mode: SellMode,
    /// The present, as the provider sees it (`Utc::now()` in a fetch; fixed in tests).
    pub now: DateTime<Utc>,
}

impl ParseContext {
    /// The last instant an occurrence of a recurring event may start at.
    pub fn window_end(&self) -> DateTime<Utc> {
        TimeDelta::from_std(self.horizon)
            .ok()
            .and_then(|horizon| self.now.checked_add_signed(horizon))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

/// Parses a whole calendar, pushing one record per VEVENT occurrence into `sink`, a
/// rejection per VEVENT that cannot be mapped, and what the mapping does not know as
/// [`RecordSink::unknown`] (`VEVENT/GEO`-like keys).
///
/// Fails with [`ProviderError::Malformed`] when the document is not UTF-8, is not a
/// VCALENDAR, has content outside it or unbalanced BEGIN/END lines (e.g. truncated);
/// nothing is pushed then. Fails with [`ProviderError::Store`] when the sink does.
pub async fn parse_calendar(
    bytes: &[u8],
    ctx: &ParseContext,
    sink: &mut dyn RecordSink,
) -> Result<(), ProviderError> {
    let document = read_document(bytes)?;
    for what in &document.unknown {
        sink.unknown(what);
    }
    let mut plan = Plan::default();
    for raw in document.events {
        match map_event(raw, sink) {
            Ok(event) => plan.add(event, ctx, sink),
            Err(rejection) => sink.reject(rejection),
        }
    }
    plan.emit(ctx, sink).await
}

fn malformed(message: impl Into<String>) -> ProviderError {
    ProviderError::Malformed(message.into())
}

// ----- the document's structure -----

/// A VEVENT as read: its own properties, and what was wrong with its lines.
#[derive(Debug)]
struct RawEvent {
    line: usize,
    properties: Vec<Property>,
    problems: Vec<String>,
    unknown: Vec<String>,
    raw: RawText,
}

/// The VEVENTs of a well-formed document, and what it has that is not mapped.
#[derive(Debug, Default)]
struct Document {
    events: Vec<RawEvent>,
    unknown: Vec<String>,
}

/// Reads the document's lines and checks its structure.
fn read_document(bytes: &[u8]) -> Result<Document, ProviderError> {
    let text = std::str::from_utf8(bytes).map_err(|error| {
        malformed(format!(
            "the calendar is not UTF-8 (invalid byte at offset {})",
            error.valid_up_to()
        ))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut document = Document::default();
    let mut stack: Vec<(String, usize)> = Vec::new();
    let mut calendars = 0usize;
    let mut current: Option<RawEvent> = None;
    for line in unfold(text) {
        let parsed = parse_line(&line);
        if let Some(event) = current.as_mut() {
            event.raw.push(&line.text);
        }
        match parsed {
            Ok(property) if property.name == "BEGIN" => {
                let component = component_name(&property.value);
                match stack.len() {
                    0 if component != "VCALENDAR" => {
                        return Err(malformed(format!(
                            "line {}: BEGIN:{component} is outside a VCALENDAR",
                            line.number
                        )));
                    }
                    0 => calendars += 1,
                    1 if component == "VEVENT" => current = Some(RawEvent::new(&line)),
                    1 if component == "VTIMEZONE" => {}
                    1 => document.unknown.push(format!("VCALENDAR/{component}")),
                    2 if component != "VALARM" => {
                        if let Some(event) = current.as_mut() {
                            event.unknown.push(format!("VEVENT/{component}"));
                        }
                    }
                    _ => {}
                }
                stack.push((component, line.number));
            }
            Ok(property) if property.name == "END" => {
                let component = component_name(&property.value);
                let Some((open, opened_at)) = stack.pop() else {
                    return Err(malformed(format!(
                        "line {}: END:{component} has no BEGIN",
                        line.number
                    )));
                };
                if open != component {
                    return Err(malformed(format!(
                        "line {}: END:{component} does not close BEGIN:{open} of line {opened_at}",
                        line.number
                    )));
                }
                if stack.len() == 1 && component == "VEVENT" {
                    document.events.extend(current.take());
                }
            }
            parsed => match (stack.len(), current.as_mut(), parsed) {
                (0, _, _) => {
                    return Err(malformed(format!(
                        "line {}: {} is outside a VCALENDAR",
                        line.number,
                        quote(&line.text)
                    )));
                }
                (2, Some(event), Ok(property)) => event.properties.push(property),
                (2, Some(event), Err(reason)) => {
                    event.problems.push(format!("line {}: {reason}", line.number));
                }
                (1, _, Ok(property)) if !is_harmless(&property.name, HARMLESS_CALENDAR_PROPERTIES) => {
                    document
                        .unknown
                        .push(format!("VCALENDAR/{}", shorten(&property.name)));
                }
                (1, _, Err(_)) => document.unknown.push("VCALENDAR/(not a content line)".into()),
                // Inside VTIMEZONE, VALARM and components the mapping skips.
                _ => {}
            },
        }
    }
    if let Some((open, line)) = stack.last() {
        return Err(malformed(format!(
            "the calendar is truncated: BEGIN:{open} of line {line} is never closed"
        )));
    }
    if calendars == 0 {
        return Err(malformed(
            "not an iCalendar document: there is no BEGIN:VCALENDAR",
        ));
    }
    Ok(document)
}

fn component_name(value: &str) -> String {
    shorten(&value.trim().to_ascii_uppercase())
}

fn is_harmless(name: &str, harmless: &[&str]) -> bool {
    name.starts_with("X-") || harmless.contains(&name)
}

impl RawEvent {
    fn new(begin: &Unfolded) -> Self {
        let mut raw = RawText::default();
        raw.push(&begin.text);
        Self {
            line: begin.number,
            properties: Vec::new(),
            problems: Vec::new(),
            unknown: Vec::new(),
            raw,
        }
    }
}

/// A VEVENT's lines as sent, at most [`MAX_RAW_BYTES`], for the quarantine.
#[derive(Debug, Default)]
struct RawText {
    text: String,
    cut: bool,
}

impl RawText {
    fn push(&mut self, line: &str) {
        if self.cut {
            return;
        }
        let room = MAX_RAW_BYTES.saturating_sub(self.text.len());
        if line.len() + 2 <= room {
            self.text.push_str(line);
            self.text.push_str("\r\n");
            return;
        }
        let mut end = room.min(line.len());
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        self.text.push_str(&line[..end]);
        self.text.push('…');
        self.cut = true;
    }
}

// ----- one VEVENT -----

/// When an event ends, as written.
#[derive(Debug, Clone, Copy)]
enum End {
    /// Neither DTEND nor DURATION.
    Unknown,
    /// DTEND.
    At(When),
    /// DURATION.
    Lasting(IcalDuration),
}

/// A VEVENT that maps: what each of its occurrences needs.
#[derive(Debug)]
struct Vevent {
    uid: String,
    /// How rejections name it.
    name: String,
    raw: String,
    title: String,
    start: When,
    end: End,
    cancelled: bool,
    rules: Vec<Rule>,
    rdates: Vec<When>,
    exdates: Vec<When>,
    /// `RECURRENCE-ID`: the occurrence of another VEVENT this one replaces.
    recurrence_id: Option<When>,
}

impl Vevent {
    fn is_recurring(&self) -> bool {
        !self.rules.is_empty() || !self.rdates.is_empty()
    }

    fn rejection(&self, reason: impl Into<String>) -> Rejection {
        Rejection {
            record: self.name.clone(),
            reason: reason.into(),
            raw: Some(self.raw.clone()),
        }
    }
}

/// Maps a VEVENT's properties; a rejection naming every problem otherwise.
fn map_event(raw: RawEvent, sink: &mut dyn RecordSink) -> Result<Vevent, Rejection> {
    let RawEvent {
        line,
        properties,
        mut problems,
        unknown,
        raw,
    } = raw;
    for what in &unknown {
        sink.unknown(what);
    }
    let mut singles: HashMap<&'static str, &Property> = HashMap::new();
    let mut rrules = Vec::new();
    let mut rdates = Vec::new();
    let mut exdates = Vec::new();
    for property in &properties {
        let single = match property.name.as_str() {
            "UID" => "UID",
            "SUMMARY" => "SUMMARY",
            "DTSTART" => "DTSTART",
            "DTEND" => "DTEND",
            "DURATION" => "DURATION",
            "STATUS" => "STATUS",
            "RECURRENCE-ID" => "RECURRENCE-ID",
            "RRULE" => {
                rrules.push(property);
                continue;
            }
            "RDATE" => {
                rdates.push(property);
                continue;
            }
            "EXDATE" => {
                exdates.push(property);
                continue;
            }
            name => {
                if !is_harmless(name, HARMLESS_EVENT_PROPERTIES) {
                    sink.unknown(&format!("VEVENT/{}", shorten(name)));
                }
                continue;
            }
        };
        if singles.contains_key(single) {
            // A second SUMMARY or STATUS is harmless (the first wins); a second time
            // or identity leaves the event ambiguous.
            if !matches!(single, "SUMMARY" | "STATUS") {
                problems.push(format!("{single} is given more than once"));
            }
        } else {
            singles.insert(single, property);
        }
    }

    let uid = singles.get("UID").map(|uid| uid.value.trim().to_owned());
    let recurrence_id_text = singles.get("RECURRENCE-ID").map(|rid| rid.value.trim());
    let name = match (&uid, recurrence_id_text) {
        (Some(uid), _) if uid.is_empty() => format!("VEVENT at line {line}"),
        (Some(uid), None) => format!("VEVENT {}", shorten(uid)),
        (Some(uid), Some(rid)) => format!("VEVENT {} / RECURRENCE-ID {}", shorten(uid), shorten(rid)),
        (None, _) => format!("VEVENT at line {line}"),
    };
    match &uid {
        None => problems.push("UID is missing".into()),
        Some(uid) if uid.is_empty() => problems.push("UID is empty".into()),
        Some(_) => {}
    }
    let title = match singles.get("SUMMARY") {
        None => {
            problems.push("SUMMARY is missing".into());
            None
        }
        Some(summary) => {
            let title = unescape_text(&summary.value).trim().to_owned();
            if title.is_empty() {
                problems.push("SUMMARY is empty".into());
            }
            Some(title)
        }
    };
    let start = match singles.get("DTSTART") {
        None => {
            problems.push("DTSTART is missing".into());
            None
        }
        Some(property) => collect(parse_when(property), &mut problems),
    };
    let end = match (singles.get("DTEND"), singles.get("DURATION")) {
        (Some(_), Some(_)) => {
            problems.push("DTEND and DURATION are both given (RFC 5545 allows one)".into());
            None
        }
        (Some(property), None) => collect(parse_when(property), &mut problems).map(End::At),
        (None, Some(property)) => collect(parse_duration(&property.value), &mut problems).map(End::Lasting),
        (None, None) => Some(End::Unknown),
    };
    if let (Some(start), Some(end)) = (start, end)
        && let Err(problem) = check_end(start, end)
    {
        problems.push(problem);
    }
    let recurrence_id = singles
        .get("RECURRENCE-ID")
        .and_then(|property| collect(parse_when(property), &mut problems));
    let rules: Vec<Rule> = rrules
        .iter()
        .filter_map(|property| collect(Rule::parse(&property.value), &mut problems))
        .collect();
    if recurrence_id.is_some() && !rules.is_empty() {
        problems
            .push("an overriding VEVENT (with RECURRENCE-ID) that has its own RRULE is not supported".into());
    }
    let rdates = when_lists(&rdates, &mut problems);
    let exdates = when_lists(&exdates, &mut problems);
    let cancelled = singles
        .get("STATUS")
        .is_some_and(|status| status.value.trim().eq_ignore_ascii_case("CANCELLED"));

    match (uid, title, start, end) {
        (Some(uid), Some(title), Some(start), Some(end)) if problems.is_empty() => Ok(Vevent {
            uid,
            name,
            raw: raw.text,
            title,
            start,
            end,
            cancelled,
            rules,
            rdates,
            exdates,
            recurrence_id,
        }),
        _ => Err(Rejection {
            record: name,
            reason: problems.join("; "),
            raw: Some(raw.text),
        }),
    }
}

/// The value, or `None` with its problem noted.
fn collect<T>(result: Result<T, String>, problems: &mut Vec<String>) -> Option<T> {
    result.map_err(|problem| problems.push(problem)).ok()
}

fn when_lists(properties: &[&Property], problems: &mut Vec<String>) -> Vec<When> {
    properties
        .iter()
        .filter_map(|property| collect(parse_when_list(property), problems))
        .flatten()
        .collect()
}

/// Checks that the end is of the start's kind and not before it.
fn check_end(start: When, end: End) -> Result<(), String> {
    match (start, end) {
        (_, End::Unknown) => Ok(()),
        (When::Date(start), End::At(When::Date(end))) if end < start => {
            Err(format!("DTEND {end} is before DTSTART {start}"))
        }
        (When::Date(_), End::At(When::Date(_))) => Ok(()),
        (When::Date(_), End::At(When::DateTime(..))) => {
            Err("DTEND is a date-time but DTSTART is a date (VALUE=DATE): both must be dates".into())
        }
        (When::DateTime(..), End::At(When::Date(_))) => {
            Err("DTEND is a date (VALUE=DATE) but DTSTART is a date-time: both must be date-times".into())
        }
        (When::DateTime(start, start_frame), End::At(When::DateTime(end, end_frame))) => {
            // Compared as instants; the zone does not matter here.
            let (start_at, end_at) = (
                start_frame.instant(start, Tz::UTC),
                end_frame.instant(end, Tz::UTC),
            );
            if end_at < start_at {
                Err(format!("DTEND {end} is before DTSTART {start}"))
            } else {
                Ok(())
            }
        }
        (When::Date(_), End::Lasting(duration)) if duration.seconds != 0 => {
            Err("an all-day event's DURATION must be whole days or weeks (e.g. P1D)".into())
        }
        (_, End::Lasting(_)) => Ok(()),
    }
}

// ----- occurrences and records -----

/// The calendar's VEVENTs, grouped: recurring or single events, and the occurrences
/// that replace some of theirs.
#[derive(Debug, Default)]
struct Plan {
    masters: Vec<Vevent>,
    master_uids: HashSet<String>,
    overrides: HashMap<(String, String), Vevent>,
    override_order: Vec<(String, String)>,
}

impl Plan {
    /// Files a VEVENT; a second one with the same identity is rejected.
    fn add(&mut self, event: Vevent, ctx: &ParseContext, sink: &mut dyn RecordSink) {
        match event.recurrence_id {
            None => {
                if self.master_uids.insert(event.uid.clone()) {
                    self.masters.push(event);
                } else {
                    sink.reject(event.rejection(format!(
                        "UID {} is used by an earlier VEVENT too; the first one is kept",
                        quote(&event.uid)
                    )));
                }
            }
            Some(recurrence_id) => {
                let key = (event.uid.clone(), recurrence_id.occurrence_id(ctx.timezone));
                if self.overrides.contains_key(&key) {
                    sink.reject(event.rejection(
                        "an earlier VEVENT overrides the same occurrence (UID and RECURRENCE-ID); the first one is kept",
                    ));
                } else {
                    self.override_order.push(key.clone());
                    self.overrides.insert(key, event);
                }
            }
        }
    }

    /// Pushes every record: each event's occurrences in order, an overriding VEVENT in
    /// the place of the occurrence it replaces, then overrides that replace nothing
    /// that was generated (they stand on their own, when within the horizon).
    async fn emit(mut self, ctx: &ParseContext, sink: &mut dyn RecordSink) -> Result<(), ProviderError> {
        for master in std::mem::take(&mut self.masters) {
            if !master.is_recurring() {
                send(&master, master.start, String::new(), ctx, sink).await?;
                continue;
            }
            let starts = match occurrences(&master, ctx) {
                Ok(starts) => starts,
                Err(reason) => {
                    sink.reject(master.rejection(reason));
                    continue;
                }
            };
            for start in starts {
                let event_id = start.occurrence_id(ctx.timezone);
                match self.overrides.remove(&(master.uid.clone(), event_id.clone())) {
                    Some(replacement) => send(&replacement, replacement.start, event_id, ctx, sink).await?,
                    None => send(&master, start, event_id, ctx, sink).await?,
                }
            }
        }
        let window_end = ctx.window_end();
        for key in std::mem::take(&mut self.override_order) {
            let Some(event) = self.overrides.remove(&key) else {
                continue;
            };
            if event.start.instant(ctx.timezone) <= window_end {
                send(&event, event.start, key.1, ctx, sink).await?;
            }
        }
        Ok(())
    }
}

/// The starts of a recurring event's occurrences up to the horizon: DTSTART, RRULE
/// and RDATE, less EXDATE, the latest [`MAX_OCCURRENCES`] of them.
fn occurrences(event: &Vevent, ctx: &ParseContext) -> Result<Vec<When>, String> {
    let tz = ctx.timezone;
    let window_end = ctx.window_end();
    // Everything is computed on DTSTART's clock; a date is midnight on it.
    let (start, frame) = match event.start {
        When::Date(date) => (date.and_time(NaiveTime::MIN), None),
        When::DateTime(local, frame) => (local, Some(frame)),
    };
    let to_instant = |local: NaiveDateTime| match frame {
        Some(frame) => frame.instant(local, tz),
        None => local_to_instant(local, tz),
    };
    let on_start_clock = |when: When| match (when, frame) {
        (When::Date(date), None) => date.and_time(NaiveTime::MIN),
        (When::Date(date), Some(_)) => date.and_time(start.time()),
        (When::DateTime(local, _), None) => local.date().and_time(NaiveTime::MIN),
        (When::DateTime(local, other), Some(frame)) => frame.local(other.instant(local, tz), tz),
    };
    let keep = MAX_OCCURRENCES + event.exdates.len();
    let mut starts = BTreeSet::new();
    if to_instant(start) <= window_end {
        starts.insert(start);
    }
    // One bound for the event, however many RRULEs it has.
    let mut steps_left = MAX_STEPS;
    for rule in &event.rules {
        starts.extend(rule.occurrences(start, &to_instant, window_end, keep, &mut steps_left)?);
    }
    starts.extend(
        event
            .rdates
            .iter()
            .map(|rdate| on_start_clock(*rdate))
            .filter(|rdate| to_instant(*rdate) <= window_end),
    );
    starts.retain(|occurrence| {
        !event.exdates.iter().any(|exdate| match exdate {
            When::Date(date) => occurrence.date() == *date,
            When::DateTime(local, other) => other.instant(*local, tz) == to_instant(*occurrence),
        })
    });
    let dropped = starts.len().saturating_sub(MAX_OCCURRENCES);
    if dropped > 0 {
        tracing::debug!(
            provider = %ctx.provider,
            uid = %event.uid,
            dropped,
            "A recurring event has more occurrences than kept; the oldest are dropped."
        );
    }
    Ok(starts
        .into_iter()
        .skip(dropped)
        .map(|local| match frame {
            Some(frame) => When::DateTime(local, frame),
            None => When::Date(local.date()),
        })
        .collect())
}

/// Builds the record of `event` starting at `start` and pushes it, or its rejection.
async fn send(
    event: &Vevent,
    start: When,
    event_id: String,
    ctx: &ParseContext,
    sink: &mut dyn RecordSink,
) -> Result<(), ProviderError> {
    let name = if event_id.is_empty() || event.recurrence_id.is_some() {
        event.name.clone()
    } else {
        format!("{} / occurrence {event_id}", event.name)
    };
    let record = end_of(event, start, ctx.timezone).and_then(|end| {
        let record = EventRecord {
            key: ExternalKey {
                provider: ctx.provider.clone(),
                base_event_id: event.uid.clone(),
                event_id,
            },
            title: event.title.clone(),
            sell_mode: if event.cancelled {
                SellMode::Offline
            } else {
                ctx.sell_mode
            },
            organizer_company_id: None,
            sold_out: false,
            start: start_of(start, ctx.timezone),
            end,
            sell_from: None,
            sell_to: None,
            zones: Vec::new(),
        };
        record.validate().map(|()| record)
    });
    match record {
        Ok(record) => sink.accept(record).await?,
        Err(reason) => sink.reject(Rejection {
            record: name,
            reason,
            raw: Some(event.raw.clone()),
        }),
    }
    Ok(())
}

/// How a start is served.
fn start_of(start: When, tz: Tz) -> LocalMoment {
    match start {
        When::Date(date) => day_moment(date, tz),
        When::DateTime(local, frame) => frame.moment(local, tz),
    }
}

/// The end of the occurrence of `event` starting at `start`: DTEND moved with the
/// occurrence, or DURATION after it. An all-day event ends at the midnight that
/// follows its last day, and is served with that last day as its end date.
fn end_of(event: &Vevent, start: When, tz: Tz) -> Result<Option<LocalMoment>, String> {
    let out_of_range = || "the event's end is out of the representable range".to_owned();
    match (event.start, start, event.end) {
        (_, When::Date(date), End::Unknown) => day_end(date, 1, tz).map(Some).ok_or_else(out_of_range),
        (When::Date(first), When::Date(date), End::At(When::Date(end))) => {
            let days = (end - first).num_days().max(1);
            day_end(date, days, tz).map(Some).ok_or_else(out_of_range)
        }
        (_, When::Date(date), End::Lasting(duration)) => day_end(date, duration.days.max(1), tz)
            .map(Some)
            .ok_or_else(out_of_range),
        (_, When::DateTime(..), End::Unknown) => Ok(None),
        (
            When::DateTime(first, first_frame),
            When::DateTime(local, frame),
            End::At(When::DateTime(end, end_frame)),
        ) => {
            if end_frame == first_frame && frame == first_frame {
                // Same clock: the occurrence lasts as long on the wall clock.
                let end = local.checked_add_signed(end - first).ok_or_else(out_of_range)?;
                Ok(Some(frame.moment(end, tz)))
            } else {
                let length = end_frame.instant(end, tz) - first_frame.instant(first, tz);
                let at = frame
                    .instant(local, tz)
                    .checked_add_signed(length)
                    .ok_or_else(out_of_range)?;
                Ok(Some(moment_at(at, end_frame.served_zone(tz))))
            }
        }
        (_, When::DateTime(local, frame), End::Lasting(duration)) => {
            // Days are nominal (same wall-clock time), hours to seconds exact.
            let nominal = duration
                .day_delta()
                .and_then(|days| local.checked_add_signed(days))
                .ok_or_else(out_of_range)?;
            if duration.seconds == 0 {
                return Ok(Some(frame.moment(nominal, tz)));
            }
            let at = duration
                .second_delta()
                .and_then(|seconds| frame.instant(nominal, tz).checked_add_signed(seconds))
                .ok_or_else(out_of_range)?;
            Ok(Some(moment_at(at, frame.served_zone(tz))))
        }
        // Mixed DATE and DATE-TIME were rejected when the VEVENT was mapped.
        _ => Err("DTSTART and DTEND are not of the same kind (date or date-time)".into()),
    }
}

/// The end of an all-day event that starts on `date` and lasts `days` days: its last
/// day, without a time, and the instant of the midnight after it.
fn day_end(date: chrono::NaiveDate, days: i64, tz: Tz) -> Option<LocalMoment> {
    let after = date.checked_add_days(Days::new(u64::try_from(days).ok()?))?;
    let last = after.pred_opt()?;
    Some(LocalMoment {
        date: last,
        time: None,
        at: local_to_instant(after.and_time(NaiveTime::MIN), tz),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_text_is_cut_on_a_character_boundary() {
        let mut raw = RawText::default();
        raw.push(&"é".repeat(3000));
        raw.push("more");
        assert!(raw.cut);
        assert!(raw.text.len() <= MAX_RAW_BYTES + '…'.len_utf8());
        assert!(raw.text.ends_with('…'));
    }

    #[test]
    fn the_window_ends_a_horizon_after_now() {
        let ctx = ParseContext {
            provider: "venue".into(),
            timezone: Tz::UTC,
            horizon: Duration::from_secs(86_400),
            sell_mode: SellMode::Online,
            now: DateTime::<Utc>::UNIX_EPOCH,
        };
        assert_eq!(ctx.window_end().to_rfc3339(), "1970-01-02T00:00:00+00:00");
        let far = ParseContext {
            horizon: Duration::MAX,
            ..ctx
        };
        assert_eq!(far.window_end(), DateTime::<Utc>::MAX_UTC);
    }
}
