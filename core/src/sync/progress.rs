//! How far a running run has got, counted as it goes: the bytes that passed the meter,
//! the pages opened, the records pushed and rejected. The run counts (a relaxed
//! atomic add per record or chunk: nothing a sync would notice); whoever watches
//! reads a [`ProgressSnapshot`] when it wants: the command line's bar, the heartbeat
//! that writes the figures into the store's history, `/metrics`.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use serde::Serialize;

/// The counters of one run (an attempt's: a retry starts them again).
#[derive(Debug, Default)]
pub struct Progress {
    bytes: AtomicU64,
    /// The current document's announced length, plus one; 0: unknown.
    length: AtomicU64,
    pages: AtomicU32,
    records: AtomicU64,
    rejected: AtomicU64,
}

/// What a run has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ProgressSnapshot {
    /// Bytes read (decoded), every page.
    pub bytes: u64,
    /// The current document's announced length, when its source sent one.
    pub length: Option<u64>,
    /// Pages opened.
    pub pages: u32,
    /// Records read, mapped or not.
    pub records: u64,
    /// Records rejected.
    pub rejected: u64,
}

impl Progress {
    /// Starts counting again (a new attempt).
    pub fn reset(&self) {
        for counter in [&self.bytes, &self.length, &self.records, &self.rejected] {
            counter.store(0, Ordering::Relaxed);
        }
        self.pages.store(0, Ordering::Relaxed);
    }

    /// A page was opened, announcing `length` bytes (or not).
    pub fn page_opened(&self, length: Option<u64>) {
        self.pages.fetch_add(1, Ordering::Relaxed);
        self.length.store(
            length.map_or(0, |length| length.saturating_add(1)),
            Ordering::Relaxed,
        );
    }

    /// `count` more bytes were read.
    pub fn read(&self, count: u64) {
        self.bytes.fetch_add(count, Ordering::Relaxed);
    }

    /// A record was read; `rejected` when it was refused.
    pub fn record(&self, rejected: bool) {
        self.records.fetch_add(1, Ordering::Relaxed);
        if rejected {
            self.rejected.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The figures now.
    pub fn snapshot(&self) -> ProgressSnapshot {
        let length = self.length.load(Ordering::Relaxed);
        ProgressSnapshot {
            bytes: self.bytes.load(Ordering::Relaxed),
            length: length.checked_sub(1),
            pages: self.pages.load(Ordering::Relaxed),
            records: self.records.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_read_as_they_are_and_start_again_on_a_new_attempt() {
        let progress = Progress::default();
        progress.page_opened(Some(100));
        progress.read(40);
        progress.record(false);
        progress.record(true);
        assert_eq!(
            progress.snapshot(),
            ProgressSnapshot {
                bytes: 40,
                length: Some(100),
                pages: 1,
                records: 2,
                rejected: 1
            }
        );
        progress.page_opened(None);
        assert_eq!(progress.snapshot().length, None);
        progress.reset();
        assert_eq!(progress.snapshot(), ProgressSnapshot::default());
    }
}
