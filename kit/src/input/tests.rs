//! The input on made-up bodies: every cut of the document into reads and chunks gives
//! the same tokens, offsets and errors.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::ReadBuf;

use super::*;

/// A body that gives `pieces` one read each, at most `most` bytes a read, then
/// ends, or fails when `fails`. An empty piece is an interrupted read.
struct Pieces {
    pieces: VecDeque<Vec<u8>>,
    most: usize,
    fails: bool,
}

impl Pieces {
    fn new(pieces: &[&[u8]]) -> Self {
        Self {
            pieces: pieces.iter().map(|piece| piece.to_vec()).collect(),
            most: usize::MAX,
            fails: false,
        }
    }

    /// `document`, one byte a read.
    fn trickle(document: &[u8]) -> Self {
        Self {
            most: 1,
            ..Self::new(&[document])
        }
    }

    fn failing(mut self) -> Self {
        self.fails = true;
        self
    }
}

impl AsyncRead for Pieces {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let most = self.most.min(buf.remaining());
        let Some(piece) = self.pieces.front_mut() else {
            if self.fails {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset")));
            }
            return Poll::Ready(Ok(()));
        };
        if piece.is_empty() {
            self.pieces.pop_front();
            return Poll::Ready(Err(io::ErrorKind::Interrupted.into()));
        }
        let take = most.min(piece.len());
        buf.put_slice(&piece[..take]);
        piece.drain(..take);
        if piece.is_empty() {
            self.pieces.pop_front();
        }
        Poll::Ready(Ok(()))
    }
}

/// A tokenizer of words separated by spaces, the way a parser uses the input: a word
/// is complete at its space or at the end of the document; a cut one waits for the
/// next fill. Each word with the document offset of its first byte; the error, if any.
async fn words<R: AsyncRead + Unpin>(mut input: ChunkedInput<R>) -> (Vec<(String, u64)>, Option<String>) {
    let mut found = Vec::new();
    loop {
        match input.fill().await {
            Ok(true) => {}
            Ok(false) => return (found, Some("truncated".into())),
            Err(error) => return (found, Some(error.to_string())),
        }
        let mut window = input.window();
        loop {
            let rest = window.rest();
            let length = match memchr(b' ', rest) {
                Some(length) => length,
                None if window.complete() => rest.len(),
                None => break,
            };
            if length > 0 {
                let text = window.text(0..length).map(str::to_owned);
                let word = text.unwrap_or_else(|| format!("{:?}", &rest[..length]));
                found.push((word, window.position()));
            }
            window.consume(length + 1);
            if window.complete() && window.rest().is_empty() {
                return (found, None);
            }
        }
    }
}

fn memchr(byte: u8, bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == byte)
}

fn owned(words: &[(&str, u64)]) -> Vec<(String, u64)> {
    words.iter().map(|(word, at)| ((*word).to_owned(), *at)).collect()
}

const DOCUMENT: &[u8] = "\u{FEFF}uno dos é☃𝄞 tres  cuatro".as_bytes();

fn document_words() -> Vec<(String, u64)> {
    owned(&[("uno", 3), ("dos", 7), ("é☃𝄞", 11), ("tres", 21), ("cuatro", 27)])
}

#[tokio::test]
async fn a_fill_reads_a_chunk_and_keeps_what_is_not_consumed() {
    let mut input = ChunkedInput::new(Pieces::new(&[b"abcdefghij"]), 4, Utf8::Required);
    assert_eq!(input.fill().await.ok(), Some(true));
    assert_eq!(input.rest(), b"abcd");
    assert_eq!(input.position(), 0);
    assert!(!input.complete());
    input.consume(3);
    assert_eq!((input.rest(), input.position()), (&b"d"[..], 3));
    // One byte carried: at least one more read, into the buffer after it.
    assert_eq!(input.fill().await.ok(), Some(true));
    assert_eq!(input.rest(), b"defg");
    input.consume(4);
    assert_eq!(input.fill().await.ok(), Some(true));
    assert_eq!(input.rest(), b"hij");
    input.consume(2);
    assert_eq!(input.fill().await.ok(), Some(true));
    assert!(input.complete(), "the body said it ended");
    assert_eq!(input.text(), "j");
    assert_eq!(input.fill().await.ok(), Some(false));
    assert_eq!(input.capacity(), 4, "never more than a chunk was carried");
}

#[tokio::test]
async fn interrupted_reads_are_retried() {
    let input = ChunkedInput::new(Pieces::new(&[b"a b", b"", b" c"]), 16, Utf8::Required);
    assert_eq!(words(input).await, (owned(&[("a", 0), ("b", 2), ("c", 4)]), None));
}

#[tokio::test]
async fn a_token_cut_by_the_chunk_is_carried_over_whatever_the_cuts() {
    let whole = words(ChunkedInput::new(DOCUMENT, CHUNK_BYTES, Utf8::Required)).await;
    assert_eq!(whole, (document_words(), None));
    for chunk in 1..=DOCUMENT.len() + 1 {
        for utf8 in [Utf8::Required, Utf8::Prefix] {
            let in_chunks = words(ChunkedInput::new(DOCUMENT, chunk, utf8)).await;
            assert_eq!(in_chunks, whole, "chunks of {chunk}, {utf8:?}");
        }
    }
}

#[tokio::test]
async fn tiny_chunks_and_reads_of_one_byte_give_the_same_tokens() {
    for chunk in 1..=8 {
        for utf8 in [Utf8::Required, Utf8::Prefix] {
            let input = ChunkedInput::new(Pieces::trickle(DOCUMENT), chunk, utf8);
            assert_eq!(
                words(input).await,
                (document_words(), None),
                "chunks of {chunk}, {utf8:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_token_larger_than_the_buffer_grows_it_and_is_rescanned_a_bounded_number_of_times() {
    let mut document = b"a ".to_vec();
    document.extend(std::iter::repeat_n(b'x', 10_000));
    document.extend_from_slice(b" b");
    for body in [Pieces::new(&[&document]), Pieces::trickle(&document)] {
        let mut input = ChunkedInput::new(body, 16, Utf8::Required);
        let mut scanned = 0;
        let mut carried = 0;
        loop {
            assert_eq!(input.fill().await.ok(), Some(true));
            // Each fill brings at least as many bytes as it carried.
            assert!(input.rest().len() >= 2 * carried || input.complete(), "{carried}");
            if input.rest().starts_with(b"a ") {
                input.consume(2);
            }
            scanned += input.rest().len();
            if input.rest().iter().skip(1).any(|&byte| byte == b' ') {
                break;
            }
            carried = input.rest().len();
        }
        // The sizes scanned double: their sum is at most twice the last, which is at
        // most twice the token.
        assert!(
            scanned <= 4 * 10_001,
            "{scanned} bytes scanned for a token of 10,000"
        );
        let grown = input.capacity();
        assert!((10_000..=4 * 10_000).contains(&grown), "{grown}");
    }
}

#[tokio::test]
async fn memory_is_bounded_by_a_chunk_when_tokens_are_small() {
    let document = b"word ".repeat(100_000);
    let mut input = ChunkedInput::new(&document[..], 64, Utf8::Prefix);
    let mut count = 0;
    while input.fill().await.unwrap_or(false) {
        let mut window = input.window();
        while let Some(length) = memchr(b' ', window.rest()) {
            window.consume(length + 1);
            count += 1;
        }
    }
    assert_eq!(count, 100_000);
    assert_eq!(input.capacity(), 64);
}

#[tokio::test]
async fn a_byte_order_mark_is_skipped_whole_or_cut_and_offsets_count_it() {
    let cut: &[&[u8]] = &[b"\xEF", b"\xBB", b"\xBFab c"];
    for body in [Pieces::new(&[b"\xEF\xBB\xBFab c"]), Pieces::new(cut)] {
        let mut input = ChunkedInput::new(body, 64, Utf8::Required);
        assert_eq!(input.fill().await.ok(), Some(true));
        assert_eq!(input.bom_len(), 3);
        assert_eq!((input.rest(), input.position()), (&b"ab c"[..], 3));
    }
    // Only at the start of the document, and only whole.
    let later = words(ChunkedInput::new(
        Pieces::trickle(b"a \xEF\xBB\xBF"),
        4,
        Utf8::Required,
    ))
    .await;
    assert_eq!(later, (owned(&[("a", 0), ("\u{FEFF}", 2)]), None));
    let partial = words(ChunkedInput::new(&b"\xEF\xBB"[..], 4, Utf8::Prefix)).await;
    assert_eq!(partial, (owned(&[("[239, 187]", 0)]), None));
    let partial = words(ChunkedInput::new(&b"\xEF\xBB"[..], 4, Utf8::Required)).await;
    assert_eq!(
        partial.1.as_deref(),
        Some("the feed is malformed: the document is not UTF-8 at byte 0")
    );
}

#[tokio::test]
async fn a_character_cut_by_a_read_waits_for_the_rest() {
    let document = "é☃𝄞".as_bytes();
    let mut input = ChunkedInput::new(Pieces::trickle(document), 4, Utf8::Required);
    let mut read = Vec::new();
    while input.fill().await.unwrap_or(false) {
        let rest = input.rest();
        assert!(std::str::from_utf8(rest).is_ok(), "{rest:?}");
        read.extend_from_slice(rest);
        let length = rest.len();
        input.consume(length);
    }
    assert_eq!(read, document);
    // With `Prefix`, every byte is handed out and the text stops before the cut one.
    let mut input = ChunkedInput::new(&document[..3], 16, Utf8::Prefix);
    assert_eq!(input.fill().await.ok(), Some(true));
    assert_eq!((input.rest(), input.text()), (&document[..3], "é"));
    let window = input.window();
    assert_eq!((window.text(0..2), window.text(0..3)), (Some("é"), None));
}

#[tokio::test]
async fn bytes_that_are_not_utf8_are_an_error_saying_where_after_the_bytes_before() {
    // A document, the words before its first byte that is not UTF-8, and where it is.
    type Case<'a> = (&'a [u8], &'a [(&'a str, u64)], u64);
    let cases: &[Case<'_>] = &[
        (b"ab \xFFcd", &[("ab", 0)], 3),
        (b"\xEF\xBB\xBFab c\xC3(", &[("ab", 3)], 7),
        (b"ab c\xE2\x98", &[("ab", 0)], 4),
        (b"ab\xF0\x9D\x84", &[], 2),
    ];
    for (document, before, at) in cases {
        let expected = format!("the feed is malformed: the document is not UTF-8 at byte {at}");
        for chunk in 1..=document.len() + 1 {
            for body in [Pieces::new(&[document]), Pieces::trickle(document)] {
                let (found, error) = words(ChunkedInput::new(body, chunk, Utf8::Required)).await;
                assert_eq!(found, owned(before), "{document:?} in chunks of {chunk}");
                assert_eq!(
                    error.as_deref(),
                    Some(&*expected),
                    "{document:?} in chunks of {chunk}"
                );
            }
        }
    }
    // `Prefix` hands them out: the parser says what they mean.
    let (found, error) = words(ChunkedInput::new(&b"ab \xFFcd e"[..], 4, Utf8::Prefix)).await;
    assert_eq!(
        (found, error),
        (owned(&[("ab", 0), ("[255, 99, 100]", 3), ("e", 7)]), None)
    );
}

#[tokio::test]
async fn a_read_error_is_held_until_the_bytes_before_it_are_consumed() {
    let cut_token: &[&[u8]] = &[b"uno dos tr"];
    let (found, error) = words(ChunkedInput::new(
        Pieces::new(cut_token).failing(),
        64,
        Utf8::Required,
    ))
    .await;
    assert_eq!(found, owned(&[("uno", 0), ("dos", 4)]));
    assert!(error.is_some_and(|error| error.contains("reading the feed failed")));
    // Held also when it comes in a fill that read more after carried bytes.
    for chunk in 1..=12 {
        let body = Pieces::trickle(b"uno dos tr").failing();
        let (found, error) = words(ChunkedInput::new(body, chunk, Utf8::Prefix)).await;
        assert_eq!(found, owned(&[("uno", 0), ("dos", 4)]), "chunks of {chunk}");
        assert!(
            error.is_some_and(|error| error.contains("reset")),
            "chunks of {chunk}"
        );
    }
    let mut input = ChunkedInput::new(Pieces::new(&[b"ab"]).failing(), 64, Utf8::Required);
    assert_eq!(input.fill().await.ok(), Some(true));
    assert_eq!(input.rest(), b"ab");
    assert!(!input.complete(), "a failed body is not a complete document");
    input.consume(2);
    let error = input.fill().await.err();
    assert!(
        matches!(error, Some(ProviderError::Fetch { transient: true, .. })),
        "{error:?}"
    );
    assert_eq!(input.fill().await.ok(), Some(false), "then nothing more");
}

#[tokio::test]
async fn bytes_kept_behind_the_position_can_be_read_by_offset() {
    let mut input = ChunkedInput::new(Pieces::trickle(b"{\"next\": \"/page/2\"}"), 4, Utf8::Required);
    let value_at = 9;
    while input.position() < 19 {
        if !input
            .fill_keeping(value_at.min(input.position()))
            .await
            .unwrap_or(false)
        {
            break;
        }
        let length = input.rest().len();
        input.consume(length);
    }
    assert_eq!(input.get(value_at..18), Some(&b"\"/page/2\""[..]));
    assert_eq!(input.get(0..19), None, "not kept");
    assert_eq!(input.get(value_at..40), None, "not read");
}

#[tokio::test]
async fn consuming_past_the_window_leaves_the_input_at_its_end() {
    for utf8 in [Utf8::Required, Utf8::Prefix] {
        let mut input = ChunkedInput::new(Pieces::new(&[b"abc", b"def"]), 16, utf8);
        assert_eq!(input.fill().await.ok(), Some(true));
        input.window().consume(100);
        assert_eq!(input.rest(), b"", "{utf8:?}");
        assert_eq!(input.fill().await.ok(), Some(true));
        assert_eq!((input.rest(), input.position()), (&b"def"[..], 3), "{utf8:?}");
    }
}
