//! `[fields]` and `[zones]`: where each value of the canonical record is in one record
//! of the feed.

use boxoffice_core::model::time::EpochUnit;
use chrono_tz::Tz;
use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::Value;

use super::condition::Condition;
use crate::pointer::Pointers;

/// `[providers.<name>.fields]`: where each value of the canonical record is in one
/// record of the feed. Every pointer may be a list of fallbacks (`["/name",
/// "/title"]`: the first that finds a value wins).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fields {
    /// The provider's id of the event (the title-bearing parent): a string or an
    /// integer. Part of every item's id. Required (with `format = "html"`: `@id`, else
    /// `url`).
    #[serde(default)]
    pub base_id: Option<Pointers>,
    /// The provider's id of the session, unique within its event: a string or an
    /// integer. Absent: `base_id`'s value (one session per event).
    #[serde(default)]
    pub event_id: Option<Pointers>,
    /// The title: a string. Required (with `format = "html"`: `name`).
    #[serde(default)]
    pub title: Option<Pointers>,
    /// When the session starts. Required (with `format = "html"`: `startDate`). A
    /// pointer to an ISO 8601 time (`2026-12-01T20:00:00+01:00`, `…-0800`, `…Z`, a wall
    /// clock `2026-12-01T20:00:00`, a date alone for all day) or to epoch seconds; or a
    /// table: `{ path = "/date", time = "/time" }` (a date and a time apart; no time:
    /// all day), `zone = "UTC"` (the zone wall clocks without an offset are written in,
    /// when not the event's), `epoch = "milliseconds"`.
    #[serde(default)]
    pub starts_at: Option<TimeField>,
    /// When the session ends, in the forms of `starts_at`; a date alone is the last
    /// day. Absent: the item ends when it starts.
    #[serde(default)]
    pub ends_at: Option<TimeField>,
    /// The event's time zone: a pointer to an IANA name (`America/New_York`); a record
    /// without one is in the instance's `timezone`. Set, every time is served on the
    /// event's wall clock, an instant (`…Z`) included.
    #[serde(default)]
    pub timezone: Option<Pointers>,
    /// Whether the record is on sale online: a pointer to a boolean, `{ path =
    /// "/status", equals = "onsale" }`, `{ path, in = […] }`, `{ path, not_in = […] }`,
    /// or a list of comparisons that must all hold; `*` in a path looks at each element
    /// (any holds, or with `match = "all"` every one). Absent: every record is on sale.
    #[serde(default)]
    pub online: Option<Condition>,
    /// Whether the session is sold out, in the forms of `online`; `false` when the
    /// record has no value there.
    #[serde(default)]
    pub sold_out: Option<Condition>,
    /// The session's lowest price, when the feed gives a range rather than zones: a
    /// number or a numeric string (through a `*`, the lowest of the values). Without
    /// `max_price` it is the highest too. Zones win when a record has them.
    #[serde(default)]
    pub min_price: Option<Pointers>,
    /// The session's highest price (through a `*`, the highest of the values).
    #[serde(default)]
    pub max_price: Option<Pointers>,
    /// What `min_price` and `max_price` are divided by (`100` for cents): a whole number
    /// from 1.
    #[serde(default, deserialize_with = "positive")]
    #[schemars(extend("default" = 1))]
    pub price_scale: Option<u32>,
    /// The prices' currency: a pointer to an ISO 4217 code (`"usd"` is read as `USD`).
    #[serde(default)]
    pub currency: Option<Pointers>,
}

impl Fields {
    /// Whether no field is configured.
    pub fn is_empty(&self) -> bool {
        let Fields {
            base_id,
            event_id,
            title,
            starts_at,
            ends_at,
            timezone,
            online,
            sold_out,
            min_price,
            max_price,
            price_scale,
            currency,
        } = self;
        base_id.is_none()
            && event_id.is_none()
            && title.is_none()
            && starts_at.is_none()
            && ends_at.is_none()
            && timezone.is_none()
            && online.is_none()
            && sold_out.is_none()
            && min_price.is_none()
            && max_price.is_none()
            && price_scale.is_none()
            && currency.is_none()
    }
}

/// Where a time is, and how to read it.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeField {
    /// The time, or the date when `time` is given.
    pub path: Pointers,
    /// The time of day, published apart from the date.
    pub time: Option<Pointers>,
    /// The zone wall clocks without an offset are written in, when it is not the
    /// event's (a feed that writes UTC without a `Z`).
    pub zone: Option<Tz>,
    /// What an integer counts; `None`: seconds, and only numbers are epoch times.
    pub epoch: Option<EpochUnit>,
}

impl TimeField {
    /// The pointers it reads.
    pub fn pointers(&self) -> impl Iterator<Item = &Pointers> {
        std::iter::once(&self.path).chain(&self.time)
    }
}

impl<'de> Deserialize<'de> for TimeField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            path: Pointers,
            #[serde(default)]
            time: Option<Pointers>,
            #[serde(default)]
            zone: Option<String>,
            #[serde(default)]
            epoch: Option<String>,
        }
        let value = Value::deserialize(deserializer)?;
        if !value.is_object() {
            let path = serde_json::from_value(value).map_err(de::Error::custom)?;
            return Ok(TimeField {
                path,
                time: None,
                zone: None,
                epoch: None,
            });
        }
        let table: Table = serde_json::from_value(value).map_err(de::Error::custom)?;
        let zone = match table.zone {
            None => None,
            Some(name) => Some(name.parse::<Tz>().map_err(|_| {
                de::Error::custom(format!(
                    "`zone` {name:?} is not an IANA time zone (e.g. \"UTC\", \"America/New_York\")"
                ))
            })?),
        };
        let epoch = match table.epoch.as_deref() {
            None => None,
            Some("seconds") => Some(EpochUnit::Seconds),
            Some("milliseconds") => Some(EpochUnit::Milliseconds),
            Some(other) => {
                return Err(de::Error::custom(format!(
                    "`epoch` is \"seconds\" or \"milliseconds\", not {other:?}"
                )));
            }
        };
        Ok(TimeField {
            path: table.path,
            time: table.time,
            zone,
            epoch,
        })
    }
}

impl JsonSchema for TimeField {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TimeField".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "oneOf": [
                { "type": "string", "description": "a pointer to the time" },
                { "type": "array", "items": { "type": "string" }, "description": "pointers, the first found wins" },
                {
                    "type": "object",
                    "properties": {
                        "path": { "description": "the time, or the date when `time` is given" },
                        "time": { "description": "the time of day, apart from the date" },
                        "zone": { "type": "string", "description": "the IANA zone of wall clocks without an offset" },
                        "epoch": { "enum": ["seconds", "milliseconds"] }
                    },
                    "required": ["path"]
                }
            ]
        })
    }
}

/// `[providers.<name>.zones]`: where a record's price zones are, and what is in each.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Zones {
    /// Pointer to the record's array of zones; a record without it has no zones.
    pub path: Pointers,
    /// Pointer inside one zone to its price: a number or a numeric string. Required
    /// unless `min_price` or `max_price` is given.
    #[serde(default)]
    pub price: Option<Pointers>,
    /// Pointer inside one zone to its lowest price, for zones that are price ranges
    /// (`priceRanges[].min`).
    #[serde(default)]
    pub min_price: Option<Pointers>,
    /// Pointer inside one zone to its highest price (`priceRanges[].max`).
    #[serde(default)]
    pub max_price: Option<Pointers>,
    /// What the prices are divided by (e.g. `100` for cents): a whole number from 1.
    #[serde(default = "default_scale", deserialize_with = "positive_scale")]
    #[schemars(extend("default" = 1))]
    pub price_scale: u32,
    /// Pointer inside one zone to the seats left: a whole number. Absent (or no value
    /// there): the capacity is unknown and the zone counts as available.
    #[serde(default)]
    pub capacity: Option<Pointers>,
    /// Pointer inside one zone to its name. Absent: no name.
    #[serde(default)]
    pub name: Option<Pointers>,
    /// Pointer inside one zone to its id: a string or an integer. Absent: the zone's
    /// position in the array, from 1.
    #[serde(default)]
    pub id: Option<Pointers>,
}

fn default_scale() -> u32 {
    1
}

fn positive_scale<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let scale = u32::deserialize(deserializer)?;
    if scale == 0 {
        return Err(de::Error::custom("must be a whole number from 1 (a divisor)"));
    }
    Ok(scale)
}

fn positive<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    positive_scale(deserializer).map(Some)
}
