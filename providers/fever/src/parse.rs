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
//! Each `<event>` is pushed into the sink as soon as its end tag is read: memory is
//! bounded by a chunk and one `<event>` with its zones, not by the feed. A record that
//! cannot be mapped is rejected and its neighbours are kept; only a document that is
//! not well-formed XML, not UTF-8, not an `eventList`, truncated or carrying a DTD
//! fails the whole feed. The byte-level work is in `chunked_reader` (see there why it
//! is shaped as it is), the mapping in `records`.

mod attributes;
mod chunked_reader;
mod document;
mod records;
mod start_tags;
mod values;

use boxoffice_core::{ProviderError, RecordSink};
use chrono_tz::Tz;
use tokio::io::AsyncRead;

use chunked_reader::{CHUNK_BYTES, ChunkedReader};
use document::{FeedParser, Step};

/// What the parser needs to know of the instance it parses for.
#[derive(Debug, Clone)]
pub struct ParseContext {
    /// The instance's name: the `provider` of every record's key.
    pub provider: String,
    /// The time zone the feed's wall-clock times are in.
    pub timezone: Tz,
}

/// Parses a whole feed from `reader` (read in large chunks: it needs no buffering of
/// its own) into `sink`, unknown elements and attributes as [`RecordSink::unknown`].
/// Returns the bytes of the document read, after a UTF-8 byte order mark.
///
/// Fails with [`ProviderError::Malformed`] as the module says (a DOCTYPE too: entities
/// are never expanded); with [`ProviderError::TooLarge`] or [`ProviderError::Fetch`]
/// when `reader` fails; with [`ProviderError::Sink`] when the sink does.
pub async fn parse_feed<R>(
    reader: R,
    ctx: &ParseContext,
    sink: &mut dyn RecordSink,
) -> Result<u64, ProviderError>
where
    R: AsyncRead + Unpin,
{
    parse_in_chunks(reader, CHUNK_BYTES, ctx, sink).await
}

/// [`parse_feed`] with chunks of `chunk_bytes` (grown when one event is larger).
async fn parse_in_chunks<R>(
    reader: R,
    chunk_bytes: usize,
    ctx: &ParseContext,
    sink: &mut dyn RecordSink,
) -> Result<u64, ProviderError>
where
    R: AsyncRead + Unpin,
{
    let mut input = ChunkedReader::new(reader, chunk_bytes);
    let mut parser = FeedParser::new(ctx);
    loop {
        input.fill().await?;
        let mut events = input.events();
        // `None`: the rest of the chunk is the start of an event; read more.
        while let Some((event, offset)) = events.next()? {
            parser.offset = offset;
            match parser.handle(event, sink)? {
                Step::Continue => {}
                Step::Accept(record) => sink.accept(*record).await?,
                Step::Done => return Ok(offset),
            }
        }
    }
}

fn malformed(message: impl Into<String>) -> ProviderError {
    ProviderError::Malformed(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use boxoffice_core::provider::CollectingSink;

    const RESPONSE_1: &[u8] = include_bytes!("../tests/fixtures/response_1.xml");

    fn context() -> ParseContext {
        ParseContext {
            provider: "fever".into(),
            timezone: chrono_tz::UTC,
        }
    }

    async fn parse(bytes: &[u8], chunk_bytes: usize) -> (Result<u64, ProviderError>, CollectingSink) {
        let mut sink = CollectingSink::default();
        let result = parse_in_chunks(bytes, chunk_bytes, &context(), &mut sink).await;
        (result, sink)
    }

    #[tokio::test]
    async fn tiny_chunks_give_what_one_chunk_gives() {
        let (whole, expected) = parse(RESPONSE_1, CHUNK_BYTES).await;
        assert_eq!(whole.ok(), Some(RESPONSE_1.len() as u64));
        assert_eq!(expected.records.len(), 3);
        // Chunks far smaller than one tag: every tag is carried over, the buffer grows.
        for chunk_bytes in [8, 13, 64, 100] {
            let (result, sink) = parse(RESPONSE_1, chunk_bytes).await;
            assert_eq!(
                result.ok(),
                Some(RESPONSE_1.len() as u64),
                "chunks of {chunk_bytes}"
            );
            assert_eq!(sink.records, expected.records, "chunks of {chunk_bytes}");
            assert_eq!(sink.rejections, expected.rejections, "chunks of {chunk_bytes}");
            assert_eq!(sink.unknown, expected.unknown, "chunks of {chunk_bytes}");
        }
    }

    #[tokio::test]
    async fn an_error_in_a_later_chunk_names_its_offset_in_the_document() {
        // The last session's end tag, misspelled: the error is at its `<`.
        let text = String::from_utf8_lossy(RESPONSE_1);
        let at = text.rfind("</event>").unwrap_or_default();
        assert!(at > 1000);
        let bytes = text.replacen(
            "</event>\n      </base_event>\n   </output>",
            "</evnt>\n      </base_event>\n   </output>",
            1,
        );
        let bytes = bytes.as_bytes();
        let (one_chunk, _) = parse(bytes, CHUNK_BYTES).await;
        let (small_chunks, _) = parse(bytes, 64).await;
        let message = format!("{one_chunk:?}");
        assert!(
            message.contains(&format!("not well-formed XML at byte {at}: ")),
            "{message}"
        );
        assert_eq!(message, format!("{small_chunks:?}"));
    }
}
