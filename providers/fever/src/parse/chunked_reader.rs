//! The chunked XML reader: the body's bytes in, one XML event at a time out.
//!
//! Why it is shaped this way. quick-xml's async reader awaits once per XML event and
//! copies each event into its own buffer; on a feed of 150,000 one-line `<zone/>` tags
//! that cost about a sixth of the parse. So the body comes through the kit's
//! [`ChunkedInput`] (one await per large chunk) and events are cut out of the chunk
//! synchronously, borrowed from it.
//!
//! Each markup (`<…>`) and reference (`&…;`) is tokenized by a quick-xml slice reader
//! placed on its first byte, so that what counts as an element, a comment or an error,
//! and each error's wording and position, stay quick-xml's. Start tags, nearly every
//! event of a feed, are the exception: their end is found by quick-xml's rule (the
//! first `>` outside quotes) without a search per quote ([`super::start_tags`]), and
//! one whose end is not found goes to quick-xml like the rest. Each chunk is checked
//! to be UTF-8 once, so tags need not be checked one by one. Since a slice reader sees
//! a single event, what the one async reader kept across events is kept here: runs of
//! text (cut at `<` and `&`), that an end tag closes the open element (quick-xml's own
//! check is off: it would not see earlier chunks' start tags), and byte offsets
//! counted after a UTF-8 byte order mark, as quick-xml does.
//!
//! An error means "the event goes on in the next chunk" when quick-xml reports a
//! markup or reference unclosed after consuming all its input (see [`runs_past`]);
//! otherwise the document is wrong.

use std::borrow::Cow;

use boxoffice_core::ProviderError;
use boxoffice_core::read_error;
use boxoffice_kit::input::{ChunkedInput, Utf8, Window};
use quick_xml::Reader;
use quick_xml::errors::{Error as XmlError, IllFormedError, SyntaxError};
use quick_xml::events::{BytesDecl, BytesRef, Event};
use tokio::io::AsyncRead;

use super::malformed;
use super::start_tags::{Tag, tag_end};

/// The bytes read from the body at a time.
pub(super) const CHUNK_BYTES: usize = boxoffice_kit::input::CHUNK_BYTES;

/// One XML event, borrowed from the chunk.
#[derive(Debug)]
pub(super) enum XmlEvent<'a> {
    /// A start tag: `<name attributes>`.
    Start(Tag<'a>),
    /// An empty-element tag: `<name attributes/>`.
    Empty(Tag<'a>),
    /// An end tag, already checked to close the element open.
    End,
    /// Character data: a run of text, or the content of a CDATA section.
    Text(Cow<'a, [u8]>),
    /// A character or entity reference in text: `&name;`.
    Reference(BytesRef<'a>),
    /// The XML declaration: `<?xml …?>`.
    Declaration(BytesDecl<'a>),
    /// A document type declaration: `<!DOCTYPE …>`.
    DocType,
    /// A comment or a processing instruction: nothing to read in it.
    Ignored,
    /// The end of the document.
    Eof,
}

/// Reads a body in chunks and hands out its events (see the module documentation).
pub(super) struct ChunkedReader<R> {
    input: ChunkedInput<R>,
    open: OpenElements,
}

impl<R: AsyncRead + Unpin> ChunkedReader<R> {
    /// A reader of `body` in chunks of `chunk_bytes`.
    pub(super) fn new(body: R, chunk_bytes: usize) -> Self {
        Self {
            // Bytes that are not UTF-8 are refused by the tags that hold them, with
            // quick-xml's positions; in a comment they are allowed.
            input: ChunkedInput::new(body, chunk_bytes, Utf8::Prefix),
            open: OpenElements::default(),
        }
    }

    /// Reads the next chunk after what is carried over (see [`ChunkedInput::fill`]).
    /// Read errors come back as the provider error they stand for, once the events
    /// before them were handed out; never as the end of the document.
    pub(super) async fn fill(&mut self) -> Result<(), ProviderError> {
        self.input.fill().await.map(drop)
    }

    /// The events of what has been read so far.
    pub(super) fn events(&mut self) -> Events<'_> {
        // Offsets are counted after a byte order mark, as quick-xml counts them.
        let bom = self.input.bom_len() as u64;
        Events {
            input: self.input.window(),
            bom,
            open: &mut self.open,
        }
    }
}

/// The events of one chunk; consuming one moves the reader past it.
pub(super) struct Events<'a> {
    input: Window<'a>,
    bom: u64,
    open: &'a mut OpenElements,
}

impl<'a> Events<'a> {
    /// The next event and the document offset just after it; `None` when the rest of
    /// the chunk is the start of an event that goes on in the next chunk.
    pub(super) fn next(&mut self) -> Result<Option<(XmlEvent<'a>, u64)>, ProviderError> {
        let rest = self.input.rest();
        let complete = self.input.complete();
        let Some(&first) = rest.first() else {
            return Ok(complete.then_some((XmlEvent::Eof, self.offset())));
        };
        if first != b'<' && first != b'&' {
            // Text runs to the next markup or reference, or to the end of the document.
            let length = match memchr::memchr2(b'<', b'&', rest) {
                Some(length) => length,
                None if complete => rest.len(),
                None => return Ok(None),
            };
            let text = XmlEvent::Text(Cow::Borrowed(&rest[..length]));
            return Ok(Some((text, self.advance(length))));
        }
        if first == b'&' && !complete && memchr::memchr3(b';', b'&', b'<', &rest[1..]).is_none() {
            // A reference is over at its `;`, or is an error at the next `&` or `<`.
            return Ok(None);
        }
        if first == b'<'
            && !matches!(rest.get(1), None | Some(b'!' | b'/' | b'?'))
            && let Some(end) = tag_end(&rest[1..])
        {
            let text = self.input.text(1..1 + end);
            let (tag, empty) = Tag::new(&rest[1..=end], text);
            let event = if empty {
                XmlEvent::Empty(tag)
            } else {
                self.open.push(tag.name());
                XmlEvent::Start(tag)
            };
            return Ok(Some((event, self.advance(end + 2))));
        }
        // Where the markup starts: errors about it point there, as quick-xml's did.
        let at = self.offset();
        let mut reader = slice_reader(rest);
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(error) => {
                if !complete && runs_past(&error, rest, reader.buffer_position()) {
                    return Ok(None);
                }
                return Err(xml_error(&error, at + reader.error_position()));
            }
        };
        let used = usize::try_from(reader.buffer_position()).unwrap_or(rest.len());
        let event = match event {
            // Not reached (the tags quick-xml finds are found above), but read the same.
            Event::Start(_) | Event::Empty(_) => {
                let (tag, empty) = Tag::new(rest.get(1..used.saturating_sub(1)).unwrap_or_default(), None);
                if empty {
                    XmlEvent::Empty(tag)
                } else {
                    self.open.push(tag.name());
                    XmlEvent::Start(tag)
                }
            }
            Event::End(end) => {
                self.open
                    .close(end.name().into_inner())
                    .map_err(|error| xml_error(&XmlError::IllFormed(error), at))?;
                XmlEvent::End
            }
            Event::Text(text) => XmlEvent::Text(text.into_inner()),
            Event::CData(data) => XmlEvent::Text(data.into_inner()),
            Event::GeneralRef(reference) => XmlEvent::Reference(reference),
            Event::Decl(declaration) => XmlEvent::Declaration(declaration),
            Event::DocType(_) => XmlEvent::DocType,
            Event::Comment(_) | Event::PI(_) => XmlEvent::Ignored,
            Event::Eof => XmlEvent::Eof,
        };
        Ok(Some((event, self.advance(used))))
    }

    /// The document offset of the next byte, after a byte order mark.
    fn offset(&self) -> u64 {
        self.input.position() - self.bom
    }

    /// Moves past `length` bytes; the document offset after them.
    fn advance(&mut self, length: usize) -> u64 {
        self.input.consume(length);
        self.offset()
    }
}

/// A quick-xml reader of one event at the start of `bytes`.
fn slice_reader(bytes: &[u8]) -> Reader<&[u8]> {
    let mut reader = Reader::from_reader(bytes);
    let config = reader.config_mut();
    // Checked by `OpenElements`, which sees the start tags of earlier chunks.
    config.check_end_names = false;
    config.allow_unmatched_ends = true;
    config.expand_empty_elements = false;
    config.trim_text(false);
    reader
}

/// Whether `error`, raised by quick-xml on the markup at the start of `rest` after
/// consuming `consumed` bytes, means that the markup runs past the end of `rest` (more
/// bytes may finish it) rather than that it is wrong.
fn runs_past(error: &XmlError, rest: &[u8], consumed: u64) -> bool {
    match error {
        // Raised only when the input ends before the tag's `>`.
        XmlError::Syntax(SyntaxError::UnclosedTag) => true,
        // `<!` and nothing after it yet: the next byte says what it is.
        XmlError::Syntax(SyntaxError::InvalidBangMarkup) => rest == b"<!",
        // An unclosed comment, CDATA section, DOCTYPE or processing instruction is
        // reported both when the input ends first (all of it consumed) and when the
        // markup ends but is not what its start promised. Asked again with one more byte
        // that ends nothing (every markup ends with `>`), quick-xml consumes that byte
        // only in the first case.
        XmlError::Syntax(_) => {
            if consumed != rest.len() as u64 {
                return false;
            }
            let mut probe = Vec::with_capacity(rest.len() + 1);
            probe.extend_from_slice(rest);
            probe.push(b' ');
            let mut reader = slice_reader(&probe);
            let _ = reader.read_event();
            reader.buffer_position() == probe.len() as u64
        }
        // Ill-formed: said of a complete markup or reference.
        _ => false,
    }
}

/// Turns a reader error into what it means for the fetch.
fn xml_error(error: &XmlError, position: u64) -> ProviderError {
    match error {
        XmlError::Io(io) => read_error(io),
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

/// The names of the elements open, innermost last, to check end tags against (as
/// quick-xml's `check_end_names` does, across chunks).
#[derive(Debug, Default)]
struct OpenElements {
    names: Vec<u8>,
    starts: Vec<usize>,
}

impl OpenElements {
    fn push(&mut self, name: &[u8]) {
        self.starts.push(self.names.len());
        self.names.extend_from_slice(name);
    }

    /// Closes the innermost element; quick-xml's error when `name` is not its name.
    fn close(&mut self, name: &[u8]) -> Result<(), IllFormedError> {
        // quick-xml quotes names it cannot decode as empty.
        let text = |bytes: &[u8]| std::str::from_utf8(bytes).unwrap_or_default().to_owned();
        let Some(start) = self.starts.pop() else {
            return Err(IllFormedError::UnmatchedEndTag(text(name)));
        };
        let expected = &self.names[start..];
        if expected != name {
            return Err(IllFormedError::MismatchedEndTag {
                expected: text(expected),
                found: text(name),
            });
        }
        self.names.truncate(start);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    /// Every event of `document` read in chunks of `chunk_bytes`, as text, or the error.
    async fn events(document: &[u8], chunk_bytes: usize) -> Result<Vec<String>, String> {
        let mut reader = ChunkedReader::new(document, chunk_bytes);
        let mut seen = Vec::new();
        loop {
            reader.fill().await.map_err(|error| error.to_string())?;
            let mut events = reader.events();
            while let Some((event, offset)) = events.next().map_err(|error| error.to_string())? {
                let event = match event {
                    XmlEvent::Start(tag) => format!("start {}", String::from_utf8_lossy(tag.content())),
                    XmlEvent::Empty(tag) => format!("empty {}", String::from_utf8_lossy(tag.content())),
                    XmlEvent::Text(text) => format!("text {:?}", String::from_utf8_lossy(&text)),
                    XmlEvent::Reference(reference) => format!("ref {}", String::from_utf8_lossy(&reference)),
                    XmlEvent::End => "end".to_owned(),
                    XmlEvent::Declaration(_) => "declaration".to_owned(),
                    XmlEvent::DocType => "doctype".to_owned(),
                    XmlEvent::Ignored => "ignored".to_owned(),
                    XmlEvent::Eof => {
                        seen.push(format!("eof @{offset}"));
                        return Ok(seen);
                    }
                };
                seen.push(format!("{event} @{offset}"));
            }
        }
    }

    const DOCUMENT: &[u8] = b"\xEF\xBB\xBF<?xml version=\"1.0\"?><!-- a > b --><r a='1' b=\"x>y\">t&amp;u<![CDATA[<c>]]><e/>\xC3\xA9</r>\n";

    #[tokio::test]
    async fn events_are_cut_the_same_whatever_the_chunk_size() {
        let whole = events(DOCUMENT, CHUNK_BYTES).await;
        let expected: Vec<String> = [
            "declaration @21",
            "ignored @35",
            "start r a='1' b=\"x>y\" @52",
            "text \"t\" @53",
            "ref amp @58",
            "text \"u\" @59",
            "text \"<c>\" @74",
            "empty e @78",
            "text \"é\" @80",
            "end @84",
            "text \"\\n\" @85",
            "eof @85",
        ]
        .iter()
        .map(|line| (*line).to_owned())
        .collect();
        assert_eq!(whole.as_deref(), Ok(&expected[..]));
        for chunk_bytes in 1..=DOCUMENT.len() {
            assert_eq!(
                events(DOCUMENT, chunk_bytes).await,
                whole,
                "chunks of {chunk_bytes}"
            );
        }
    }

    #[tokio::test]
    async fn a_tag_longer_than_the_buffer_grows_it() {
        let mut document = b"<r>".to_vec();
        document.extend_from_slice(b"<e a=\"");
        document.extend(std::iter::repeat_n(b'x', 10_000));
        document.extend_from_slice(b"\"/></r>");
        let seen = events(&document, 16)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(seen.len(), 4, "{seen:?}");
        assert!(seen[1].starts_with("empty e a=\"xxx"), "{seen:?}");
        assert!(seen[1].ends_with(&format!("@{}", document.len() - 4)), "{seen:?}");
    }

    /// Reads every event of `document` in chunks of `chunk_bytes`; the buffer's size
    /// at the end.
    async fn buffer_after_reading(document: &[u8], chunk_bytes: usize) -> usize {
        let mut reader = ChunkedReader::new(document, chunk_bytes);
        loop {
            reader.fill().await.unwrap_or_else(|error| panic!("{error}"));
            let mut events = reader.events();
            while let Some((event, _)) = events.next().unwrap_or_else(|error| panic!("{error}")) {
                if matches!(event, XmlEvent::Eof) {
                    return reader.input.capacity();
                }
            }
        }
    }

    #[tokio::test]
    async fn memory_is_bounded_by_a_chunk_and_the_largest_event_not_by_the_feed() {
        let mut feed = Vec::new();
        let shape = crate::generate::FeedShape {
            base_events: 100,
            events_per_base: 3,
            zones: 100,
            seed: 5,
        };
        crate::generate::write_feed(&mut feed, &shape).unwrap_or_default();
        assert!(feed.len() > 10 * CHUNK_BYTES, "{}", feed.len());
        assert_eq!(buffer_after_reading(&feed, CHUNK_BYTES).await, CHUNK_BYTES);
        // Chunks smaller than a tag grow to hold one, and no further.
        let largest_tag = feed
            .split(|&byte| byte == b'\n')
            .map(<[u8]>::len)
            .max()
            .unwrap_or_default();
        let grown = buffer_after_reading(&feed, 16).await;
        assert!(
            grown >= largest_tag && grown <= 4 * largest_tag,
            "{grown} for tags of {largest_tag}"
        );
    }

    #[tokio::test]
    async fn a_markup_cut_by_the_end_of_the_document_is_truncated_not_carried() {
        for cut in [
            b"<r><e a='1'".as_slice(),
            b"<r><!--",
            b"<r><!",
            b"<r><?pi",
            b"<r>&amp",
        ] {
            let result = events(cut, 2).await;
            assert!(result.is_err(), "{cut:?}: {result:?}");
            assert_eq!(result, events(cut, CHUNK_BYTES).await, "{cut:?}");
        }
    }

    #[tokio::test]
    async fn end_tags_are_checked_across_chunks() {
        let error = events(b"<a><b></a>", 4).await.err().unwrap_or_default();
        assert_eq!(
            error,
            "the feed is malformed: not well-formed XML at byte 6: ill-formed document: expected `</b>`, but `</a>` was found"
        );
        let error = events(b"<a></a></b>", 4).await.err().unwrap_or_default();
        assert!(error.contains("at byte 7") && error.contains("</b>"), "{error}");
    }

    /// A body that fails after its first bytes.
    struct FailingBody(bool);

    impl AsyncRead for FailingBody {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            if self.0 {
                return std::task::Poll::Ready(Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset")));
            }
            self.0 = true;
            let head = b"<eventList><output><!-- x -->";
            buf.put_slice(&head[..head.len().min(buf.remaining())]);
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn a_read_error_is_an_error_not_the_end_of_the_document() {
        let mut reader = ChunkedReader::new(FailingBody(false), 4);
        let mut failed = None;
        for _ in 0..10 {
            if let Err(error) = reader.fill().await {
                failed = Some(error);
                break;
            }
            let mut events = reader.events();
            while let Ok(Some(_)) = events.next() {}
        }
        assert!(
            matches!(failed, Some(ProviderError::Fetch { transient: true, .. })),
            "{failed:?}"
        );
    }
}
