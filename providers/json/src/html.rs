//! The JSON-LD of an HTML page: the text of each `<script type="application/ld+json">`
//! block, read from the page as it streams. Memory is bounded by a chunk and the
//! largest block, never by the page: what lies between blocks is scanned and dropped.
//!
//! This is not an HTML parser: it finds `<script` tags (any case), reads their `type`
//! attribute, and takes what follows up to `</script` as the block, as browsers do for
//! a script's text (RFC-less, but what the HTML standard's "script data" state does).

use std::io;

use boxoffice_core::{ProviderError, read_error};
use tokio::io::{AsyncRead, AsyncReadExt};

/// The bytes read from the page at a time.
const CHUNK_BYTES: usize = 64 * 1024;

/// The longest `<script …>` tag read; a longer one is skipped as not JSON-LD.
const MAX_TAG_BYTES: usize = 8 * 1024;

/// The largest JSON-LD block read.
pub const MAX_BLOCK_BYTES: usize = 16 * 1024 * 1024;

/// Where the scan is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Outside any script.
    Text,
    /// Inside a `<script` tag that starts at this offset of the buffer.
    Tag(usize),
    /// Inside a script's text from this offset: JSON-LD (`true`) or another script.
    Script { start: usize, ld: bool },
}

/// The JSON-LD blocks of one page.
pub struct ScriptBlocks<R> {
    body: R,
    buf: Vec<u8>,
    /// Scanned up to here.
    at: usize,
    state: State,
    ended: bool,
}

impl<R: AsyncRead + Unpin> ScriptBlocks<R> {
    /// Reads `body`.
    pub fn new(body: R) -> Self {
        Self {
            body,
            buf: Vec::with_capacity(CHUNK_BYTES),
            at: 0,
            state: State::Text,
            ended: false,
        }
    }

    /// The next block's text, or `None` at the end of the page.
    pub async fn next_block(&mut self) -> Result<Option<Vec<u8>>, ProviderError> {
        loop {
            if let Some(block) = self.scan()? {
                return Ok(Some(block));
            }
            if self.ended {
                return Ok(None);
            }
            self.fill().await?;
        }
    }

    /// Scans what was read; a block when one ended.
    fn scan(&mut self) -> Result<Option<Vec<u8>>, ProviderError> {
        loop {
            match self.state {
                State::Text => {
                    let Some(found) = memchr::memchr(b'<', &self.buf[self.at..]) else {
                        self.at = self.buf.len();
                        return Ok(None);
                    };
                    let start = self.at + found;
                    let rest = &self.buf[start..];
                    if rest.len() < b"<script".len() + 1 && !self.ended {
                        self.at = start;
                        return Ok(None);
                    }
                    if starts_with_tag(rest, b"<script") {
                        self.state = State::Tag(start);
                        self.at = start + b"<script".len();
                    } else {
                        self.at = start + 1;
                    }
                }
                State::Tag(start) => {
                    let Some(found) = memchr::memchr(b'>', &self.buf[self.at..]) else {
                        self.at = self.buf.len();
                        if self.at - start > MAX_TAG_BYTES {
                            self.state = State::Script {
                                start: self.at,
                                ld: false,
                            };
                        }
                        return Ok(None);
                    };
                    let end = self.at + found;
                    let ld = end - start <= MAX_TAG_BYTES && is_json_ld(&self.buf[start..end]);
                    self.state = State::Script { start: end + 1, ld };
                    self.at = end + 1;
                }
                State::Script { start, ld } => {
                    let Some(found) = find_close(&self.buf[self.at..]) else {
                        // Keep what could begin `</script` at the end of what was read.
                        self.at = self.buf.len().saturating_sub(b"</script".len()).max(start);
                        if ld && self.buf.len() - start > MAX_BLOCK_BYTES {
                            return Err(ProviderError::Malformed(format!(
                                "a JSON-LD block of the page is larger than {} MiB",
                                MAX_BLOCK_BYTES / (1024 * 1024)
                            )));
                        }
                        if self.ended {
                            // An unclosed script runs to the end of the page.
                            let block = ld.then(|| self.buf[start..].to_vec());
                            self.state = State::Text;
                            self.at = self.buf.len();
                            return Ok(block);
                        }
                        return Ok(None);
                    };
                    let end = self.at + found;
                    self.state = State::Text;
                    self.at = end + b"</script".len();
                    if ld {
                        return Ok(Some(self.buf[start..end].to_vec()));
                    }
                }
            }
        }
    }

    /// Drops what is scanned and not held, then reads the next chunk.
    async fn fill(&mut self) -> Result<(), ProviderError> {
        let keep = match self.state {
            State::Text => self.at,
            State::Tag(start) => start,
            State::Script { start, ld: true } => start,
            State::Script { ld: false, .. } => self.at,
        };
        self.buf.drain(..keep);
        self.at -= keep;
        self.state = match self.state {
            State::Tag(start) => State::Tag(start - keep),
            State::Script { start, ld } => State::Script {
                start: start.saturating_sub(keep),
                ld,
            },
            State::Text => State::Text,
        };
        let before = self.buf.len();
        self.buf.resize(before + CHUNK_BYTES, 0);
        let read = loop {
            match self.body.read(&mut self.buf[before..]).await {
                Ok(read) => break read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    self.buf.truncate(before);
                    return Err(read_error(&error));
                }
            }
        };
        self.buf.truncate(before + read);
        if read == 0 {
            self.ended = true;
        }
        Ok(())
    }
}

/// Whether `bytes` starts with the tag name `tag` (any case) followed by what ends a
/// tag name.
fn starts_with_tag(bytes: &[u8], tag: &[u8]) -> bool {
    bytes.len() > tag.len()
        && bytes[..tag.len()].eq_ignore_ascii_case(tag)
        && matches!(
            bytes[tag.len()],
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'>' | b'/'
        )
}

/// The offset of the next `</script` (any case) in `bytes`.
fn find_close(bytes: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = memchr::memmem::find(&bytes[from..], b"</") {
        let at = from + found;
        let rest = &bytes[at..];
        if rest.len() >= b"</script".len() && rest[..b"</script".len()].eq_ignore_ascii_case(b"</script") {
            return Some(at);
        }
        from = at + 2;
    }
    None
}

/// Whether a `<script …` tag's `type` is `application/ld+json` (any case, parameters
/// allowed, quoted or not).
fn is_json_ld(tag: &[u8]) -> bool {
    let tag = String::from_utf8_lossy(tag).to_ascii_lowercase();
    let Some(at) = tag.find("type") else {
        return false;
    };
    let rest = tag[at + 4..].trim_start();
    let Some(rest) = rest.strip_prefix('=') else {
        return false;
    };
    let value = rest.trim_start().trim_start_matches(['"', '\'']);
    value.starts_with("application/ld+json")
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn blocks(page: &[u8]) -> Result<Vec<String>, String> {
        let mut reader = ScriptBlocks::new(page);
        let mut found = Vec::new();
        while let Some(block) = reader.next_block().await.map_err(|e| e.to_string())? {
            found.push(String::from_utf8_lossy(&block).trim().to_owned());
        }
        Ok(found)
    }

    #[tokio::test]
    async fn json_ld_blocks_are_read_and_other_scripts_skipped() -> Result<(), String> {
        let page = br#"<!doctype html><html><head>
            <script>var s = "<script type='application/ld+json'>not this</script>";</script>
            <SCRIPT TYPE="application/ld+json; charset=utf-8">{"a": 1}</SCRIPT>
            <script type=application/ld+json>[{"b": "</p>"}]</script>
            <script src="x.js"></script><scripts>no</scripts>
        </head><body><p>text</p></body></html>"#;
        assert_eq!(blocks(page).await?, [r#"{"a": 1}"#, r#"[{"b": "</p>"}]"#]);
        Ok(())
    }

    #[tokio::test]
    async fn a_block_cut_by_the_end_of_a_chunk_is_read_whole() -> Result<(), String> {
        let filler = "x".repeat(CHUNK_BYTES - 10);
        let page = format!(
            r#"<html>{filler}<script type="application/ld+json">{{"name": "{}"}}</script>"#,
            "y".repeat(CHUNK_BYTES)
        );
        let found = blocks(page.as_bytes()).await?;
        assert_eq!(found.len(), 1);
        assert!(found[0].ends_with("y\"}"), "{}", &found[0][..40]);
        Ok(())
    }

    #[tokio::test]
    async fn an_unclosed_block_at_the_end_is_still_read() -> Result<(), String> {
        assert_eq!(
            blocks(br#"<script type="application/ld+json">{"a":1}"#).await?,
            [r#"{"a":1}"#]
        );
        assert!(blocks(b"<p>no scripts</p>").await?.is_empty());
        Ok(())
    }
}
