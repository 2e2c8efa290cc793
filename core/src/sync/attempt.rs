//! One attempt of a run: a transaction, every document of the feed read into it (or
//! the source's "not modified"), then commit; on any failure the transaction is
//! dropped and nothing of the attempt is kept.

use std::sync::{Arc, Mutex};

use tracing::{Instrument, warn};

use super::SyncError;
use super::archive::{PayloadArchive, SharedWriter};
use super::checked::CheckedSink;
use super::feed::{FeedLimits, PageRead, parse_bytes};
use super::pages::{FeedWalk, PageCopies, Walked};
use super::progress::Progress;
use super::report::MAX_LISTED_REJECTIONS;
use super::sink::BatchingSink;
use crate::provider::{Provider, ProviderError, Rejection, Validators};
use crate::registry::ProviderConfig;
use crate::store::{EventStore, StoreError, SyncReport, SyncTransaction};

/// Where a run's documents come from.
pub(super) enum Source {
    /// The provider, through `open`.
    Fetch,
    /// Archived payloads, in page order, with their hashes.
    Replay(Vec<(String, Vec<u8>)>),
}

/// What an attempt works with.
pub(super) struct Attempt<'a> {
    pub store: &'a dyn EventStore,
    pub archive: Option<&'a PayloadArchive>,
    pub batch_size: usize,
    pub name: &'a str,
    pub config: &'a ProviderConfig,
    pub provider: &'a dyn Provider,
    /// Where the run's figures are counted as it goes.
    pub progress: &'a Arc<Progress>,
}

/// How the documents were read.
enum Read {
    /// Every page parsed into the sink; validators of a single-document feed.
    Documents(Option<Validators>),
    /// The source said nothing changed.
    NotModified,
}

impl Attempt<'_> {
    /// Runs the attempt, filling `report`. Returns the rejections to quarantine, or why
    /// the attempt failed; `Err` when the run cannot go on at all (another process
    /// holds the instance).
    pub async fn run(
        &self,
        source: &Source,
        report: &mut SyncReport,
    ) -> Result<Result<Vec<Rejection>, ProviderError>, SyncError> {
        let transaction = match self.store.begin_sync(self.name).await {
            Err(StoreError::Conflict(_)) => return Err(SyncError::AlreadyRunning(self.name.to_owned())),
            Err(error) => return Ok(Err(sink_error(error))),
            Ok(transaction) => transaction,
        };
        self.progress.reset();
        report.pages = 0;
        report.bytes = 0;
        report.payload = None;
        report.payloads.clear();
        report.not_modified = false;
        let mut sink = BatchingSink::new(transaction, self.batch_size, report.started_at);
        let read = match source {
            Source::Fetch => self.fetch(&mut sink, report).await,
            Source::Replay(pages) => self.replay(pages, &mut sink, report).await,
        };
        report.seen = sink.counts.seen;
        report.rejected = sink.counts.rejected;
        report.unknown = std::mem::take(&mut sink.unknown);
        report.rejections = sink
            .quarantine
            .iter()
            .take(MAX_LISTED_REJECTIONS)
            .map(|rejection| Rejection {
                raw: None,
                ..rejection.clone()
            })
            .collect();
        let read = match read {
            Ok(read) => read,
            Err(error) => {
                drop(sink.abandon());
                return Ok(Err(error));
            }
        };
        let finished = async {
            let (mut transaction, mut sink) = sink.finish().await?;
            match read {
                Read::NotModified => {
                    report.not_modified = true;
                    report.unchanged = transaction.touch_all(report.started_at).await?;
                }
                Read::Documents(validators) => {
                    if matches!(source, Source::Fetch) {
                        transaction.set_validators(validators).await?;
                    }
                    report.inserted = sink.outcome.inserted;
                    report.updated = sink.outcome.updated;
                    report.unchanged = sink.outcome.unchanged;
                }
            }
            commit(transaction).await?;
            Ok::<_, StoreError>(std::mem::take(&mut sink.quarantine))
        };
        Ok(finished.await.map_err(sink_error))
    }

    async fn fetch(&self, sink: &mut BatchingSink, report: &mut SyncReport) -> Result<Read, ProviderError> {
        let stored = match self.store.validators(self.name).await {
            Ok(validators) => validators,
            Err(error) => {
                warn!(%error, "Cannot read the feed's validators; fetching unconditionally.");
                None
            }
        };
        let walk = FeedWalk {
            provider: self.provider,
            limits: FeedLimits {
                timeout: self.config.timeout,
                max_bytes: self.config.max_feed_bytes,
            },
            max_pages: self.config.max_pages,
            validators: stored.as_ref(),
            progress: Some(Arc::clone(self.progress)),
        };
        let mut copies = ArchiveCopies {
            archive: self.archive,
            name: self.name,
            writer: None,
            hashes: Vec::new(),
        };
        let mut walked = Walked::default();
        let mut checked = CheckedSink::new(sink).counting(Arc::clone(self.progress));
        let outcome = walk.walk(&mut checked, &mut copies, &mut walked).await;
        report.pages = walked.attempted;
        report.bytes = walked.bytes;
        report.payload = copies.hashes.first().cloned();
        // One page: `payload` says it all.
        report.payloads = if copies.hashes.len() > 1 {
            copies.hashes
        } else {
            Vec::new()
        };
        outcome?;
        if walked.not_modified {
            return Ok(Read::NotModified);
        }
        Ok(Read::Documents(walked.validators))
    }

    async fn replay(
        &self,
        pages: &[(String, Vec<u8>)],
        sink: &mut BatchingSink,
        report: &mut SyncReport,
    ) -> Result<Read, ProviderError> {
        report.replayed_from = pages.first().map(|(hash, _)| hash.clone());
        let mut checked = CheckedSink::new(sink).counting(Arc::clone(self.progress));
        for (_, bytes) in pages {
            let number = report.pages + 1;
            self.progress.page_opened(Some(bytes.len() as u64));
            let (_, length) = parse_bytes(self.provider, bytes.clone(), number, &mut checked).await?;
            self.progress.read(length);
            report.pages = number;
            report.bytes += length;
        }
        Ok(Read::Documents(None))
    }
}

/// Each page's copy in the payload archive, named by its hash once the page is read.
struct ArchiveCopies<'a> {
    archive: Option<&'a PayloadArchive>,
    name: &'a str,
    writer: Option<SharedWriter>,
    /// The hashes of the pages kept, in order.
    hashes: Vec<String>,
}

impl PageCopies for ArchiveCopies<'_> {
    fn open(&mut self) -> Option<Box<dyn std::io::Write + Send>> {
        let archive = self.archive?;
        match archive.writer(self.name) {
            Ok(writer) => {
                let shared = SharedWriter(Arc::new(Mutex::new(Some(writer))));
                self.writer = Some(shared.clone());
                Some(Box::new(shared))
            }
            Err(error) => {
                warn!(%error, "Cannot archive the payload of this run.");
                None
            }
        }
    }

    fn close(&mut self, read: &Result<PageRead, ProviderError>) {
        let Some(writer) = self.writer.take().and_then(|writer| writer.take()) else {
            return;
        };
        match read {
            Ok(PageRead::Parsed { bytes, .. }) if *bytes > 0 => match writer.finish() {
                Ok(hash) => self.hashes.push(hash),
                Err(error) => warn!(%error, "Cannot archive the payload of this run."),
            },
            _ => writer.discard(),
        }
        if let Some(archive) = self.archive
            && let Err(error) = archive.prune(self.name)
        {
            warn!(%error, "Cannot prune the payload archive.");
        }
    }
}

async fn commit(transaction: Box<dyn SyncTransaction>) -> Result<(), StoreError> {
    transaction
        .commit()
        .instrument(tracing::debug_span!("commit"))
        .await
}

/// A store failure met while reading, as the provider error that fails the attempt.
fn sink_error(error: StoreError) -> ProviderError {
    ProviderError::Sink(crate::provider::SinkError::new(error))
}
