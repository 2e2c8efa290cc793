//! One VEVENT: its properties read and checked into what each of its occurrences
//! needs, or a rejection naming every problem.

use std::collections::HashMap;

use boxoffice_core::{RecordSink, Rejection};
use chrono_tz::Tz;

use crate::content::{Property, shorten, unescape_text};
use crate::document::{RawEvent, is_harmless};
use crate::recur::Rule;
use crate::value::{IcalDuration, When, parse_duration, parse_when, parse_when_list};

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

/// When an event ends, as written.
#[derive(Debug, Clone, Copy)]
pub(crate) enum End {
    /// Neither DTEND nor DURATION.
    Unknown,
    /// DTEND.
    At(When),
    /// DURATION.
    Lasting(IcalDuration),
}

/// A VEVENT that maps: what each of its occurrences needs.
#[derive(Debug)]
pub(crate) struct Vevent {
    pub(crate) uid: String,
    /// How rejections name it.
    pub(crate) name: String,
    pub(crate) raw: String,
    pub(crate) title: String,
    pub(crate) start: When,
    pub(crate) end: End,
    pub(crate) cancelled: bool,
    pub(crate) rules: Vec<Rule>,
    pub(crate) rdates: Vec<When>,
    pub(crate) exdates: Vec<When>,
    /// `RECURRENCE-ID`: the occurrence of another VEVENT this one replaces.
    pub(crate) recurrence_id: Option<When>,
}

impl Vevent {
    pub(crate) fn is_recurring(&self) -> bool {
        !self.rules.is_empty() || !self.rdates.is_empty()
    }

    pub(crate) fn rejection(&self, reason: impl Into<String>) -> Rejection {
        Rejection {
            record: self.name.clone(),
            reason: reason.into(),
            raw: Some(self.raw.clone()),
        }
    }
}

/// Maps a VEVENT's properties; a rejection naming every problem otherwise.
pub(crate) fn map_event(raw: RawEvent, sink: &mut dyn RecordSink) -> Result<Vevent, Rejection> {
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
