//! The stream on hand-made documents, cut into chunks of every size.

use std::io;

use super::*;
use crate::pointer::Pointer;
use serde_json::json;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

fn pointer(text: &str) -> Pointer {
    Pointer::parse(text).unwrap_or_else(|error| panic!("{error}"))
}

/// What reading a document gave: its records, its captures, the buffer's peak.
#[derive(Debug, PartialEq)]
struct Read {
    records: Vec<Value>,
    captured: Vec<Option<Value>>,
}

async fn read_with<R: AsyncRead + Unpin>(
    body: R,
    records: &str,
    captures: &[&str],
    chunk_bytes: usize,
) -> (Result<Read, String>, usize) {
    let records = pointer(records);
    let captures: Vec<Pointer> = captures.iter().map(|text| pointer(text)).collect();
    let tokens: Vec<&[Token]> = captures.iter().map(Pointer::tokens).collect();
    let mut stream = RecordStream::new(body, records.tokens(), &tokens, chunk_bytes);
    let mut found = Vec::new();
    let outcome = loop {
        match stream.next_record().await {
            Ok(Some(record)) => {
                let record = serde_json::to_value(&record).unwrap_or_default();
                // The raw text is the record's exact span.
                let raw: Value = serde_json::from_slice(stream.raw_record()).unwrap_or_default();
                assert_eq!(raw, record);
                found.push(record);
            }
            Ok(None) if stream.records() == Records::Absent => {
                break Err("the document has no records array at the records pointer".into());
            }
            Ok(None) => {
                let captured = (0..captures.len()).map(|slot| stream.captured(slot)).collect();
                break Ok(Read {
                    records: found,
                    captured,
                });
            }
            Err(error) => break Err(error.to_string()),
        }
    };
    (outcome, stream.peak_buffer())
}

async fn read(document: &[u8], records: &str, captures: &[&str], chunk_bytes: usize) -> Result<Read, String> {
    read_with(document, records, captures, chunk_bytes).await.0
}

/// Everything at once and in chunks of every size up to the document's: the same.
async fn read_every_way(document: &[u8], records: &str, captures: &[&str]) -> Result<Read, String> {
    let whole = read(document, records, captures, CHUNK_BYTES).await;
    for chunk in 1..=document.len() {
        assert_eq!(
            read(document, records, captures, chunk).await,
            whole,
            "chunks of {chunk}"
        );
    }
    whole
}

const DOCUMENT: &str = r#" {
  "meta": {"next": "not this one", "list": [1, -2.5e+3, 0, true, false, null, "a\"]}\\", {"x": [[]]}]},
  "next": "/v1/shows?page=2",
  "sh\u006fws": [
    {"id": 1, "name": "Uno ]}\" ", "n": [1, {"a": null}]},
    {"id": 2, "name": "Dos é ☃ 𝄞"} ,
    17, "plain", [0]
  ],
  "last": {"page": 7e0}, "after": [ {}, [], "" ]
}
"#;

#[tokio::test]
async fn records_and_captures_are_found_whatever_the_chunks() {
    let found = read_every_way(DOCUMENT.as_bytes(), "/shows", &["/next", "/last/page", "/absent"]).await;
    let found = found.unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        found.records,
        [
            json!({"id": 1, "name": "Uno ]}\" ", "n": [1, {"a": null}]}),
            json!({"id": 2, "name": "Dos é ☃ 𝄞"}),
            json!(17),
            json!("plain"),
            json!([0]),
        ]
    );
    assert_eq!(
        found.captured,
        [Some(json!("/v1/shows?page=2")), Some(json!(7.0)), None]
    );
    // A byte order mark is skipped, and offsets still count it.
    let with_mark = [UTF8_BOM, DOCUMENT.as_bytes()].concat();
    assert_eq!(
        read_every_way(&with_mark, "/shows", &["/next", "/last/page", "/absent"]).await,
        Ok(found)
    );
    let error = read(&[UTF8_BOM, b"[1 2]"].concat(), "", &[], 2).await.err();
    assert!(error.is_some_and(|e| e.contains("'2' at byte 6")));
}

#[tokio::test]
async fn the_records_may_be_the_document_or_deep_inside_it() {
    let root = read_every_way(b"[{\"a\": 1}, 2 ,3]", "", &[]).await;
    assert_eq!(
        root.map(|r| r.records),
        Ok(vec![json!({"a": 1}), json!(2), json!(3)])
    );
    let deep = br#"{"data": [{"skip": [1]}, {"items": [{"x": 1}], "n": 5}], "a/b": {"~": [true]}}"#;
    let by_index = read_every_way(deep, "/data/1/items", &["/data/1/n", "/data/0/items"]).await;
    assert_eq!(
        by_index,
        Ok(Read {
            records: vec![json!({"x": 1})],
            captured: vec![Some(json!(5)), None],
        })
    );
    let escaped = read_every_way(deep, "/a~1b/~0", &[]).await;
    assert_eq!(escaped.map(|r| r.records), Ok(vec![json!(true)]));
    let empty = read_every_way(br#"{"shows": [ ]}"#, "/shows", &[]).await;
    assert_eq!(empty.map(|r| r.records.len()), Ok(0));
}

#[tokio::test]
async fn a_document_that_is_not_json_fails_saying_where() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "empty"),
        (b"   ", "empty"),
        (br#"{"shows": [1 2]}"#, "not JSON"),
        (br#"{"shows": [1,]}"#, "not JSON"),
        (br#"{"shows": []} x"#, "'x' at byte 14"),
        (br#"{"meta": [1 2], "shows": []}"#, "at byte 12"),
        (br#"{"meta": tru, "shows": []}"#, "not JSON"),
        (br#"{"meta": 01, "shows": []}"#, "not JSON"),
        (br#"{"meta": -, "shows": []}"#, "not JSON"),
        (br#"{"meta": 1.e5, "shows": []}"#, "not JSON"),
        (br#"{"meta": "\x", "shows": []}"#, "escape"),
        (br#"{"meta": "\u12G4", "shows": []}"#, "escape"),
        (b"{\"meta\": \"a\tb\", \"shows\": []}", "control character"),
        (br#"{"meta" 1, "shows": []}"#, "':'"),
        (br#"{meta: 1, "shows": []}"#, "member name"),
        (br#"{"shows": [], }"#, "member name"),
        (br#"{"shows": []]"#, "'}'"),
        (br#"{"shows": {"a": 1}}"#, "not an array"),
        (br#"{"shows": true}"#, "not an array"),
        (br#"{"other": []}"#, "no records array"),
        (br#"[]"#, "no records array"),
        (b"{\"shows\": [\"\xff\"]}", "not UTF-8 at byte 12"),
        (b"{\"meta\": \"\xc3\", \"shows\": []}", "not UTF-8 at byte 10"),
    ];
    for (document, expected) in cases {
        for chunk in [1, 3, CHUNK_BYTES] {
            let error = read(document, "/shows", &[], chunk)
                .await
                .err()
                .unwrap_or_default();
            assert!(
                error.contains(expected),
                "{:?} in chunks of {chunk}: {error:?}",
                String::from_utf8_lossy(document)
            );
        }
    }
}

#[tokio::test]
async fn null_or_an_empty_object_at_the_records_pointer_stands_for_no_records() {
    for document in [
        br#"{"shows": null, "next": "?page=3"}"#.as_slice(),
        br#"{"shows": {}, "next": "?page=3"}"#,
        br#"{"shows": { }, "next": "?page=3"}"#,
    ] {
        let read = read_every_way(document, "/shows", &["/next"]).await;
        assert_eq!(
            read,
            Ok(Read {
                records: Vec::new(),
                captured: vec![Some(json!("?page=3"))],
            }),
            "{}",
            String::from_utf8_lossy(document)
        );
    }
}

#[tokio::test]
async fn every_truncation_fails_and_never_yields_a_shorter_document() {
    let document = DOCUMENT.as_bytes();
    let end = document.len() - 2; // the closing `}` and the new line
    for cut in 0..end {
        for chunk in [1, 7, CHUNK_BYTES] {
            let outcome = read(&document[..cut], "/shows", &["/next"], chunk).await;
            assert!(outcome.is_err(), "cut at {cut}, chunks of {chunk}: {outcome:?}");
        }
    }
    let error = read(&document[..200], "/shows", &[], CHUNK_BYTES).await.err();
    assert!(error.is_some_and(|e| e.contains("truncated")));
}

#[tokio::test]
async fn nesting_is_bounded_outside_the_records() {
    let deep = format!(
        "{{\"meta\": {}1{}, \"shows\": []}}",
        "[".repeat(600),
        "]".repeat(600)
    );
    let error = read(deep.as_bytes(), "/shows", &[], CHUNK_BYTES)
        .await
        .err()
        .unwrap_or_default();
    assert!(error.contains("deeper than 512"), "{error}");
    let fine = format!(
        "{{\"meta\": {}1{}, \"shows\": [1]}}",
        "[".repeat(500),
        "]".repeat(500)
    );
    assert_eq!(
        read(fine.as_bytes(), "/shows", &[], 16)
            .await
            .map(|r| r.records.len()),
        Ok(1)
    );
}

#[tokio::test]
async fn a_capture_is_bounded() {
    let big = format!(
        "{{\"next\": \"{}\", \"shows\": []}}",
        "x".repeat(MAX_CAPTURE_BYTES * 2)
    );
    for chunk in [4096, CHUNK_BYTES] {
        let error = read(big.as_bytes(), "/shows", &["/next"], chunk)
            .await
            .err()
            .unwrap_or_default();
        assert!(error.contains("larger than 64 KiB"), "chunks of {chunk}: {error}");
    }
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
        buf.put_slice(br#"{"shows": [{"id": 1}, {"id""#);
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn a_read_error_is_an_error_not_the_end_of_the_document() {
    let records = pointer("/shows");
    let mut stream = RecordStream::new(FailingBody(false), records.tokens(), &[], 1024);
    let first = stream.next_record().await.ok().flatten();
    assert_eq!(
        first.and_then(|node| serde_json::to_value(node).ok()),
        Some(json!({"id": 1}))
    );
    let error = stream.next_record().await.err();
    assert!(
        matches!(error, Some(ProviderError::Fetch { transient: true, .. })),
        "{error:?}"
    );
}

/// A document of `records` records of about `record_bytes` each, streamed from memory
/// without ever being held whole: after a member of `before` bytes that is skipped.
struct Generated {
    head: Vec<u8>,
    record: Vec<u8>,
    left: usize,
    tail: &'static [u8],
    pending: Vec<u8>,
    /// How much of `pending` was sent.
    sent: usize,
}

impl Generated {
    fn new(records: usize, record_bytes: usize, before: usize) -> Self {
        let mut head = b"{\"skipped\": [\"".to_vec();
        head.extend(std::iter::repeat_n(b'x', before));
        head.extend_from_slice(b"\"], \"shows\": [");
        let record = format!("{{\"id\": 1, \"text\": \"{}\"}}", "y".repeat(record_bytes)).into_bytes();
        Self {
            head,
            record,
            left: records,
            tail: b"], \"next\": null}",
            pending: Vec::new(),
            sent: 0,
        }
    }
}

impl AsyncRead for Generated {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let this = &mut *self;
        if this.sent == this.pending.len() {
            this.sent = 0;
            if !this.head.is_empty() {
                this.pending = std::mem::take(&mut this.head);
            } else if this.left > 0 {
                this.left -= 1;
                this.pending = this.record.clone();
                if this.left > 0 {
                    this.pending.push(b',');
                }
            } else {
                this.pending = std::mem::take(&mut this.tail).to_vec();
            }
        }
        let take = (this.pending.len() - this.sent).min(buf.remaining());
        buf.put_slice(&this.pending[this.sent..this.sent + take]);
        this.sent += take;
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn memory_is_bounded_by_a_chunk_and_a_record_not_by_the_document() {
    // 50 MB in one records array of 1 KB records, after a 20 MB member that is skipped.
    let body = Generated::new(50_000, 1000, 20_000_000);
    let (read, peak) = read_with(body, "/shows", &["/next"], CHUNK_BYTES).await;
    let read = read.unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(read.records.len(), 50_000);
    assert_eq!(read.captured, [Some(Value::Null)]);
    assert_eq!(peak, CHUNK_BYTES, "the buffer grew for a document of 70 MB");
    // One record larger than the chunk grows the buffer to hold it, and no further.
    let body = Generated::new(20, 3_000_000, 10);
    let (read, peak) = read_with(body, "/shows", &[], CHUNK_BYTES).await;
    assert_eq!(read.map(|r| r.records.len()), Ok(20));
    assert!((3_000_000..=4 * 3_000_000).contains(&peak), "{peak}");
}
