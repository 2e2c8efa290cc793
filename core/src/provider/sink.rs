//! Where a provider pushes what it parses: records, rejections, unknown fields.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::error::SinkError;
use crate::model::EventRecord;

/// A record the provider could not map, with why. Its neighbours are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rejection {
    /// What the record is, in the provider's terms (e.g. `base_event 444 / event 1642`).
    pub record: String,
    /// What is wrong with it, for a person to read.
    pub reason: String,
    /// The raw element, when the provider can give it, for the quarantine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
}

impl Rejection {
    /// What makes two rejections the same one (a feed that keeps a bad record rejects
    /// it in every run): a digest of what it is, why and its raw element.
    pub fn digest(&self) -> String {
        let mut hasher = blake3::Hasher::new();
        for part in [
            self.record.as_str(),
            self.reason.as_str(),
            self.raw.as_deref().unwrap_or(""),
        ] {
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        hasher.finalize().to_hex().to_string()
    }
}

/// Where a provider pushes what it parses, as it parses it.
///
/// The sync engine implements it: it batches records into the store as they arrive,
/// so that memory is bounded by a few batches, not by the feed.
#[async_trait]
pub trait RecordSink: Send {
    /// Takes one mapped record. An error means the sink failed (the store): stop
    /// parsing and return it (as [`super::ProviderError::Sink`], which `?` does).
    async fn accept(&mut self, record: EventRecord) -> Result<(), SinkError>;

    /// Takes one record that could not be mapped.
    fn reject(&mut self, rejection: Rejection);

    /// Notes an element or attribute the provider's mapping does not know (feed
    /// drift), e.g. `event@new_attribute`.
    fn unknown(&mut self, what: &str);
}

/// A [`RecordSink`] that keeps everything in memory, for tests and tools.
#[derive(Debug, Default)]
pub struct CollectingSink {
    /// Records accepted, in order.
    pub records: Vec<EventRecord>,
    /// Rejections, in order.
    pub rejections: Vec<Rejection>,
    /// Unknown elements and attributes with their counts.
    pub unknown: BTreeMap<String, u64>,
}

#[async_trait]
impl RecordSink for CollectingSink {
    async fn accept(&mut self, record: EventRecord) -> Result<(), SinkError> {
        self.records.push(record);
        Ok(())
    }

    fn reject(&mut self, rejection: Rejection) {
        self.rejections.push(rejection);
    }

    fn unknown(&mut self, what: &str) {
        *self.unknown.entry(what.to_owned()).or_default() += 1;
    }
}
