//! The canonical model every provider's records are normalized into.
//!
//! One searchable item is one provider session ("plan" in the public API), titled by
//! the event it belongs to. Its identity is a UUIDv5 derived from the provider
//! instance's name and the provider's own ids, so it is the same on every sync,
//! restart and machine, and distinct between providers and between series that
//! reuse a session id.

mod digest;
pub mod format;
pub mod time;
pub mod window;

pub use window::{SearchWindow, WindowBounds};

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The namespace of every Boxoffice item id (UUIDv5). Never change it: ids are
/// relied on by clients and would all change with it.
pub const ID_NAMESPACE: Uuid = Uuid::from_u128(0x6b0f_4f3e_2d1c_4a5b_9e8f_7a6b_5c4d_3e2f);

/// Where an item comes from: the provider instance and the provider's own ids.
///
/// Serialized, stored (columns) and served (`/events/{id}`) under the older names
/// `base_event_id` and `event_id`, which clients and the database rely on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ExternalKey {
    /// The provider instance's name in the configuration (e.g. `fever`).
    pub provider: String,
    /// The provider's id of the title-bearing event the sessions belong to: Fever's
    /// base event, an iCal UID, a JSON feed's parent event.
    #[serde(rename = "base_event_id")]
    pub series_id: String,
    /// The provider's id of one session (performance); unique only within its series.
    #[serde(rename = "event_id")]
    pub session_id: String,
}

impl ExternalKey {
    /// The item's stable id: UUIDv5 of the three parts under [`ID_NAMESPACE`].
    ///
    /// The parts are joined with a unit separator (U+001F), which no id contains,
    /// so that `("a", "bc")` and `("ab", "c")` never collide.
    pub fn id(&self) -> Uuid {
        let name = format!(
            "{}\u{1f}{}\u{1f}{}",
            self.provider, self.series_id, self.session_id
        );
        Uuid::new_v5(&ID_NAMESPACE, name.as_bytes())
    }
}

/// Whether the provider sells the event online.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SellMode {
    /// On sale through the marketplace: makes the item searchable, for good.
    Online,
    /// Not on sale online.
    Offline,
}

impl SellMode {
    /// The lowercase name used in feeds, the store and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            SellMode::Online => "online",
            SellMode::Offline => "offline",
        }
    }

    /// Parses the lowercase name; `None` for anything else.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "online" => Some(SellMode::Online),
            "offline" => Some(SellMode::Offline),
            _ => None,
        }
    }
}

/// A wall-clock moment as the provider published it, with the instant it denotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalMoment {
    /// The local date, served as `start_date`/`end_date`.
    pub date: NaiveDate,
    /// The local time, served as `start_time`/`end_time`; `None` for all-day events.
    pub time: Option<NaiveTime>,
    /// The instant, used for filtering and ordering.
    pub at: DateTime<Utc>,
}

/// A price zone of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zone {
    /// The provider's zone id; not unique within a session in every feed.
    pub zone_id: String,
    /// The zone's name.
    pub name: String,
    /// Seats still available.
    pub capacity: u32,
    /// The ticket price, exact; the lowest, when the zone is a range of prices.
    pub price: Decimal,
    /// The highest price, when the zone is a range of prices (a price level such as
    /// Ticketmaster's `priceRanges`); `None` for a zone of one price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_price: Option<Decimal>,
    /// Whether seats are numbered.
    pub numbered: bool,
}

/// The price range of a session's tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceRange {
    /// The lowest price.
    pub min: Decimal,
    /// The highest price.
    pub max: Decimal,
}

impl PriceRange {
    /// Min and max over the zones that still have capacity; when none has, over all
    /// zones (the item is then sold out but its prices are still worth showing);
    /// `None` when there are no zones. A zone that is a range counts with both ends.
    pub fn of(zones: &[Zone]) -> Option<Self> {
        let available = zones.iter().filter(|zone| zone.capacity > 0);
        Self::over(available).or_else(|| Self::over(zones.iter()))
    }

    fn over<'a>(zones: impl Iterator<Item = &'a Zone>) -> Option<Self> {
        zones.fold(None, |range, zone| {
            let top = zone.max_price.map_or(zone.price, |max| max.max(zone.price));
            Some(match range {
                None => PriceRange {
                    min: zone.price,
                    max: top,
                },
                Some(PriceRange { min, max }) => PriceRange {
                    min: min.min(zone.price),
                    max: max.max(top),
                },
            })
        })
    }
}

/// One canonical record: a session as the provider describes it in one fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Provider instance and provider ids; the source of the item's id.
    pub key: ExternalKey,
    /// The title, from the base event.
    pub title: String,
    /// Whether the base event is sold online in this fetch.
    pub sell_mode: SellMode,
    /// The organizer's id at the provider, when given.
    pub organizer_company_id: Option<String>,
    /// Whether the provider marks the session sold out.
    pub sold_out: bool,
    /// When the session starts.
    pub start: LocalMoment,
    /// When the session ends, when the provider says.
    pub end: Option<LocalMoment>,
    /// When ticket sales open, local wall-clock.
    pub sell_from: Option<NaiveDateTime>,
    /// When ticket sales close, local wall-clock.
    pub sell_to: Option<NaiveDateTime>,
    /// The price zones, in feed order.
    pub zones: Vec<Zone>,
    /// The lowest and highest price as the provider states them apart from zones
    /// (a feed that publishes a range, not zones); the zones' range wins when there
    /// are zones (see [`Self::price_range`]).
    pub prices: Option<PriceRange>,
    /// The currency of the prices, an ISO 4217 code (`EUR`), when the provider says.
    pub currency: Option<String>,
}

impl EventRecord {
    /// The item's stable id (see [`ExternalKey::id`]).
    pub fn id(&self) -> Uuid {
        self.key.id()
    }

    /// The instant the item ends, or starts when it has no end: what `ends_at` filters on.
    pub fn ends_at(&self) -> DateTime<Utc> {
        self.end.map_or(self.start.at, |end| end.at)
    }

    /// The zones' range ([`PriceRange::of`]), or without zones the stated
    /// [`Self::prices`].
    pub fn price_range(&self) -> Option<PriceRange> {
        PriceRange::of(&self.zones).or(self.prices)
    }

    /// A digest of everything the provider said about the item, to skip rewriting
    /// records that did not change: equal for equal records, different as soon as one
    /// field differs (see `digest.rs`).
    pub fn content_hash(&self) -> String {
        digest::content_hash(self)
    }

    /// Checks the invariants every provider must respect; the reason when broken.
    pub fn validate(&self) -> Result<(), String> {
        if self.title.trim().is_empty() {
            return Err("the title is empty".into());
        }
        if let Some(end) = self.end
            && end.at < self.start.at
        {
            return Err(format!(
                "the session ends ({}) before it starts ({})",
                end.at, self.start.at
            ));
        }
        if let Some(prices) = self.prices
            && prices.min > prices.max
        {
            return Err(format!(
                "the lowest price ({}) is above the highest ({})",
                prices.min, prices.max
            ));
        }
        if let Some(currency) = &self.currency
            && !is_currency_code(currency)
        {
            return Err(format!(
                "the currency {:?} is not an ISO 4217 code (three capital letters, e.g. \"EUR\")",
                currency.chars().take(16).collect::<String>()
            ));
        }
        Ok(())
    }
}

/// Whether `code` has the shape of an ISO 4217 currency code: three capital letters.
pub fn is_currency_code(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::str::FromStr;

    fn zone(capacity: u32, price: &str) -> Zone {
        Zone {
            zone_id: "1".into(),
            name: "Platea".into(),
            capacity,
            price: Decimal::from_str(price).unwrap_or_default(),
            max_price: None,
            numbered: true,
        }
    }

    fn key(provider: &str, series: &str, session: &str) -> ExternalKey {
        ExternalKey {
            provider: provider.into(),
            series_id: series.into(),
            session_id: session.into(),
        }
    }

    #[test]
    fn ids_are_stable_and_namespaced_by_provider_and_base_event() {
        let id = key("fever", "322", "1642").id();
        assert_eq!(id, key("fever", "322", "1642").id());
        assert_eq!(id.get_version_num(), 5);
        assert_ne!(id, key("fever", "1591", "1642").id());
        assert_ne!(id, key("other", "322", "1642").id());
        assert_ne!(key("f", "ab", "c").id(), key("f", "a", "bc").id());
    }

    #[test]
    fn ids_never_change_across_releases() {
        // Clients hold these ids: this value must stay what it is.
        assert_eq!(
            key("fever", "291", "291").id().to_string(),
            Uuid::new_v5(&ID_NAMESPACE, "fever\u{1f}291\u{1f}291".as_bytes()).to_string()
        );
        assert_eq!(ID_NAMESPACE.to_string(), "6b0f4f3e-2d1c-4a5b-9e8f-7a6b5c4d3e2f");
    }

    /// A sound record of session 291 ("Camela"), for this crate's tests.
    pub(crate) fn record() -> EventRecord {
        let at = NaiveDate::from_ymd_opt(2021, 6, 30)
            .and_then(|d| d.and_hms_opt(21, 0, 0))
            .unwrap_or_default();
        EventRecord {
            key: key("fever", "291", "291"),
            title: "Camela".into(),
            sell_mode: SellMode::Online,
            organizer_company_id: None,
            sold_out: false,
            start: LocalMoment::from_local(at, chrono_tz::UTC),
            end: None,
            sell_from: None,
            sell_to: None,
            zones: vec![zone(10, "20.00"), zone(0, "15.00")],
            prices: None,
            currency: None,
        }
    }

    #[test]
    fn the_content_hash_is_stable_and_sees_every_field() {
        let base = record();
        let hash = base.content_hash();
        assert_eq!(hash.len(), 64);
        assert_eq!(hash, record().content_hash());
        let mut changes: Vec<EventRecord> = Vec::new();
        let mut change = |edit: &dyn Fn(&mut EventRecord)| {
            let mut copy = base.clone();
            edit(&mut copy);
            changes.push(copy);
        };
        change(&|r| r.title.push('!'));
        change(&|r| r.sell_mode = SellMode::Offline);
        change(&|r| r.organizer_company_id = Some(String::new()));
        change(&|r| r.sold_out = true);
        change(&|r| r.start.time = None);
        change(&|r| r.end = Some(r.start));
        change(&|r| r.sell_from = Some(r.start.date.and_hms_opt(0, 0, 0).unwrap_or_default()));
        change(&|r| r.zones[0].capacity = 11);
        change(&|r| r.zones[0].price = Decimal::from_str("20.0").unwrap_or_default());
        change(&|r| r.zones[1].numbered = false);
        change(&|r| r.zones.pop().map(drop).unwrap_or_default());
        change(&|r| r.zones[0].max_price = Some(Decimal::from(25)));
        change(&|r| r.currency = Some("EUR".into()));
        change(&|r| {
            r.prices = Some(PriceRange {
                min: Decimal::ONE,
                max: Decimal::TWO,
            })
        });
        // Parts that run into each other.
        change(&|r| {
            r.key.series_id = "29".into();
            r.key.session_id = "1291".into();
        });
        for (index, changed) in changes.iter().enumerate() {
            assert_ne!(changed.content_hash(), hash, "change #{index} went unseen");
        }
    }

    #[test]
    fn a_record_without_the_newer_fields_keeps_the_digest_it_had() {
        // Computed by the release before prices, currency and ranged zones: a digest
        // that moved would rewrite every stored item once after an upgrade.
        assert_eq!(
            record().content_hash(),
            "587167f92f33845ed5f1a1780af10efc0574c92961563543e9f44664965ed91f"
        );
    }

    #[test]
    fn price_range_ignores_zones_without_capacity() {
        let range = PriceRange::of(&[zone(0, "75.00"), zone(14, "65.00"), zone(3, "70.5")]);
        assert_eq!(
            range,
            Some(PriceRange {
                min: Decimal::from_str("65.00").unwrap_or_default(),
                max: Decimal::from_str("70.5").unwrap_or_default(),
            })
        );
    }

    #[test]
    fn price_range_falls_back_to_all_zones_when_none_has_capacity() {
        let range = PriceRange::of(&[zone(0, "75.00"), zone(0, "65.00")]);
        assert_eq!(
            range.map(|r| (r.min.to_string(), r.max.to_string())),
            Some(("65.00".into(), "75.00".into()))
        );
    }

    #[test]
    fn price_range_is_none_without_zones() {
        assert_eq!(PriceRange::of(&[]), None);
    }

    #[test]
    fn a_zone_that_is_a_range_counts_with_both_ends() {
        let mut wide = zone(5, "35.00");
        wide.max_price = Some(Decimal::from(95));
        let range = PriceRange::of(&[zone(5, "50.00"), wide]);
        assert_eq!(
            range.map(|r| (r.min.to_string(), r.max.to_string())),
            Some(("35.00".into(), "95".into()))
        );
    }

    #[test]
    fn stated_prices_stand_in_only_for_missing_zones() {
        let stated = PriceRange {
            min: Decimal::from(45),
            max: Decimal::from(200),
        };
        let mut without_zones = record();
        without_zones.zones.clear();
        without_zones.prices = Some(stated);
        assert_eq!(without_zones.price_range(), Some(stated));
        let mut with_zones = record();
        with_zones.prices = Some(stated);
        assert_eq!(
            with_zones.price_range().map(|r| r.min.to_string()),
            Some("20.00".into())
        );
        let mut reversed = without_zones.clone();
        reversed.prices = Some(PriceRange {
            min: stated.max,
            max: stated.min,
        });
        assert!(reversed.validate().is_err_and(|e| e.contains("above")));
    }

    #[test]
    fn a_currency_is_an_iso_4217_code() {
        let mut priced = record();
        priced.currency = Some("USD".into());
        assert_eq!(priced.validate(), Ok(()));
        for bad in ["usd", "US", "US$", "EURO", ""] {
            priced.currency = Some(bad.into());
            assert!(priced.validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn sell_mode_parses_only_known_values() {
        assert_eq!(SellMode::parse("online"), Some(SellMode::Online));
        assert_eq!(SellMode::parse("offline"), Some(SellMode::Offline));
        assert_eq!(SellMode::parse("Online"), None);
    }
}
