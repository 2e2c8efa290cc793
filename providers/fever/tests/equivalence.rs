//! The parser against the one it replaced (`tests/reference`, frozen at the last commit
//! of the per-event async reader): on every input below, read in one piece or cut into
//! pieces of every size, the two must give the same records, rejections, unknown-field
//! reports, byte count and error, message included.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod reference;

use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use boxoffice_core::provider::CollectingSink;
use boxoffice_core::provider::FeedTooLarge;
use boxoffice_core::{EventRecord, ProviderError, Rejection};
use boxoffice_provider_fever::generate::{FeedShape, write_feed};
use boxoffice_provider_fever::{ParseContext, parse_feed};
use boxoffice_testkit::conformance::mutations;
use proptest::prelude::*;
use tokio::io::{AsyncRead, ReadBuf};

const RESPONSE_1: &[u8] = include_bytes!("fixtures/response_1.xml");
const RESPONSE_2: &[u8] = include_bytes!("fixtures/response_2.xml");
const RESPONSE_3: &[u8] = include_bytes!("fixtures/response_3.xml");

fn context() -> ParseContext {
    ParseContext {
        provider: "fever".into(),
        timezone: chrono_tz::Europe::Madrid,
    }
}

/// Everything a parse gives, comparable.
#[derive(Debug, PartialEq)]
struct Outcome {
    result: Result<u64, String>,
    records: Vec<EventRecord>,
    rejections: Vec<Rejection>,
    unknown: BTreeMap<String, u64>,
}

impl Outcome {
    fn of(result: Result<u64, ProviderError>, sink: CollectingSink) -> Self {
        Self {
            result: result.map_err(|error| format!("{error:?}")),
            records: sink.records,
            rejections: sink.rejections,
            unknown: sink.unknown,
        }
    }
}

/// A body handing out its bytes in pieces of the given sizes (in turn), saying
/// "not ready yet" before every other piece, then failing with `error` if given.
struct Pieces {
    bytes: Vec<u8>,
    at: usize,
    sizes: Vec<usize>,
    turn: usize,
    pending: bool,
    error: Option<io::ErrorKind>,
}

impl Pieces {
    fn new(bytes: &[u8], sizes: &[usize]) -> Self {
        Self {
            bytes: bytes.to_vec(),
            at: 0,
            sizes: sizes.to_vec(),
            turn: 0,
            pending: false,
            error: None,
        }
    }

    fn failing_with(mut self, error: io::ErrorKind) -> Self {
        self.error = Some(error);
        self
    }
}

impl AsyncRead for Pieces {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        this.pending = !this.pending;
        if this.pending {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if this.at == this.bytes.len() {
            return match this.error.take() {
                Some(io::ErrorKind::Interrupted) => {
                    // Interrupted reads are retried: the body goes on (and ends).
                    Poll::Ready(Err(io::ErrorKind::Interrupted.into()))
                }
                Some(io::ErrorKind::FileTooLarge) => {
                    Poll::Ready(Err(io::Error::other(FeedTooLarge { limit: 99 })))
                }
                Some(kind) => Poll::Ready(Err(io::Error::new(kind, "the connection dropped"))),
                None => Poll::Ready(Ok(())),
            };
        }
        let size = this
            .sizes
            .get(this.turn % this.sizes.len().max(1))
            .copied()
            .unwrap_or(usize::MAX)
            .max(1);
        this.turn += 1;
        let end = this
            .at
            .saturating_add(size)
            .min(this.bytes.len())
            .min(this.at + buf.remaining());
        buf.put_slice(&this.bytes[this.at..end]);
        this.at = end;
        Poll::Ready(Ok(()))
    }
}

async fn new_parser(body: Pieces) -> Outcome {
    let mut sink = CollectingSink::default();
    let result = parse_feed(body, &context(), &mut sink).await;
    Outcome::of(result, sink)
}

async fn old_parser(body: Pieces) -> Outcome {
    let mut sink = CollectingSink::default();
    let result = reference::parse_feed(tokio::io::BufReader::new(body), &context(), &mut sink).await;
    Outcome::of(result, sink)
}

/// Checks that the parsers agree on `bytes` in one piece and in pieces of `sizes`.
async fn assert_same(bytes: &[u8], sizes: &[&[usize]]) {
    let expected = old_parser(Pieces::new(bytes, &[usize::MAX])).await;
    let whole = new_parser(Pieces::new(bytes, &[usize::MAX])).await;
    assert_eq!(
        whole,
        expected,
        "in one piece: {:?}",
        String::from_utf8_lossy(bytes)
    );
    for sizes in sizes {
        let pieces = new_parser(Pieces::new(bytes, sizes)).await;
        assert_eq!(
            pieces,
            expected,
            "in pieces of {sizes:?}: {:?}",
            String::from_utf8_lossy(bytes)
        );
    }
}

const PIECES: &[&[usize]] = &[&[1], &[2], &[3], &[7], &[64], &[1, 5, 2, 13], &[200, 1]];

fn generated(shape: FeedShape) -> Vec<u8> {
    let mut out = Vec::new();
    write_feed(&mut out, &shape).unwrap();
    out
}

/// A whole feed around `base_events`.
fn feed(base_events: &str) -> Vec<u8> {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<eventList xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="1.0" xsi:noNamespaceSchemaLocation="eventList.xsd"><output>{base_events}</output></eventList>"#
    )
    .into_bytes()
}

const GOOD: &str = r#"<base_event base_event_id="1" sell_mode="online" title="Good &amp; &#233;&#x20AC;"><event event_start_date="2021-06-30T21:00:00" event_end_date="2021-06-30T22:00:00" event_id="1" sold_out="false"><zone zone_id="1" capacity="10" price="20.00" name="Platea" numbered="true" /></event></base_event>"#;

/// Documents that reach every corner of the reader and the mapping.
fn corner_cases() -> Vec<Vec<u8>> {
    let mut cases: Vec<Vec<u8>> = [
        GOOD.to_owned(),
        // Bad records among good ones.
        format!(r#"{GOOD}<base_event base_event_id="2" sell_mode="online" title="Bad"><event event_start_date="2021-06-30T21:00:00" event_end_date="2021-06-30T22:00:00" event_id="20"><zone zone_id="9" capacity="5" price="twenty" /><zone zone_id=" " capacity="99999999999" price="-1" numbered="yes"/><zone name="x"/></event></base_event>"#),
        r#"<base_event sell_mode="sometimes" title=""><event event_start_date="2021-09-31T20:00:00" event_end_date="2021-06-30T22:00:00.5" sell_from="x" sell_to="2021-06-30T22:00:00" sold_out="maybe"/><event event_start_date="2021-06-30T21:00:00" event_end_date="2021-06-30T20:00:00" event_id="21" /></base_event>"#.to_owned(),
        r#"<base_event base_event_id="3" sell_mode="offline" title="  "><event event_start_date=" 2021-06-30T21:00:00 " event_end_date="2021-06-30T22:00:00" event_id="30"/></base_event><event event_id="orphan" event_start_date="2021-06-30T21:00:00" event_end_date="2021-06-30T22:00:00"/>"#.to_owned(),
        // Unknown elements, attributes and text.
        r#"<banner><event event_id="x" /></banner>text<base_event base_event_id="2" sell_mode="online" title="Drift" mood="happy"><foo><bar/>x</foo>more&amp;<event event_start_date="2021-06-30T21:00:00" event_end_date="2021-06-30T22:00:00" event_id="20" colour="red"><zone zone_id="9" capacity="5" price="1.00" seat_map="x"><note>ok</note></zone><promo /></event></base_event>"#.to_owned(),
        // Other spellings quick-xml accepts.
        r#"<base_event base_event_id = '4' sell_mode='online'	title="Quotes"><event event_start_date="2021-06-30T21:00:00"event_end_date="2021-06-30T22:00:00" event_id="40" ><zone zone_id="1"  capacity = "1" price= "1.5"/></event ></base_event >"#.to_owned(),
        // Comments, processing instructions, CDATA, references in text.
        r#"<!-- a comment with <tags> and -- dashes --><?pi some > data?><![CDATA[<not a tag>]]>&lt;&#65;&#x42;<!---->"#.to_owned(),
    ]
    .iter()
    .map(|inner| feed(inner))
    .collect();
    for raw in [
        b"".as_slice(),
        b"   ",
        b"\xEF\xBB\xBF<eventList><output/></eventList>",
        b"\xEF\xBB\xBF",
        b"\xEF\xBB",
        b"\xEF\xBB\xBF\xEF\xBB\xBF<eventList/>",
        b"<eventList version=\"1.0\" generated=\"now\"><output/></eventList>\n<!-- after -->\n",
        b"<eventList/>",
        b"<eventList/><eventList/>",
        b"<eventList><output/></eventList> trailing",
        b"<eventList><output/></eventList>&amp;",
        b"<eventList><output/></eventList></x>",
        b"</eventList>",
        b"text<eventList/>",
        b"&amp;<eventList/>",
        b"<html><body>Maintenance</body></html>",
        b"{\"events\": []}",
        b"\x00\x9f\x92\x96 not xml at all <<<>>>",
        b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><eventList/>",
        b"<?xml version=\"1.0\" encoding=\"ascii\"?><eventList/>",
        b"<?xml version=\"1.0\" encoding=bad?><eventList/>",
        b"<?xml?><eventList/>",
        b"<?>",
        b"<?><eventList/>",
        b"<eventList><output><?></output></eventList>",
        b"<!x><eventList/>",
        b"<eventList><!",
        b"<eventList><!-x--></eventList>",
        b"<eventList><![x]]></eventList>",
        b"<eventList><!Dx></eventList>",
        b"<!DOCTYPE><eventList/>",
        b"<!DOCTYPE lolz [<!ENTITY lol \"lol\">]><eventList/>",
        b"<!doctype x><eventList/>",
        b"<eventList><output>&amp<x/></output></eventList>",
        b"<eventList><output>&amp&amp;</output></eventList>",
        b"<eventList><output>&lol9;</output></eventList>",
        b"<eventList><output>&#0;</output></eventList>",
        b"<eventList><output>&#xZZ;</output></eventList>",
        b"<eventList><output>&amp",
        b"<eventList><output>&",
        b"<eventList><output><base_event></event></output></eventList>",
        b"<eventList><output></eventList>",
        b"<eventList><output><base_event base_event_id=\"1\" base_event_id=\"2\"/></output></eventList>",
        b"<eventList><output><base_event base_event_id=\"&lol9;\"/></output></eventList>",
        b"<eventList><output><x a=\"&lol9;\" a=\"1\"/></output></eventList>",
        b"<eventList a=1><output/></eventList>",
        b"<eventList a><output/></eventList>",
        b"<eventList a=\"1><output/></eventList>",
        b"<eventList><output><base_event title=\"Caf\xe9\"/></output></eventList>",
        b"<eventList><output>caf\xe9</output></eventList>",
        b"<eventList><output><!-- caf\xe9 --></output></eventList>",
        b"<eventList><output><x\xe9/></output></eventList>",
        b"<eventList><output><x/></x\xe9></output></eventList>",
        b"<eventList><output><\xe9/></\xe9></output></eventList>",
        b"<eventList><output><z\xc3\xa9 a=\"\xc3\xa9\"></z\xc3\xa9 ></output></eventList>",
        b"<eventList><output>\xEF\xBB\xBF</output></eventList>",
        b"<eventList><output>\xEF\xBB\xBFtext</output>\xEF\xBB\xBF</eventList>",
        b"<eventList><output> \t\r\n </output></eventList>\r\n",
        b"<eventList><output>></output>></eventList>>",
        b"<eventList><output/>",
        b"<eventList><output/></eventList",
        b"<eventList><output/></",
        b"<eventList><output/><",
        b"<",
        b">",
        b"<eventList\n\tversion='1.0'\n/>",
        b"< eventList/>",
        b"<eventList><output></output ></eventList\t>",
        b"<eventList><output><![CDATA[x]]></output><![CDATA[y]]></eventList>",
    ] {
        cases.push(raw.to_vec());
    }
    cases
}

#[tokio::test]
async fn the_recorded_responses_give_what_they_gave() {
    for response in [RESPONSE_1, RESPONSE_2, RESPONSE_3] {
        assert_same(response, PIECES).await;
    }
}

#[tokio::test]
async fn corner_cases_give_what_they_gave() {
    for case in corner_cases() {
        assert_same(&case, PIECES).await;
    }
}

#[tokio::test]
async fn a_feed_cut_in_two_anywhere_gives_what_it_gave() {
    let mut documents = vec![RESPONSE_1.to_vec(), RESPONSE_2.to_vec()];
    documents.extend(corner_cases().into_iter().filter(|case| case.len() > 100));
    for document in documents {
        for split in 0..=document.len() {
            assert_same(&document, &[&[split]]).await;
        }
    }
}

#[tokio::test]
async fn mutated_documents_give_what_they_gave() {
    let mut documents = vec![RESPONSE_1.to_vec(), RESPONSE_2.to_vec(), RESPONSE_3.to_vec()];
    documents.extend(corner_cases().into_iter().filter(|case| case.len() > 300));
    for document in documents {
        for mutated in mutations(&document) {
            assert_same(&mutated, &[&[1], &[1, 5, 2, 13]]).await;
        }
    }
}

#[tokio::test]
async fn generated_feeds_give_what_they_gave() {
    for (base_events, events_per_base, zones, seed) in [(0, 0, 0, 1), (3, 2, 5, 2), (40, 3, 20, 3)] {
        let feed = generated(FeedShape {
            base_events,
            events_per_base,
            zones,
            seed,
        });
        assert_same(&feed, &[&[1, 5, 2, 13], &[100], &[4096, 3]]).await;
    }
}

#[tokio::test]
async fn read_errors_give_the_same_error() {
    for kind in [
        io::ErrorKind::ConnectionReset,
        io::ErrorKind::TimedOut,
        io::ErrorKind::FileTooLarge,
        io::ErrorKind::Interrupted,
    ] {
        for document in [
            RESPONSE_1,
            &RESPONSE_1[..RESPONSE_1.len() / 2],
            b"",
            b"<eventList>",
        ] {
            for sizes in [[usize::MAX], [7]] {
                let expected = old_parser(Pieces::new(document, &sizes).failing_with(kind)).await;
                let outcome = new_parser(Pieces::new(document, &sizes).failing_with(kind)).await;
                assert_eq!(outcome, expected, "{kind:?} in pieces of {sizes:?}");
                if kind != io::ErrorKind::Interrupted {
                    assert!(outcome.result.is_err(), "{kind:?}: {outcome:?}");
                }
            }
        }
    }
}

#[tokio::test]
async fn a_read_error_after_any_prefix_gives_the_same_error_and_the_same_events_before_it() {
    let mut documents = vec![RESPONSE_2.to_vec()];
    documents.push(b"<eventList><output><!-x--><!-- a > b --><?>x</output></eventList>".to_vec());
    documents.push(b"<eventList><output><![x]]><![CDATA[ > ]]><!Dx></output></eventList>".to_vec());
    for document in documents {
        for cut in 0..=document.len() {
            for sizes in [[usize::MAX], [3]] {
                let body =
                    || Pieces::new(&document[..cut], &sizes).failing_with(io::ErrorKind::ConnectionReset);
                let expected = old_parser(body()).await;
                assert_eq!(
                    new_parser(body()).await,
                    expected,
                    "failing after {cut} bytes, in pieces of {sizes:?}"
                );
            }
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn randomly_edited_responses_in_random_pieces_give_what_they_gave(
        which in 0..3_usize,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3_u8), 1..12),
        sizes in proptest::collection::vec(1..300_usize, 1..6),
    ) {
        let mut bytes = [RESPONSE_1, RESPONSE_2, RESPONSE_3][which].to_vec();
        for (index, byte, kind) in edits {
            if bytes.is_empty() {
                break;
            }
            let at = index.index(bytes.len());
            // Markup bytes more often than others, to break tags, not only values.
            let byte = match byte % 8 {
                0 => b'<',
                1 => b'>',
                2 => b'&',
                3 => b'"',
                _ => byte,
            };
            match kind {
                0 => bytes[at] = byte,
                1 => { bytes.remove(at); }
                _ => bytes.insert(at, byte),
            }
        }
        let (expected, outcome) = runtime().block_on(async {
            (old_parser(Pieces::new(&bytes, &[usize::MAX])).await, new_parser(Pieces::new(&bytes, &sizes)).await)
        });
        prop_assert_eq!(outcome, expected);
    }
}
