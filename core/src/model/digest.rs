//! The content digest of a record, which lets a sync skip rewriting unchanged items.
//! Fields are length-prefixed so that no two records share an input, and hashed with
//! BLAKE3 (fastest on large inputs) straight from a reused buffer: an unchanged re-sync
//! hashes every record, and a JSON rendering plus SHA-256 cost more than parsing the
//! feed.

use std::cell::RefCell;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use super::{EventRecord, LocalMoment};

/// Bumped whenever what is fed changes (stored digests then differ once, and the
/// items are rewritten once).
const VERSION: &[u8] = b"boxoffice-record-v2";

/// The bytes of one record, in the order they are fed.
struct Feed(Vec<u8>);

impl Feed {
    fn raw(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.raw(&(bytes.len() as u64).to_le_bytes());
        self.raw(bytes);
    }

    fn text(&mut self, text: &str) {
        self.bytes(text.as_bytes());
    }

    fn flag(&mut self, flag: bool) {
        self.raw(&[u8::from(flag)]);
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
        self.raw(&date.num_days_from_ce().to_le_bytes());
    }

    fn time(&mut self, time: NaiveTime) {
        self.raw(&time.num_seconds_from_midnight().to_le_bytes());
        self.raw(&time.nanosecond().to_le_bytes());
    }

    fn local(&mut self, at: NaiveDateTime) {
        self.date(at.date());
        self.time(at.time());
    }

    fn moment(&mut self, moment: &LocalMoment) {
        self.date(moment.date);
        self.optional(moment.time, Self::time);
        self.raw(&moment.at.timestamp().to_le_bytes());
    }
}

thread_local! {
    /// Reused from record to record: a record of 100 zones is ~5 KB.
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The digest of everything the provider said about the item, as 64 hex digits.
pub fn content_hash(record: &EventRecord) -> String {
    BUFFER.with(|buffer| {
        let mut buffer = buffer.borrow_mut();
        let mut feed = Feed(std::mem::take(&mut *buffer));
        feed.0.clear();
        write_record(&mut feed, record);
        let hash = blake3::hash(&feed.0).to_hex().to_string();
        *buffer = feed.0;
        hash
    })
}

fn write_record(feed: &mut Feed, record: &EventRecord) {
    feed.raw(VERSION);
    feed.text(&record.key.provider);
    feed.text(&record.key.series_id);
    feed.text(&record.key.session_id);
    feed.text(&record.title);
    feed.text(record.sell_mode.as_str());
    feed.optional(record.organizer_company_id.as_deref(), Feed::text);
    feed.flag(record.sold_out);
    feed.moment(&record.start);
    feed.optional(record.end.as_ref(), Feed::moment);
    feed.optional(record.sell_from, Feed::local);
    feed.optional(record.sell_to, Feed::local);
    feed.raw(&(record.zones.len() as u64).to_le_bytes());
    for zone in &record.zones {
        feed.text(&zone.zone_id);
        feed.text(&zone.name);
        feed.raw(&zone.capacity.to_le_bytes());
        // Mantissa and scale: `75.0` and `75.00` are what the provider wrote, not the
        // same text.
        feed.raw(&zone.price.serialize());
        feed.flag(zone.numbered);
    }
    // What later versions of the model added is fed after a marker, and only when a
    // record has any of it: the digests of records without it stay what they were
    // (no mass rewrite after an upgrade).
    let ranged = record.zones.iter().any(|zone| zone.max_price.is_some());
    if record.prices.is_some() || record.currency.is_some() || ranged {
        feed.raw(b"prices-v1");
        feed.optional(record.prices, |feed, prices| {
            feed.raw(&prices.min.serialize());
            feed.raw(&prices.max.serialize());
        });
        feed.optional(record.currency.as_deref(), Feed::text);
        for zone in &record.zones {
            feed.optional(zone.max_price, |feed, max| feed.raw(&max.serialize()));
        }
    }
}
