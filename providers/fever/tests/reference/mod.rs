//! The parser as it was before the chunked reader (commit 3a09835), frozen as the oracle
//! of `tests/equivalence.rs`: the new parser must give exactly what this one gives
//! (records, rejections, unknown-field reports, errors and their messages) on every
//! input. Not to be changed, except to keep it compiling.

//! (The original module documentation follows.)
//!
//! The streaming parser of the Fever `eventList` feed.
//!
//! ```xml
//! <eventList version="1.0"><output>
//!   <base_event base_event_id="291" sell_mode="online" organizer_company_id="2" title="Camela">
//!     <event event_id="291" event_start_date="2021-06-30T21:00:00" event_end_date="2021-06-30T22:00:00"
//!            sell_from="2020-07-01T00:00:00" sell_to="2021-06-30T20:00:00" sold_out="false">
//!       <zone zone_id="40" capacity="243" price="20.00" name="Platea" numbered="true" />
//!     </event>
//!   </base_event>
//! </output></eventList>
//! ```
//!
//! The document is read event by event and each `<event>` is pushed into the sink as
//! soon as its end tag is read: memory is bounded by one `<event>` and its zones, not
//! by the feed. A record that cannot be mapped is rejected with a reason and its
//! neighbours are kept; only a document that is not well-formed XML, not UTF-8, not
//! an `eventList`, truncated or carrying a DTD fails the whole feed.

use std::borrow::Cow;
use std::str::FromStr;

use boxoffice_core::{
    EventRecord, ExternalKey, LocalMoment, ProviderError, RecordSink, Rejection, SellMode, Zone,
};
use chrono::NaiveDateTime;
use quick_xml::encoding::Decoder;
use quick_xml::events::{BytesDecl, BytesRef, BytesStart, Event};
use quick_xml::{Reader, errors::Error as XmlError, errors::SyntaxError};
use rust_decimal::Decimal;
use smallvec::SmallVec;
use tokio::io::AsyncBufRead;

use boxoffice_core::read_error as from_read_error;
use boxoffice_provider_fever::ParseContext;

/// The wall-clock format of every date-time in the feed (no offset: the instance's
/// time zone says where it is).
const DATE_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.f";

/// How much of a rejected record's markup is kept for a person to read.
const MAX_RAW_BYTES: usize = 4 * 1024;

/// How much of a bad value a reason quotes.
const MAX_QUOTED_CHARS: usize = 80;

/// The root's attributes that carry no data but are expected.
const ROOT_ATTRIBUTES: &[&str] = &["version", "xmlns:xsi", "xsi:noNamespaceSchemaLocation"];

/// Parses a whole feed from `reader`, pushing every `<event>` into `sink` as a record
/// or a rejection as soon as it is read, and unknown elements and attributes as
/// [`RecordSink::unknown`]. Returns the number of bytes of the document read.
///
/// Fails with [`ProviderError::Malformed`] when the document is not well-formed XML,
/// is truncated, is not UTF-8, has another root than `eventList` or has a DOCTYPE
/// (entities are never expanded); with [`ProviderError::TooLarge`] or
/// [`ProviderError::Fetch`] when `reader` fails; with [`ProviderError::Sink`] when the
/// sink does.
pub async fn parse_feed<R>(
    reader: R,
    ctx: &ParseContext,
    sink: &mut dyn RecordSink,
) -> Result<u64, ProviderError>
where
    R: AsyncBufRead + Unpin,
{
    let mut reader = Reader::from_reader(reader);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.expand_empty_elements = false;
    config.trim_text(false);

    let mut parser = FeedParser::new(ctx);
    let mut buf = Vec::with_capacity(8 * 1024);
    loop {
        let event = match reader.read_event_into_async(&mut buf).await {
            Ok(event) => event,
            Err(error) => return Err(xml_error(&error, reader.error_position())),
        };
        parser.offset = reader.buffer_position();
        match parser.handle(event, reader.decoder(), sink)? {
            Step::Continue => {}
            Step::Accept(record) => sink.accept(*record).await?,
            Step::Done => return Ok(parser.offset),
        }
        buf.clear();
    }
}

/// Turns a reader error into what it means for the fetch.
fn xml_error(error: &XmlError, position: u64) -> ProviderError {
    match error {
        XmlError::Io(io) => from_read_error(io),
        XmlError::Syntax(
            syntax @ (SyntaxError::UnclosedTag
            | SyntaxError::UnclosedComment
            | SyntaxError::UnclosedCData
            | SyntaxError::UnclosedDoctype
            | SyntaxError::UnclosedPIOrXmlDecl),
        ) => malformed(format!("the feed is truncated at byte {position}: {syntax}")),
        other => malformed(format!("not well-formed XML at byte {position}: {other}")),
    }
}

fn malformed(message: impl Into<String>) -> ProviderError {
    ProviderError::Malformed(message.into())
}

/// The elements the mapping knows, each only inside the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Element {
    EventList,
    Output,
    BaseEvent,
    Event,
    Zone,
}

impl Element {
    fn name(self) -> &'static str {
        match self {
            Element::EventList => "eventList",
            Element::Output => "output",
            Element::BaseEvent => "base_event",
            Element::Event => "event",
            Element::Zone => "zone",
        }
    }

    /// The element `name` stands for inside `self`, when the mapping knows it there.
    fn child(self, name: &str) -> Option<Element> {
        match (self, name) {
            (Element::EventList, "output") => Some(Element::Output),
            (Element::Output, "base_event") => Some(Element::BaseEvent),
            (Element::BaseEvent, "event") => Some(Element::Event),
            (Element::Event, "zone") => Some(Element::Zone),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before the root element: declaration, comments, whitespace.
    Prolog,
    /// Inside `<eventList>`.
    Body,
    /// After `</eventList>`: only comments and whitespace may follow.
    Epilog,
}

/// What the read loop does after an XML event.
enum Step {
    Continue,
    /// An `<event>` is complete and mapped: give it to the sink.
    Accept(Box<EventRecord>),
    /// The document ended where it should.
    Done,
}

/// The parser's state between two XML events.
struct FeedParser<'c> {
    ctx: &'c ParseContext,
    phase: Phase,
    /// The known elements open, outermost first (at most five).
    open: Vec<Element>,
    /// How deep inside an unknown element the reader is (0: not inside one).
    skipping: usize,
    /// The `<base_event>` open, if any.
    base: Option<BaseEventHead>,
    /// The `<event>` open, if any.
    event: Option<EventDraft>,
    /// Bytes read so far, for messages.
    offset: u64,
}

impl<'c> FeedParser<'c> {
    fn new(ctx: &'c ParseContext) -> Self {
        Self {
            ctx,
            phase: Phase::Prolog,
            open: Vec::with_capacity(5),
            skipping: 0,
            base: None,
            event: None,
            offset: 0,
        }
    }

    fn handle(
        &mut self,
        event: Event<'_>,
        decoder: Decoder,
        sink: &mut dyn RecordSink,
    ) -> Result<Step, ProviderError> {
        match event {
            Event::Start(tag) => self.on_start(&tag, false, decoder, sink),
            Event::Empty(tag) => self.on_start(&tag, true, decoder, sink),
            // The reader has checked that the end tag matches the open element.
            Event::End(_) => Ok(self.on_end(sink)),
            Event::Text(text) => self.on_text(&text, sink),
            Event::CData(data) => self.on_text(&data, sink),
            Event::GeneralRef(reference) => self.on_reference(&reference, sink),
            Event::Decl(declaration) => {
                check_declaration(&declaration)?;
                Ok(Step::Continue)
            }
            Event::DocType(_) => Err(malformed(
                "DOCTYPE declarations are not accepted (entities are never expanded)",
            )),
            Event::Comment(_) | Event::PI(_) => Ok(Step::Continue),
            Event::Eof => self.on_eof(),
        }
    }

    fn utf8<'a>(&self, bytes: &'a [u8]) -> Result<&'a str, ProviderError> {
        std::str::from_utf8(bytes).map_err(|_| {
            malformed(format!(
                "the feed is not valid UTF-8 (in the markup ending at byte {})",
                self.offset
            ))
        })
    }

    fn on_start(
        &mut self,
        tag: &BytesStart<'_>,
        empty: bool,
        decoder: Decoder,
        sink: &mut dyn RecordSink,
    ) -> Result<Step, ProviderError> {
        // Checking the whole tag once covers its name and every attribute.
        let markup = self.utf8(tag)?;
        let name = self.utf8(tag.name().into_inner())?;
        match self.phase {
            Phase::Epilog => Err(malformed(format!(
                "an element <{}> follows </eventList>: a document has a single root",
                shorten(name)
            ))),
            Phase::Prolog => {
                if name != "eventList" {
                    return Err(malformed(format!(
                        "the root element is <{}>, expected <eventList>",
                        shorten(name)
                    )));
                }
                for (key, _) in attributes(tag, decoder, self.offset)? {
                    if !ROOT_ATTRIBUTES.contains(&key.as_ref()) {
                        sink.unknown(&format!("eventList@{}", shorten(&key)));
                    }
                }
                if empty {
                    self.phase = Phase::Epilog;
                } else {
                    self.phase = Phase::Body;
                    self.open.push(Element::EventList);
                }
                Ok(Step::Continue)
            }
            Phase::Body => {
                if self.skipping > 0 {
                    if !empty {
                        self.skipping += 1;
                    }
                    return Ok(Step::Continue);
                }
                let parent = self.open.last().copied().unwrap_or(Element::EventList);
                let Some(element) = parent.child(name) else {
                    sink.unknown(&format!("{}/{}", parent.name(), shorten(name)));
                    if !empty {
                        self.skipping = 1;
                    }
                    return Ok(Step::Continue);
                };
                let attributes = attributes(tag, decoder, self.offset)?;
                match element {
                    Element::EventList => {}
                    Element::Output => {
                        for (key, _) in &attributes {
                            sink.unknown(&format!("output@{}", shorten(key)));
                        }
                    }
                    Element::BaseEvent => {
                        self.base = Some(BaseEventHead::read(attributes, markup, empty, sink));
                    }
                    Element::Event => {
                        let base = self.base.as_ref();
                        self.event = Some(EventDraft::read(attributes, markup, empty, base, sink));
                    }
                    Element::Zone => {
                        if let Some(event) = self.event.as_mut() {
                            event.add_zone(attributes, markup, sink);
                        }
                    }
                }
                if !empty {
                    self.open.push(element);
                    return Ok(Step::Continue);
                }
                Ok(self.close(element, sink))
            }
        }
    }

    fn on_end(&mut self, sink: &mut dyn RecordSink) -> Step {
        if self.skipping > 0 {
            self.skipping -= 1;
            return Step::Continue;
        }
        match self.open.pop() {
            Some(element) => self.close(element, sink),
            None => Step::Continue,
        }
    }

    /// An element has ended (its end tag, or it was empty).
    fn close(&mut self, element: Element, sink: &mut dyn RecordSink) -> Step {
        match element {
            Element::EventList => {
                self.phase = Phase::Epilog;
                Step::Continue
            }
            Element::BaseEvent => {
                self.base = None;
                Step::Continue
            }
            Element::Event => match self.event.take() {
                Some(draft) => match draft.finish(self.base.as_ref(), self.ctx) {
                    Ok(record) => Step::Accept(Box::new(record)),
                    Err(rejection) => {
                        sink.reject(rejection);
                        Step::Continue
                    }
                },
                None => Step::Continue,
            },
            Element::Output | Element::Zone => Step::Continue,
        }
    }

    fn on_text(&mut self, text: &[u8], sink: &mut dyn RecordSink) -> Result<Step, ProviderError> {
        if text.iter().all(u8::is_ascii_whitespace) {
            return Ok(Step::Continue);
        }
        self.utf8(text)?;
        self.text_found(sink)
    }

    fn on_reference(
        &mut self,
        reference: &BytesRef<'_>,
        sink: &mut dyn RecordSink,
    ) -> Result<Step, ProviderError> {
        let name = self.utf8(reference)?;
        if reference.is_char_ref() {
            if reference.resolve_char_ref().is_err() {
                return Err(malformed(format!(
                    "not well-formed XML at byte {}: invalid character reference &{};",
                    self.offset,
                    shorten(name)
                )));
            }
        } else if !matches!(name, "lt" | "gt" | "amp" | "apos" | "quot") {
            return Err(malformed(format!(
                "not well-formed XML at byte {}: the entity &{}; is not defined",
                self.offset,
                shorten(name)
            )));
        }
        self.text_found(sink)
    }

    /// Character data where the mapping expects none.
    fn text_found(&mut self, sink: &mut dyn RecordSink) -> Result<Step, ProviderError> {
        match self.phase {
            Phase::Prolog => Err(malformed(format!(
                "the feed is not an XML document: text before the root element (byte {})",
                self.offset
            ))),
            Phase::Epilog => Err(malformed(format!(
                "text after </eventList> (byte {})",
                self.offset
            ))),
            Phase::Body => {
                if self.skipping == 0
                    && let Some(element) = self.open.last()
                {
                    sink.unknown(&format!("{}/#text", element.name()));
                }
                Ok(Step::Continue)
            }
        }
    }

    fn on_eof(&self) -> Result<Step, ProviderError> {
        match self.phase {
            Phase::Epilog => Ok(Step::Done),
            Phase::Prolog if self.offset == 0 => {
                Err(malformed("the feed is empty (truncated before <eventList>)"))
            }
            Phase::Prolog => Err(malformed(format!(
                "the feed is truncated: it ends at byte {} before <eventList>",
                self.offset
            ))),
            Phase::Body => {
                let inside = match self.open.last() {
                    Some(element) if self.skipping == 0 => format!("<{}>", element.name()),
                    _ => "an unknown element".to_owned(),
                };
                Err(malformed(format!(
                    "the feed is truncated: it ends at byte {} inside {inside}, before </eventList>",
                    self.offset
                )))
            }
        }
    }
}

/// Refuses a declaration of another encoding than UTF-8 (or its subset ASCII).
fn check_declaration(declaration: &BytesDecl<'_>) -> Result<(), ProviderError> {
    let Some(encoding) = declaration.encoding() else {
        return Ok(());
    };
    let encoding = encoding.map_err(|error| malformed(format!("bad XML declaration: {error}")))?;
    let accepted = ["utf-8", "utf8", "us-ascii", "ascii"]
        .iter()
        .any(|name| encoding.eq_ignore_ascii_case(name.as_bytes()));
    if accepted {
        Ok(())
    } else {
        Err(malformed(format!(
            "the feed declares the encoding {:?}; only UTF-8 is accepted",
            shorten(&String::from_utf8_lossy(&encoding))
        )))
    }
}

/// A tag's attributes: names and unescaped values, borrowed from the tag when possible.
type Attributes<'a> = SmallVec<[(Cow<'a, str>, Cow<'a, str>); 8]>;

/// A tag's attributes, names and unescaped values. Duplicates, bad quoting and
/// undefined entities are not well-formed XML and fail the feed.
fn attributes<'a>(
    tag: &'a BytesStart<'_>,
    decoder: Decoder,
    offset: u64,
) -> Result<Attributes<'a>, ProviderError> {
    let not_well_formed =
        |error: &dyn std::fmt::Display| malformed(format!("not well-formed XML at byte {offset}: {error}"));
    tag.attributes()
        .map(|attribute| {
            let attribute = attribute.map_err(|error| not_well_formed(&error))?;
            // Borrowed unless the value holds an escape: no allocation per attribute.
            // The whole tag was checked to be UTF-8 already.
            let key = std::str::from_utf8(attribute.key.into_inner())
                .map(Cow::Borrowed)
                .map_err(|error| not_well_formed(&error))?;
            let value = attribute
                .decode_and_unescape_value(decoder)
                .map_err(|error| not_well_formed(&error))?;
            Ok((key, value))
        })
        .collect()
}

/// The attributes of the `<base_event>` open, checked once for all its events.
struct BaseEventHead {
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
    fn read(attributes: Attributes<'_>, markup: &str, empty: bool, sink: &mut dyn RecordSink) -> Self {
        let mut head = BaseEventHead {
            id: None,
            title: None,
            sell_mode: None,
            organizer_company_id: None,
            problems: Vec::new(),
            raw: RawMarkup::default(),
        };
        head.raw.push_tag(markup, empty);
        head.problems = missing(&attributes, &["base_event_id", "sell_mode", "title"]);
        for (key, value) in attributes {
            match key.as_ref() {
                "base_event_id" => head.id = required_id(&key, value.into_owned(), &mut head.problems),
                "title" => head.title = Some(value.into_owned()),
                "sell_mode" => {
                    head.sell_mode = SellMode::parse(&value);
                    if head.sell_mode.is_none() {
                        head.problems.push(format!(
                            "sell_mode {} is neither \"online\" nor \"offline\"",
                            quote(&value)
                        ));
                    }
                }
                "organizer_company_id" => {
                    head.organizer_company_id = Some(value.into_owned()).filter(|id| !id.is_empty());
                }
                _ => sink.unknown(&format!("base_event@{}", shorten(&key))),
            }
        }
        head
    }
}

/// An `<event>` being read: its attributes and the zones read so far.
struct EventDraft {
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
    fn read(
        attributes: Attributes<'_>,
        markup: &str,
        empty: bool,
        base: Option<&BaseEventHead>,
        sink: &mut dyn RecordSink,
    ) -> Self {
        let mut draft = EventDraft {
            id: None,
            start: None,
            end: None,
            sell_from: None,
            sell_to: None,
            sold_out: false,
            zones: Vec::new(),
            problems: Vec::new(),
            raw: base.map(|base| base.raw.clone()).unwrap_or_default(),
        };
        draft.raw.push_tag(markup, empty);
        draft.problems = missing(&attributes, &["event_id", "event_start_date", "event_end_date"]);
        for (key, value) in attributes {
            let problems = &mut draft.problems;
            match key.as_ref() {
                "event_id" => draft.id = required_id(&key, value.into_owned(), problems),
                "event_start_date" => draft.start = date_time(&key, &value, problems),
                "event_end_date" => draft.end = date_time(&key, &value, problems),
                "sell_from" => draft.sell_from = date_time(&key, &value, problems),
                "sell_to" => draft.sell_to = date_time(&key, &value, problems),
                "sold_out" => draft.sold_out = boolean(&key, &value, problems).unwrap_or(false),
                _ => sink.unknown(&format!("event@{}", shorten(&key))),
            }
        }
        draft
    }

    fn add_zone(&mut self, attributes: Attributes<'_>, markup: &str, sink: &mut dyn RecordSink) {
        let mut zone_id = None;
        let mut name = String::new();
        let mut capacity = None;
        let mut price = None;
        let mut numbered = Some(false);
        let mut problems = missing(&attributes, &["zone_id", "capacity", "price"]);
        for (key, value) in attributes {
            match key.as_ref() {
                "zone_id" => {
                    zone_id = required_id(&key, value.into_owned(), &mut problems);
                }
                "name" => name = value.into_owned(),
                "capacity" => {
                    capacity = value.trim().parse::<u32>().ok();
                    if capacity.is_none() {
                        problems.push(format!(
                            "capacity {} is not a whole number from 0 to {}",
                            quote(&value),
                            u32::MAX
                        ));
                    }
                }
                "price" => {
                    price = match Decimal::from_str(value.trim()) {
                        Ok(price) if price < Decimal::ZERO => {
                            problems.push(format!("price {} is negative", quote(&value)));
                            None
                        }
                        Ok(price) => Some(price),
                        Err(_) => {
                            problems.push(format!("price {} is not a decimal number", quote(&value)));
                            None
                        }
                    };
                }
                "numbered" => numbered = boolean(&key, &value, &mut problems),
                _ => sink.unknown(&format!("zone@{}", shorten(&key))),
            }
        }
        match (zone_id, capacity, price, numbered) {
            (Some(zone_id), Some(capacity), Some(price), Some(numbered)) if problems.is_empty() => {
                self.zones.push(Zone {
                    zone_id,
                    name,
                    capacity,
                    price,
                    max_price: None,
                    numbered,
                });
            }
            (zone_id, ..) => {
                // Only the zones at fault join the raw markup: good ones cost nothing.
                self.raw.push_tag(markup, true);
                let label = zone_id.as_deref().map_or(Cow::Borrowed("?"), shorten);
                for problem in problems {
                    self.problems.push(format!("zone {label}: {problem}"));
                }
            }
        }
    }

    /// The record, or why it cannot be one.
    fn finish(mut self, base: Option<&BaseEventHead>, ctx: &ParseContext) -> Result<EventRecord, Rejection> {
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

/// A required id: present and not empty.
fn required_id(name: &str, value: String, problems: &mut Vec<String>) -> Option<String> {
    if value.trim().is_empty() {
        problems.push(format!("{name} is empty"));
        None
    } else {
        Some(value)
    }
}

fn date_time(name: &str, value: &str, problems: &mut Vec<String>) -> Option<NaiveDateTime> {
    let parsed = NaiveDateTime::parse_from_str(value.trim(), DATE_TIME_FORMAT).ok();
    if parsed.is_none() {
        problems.push(format!(
            "{name} {} is not a valid date-time (expected YYYY-MM-DDTHH:MM:SS)",
            quote(value)
        ));
    }
    parsed
}

fn boolean(name: &str, value: &str, problems: &mut Vec<String>) -> Option<bool> {
    match value.trim() {
        "true" => Some(true),
        "false" => Some(false),
        _ => {
            problems.push(format!(
                "{name} {} is neither \"true\" nor \"false\"",
                quote(value)
            ));
            None
        }
    }
}

/// A value as a reason quotes it: in double quotes, escaped, at most
/// [`MAX_QUOTED_CHARS`] characters.
fn quote(value: &str) -> String {
    format!("{:?}", shorten(value))
}

/// At most [`MAX_QUOTED_CHARS`] characters of `text`, with `…` when cut.
fn shorten(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        None => Cow::Borrowed(text),
        Some((cut, _)) => Cow::Owned(format!("{}…", &text[..cut])),
    }
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
