//! The calendar walk: a document's lines, its structure checked, its VEVENTs set
//! apart with their text, and what it holds that the mapping does not know.

use boxoffice_core::ProviderError;

use crate::content::{Property, Unfolded, parse_line, quote, shorten, unfold};

/// How much of a rejected VEVENT's text is kept for a person to read.
const MAX_RAW_BYTES: usize = 4 * 1024;

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

fn malformed(message: impl Into<String>) -> ProviderError {
    ProviderError::Malformed(message.into())
}

/// A VEVENT as read: its own properties, and what was wrong with its lines.
#[derive(Debug)]
pub(crate) struct RawEvent {
    /// The line of its BEGIN:VEVENT, to name it when it has no UID.
    pub(crate) line: usize,
    /// Its own content lines (not those of a VALARM inside it).
    pub(crate) properties: Vec<Property>,
    /// Lines that are not content lines, each naming its line.
    pub(crate) problems: Vec<String>,
    /// Components inside it that the mapping does not know (`VEVENT/NAME`).
    pub(crate) unknown: Vec<String>,
    /// Its text as sent, for the quarantine.
    pub(crate) raw: RawText,
}

/// The VEVENTs of a well-formed document, and what it has that is not mapped.
#[derive(Debug, Default)]
pub(crate) struct Document {
    /// Its VEVENTs, in order.
    pub(crate) events: Vec<RawEvent>,
    /// What it holds outside VEVENTs that is not mapped (`VCALENDAR/NAME`).
    pub(crate) unknown: Vec<String>,
}

/// Reads the document's lines and checks its structure.
pub(crate) fn read_document(bytes: &[u8]) -> Result<Document, ProviderError> {
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

pub(crate) fn is_harmless(name: &str, harmless: &[&str]) -> bool {
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
pub(crate) struct RawText {
    /// The lines, CRLF-terminated, cut with an ellipsis past the limit.
    pub(crate) text: String,
    /// Whether the limit was reached: later lines are dropped.
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
}
