//! The document's structure: one root `<eventList>`, the elements the mapping knows
//! each inside the one before it, unknown elements and text reported and skipped, and
//! where the document may end. What the known elements say is read in [`super::records`].

use boxoffice_core::{EventRecord, ProviderError, RecordSink};
use quick_xml::events::{BytesDecl, BytesRef};

use super::attributes::{Attributes, read_attributes};
use super::chunked_reader::XmlEvent;
use super::records::{BaseEventHead, EventDraft};
use super::start_tags::Tag;
use super::values::shorten;
use super::{ParseContext, malformed};

/// The root's attributes that carry no data but are expected.
const ROOT_ATTRIBUTES: &[&str] = &["version", "xmlns:xsi", "xsi:noNamespaceSchemaLocation"];

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
pub(super) enum Step {
    Continue,
    /// An `<event>` is complete and mapped: give it to the sink.
    Accept(Box<EventRecord>),
    /// The document ended where it should.
    Done,
}

/// The parser's state between two XML events.
pub(super) struct FeedParser<'c> {
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
    /// How many zones the last `<event>` had: room reserved for the next one's.
    last_zone_count: usize,
    /// The document offset just after the event being handled, for messages.
    pub(super) offset: u64,
}

impl<'c> FeedParser<'c> {
    pub(super) fn new(ctx: &'c ParseContext) -> Self {
        Self {
            ctx,
            phase: Phase::Prolog,
            open: Vec::with_capacity(5),
            skipping: 0,
            base: None,
            event: None,
            last_zone_count: 0,
            offset: 0,
        }
    }

    pub(super) fn handle(
        &mut self,
        event: XmlEvent<'_>,
        sink: &mut dyn RecordSink,
    ) -> Result<Step, ProviderError> {
        match event {
            XmlEvent::Start(tag) => self.on_start(tag, false, sink),
            XmlEvent::Empty(tag) => self.on_start(tag, true, sink),
            // The reader has checked that the end tag matches the open element.
            XmlEvent::End => Ok(self.on_end(sink)),
            XmlEvent::Text(text) => self.on_text(&text, sink),
            XmlEvent::Reference(reference) => self.on_reference(&reference, sink),
            XmlEvent::Declaration(declaration) => {
                check_declaration(&declaration)?;
                Ok(Step::Continue)
            }
            XmlEvent::DocType => Err(malformed(
                "DOCTYPE declarations are not accepted (entities are never expanded)",
            )),
            XmlEvent::Ignored => Ok(Step::Continue),
            XmlEvent::Eof => self.on_eof(),
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
        tag: Tag<'_>,
        empty: bool,
        sink: &mut dyn RecordSink,
    ) -> Result<Step, ProviderError> {
        // Checking the whole tag once covers its name and every attribute.
        let markup = match tag.text() {
            Some(markup) => markup,
            None => self.utf8(tag.content())?,
        };
        let name_bytes = tag.name();
        // The name ends at whitespace or at the end of the tag: a character boundary.
        let name = match markup.get(..name_bytes.len()) {
            Some(name) => name,
            None => self.utf8(name_bytes)?,
        };
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
                let mut attributes = Attributes::new();
                read_attributes(markup, name.len(), self.offset, &mut attributes)?;
                for (key, _) in &attributes {
                    if !ROOT_ATTRIBUTES.contains(key) {
                        sink.unknown(&format!("eventList@{}", shorten(key)));
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
                let mut attributes = Attributes::new();
                read_attributes(markup, name.len(), self.offset, &mut attributes)?;
                match element {
                    Element::EventList => {}
                    Element::Output => {
                        for (key, _) in &attributes {
                            sink.unknown(&format!("output@{}", shorten(key)));
                        }
                    }
                    Element::BaseEvent => {
                        self.base = Some(BaseEventHead::read(&attributes, markup, empty, sink));
                    }
                    Element::Event => {
                        let base = self.base.as_ref();
                        self.event = Some(EventDraft::read(
                            &attributes,
                            markup,
                            empty,
                            base,
                            self.last_zone_count,
                            sink,
                        ));
                    }
                    Element::Zone => {
                        if let Some(event) = self.event.as_mut() {
                            event.add_zone(&attributes, markup, sink);
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
                Some(draft) => {
                    self.last_zone_count = draft.zone_count();
                    match draft.finish(self.base.as_ref(), self.ctx) {
                        Ok(record) => Step::Accept(Box::new(record)),
                        Err(rejection) => {
                            sink.reject(rejection);
                            Step::Continue
                        }
                    }
                }
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
