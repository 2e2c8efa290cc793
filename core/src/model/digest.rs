//! The content digest of a record: what lets a sync skip rewriting items that did not
//! change. Every field is fed to BLAKE3 straight from the record, length-prefixed so
//! that no two records share an input, without serializing anything first: an
//! unchanged re-sync of a large feed hashes every record, and a JSON rendering plus
//! SHA-256 cost more than parsing the feed.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use super::{EventRecord, LocalMoment};

/// Bumped whenever what is fed changes (stored digests then differ once, and the
/// items are rewritten once).
const VERSION: &[u8] = b"boxoffice-record-v2";

struct Feed(blake3::Hasher);

impl Feed {
    fn bytes(&mut self, bytes: &[u8]) {
        self.0.update(&(bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
    }

    fn text(&mut self, text: &str) {
        self.bytes(text.as_bytes());
    }

    fn flag(&mut self, flag: bool) {
        self.0.update(&[u8::from(flag)]);
    }

    fn optional<T>(&mut self, value: Option<T>, mut feed: impl FnMut(&mut Self, T)) {
        match value {
            None => self.flag(false),
            Some(value) => {
                self.flag(true);
                feed(self, value);
            }
        }
    }

    fn date(&mut self, date: NaiveDate) {
        self.0.update(&date.num_days_from_ce().to_le_bytes());
    }

    fn time(&mut self, time: NaiveTime) {
        self.0.update(&time.num_seconds_from_midnight().to_le_bytes());
        self.0.update(&time.nanosecond().to_le_bytes());
    }

    fn local(&mut self, at: NaiveDateTime) {
        self.date(at.date());
        self.time(at.time());
    }

    fn moment(&mut self, moment: &LocalMoment) {
        self.date(moment.date);
        self.optional(moment.time, Self::time);
        self.0.update(&moment.at.timestamp().to_le_bytes());
    }
}

/// The digest of everything the provider said about the item, as 64 hex digits.
pub fn content_hash(record: &EventRecord) -> String {
    let mut feed = Feed(blake3::Hasher::new());
    feed.0.update(VERSION);
    feed.text(&record.key.provider);
    feed.text(&record.key.base_event_id);
    feed.text(&record.key.event_id);
    feed.text(&record.title);
    feed.text(record.sell_mode.as_str());
    feed.optional(record.organizer_company_id.as_deref(), Feed::text);
    feed.flag(record.sold_out);
    feed.moment(&record.start);
    feed.optional(record.end.as_ref(), Feed::moment);
    feed.optional(record.sell_from, Feed::local);
    feed.optional(record.sell_to, Feed::local);
    feed.0.update(&(record.zones.len() as u64).to_le_bytes());
    for zone in &record.zones {
        feed.text(&zone.zone_id);
        feed.text(&zone.name);
        feed.0.update(&zone.capacity.to_le_bytes());
        // Mantissa and scale: `75.0` and `75.00` are what the provider wrote, not the
        // same text.
        feed.0.update(&zone.price.serialize());
        feed.flag(zone.numbered);
    }
    feed.0.finalize().to_hex().to_string()
}
