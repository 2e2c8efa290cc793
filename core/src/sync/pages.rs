//! Every page of a feed in one run, the same for a sync and a preview: the first
//! document (or the source's "not modified"), then each next page the provider names,
//! up to `max_pages`. A page that links back to one the run read, or that only repeats
//! records already read, fails the run: paging that does not move would otherwise
//! loop to `max_pages` or reject every record as a duplicate.

use std::collections::HashSet;
use std::io::Write;
use std::sync::Arc;

use serde::Serialize;
use tracing::Instrument;

use super::checked::{CheckedCounts, CheckedSink};
use super::feed::{FeedLimits, PageRead, read_page};
use super::progress::Progress;
use crate::provider::{OpenRequest, PageName, Provider, ProviderError, Validators};

/// What a walk reads with.
pub struct FeedWalk<'a> {
    /// The instance.
    pub provider: &'a dyn Provider,
    /// The limits of each document.
    pub limits: FeedLimits,
    /// Documents one run may read.
    pub max_pages: u32,
    /// Validators of the document the last committed run read, sent with the first
    /// request.
    pub validators: Option<&'a Validators>,
    /// Where the pages and bytes are counted as they are read, if anywhere.
    pub progress: Option<Arc<Progress>>,
}

/// One page a walk read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PageLog {
    /// Its number in the run, from 1.
    pub number: u32,
    /// Its address without secrets ([`Provider::page_label`]).
    pub label: String,
    /// Bytes read.
    pub bytes: u64,
    /// Records it held, mapped or not.
    pub records: u64,
}

/// What a walk read, filled as it goes (so that a failed walk tells how far it got).
#[derive(Debug, Default)]
pub struct Walked {
    /// Pages opened, the one that failed included.
    pub attempted: u32,
    /// Bytes read, every page.
    pub bytes: u64,
    /// The pages read whole.
    pub pages: Vec<PageLog>,
    /// The source said the first document had not changed.
    pub not_modified: bool,
    /// The validators of a feed that is one document (they stand for nothing else).
    pub validators: Option<Validators>,
    /// Why the feed ended where it did, as the provider said.
    pub ended: Option<String>,
}

/// Where the copy of each page goes (the payload archive), if anywhere.
pub trait PageCopies: Send {
    /// A writer for the next page's bytes.
    fn open(&mut self) -> Option<Box<dyn Write + Send>>;
    /// The page is read (or failed): keep its copy or throw it away.
    fn close(&mut self, read: &Result<PageRead, ProviderError>);
}

/// Keeps no copy.
pub struct NoCopies;

impl PageCopies for NoCopies {
    fn open(&mut self) -> Option<Box<dyn Write + Send>> {
        None
    }
    fn close(&mut self, _: &Result<PageRead, ProviderError>) {}
}

impl FeedWalk<'_> {
    /// Reads every page into `sink`, filling `walked`.
    pub async fn walk(
        &self,
        sink: &mut CheckedSink<'_>,
        copies: &mut dyn PageCopies,
        walked: &mut Walked,
    ) -> Result<(), ProviderError> {
        let mut read_pages: HashSet<String> = HashSet::new();
        let mut next: Option<String> = None;
        let mut validators: Option<Validators>;
        loop {
            if walked.attempted >= self.max_pages {
                return Err(ProviderError::Malformed(format!(
                    "the feed has more than {} pages (max_pages)",
                    self.max_pages
                )));
            }
            walked.attempted += 1;
            let number = walked.attempted;
            let name = PageName {
                number,
                label: self.provider.page_label(next.as_deref()),
            };
            let request = OpenRequest {
                page: next.as_deref(),
                validators: if number == 1 { self.validators } else { None },
            };
            let before = sink.counts;
            let span = tracing::debug_span!("page", number);
            let read = read_page(
                self.provider,
                request,
                number,
                self.limits,
                copies.open(),
                self.progress.clone(),
                sink,
            )
            .instrument(span)
            .await;
            copies.close(&read);
            let read = read.map_err(|error| named(error, &name))?;
            let (parsed, bytes, page_validators, location) = match read {
                PageRead::NotModified if number == 1 => {
                    walked.attempted = 0;
                    walked.not_modified = true;
                    return Ok(());
                }
                PageRead::NotModified => {
                    return Err(named(
                        ProviderError::Malformed(
                            "the source answered \"not modified\" to a request without validators".into(),
                        ),
                        &name,
                    ));
                }
                PageRead::Parsed {
                    parsed,
                    bytes,
                    validators,
                    location,
                } => (parsed, bytes, validators, location),
            };
            walked.bytes += bytes;
            let counted = delta(before, sink.counts);
            walked.pages.push(PageLog {
                number,
                label: name.label.clone(),
                bytes,
                records: counted.records,
            });
            validators = Some(page_validators);
            read_pages.extend(next.take());
            read_pages.extend(location);
            let repeats =
                number > 1 && counted.records > 0 && counted.accepted == 0 && counted.duplicates > 0;
            if let Some(page) = &parsed.next_page
                && read_pages.contains(page)
            {
                return Err(named(
                    ProviderError::Malformed(
                        "the feed's pages loop: this page links to a page the run already read".into(),
                    ),
                    &name,
                ));
            }
            if repeats {
                return Err(named(
                    ProviderError::Malformed(format!(
                        "the page repeats the pages before it: none of its {} records is new to this \
                         run (does the source ignore the page it is asked for?)",
                        counted.records
                    )),
                    &name,
                ));
            }
            match parsed.next_page {
                None => {
                    tracing::debug!(
                        pages = number,
                        ended = parsed.ended.as_deref().unwrap_or("the feed has no next page"),
                        "The feed ends."
                    );
                    walked.ended = parsed.ended;
                    break;
                }
                Some(page) => next = Some(page),
            }
        }
        // Validators only stand for a feed that is one document.
        walked.validators = validators.filter(|validators| walked.attempted == 1 && !validators.is_empty());
        Ok(())
    }
}

fn delta(before: CheckedCounts, after: CheckedCounts) -> CheckedCounts {
    CheckedCounts {
        records: after.records - before.records,
        accepted: after.accepted - before.accepted,
        duplicates: after.duplicates - before.duplicates,
    }
}

/// The error with the page it happened on: a document that cannot be read names the
/// page and its address; a failed fetch, whose message names the address already, the
/// page's number past the first.
fn named(error: ProviderError, page: &PageName) -> ProviderError {
    match error {
        ProviderError::Malformed(message) => ProviderError::Malformed(format!("{page}: {message}")),
        ProviderError::Fetch {
            message,
            transient,
            retry_after,
        } if page.number > 1 => ProviderError::Fetch {
            message: format!("page {}: {message}", page.number),
            transient,
            retry_after,
        },
        other => other,
    }
}
