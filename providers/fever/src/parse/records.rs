//! The mapping of the known elements to records: a `<base_event>`'s attributes are read
//! once for all its sessions, each `<event>` with its `<zone>`s becomes one
//! [`EventRecord`] or one [`Rejection`] naming every problem found in it.

use std::borrow::Cow;

use boxoffice_core::{EventRecord, ExternalKey, LocalMoment, RecordSink, Rejection, SellMode, Zone};
use chrono::NaiveDateTime;

use super::ParseContext;
use super::attributes::Attributes;
use super::values::{boolean, capacity, date_time, price, quote, required_id, shorten};

/// How much of a rejected record's markup is kept for a person to read.
const MAX_RAW_BYTES: usize = 4 * 1024;

/// The attributes of the `<base_event>` open, checked once for all its events.
pub(super) struct BaseEventHead {
    id: Option<String>,
    title: Option<String>,
    sell_mode: Option<SellMode>,
    organizer_company_id: Option<String>,
    /// What is wrong with it: each of its events is rejected with these.
    problems: Vec<String>,
    /// Its start tag, for rejections.
    raw: RawMarkup,
}

impl BaseEventHead {
    pub(super) fn read(
        attributes: &Attributes<'_>,
        markup: &str,
        empty: bool,
        sink: &mut dyn RecordSink,
    ) -> Self {
        let mut head = BaseEventHead {
            id: None,
            title: None,
            sell_mode: None,
            organizer_company_id: None,
            problems: Vec::new(),
            raw: RawMarkup::default(),
        };
        head.raw.push_tag(markup, empty);
        head.problems = missing(attributes, &["base_event_id", "sell_mode", "title"]);
        for &(key, ref value) in attributes {
            match key {
                "base_event_id" => head.id = required_id(key, value, &mut head.problems).map(str::to_owned),
                "title" => head.title = Some(value.as_ref().to_owned()),
                "sell_mode" => {
                    head.sell_mode = SellMode::parse(value);
                    if head.sell_mode.is_none() {
                        head.problems.push(format!(
                            "sell_mode {} is neither \"online\" nor \"offline\"",
                            quote(value)
                        ));
                    }
                }
                "organizer_company_id" => {
                    head.organizer_company_id = Some(value.as_ref().to_owned()).filter(|id| !id.is_empty());
                }
                _ => sink.unknown(&format!("base_event@{}", shorten(key))),
            }
        }
        head
    }
}

/// An `<event>` being read: its attributes and the zones read so far.
pub(super) struct EventDraft {
    id: Option<String>,
    start: Option<NaiveDateTime>,
    end: Option<NaiveDateTime>,
    sell_from: Option<NaiveDateTime>,
    sell_to: Option<NaiveDateTime>,
    sold_out: bool,
    zones: Vec<Zone>,
    problems: Vec<String>,
    raw: RawMarkup,
}

impl EventDraft {
    /// The event of start tag `markup`, with room for `expected_zones`.
    pub(super) fn read(
        attributes: &Attributes<'_>,
        markup: &str,
        empty: bool,
        base: Option<&BaseEventHead>,
        expected_zones: usize,
        sink: &mut dyn RecordSink,
    ) -> Self {
        let mut draft = EventDraft {
            id: None,
            start: None,
            end: None,
            sell_from: None,
            sell_to: None,
            sold_out: false,
            zones: Vec::with_capacity(expected_zones),
            problems: Vec::new(),
            raw: base.map(|base| base.raw.clone()).unwrap_or_default(),
        };
        draft.raw.push_tag(markup, empty);
        draft.problems = missing(attributes, &["event_id", "event_start_date", "event_end_date"]);
        for &(key, ref value) in attributes {
            let problems = &mut draft.problems;
            match key {
                "event_id" => draft.id = required_id(key, value, problems).map(str::to_owned),
                "event_start_date" => draft.start = date_time(key, value, problems),
                "event_end_date" => draft.end = date_time(key, value, problems),
                "sell_from" => draft.sell_from = date_time(key, value, problems),
                "sell_to" => draft.sell_to = date_time(key, value, problems),
                "sold_out" => draft.sold_out = boolean(key, value, problems).unwrap_or(false),
                _ => sink.unknown(&format!("event@{}", shorten(key))),
            }
        }
        draft
    }

    /// How many zones were kept so far.
    pub(super) fn zone_count(&self) -> usize {
        self.zones.len()
    }

    /// Reads a `<zone>` (start tag `markup`): kept when sound, otherwise its problems
    /// and its markup join the event's, which will be rejected.
    pub(super) fn add_zone(&mut self, attributes: &Attributes<'_>, markup: &str, sink: &mut dyn RecordSink) {
        const REQUIRED: [&str; 3] = ["zone_id", "capacity", "price"];
        let mut present = [false; REQUIRED.len()];
        let mut zone_id = None;
        let mut name = "";
        let mut capacity_read = None;
        let mut price_read = None;
        let mut numbered = Some(false);
        let mut problems = Vec::new();
        for &(key, ref value) in attributes {
            match key {
                "zone_id" => {
                    present[0] = true;
                    zone_id = required_id(key, value, &mut problems);
                }
                "name" => name = value,
                "capacity" => {
                    present[1] = true;
                    capacity_read = capacity(value, &mut problems);
                }
                "price" => {
                    present[2] = true;
                    price_read = price(value, &mut problems);
                }
                "numbered" => numbered = boolean(key, value, &mut problems),
                _ => sink.unknown(&format!("zone@{}", shorten(key))),
            }
        }
        if present.contains(&false) {
            // Missing attributes are named first, in the order of `REQUIRED`.
            let mut all: Vec<String> = REQUIRED
                .iter()
                .zip(present)
                .filter(|(_, present)| !present)
                .map(|(name, _)| format!("{name} is missing"))
                .collect();
            all.append(&mut problems);
            problems = all;
        }
        match (zone_id, capacity_read, price_read, numbered) {
            (Some(zone_id), Some(capacity), Some(price), Some(numbered)) if problems.is_empty() => {
                self.zones.push(Zone {
                    zone_id: zone_id.to_owned(),
                    name: name.to_owned(),
                    capacity,
                    price,
                    max_price: None,
                    numbered,
                });
            }
            (zone_id, ..) => {
                // Only the zones at fault join the raw markup: good ones cost nothing.
                self.raw.push_tag(markup, true);
                let label = zone_id.map_or(Cow::Borrowed("?"), shorten);
                for problem in problems {
                    self.problems.push(format!("zone {label}: {problem}"));
                }
            }
        }
    }

    /// The record, or why it cannot be one.
    pub(super) fn finish(
        mut self,
        base: Option<&BaseEventHead>,
        ctx: &ParseContext,
    ) -> Result<EventRecord, Rejection> {
        let base_id = base.and_then(|base| base.id.as_deref()).unwrap_or("?");
        let event_id = self.id.as_deref().unwrap_or("?");
        let name = format!("base_event {} / event {}", shorten(base_id), shorten(event_id));
        let mut problems = base.map(|base| base.problems.clone()).unwrap_or_default();
        problems.append(&mut self.problems);
        self.raw.push("</event></base_event>");
        let reject = |reason: String, raw: RawMarkup| Rejection {
            record: name.clone(),
            reason,
            raw: Some(raw.text),
        };
        let complete = match (base, self.id, self.start, self.end) {
            (Some(base), Some(event_id), Some(start), Some(end)) if problems.is_empty() => {
                match (&base.id, &base.title, base.sell_mode) {
                    (Some(base_id), Some(title), Some(sell_mode)) => {
                        Some((base_id, title, sell_mode, event_id, start, end, base))
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        let Some((base_id, title, sell_mode, event_id, start, end, base)) = complete else {
            if problems.is_empty() {
                problems.push("the event is not inside a <base_event>".to_owned());
            }
            return Err(reject(problems.join("; "), self.raw));
        };
        let record = EventRecord {
            key: ExternalKey {
                provider: ctx.provider.clone(),
                series_id: base_id.clone(),
                session_id: event_id,
            },
            title: title.clone(),
            sell_mode,
            organizer_company_id: base.organizer_company_id.clone(),
            sold_out: self.sold_out,
            start: LocalMoment::from_local(start, ctx.timezone),
            end: Some(LocalMoment::from_local(end, ctx.timezone)),
            sell_from: self.sell_from,
            sell_to: self.sell_to,
            zones: self.zones,
            prices: None,
            currency: None,
        };
        match record.validate() {
            Ok(()) => Ok(record),
            Err(reason) => Err(reject(reason, self.raw)),
        }
    }
}

/// "`name` is missing" for each of `required` that is not among `attributes`.
fn missing(attributes: &Attributes<'_>, required: &[&str]) -> Vec<String> {
    required
        .iter()
        .filter(|name| !attributes.iter().any(|(key, _)| key == *name))
        .map(|name| format!("{name} is missing"))
        .collect()
}

/// A compact copy of a record's markup as it was sent (start tags with their
/// attributes), at most [`MAX_RAW_BYTES`], for a person to see what was wrong.
#[derive(Debug, Clone, Default)]
struct RawMarkup {
    text: String,
    full: bool,
}

impl RawMarkup {
    /// Appends a tag whose content (name and attributes) is `markup`.
    fn push_tag(&mut self, markup: &str, empty: bool) {
        if self.full {
            return;
        }
        self.push("<");
        self.push(markup.trim_end());
        self.push(if empty { "/>" } else { ">" });
    }

    fn push(&mut self, part: &str) {
        if self.full {
            return;
        }
        let room = MAX_RAW_BYTES.saturating_sub(self.text.len());
        if part.len() <= room {
            self.text.push_str(part);
            return;
        }
        let mut cut = room.saturating_sub('…'.len_utf8());
        while !part.is_char_boundary(cut) {
            cut -= 1;
        }
        self.text.push_str(&part[..cut]);
        self.text.push('…');
        self.full = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_markup_is_capped_on_a_character_boundary() {
        let mut raw = RawMarkup::default();
        raw.push_tag("event a=\"1\" ", true);
        assert_eq!(raw.text, "<event a=\"1\"/>");
        raw.push(&"é".repeat(MAX_RAW_BYTES));
        raw.push("more");
        assert!(raw.text.len() <= MAX_RAW_BYTES);
        assert!(raw.text.ends_with('…'));
        assert!(!raw.text.ends_with("more"));
    }
}
