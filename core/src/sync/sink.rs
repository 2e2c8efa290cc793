//! The engine's [`RecordSink`]: writes the records (checked on their way in, see
//! `checked.rs`) in batches into the run's transaction as the provider parses.
//!
//! Writing is pipelined: a writer task owns the transaction and writes one batch while
//! the provider parses the next (the database works on its own thread or server, so
//! the two overlap). At most one batch waits for the writer, and a full one for room:
//! memory stays bounded by three batches, whatever the feed's size.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::model::EventRecord;
use crate::provider::{RecordSink, Rejection, SinkError};
use crate::store::{BatchOutcome, StoreError, SyncTransaction};

/// How often (in records) a sync yields: its thread to the operating system, and the
/// parser's turn on the runtime to the batch writer.
const YIELD_EVERY_RECORDS: u64 = 8;

/// How many rejections of one run go to the quarantine; the count is always exact.
pub const MAX_QUARANTINED: usize = 1000;

/// What the sink counted.
#[derive(Debug, Default, Clone, Copy)]
pub struct SinkCounts {
    /// Records the feed carried, valid or not.
    pub seen: u64,
    /// Records rejected.
    pub rejected: u64,
}

/// What the writer task gives back: the transaction to finish, and what it wrote.
type Written = Result<(Box<dyn SyncTransaction>, BatchOutcome), StoreError>;

/// Batches records into the run's transaction as the provider parses them.
pub struct BatchingSink {
    batches: Option<mpsc::Sender<Vec<EventRecord>>>,
    writer: Option<JoinHandle<Written>>,
    batch: Vec<EventRecord>,
    batch_size: usize,
    /// What the batches did.
    pub outcome: BatchOutcome,
    /// Records seen and rejected.
    pub counts: SinkCounts,
    /// Rejections with their raw elements, for the quarantine (the first
    /// [`MAX_QUARANTINED`] of a run).
    pub quarantine: Vec<Rejection>,
    /// Unknown elements and attributes with their counts.
    pub unknown: BTreeMap<String, u64>,
}

impl BatchingSink {
    /// A sink writing into `transaction`, `batch_size` records at a time, stamping
    /// them seen at `seen_at`.
    pub fn new(transaction: Box<dyn SyncTransaction>, batch_size: usize, seen_at: DateTime<Utc>) -> Self {
        let (batches, received) = mpsc::channel(1);
        let writer = tokio::spawn(write_batches(transaction, received, seen_at));
        Self {
            batches: Some(batches),
            writer: Some(writer),
            batch: Vec::with_capacity(batch_size),
            batch_size,
            outcome: BatchOutcome::default(),
            counts: SinkCounts::default(),
            quarantine: Vec::new(),
            unknown: BTreeMap::new(),
        }
    }

    /// Hands the pending batch to the writer (waiting while it writes the one before).
    async fn flush(&mut self) -> Result<(), StoreError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(self.batch_size));
        let sent = match &self.batches {
            Some(batches) => batches.send(batch).await.is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        // The writer stopped: a batch failed. Its error says why.
        match self.join_writer().await {
            Err(error) => Err(error),
            Ok(_) => Err(StoreError::Backend("the batch writer stopped".into())),
        }
    }

    async fn join_writer(&mut self) -> Written {
        self.batches = None;
        let writer = self
            .writer
            .take()
            .ok_or_else(|| StoreError::Backend("the sync transaction is already finished".into()))?;
        writer
            .await
            .map_err(|error| StoreError::Backend(format!("the batch writer stopped: {error}")))?
    }

    /// Writes what is left and hands the transaction back for the engine to finish.
    pub async fn finish(mut self) -> Result<(Box<dyn SyncTransaction>, Self), StoreError> {
        self.flush().await?;
        let (transaction, outcome) = self.join_writer().await?;
        self.outcome = outcome;
        Ok((transaction, self))
    }

    /// Drops the transaction without writing what is pending (the run failed): nothing
    /// of it is kept.
    pub fn abandon(mut self) -> Self {
        self.stop_writer();
        self
    }

    fn stop_writer(&mut self) {
        self.batches = None;
        if let Some(writer) = self.writer.take() {
            writer.abort();
        }
    }
}

impl Drop for BatchingSink {
    /// A run dropped half-way (cancelled) stops its writer: the transaction rolls back.
    fn drop(&mut self) {
        self.stop_writer();
    }
}

/// The writer task: writes each batch it receives into the transaction, in order;
/// stops at the first failure.
async fn write_batches(
    mut transaction: Box<dyn SyncTransaction>,
    mut batches: mpsc::Receiver<Vec<EventRecord>>,
    seen_at: DateTime<Utc>,
) -> Written {
    let mut outcome = BatchOutcome::default();
    while let Some(batch) = batches.recv().await {
        let span = tracing::debug_span!("batch", records = batch.len());
        outcome += transaction.upsert(batch, seen_at).instrument(span).await?;
    }
    Ok((transaction, outcome))
}

#[async_trait]
impl RecordSink for BatchingSink {
    async fn accept(&mut self, record: EventRecord) -> Result<(), SinkError> {
        self.counts.seen += 1;
        self.batch.push(record);
        if self.batch.len() >= self.batch_size {
            self.flush().await.map_err(SinkError::new)?;
        }
        if self.counts.seen.is_multiple_of(YIELD_EVERY_RECORDS) {
            // Parsing a large feed is long CPU work: hand the core to waiting threads
            // (request handling) often, so that a sync adds little to their latency.
            std::thread::yield_now();
            // The batch writer is a task of the same runtime (one thread for syncs): it
            // sends its next statement only when polled. Without this turn it waited
            // for the parser's next full batch after each answer of the database, and
            // the two hardly overlapped (a first sync on PostgreSQL: 2.43 s, 1.91 s
            // with it; the unchanged re-sync 0.94 s, 0.65 s).
            tokio::task::yield_now().await;
        }
        Ok(())
    }

    fn reject(&mut self, rejection: Rejection) {
        self.counts.seen += 1;
        self.counts.rejected += 1;
        if self.quarantine.len() < MAX_QUARANTINED {
            self.quarantine.push(rejection);
        }
    }

    fn unknown(&mut self, what: &str) {
        *self.unknown.entry(what.to_owned()).or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::provider::Validators;

    /// Keeps the sizes of the batches it was given.
    #[derive(Clone, Default)]
    struct Batches(Arc<Mutex<Vec<usize>>>);

    #[async_trait]
    impl SyncTransaction for Batches {
        async fn upsert(
            &mut self,
            records: Vec<EventRecord>,
            _: DateTime<Utc>,
        ) -> Result<BatchOutcome, StoreError> {
            self.0
                .lock()
                .map_err(|_| StoreError::Backend("poisoned".into()))?
                .push(records.len());
            Ok(BatchOutcome::default())
        }
        async fn touch_all(&mut self, _: DateTime<Utc>) -> Result<u64, StoreError> {
            Ok(0)
        }
        async fn set_validators(&mut self, _: Option<Validators>) -> Result<(), StoreError> {
            Ok(())
        }
        async fn commit(self: Box<Self>) -> Result<(), StoreError> {
            Ok(())
        }
    }

    fn record(session: usize) -> EventRecord {
        let mut record = crate::model::tests::record();
        record.key.session_id = session.to_string();
        record
    }

    /// On one thread, as syncs run: the writer takes a full batch while the parser is
    /// still filling the next one, not when that one is full too.
    #[tokio::test(flavor = "current_thread")]
    async fn the_writer_gets_turns_while_the_next_batch_fills() -> Result<(), SinkError> {
        let written = Batches::default();
        let mut sink = BatchingSink::new(Box::new(written.clone()), 10, Utc::now());
        for session in 0..10 + YIELD_EVERY_RECORDS as usize {
            sink.accept(record(session)).await?;
        }
        let seen = written
            .0
            .lock()
            .map(|batches| batches.clone())
            .unwrap_or_default();
        assert_eq!(
            seen,
            vec![10],
            "the first batch was not written while the second filled"
        );
        let (_, sink) = sink.finish().await.map_err(SinkError::new)?;
        assert_eq!(sink.counts.seen, 18);
        let seen = written
            .0
            .lock()
            .map(|batches| batches.clone())
            .unwrap_or_default();
        assert_eq!(seen, vec![10, 8]);
        Ok(())
    }
}
