//! A run that stores nothing: every page fetched as a sync fetches it, each record
//! mapped and checked as a sync checks it, and what would be kept handed back for a
//! person to read (`boxoffice preview`). One attempt, no retries, no conditional
//! request, no archive.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

use super::checked::CheckedSink;
use super::feed::FeedLimits;
use super::pages::{FeedWalk, NoCopies, PageLog, Walked};
use super::progress::Progress;
use crate::model::EventRecord;
use crate::provider::{RecordSink, Rejection, SinkError};
use crate::registry::BuiltProvider;

/// Rejections a preview lists; the count is always exact.
pub const MAX_PREVIEW_REJECTIONS: usize = 1000;

/// What a preview found.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    /// The instance.
    pub provider: String,
    /// The first records that a sync would keep, in feed order.
    pub records: Vec<EventRecord>,
    /// Records a sync would keep, listed or not.
    pub accepted: u64,
    /// The first rejections, each with its reason.
    pub rejections: Vec<Rejection>,
    /// Records a sync would reject.
    pub rejected: u64,
    /// Members no mapping reads, with their counts.
    pub unknown: BTreeMap<String, u64>,
    /// The pages read whole, in order.
    pub pages: Vec<PageLog>,
    /// Pages opened, a failed one included.
    pub attempted: u32,
    /// Why paging stopped, as the provider said; or why the run failed.
    pub ended: Option<String>,
    /// Why the run failed: a sync would have kept nothing.
    pub error: Option<String>,
}

/// Keeps the first records and rejections, counts the rest.
struct PreviewSink {
    limit: usize,
    records: Vec<EventRecord>,
    accepted: u64,
    rejections: Vec<Rejection>,
    rejected: u64,
    unknown: BTreeMap<String, u64>,
}

#[async_trait]
impl RecordSink for PreviewSink {
    async fn accept(&mut self, record: EventRecord) -> Result<(), SinkError> {
        self.accepted += 1;
        if self.records.len() < self.limit {
            self.records.push(record);
        }
        Ok(())
    }

    fn reject(&mut self, rejection: Rejection) {
        self.rejected += 1;
        if self.rejections.len() < MAX_PREVIEW_REJECTIONS {
            self.rejections.push(Rejection {
                raw: None,
                ..rejection
            });
        }
    }

    fn unknown(&mut self, what: &str) {
        *self.unknown.entry(what.to_owned()).or_default() += 1;
    }
}

/// Reads every page of `built` as a sync would, keeping at most `limit` records and
/// counting into `progress` as it goes.
pub async fn preview(built: &BuiltProvider, limit: usize, progress: Arc<Progress>) -> Preview {
    let config = &built.config;
    let walk = FeedWalk {
        provider: built.provider.as_ref(),
        limits: FeedLimits {
            timeout: config.timeout,
            max_bytes: config.max_feed_bytes,
        },
        max_pages: config.max_pages,
        validators: None,
        progress: Some(Arc::clone(&progress)),
    };
    let mut sink = PreviewSink {
        limit,
        records: Vec::new(),
        accepted: 0,
        rejections: Vec::new(),
        rejected: 0,
        unknown: BTreeMap::new(),
    };
    let mut walked = Walked::default();
    let outcome = {
        let mut checked = CheckedSink::new(&mut sink).counting(progress);
        let mut copies = NoCopies;
        let walking = walk.walk(&mut checked, &mut copies, &mut walked);
        match tokio::time::timeout(config.deadline, walking).await {
            Ok(outcome) => outcome.map_err(|error| error.to_string()),
            Err(_) => Err(format!(
                "the run took longer than its {} deadline",
                humantime_serde::re::humantime::format_duration(config.deadline)
            )),
        }
    };
    Preview {
        provider: built.name.clone(),
        records: sink.records,
        accepted: sink.accepted,
        rejections: sink.rejections,
        rejected: sink.rejected,
        unknown: sink.unknown,
        pages: walked.pages,
        attempted: walked.attempted,
        ended: walked.ended,
        error: outcome.err(),
    }
}
