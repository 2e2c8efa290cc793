//! Rows to the model and back.

use std::str::FromStr;

use boxoffice_core::model::format;
use boxoffice_core::{
    EventRecord, ExternalKey, LocalMoment, PriceRange, SearchItem, SellMode, StoreError, StoredEvent, Zone,
};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::FromQueryResult;
use uuid::Uuid;

use super::corrupt;
use super::entity::{event_zones, events};

fn parse_date(value: &str) -> Result<NaiveDate, StoreError> {
    format::parse_date(value).ok_or_else(|| corrupt("date", value))
}

fn parse_time(value: Option<&str>) -> Result<Option<NaiveTime>, StoreError> {
    value
        .map(|v| format::parse_time(v).ok_or_else(|| corrupt("time", v)))
        .transpose()
}

fn parse_local(value: Option<&str>) -> Result<Option<NaiveDateTime>, StoreError> {
    value
        .map(|v| format::parse_local_date_time(v).ok_or_else(|| corrupt("date-time", v)))
        .transpose()
}

fn parse_price(value: Option<&str>) -> Result<Option<rust_decimal::Decimal>, StoreError> {
    value
        .map(|v| rust_decimal::Decimal::from_str(v).map_err(|_| corrupt("price", v)))
        .transpose()
}

fn instant(seconds: i64) -> Result<DateTime<Utc>, StoreError> {
    Utc.timestamp_opt(seconds, 0)
        .single()
        .ok_or_else(|| corrupt("instant", &seconds.to_string()))
}

fn moment(date: &str, time: Option<&str>, at: i64) -> Result<LocalMoment, StoreError> {
    Ok(LocalMoment {
        date: parse_date(date)?,
        time: parse_time(time)?,
        at: instant(at)?,
    })
}

pub(super) fn active_model(
    id: Uuid,
    record: &EventRecord,
    hash: String,
    seen_at: DateTime<Utc>,
    change_txn: i64,
) -> events::ActiveModel {
    let range = record.price_range();
    events::ActiveModel {
        id: Set(id),
        provider: Set(record.key.provider.clone()),
        base_event_id: Set(record.key.series_id.clone()),
        event_id: Set(record.key.session_id.clone()),
        title: Set(record.title.clone()),
        sell_mode: Set(record.sell_mode.as_str().to_owned()),
        organizer_company_id: Set(record.organizer_company_id.clone()),
        sold_out: Set(record.sold_out),
        start_date: Set(format::date(record.start.date)),
        start_time: Set(record.start.time.map(format::time)),
        starts_at: Set(record.start.at.timestamp()),
        end_date: Set(record.end.map(|end| format::date(end.date))),
        end_time: Set(record.end.and_then(|end| end.time).map(format::time)),
        ends_at: Set(record.ends_at().timestamp()),
        sell_from: Set(record.sell_from.map(format::local_date_time)),
        sell_to: Set(record.sell_to.map(format::local_date_time)),
        min_price: Set(range.map(|r| r.min.to_string())),
        max_price: Set(range.map(|r| r.max.to_string())),
        currency: Set(record.currency.clone()),
        content_hash: Set(hash),
        first_seen: Set(seen_at),
        last_seen: Set(seen_at),
        last_changed: Set(seen_at),
        change_txn: Set(change_txn),
    }
}

/// An item's zones as stored: one array per zone, `[zone_id, name, capacity,
/// "price", numbered]`, half the bytes of objects with named members; a zone that is a
/// range of prices has its highest price after them.
pub(super) fn encode_zones(zones: &[Zone]) -> String {
    use serde_json::{Value, json};
    let compact: Vec<Value> = zones
        .iter()
        .map(|zone| {
            let mut row = json!([zone.zone_id, zone.name, zone.capacity, zone.price, zone.numbered]);
            if let (Some(max), Value::Array(items)) = (zone.max_price, &mut row) {
                items.push(json!(max));
            }
            row
        })
        .collect();
    // Strings, numbers and booleans always serialize.
    serde_json::to_string(&compact).unwrap_or_else(|_| "[]".into())
}

/// Reads [`encode_zones`]'s output, or the objects written before it.
pub(super) fn decode_zones(text: &str) -> Result<Vec<Zone>, StoreError> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Compact {
        One(String, String, u32, rust_decimal::Decimal, bool),
        Range(
            String,
            String,
            u32,
            rust_decimal::Decimal,
            bool,
            rust_decimal::Decimal,
        ),
    }
    if let Ok(compact) = serde_json::from_str::<Vec<Compact>>(text) {
        return Ok(compact
            .into_iter()
            .map(|row| {
                let (zone_id, name, capacity, price, numbered, max_price) = match row {
                    Compact::One(zone_id, name, capacity, price, numbered) => {
                        (zone_id, name, capacity, price, numbered, None)
                    }
                    Compact::Range(zone_id, name, capacity, price, numbered, max) => {
                        (zone_id, name, capacity, price, numbered, Some(max))
                    }
                };
                Zone {
                    zone_id,
                    name,
                    capacity,
                    price,
                    max_price,
                    numbered,
                }
            })
            .collect());
    }
    serde_json::from_str(text).map_err(|_| corrupt("zones", text))
}

pub(super) fn zones_row(id: Uuid, record: &EventRecord) -> event_zones::ActiveModel {
    event_zones::ActiveModel {
        id: Set(id),
        zones: Set(encode_zones(&record.zones)),
    }
}

pub(super) fn stored_event(
    model: events::Model,
    zones: &str,
    searchable: bool,
) -> Result<StoredEvent, StoreError> {
    let zones = decode_zones(zones)?;
    let end = match model.end_date.as_deref() {
        Some(date) => Some(moment(date, model.end_time.as_deref(), model.ends_at)?),
        None => None,
    };
    let sell_mode =
        SellMode::parse(&model.sell_mode).ok_or_else(|| corrupt("sell_mode", &model.sell_mode))?;
    // The stored range is the zones' when there are zones; without, it is what the
    // provider stated.
    let prices = match (
        zones.is_empty(),
        parse_price(model.min_price.as_deref())?,
        parse_price(model.max_price.as_deref())?,
    ) {
        (true, Some(min), Some(max)) => Some(PriceRange { min, max }),
        _ => None,
    };
    let record = EventRecord {
        key: ExternalKey {
            provider: model.provider,
            series_id: model.base_event_id,
            session_id: model.event_id,
        },
        title: model.title,
        sell_mode,
        organizer_company_id: model.organizer_company_id,
        sold_out: model.sold_out,
        start: moment(&model.start_date, model.start_time.as_deref(), model.starts_at)?,
        end,
        sell_from: parse_local(model.sell_from.as_deref())?,
        sell_to: parse_local(model.sell_to.as_deref())?,
        zones,
        prices,
        currency: model.currency,
    };
    Ok(StoredEvent {
        id: model.id,
        record,
        searchable,
        first_seen: model.first_seen,
        last_seen: model.last_seen,
        last_changed: model.last_changed,
    })
}

/// The columns /search needs, without the zones.
#[derive(Debug, FromQueryResult)]
pub(super) struct SearchRow {
    id: Uuid,
    provider: String,
    title: String,
    start_date: String,
    start_time: Option<String>,
    starts_at: i64,
    end_date: Option<String>,
    end_time: Option<String>,
    ends_at: i64,
    min_price: Option<String>,
    max_price: Option<String>,
}

impl SearchRow {
    pub(super) fn into_item(self) -> Result<SearchItem, StoreError> {
        let end = match self.end_date.as_deref() {
            Some(date) => Some(moment(date, self.end_time.as_deref(), self.ends_at)?),
            None => None,
        };
        Ok(SearchItem {
            id: self.id,
            provider: self.provider,
            title: self.title,
            start: moment(&self.start_date, self.start_time.as_deref(), self.starts_at)?,
            end,
            min_price: parse_price(self.min_price.as_deref())?,
            max_price: parse_price(self.max_price.as_deref())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_are_stored_compact_and_both_forms_read_back() {
        let zones = vec![Zone {
            zone_id: "186".into(),
            name: "Amfiteatre \"B\"".into(),
            capacity: 14,
            price: rust_decimal::Decimal::from_str("65.00").unwrap_or_default(),
            max_price: None,
            numbered: false,
        }];
        let text = encode_zones(&zones);
        assert_eq!(text, r#"[["186","Amfiteatre \"B\"",14,"65.00",false]]"#);
        assert_eq!(decode_zones(&text).ok(), Some(zones.clone()));
        let old = serde_json::to_string(&zones).unwrap_or_default();
        assert_eq!(decode_zones(&old).ok(), Some(zones.clone()));
        assert!(decode_zones("{").is_err());
        let mut ranged = zones;
        ranged.push(Zone {
            max_price: Some(rust_decimal::Decimal::from(95)),
            ..ranged[0].clone()
        });
        let text = encode_zones(&ranged);
        assert_eq!(
            text,
            r#"[["186","Amfiteatre \"B\"",14,"65.00",false],["186","Amfiteatre \"B\"",14,"65.00",false,"95"]]"#
        );
        assert_eq!(decode_zones(&text).ok(), Some(ranged));
    }
}
