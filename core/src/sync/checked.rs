//! What every record goes through before it is kept, in a sync and in a preview alike:
//! the model's checks, and one copy of a session per run.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use uuid::Uuid;

use super::progress::Progress;
use crate::model::EventRecord;
use crate::provider::{RecordSink, Rejection, SinkError};

/// Checks each record and passes it on: a record that breaks the model's invariants,
/// or a session the run already read, is rejected with why.
pub struct CheckedSink<'a> {
    inner: &'a mut dyn RecordSink,
    seen_ids: HashSet<Uuid>,
    progress: Option<Arc<Progress>>,
    /// What went through so far.
    pub counts: CheckedCounts,
}

/// What a [`CheckedSink`] counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckedCounts {
    /// Records the provider pushed, mapped or not.
    pub records: u64,
    /// Records passed on.
    pub accepted: u64,
    /// Sessions the run had already read.
    pub duplicates: u64,
}

impl<'a> CheckedSink<'a> {
    /// Checks what goes into `inner`.
    pub fn new(inner: &'a mut dyn RecordSink) -> Self {
        Self {
            inner,
            seen_ids: HashSet::new(),
            progress: None,
            counts: CheckedCounts::default(),
        }
    }

    /// The same, counting each record into `progress` too.
    pub fn counting(mut self, progress: Arc<Progress>) -> Self {
        self.progress = Some(progress);
        self
    }
}

/// How a rejection names a record the provider mapped.
fn name(record: &EventRecord) -> String {
    format!(
        "base_event {} / event {}",
        record.key.series_id, record.key.session_id
    )
}

#[async_trait]
impl RecordSink for CheckedSink<'_> {
    async fn accept(&mut self, record: EventRecord) -> Result<(), SinkError> {
        if let Err(reason) = record.validate() {
            self.reject(Rejection {
                record: name(&record),
                reason,
                raw: None,
            });
            return Ok(());
        }
        if !self.seen_ids.insert(record.id()) {
            self.counts.duplicates += 1;
            self.reject(Rejection {
                record: name(&record),
                reason: "the feed carries this session more than once; the first one is kept".into(),
                raw: None,
            });
            return Ok(());
        }
        self.counts.records += 1;
        self.counts.accepted += 1;
        if let Some(progress) = &self.progress {
            progress.record(false);
        }
        self.inner.accept(record).await
    }

    fn reject(&mut self, rejection: Rejection) {
        self.counts.records += 1;
        if let Some(progress) = &self.progress {
            progress.record(true);
        }
        self.inner.reject(rejection);
    }

    fn unknown(&mut self, what: &str) {
        self.inner.unknown(what);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::CollectingSink;

    #[tokio::test]
    async fn broken_and_repeated_records_are_rejected_with_why() -> Result<(), SinkError> {
        let mut collected = CollectingSink::default();
        let mut sink = CheckedSink::new(&mut collected);
        let record = crate::model::tests::record();
        let mut untitled = record.clone();
        untitled.title = " ".into();
        untitled.key.session_id = "2".into();
        sink.accept(record.clone()).await?;
        sink.accept(record).await?;
        sink.accept(untitled).await?;
        assert_eq!(
            sink.counts,
            CheckedCounts {
                records: 3,
                accepted: 1,
                duplicates: 1
            }
        );
        assert_eq!(collected.records.len(), 1);
        let reasons: Vec<_> = collected.rejections.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "the feed carries this session more than once; the first one is kept",
                "the title is empty"
            ]
        );
        Ok(())
    }
}
