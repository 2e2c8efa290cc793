//! A run's report, as the engine writes it and the store keeps it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::provider::Rejection;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// The feed was read and every record stored (or the source said nothing changed).
    Succeeded,
    /// The feed was read and every valid record stored; some records were rejected.
    Partial,
    /// Nothing was stored: the feed could not be fetched or read, or the store failed.
    Failed,
}

impl RunStatus {
    /// The lowercase name used in reports and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
        }
    }

    /// Whether the run committed what it read.
    pub fn committed(self) -> bool {
        self != RunStatus::Failed
    }
}

/// What one run of one provider instance did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncReport {
    /// The run's id.
    pub run_id: Uuid,
    /// The provider instance's name.
    pub provider: String,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
    /// How it ended.
    pub status: RunStatus,
    /// Records the feed carried, valid or not.
    pub seen: u64,
    /// Items new to the store.
    pub inserted: u64,
    /// Items whose content changed.
    pub updated: u64,
    /// Items unchanged (not rewritten; only marked seen).
    pub unchanged: u64,
    /// Records rejected.
    pub rejected: u64,
    /// The first rejections, with their reasons.
    pub rejections: Vec<Rejection>,
    /// Elements and attributes the provider's mapping does not know, with counts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unknown: BTreeMap<String, u64>,
    /// Bytes of feed read (decoded), over every page.
    pub bytes: u64,
    /// Documents read (pages of a paginated feed).
    #[serde(default = "one")]
    pub pages: u32,
    /// Set when the source answered that its document had not changed since the last
    /// committed run (HTTP 304): nothing was read or rewritten, and the instance's
    /// items were marked seen.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub not_modified: bool,
    /// Attempts made (1 + retries).
    #[serde(default)]
    pub attempts: u32,
    /// SHA-256 of the archived payload (the first page's), when archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// SHA-256 of every archived page, in order, when the run read more than one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub payloads: Vec<String>,
    /// Set when the run re-mapped an archived payload instead of fetching.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replayed_from: Option<String>,
    /// Why the run failed.
    pub error: Option<String>,
}

fn one() -> u32 {
    1
}

impl SyncReport {
    /// A report of a run of `provider` starting now.
    pub fn started(provider: &str) -> Self {
        let now = Utc::now();
        Self {
            run_id: Uuid::new_v4(),
            provider: provider.to_owned(),
            started_at: now,
            finished_at: now,
            status: RunStatus::Succeeded,
            seen: 0,
            inserted: 0,
            updated: 0,
            unchanged: 0,
            rejected: 0,
            rejections: Vec::new(),
            unknown: BTreeMap::new(),
            bytes: 0,
            pages: 0,
            not_modified: false,
            attempts: 0,
            payload: None,
            payloads: Vec::new(),
            replayed_from: None,
            error: None,
        }
    }

    /// Every archived payload of the run, in page order.
    pub fn archived_payloads(&self) -> Vec<String> {
        if self.payloads.is_empty() {
            self.payload.iter().cloned().collect()
        } else {
            self.payloads.clone()
        }
    }
}
