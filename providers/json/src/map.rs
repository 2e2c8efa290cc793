//! One record of the feed to one canonical record, through the configured pointers,
//! or the reasons it cannot be one (every problem found in it, each naming the key,
//! the pointer and the value).

use boxoffice_core::model::time::{Clock, Edge};
use boxoffice_core::{EventRecord, ExternalKey, LocalMoment, PriceRange, SellMode, Zone};
use chrono_tz::Tz;
use rust_decimal::Decimal;

use crate::config::{Condition, Fields, TimeField, Zones};
use crate::node::Node;
use crate::pointer::{Pointer, Pointers};
use crate::time::moment;
use crate::values::{capacity, currency, id, price, text, zone};

/// The capacity of a zone whose feed says nothing of it. Unknown counts as available
/// (the zone's price is then in the item's range), and the model's capacity is a
/// number, so "unknown" is a number no venue has: `i32::MAX`, 2,147,483,647, the
/// largest the published API's `int32` capacity lets every client read (`u32::MAX`
/// would break that format).
pub const UNKNOWN_CAPACITY: u32 = i32::MAX as u32;

/// The fields a mapping reads, the required ones present.
#[derive(Debug, Clone)]
struct Resolved {
    base_id: Pointers,
    event_id: Option<Pointers>,
    title: Pointers,
    starts_at: TimeField,
    ends_at: Option<TimeField>,
    timezone: Option<Pointers>,
    online: Option<Condition>,
    sold_out: Option<Condition>,
    min_price: Option<Pointers>,
    max_price: Option<Pointers>,
    price_scale: Decimal,
    currency: Option<Pointers>,
}

/// What maps the records of one instance.
#[derive(Debug, Clone)]
pub struct Mapping {
    provider: String,
    timezone: Tz,
    fields: Resolved,
    zones: Option<Zones>,
    zone_scale: Decimal,
    /// The members of a record that some pointer reads, sorted.
    known: Vec<String>,
    /// Some pointer is `""`, or members are not feed drift (schema.org): no member is
    /// reported unknown.
    reads_whole: bool,
}

/// Why a record was refused: its name and every problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The record's ids, when they could be read (`base_id 10 / event_id 11`).
    pub ids: Option<String>,
    /// Every problem, joined with `; `.
    pub reason: String,
}

impl Mapping {
    /// The mapping of instance `provider`, whose times without a zone of their own are
    /// in `timezone`. `None` when a required field (`base_id`, `title`, `starts_at`)
    /// is missing: the configuration's problems say so.
    pub fn new(provider: &str, timezone: Tz, fields: Fields, zones: Option<Zones>) -> Option<Self> {
        let fields = Resolved {
            base_id: fields.base_id?,
            event_id: fields.event_id,
            title: fields.title?,
            starts_at: fields.starts_at?,
            ends_at: fields.ends_at,
            timezone: fields.timezone,
            online: fields.online,
            sold_out: fields.sold_out,
            min_price: fields.min_price,
            max_price: fields.max_price,
            price_scale: Decimal::from(fields.price_scale.unwrap_or(1)),
            currency: fields.currency,
        };
        let mut pointers: Vec<&Pointers> = vec![&fields.base_id, &fields.title];
        pointers.extend(fields.starts_at.pointers());
        pointers.extend(fields.ends_at.iter().flat_map(TimeField::pointers));
        for optional in [
            &fields.event_id,
            &fields.timezone,
            &fields.min_price,
            &fields.max_price,
            &fields.currency,
        ] {
            pointers.extend(optional.iter());
        }
        for condition in [&fields.online, &fields.sold_out].into_iter().flatten() {
            pointers.extend(condition.pointers());
        }
        pointers.extend(zones.as_ref().map(|zones| &zones.path));
        let pointers: Vec<&Pointer> = pointers.into_iter().flat_map(Pointers::iter).collect();
        let reads_whole = pointers.iter().any(|pointer| pointer.first().is_none());
        let mut known: Vec<String> = pointers
            .into_iter()
            .filter_map(Pointer::first)
            .map(str::to_owned)
            .collect();
        known.sort();
        known.dedup();
        Some(Self {
            provider: provider.to_owned(),
            timezone,
            zone_scale: Decimal::from(zones.as_ref().map_or(1, |zones| zones.price_scale)),
            fields,
            zones,
            known,
            reads_whole,
        })
    }

    /// The same mapping, reporting no member as unknown.
    pub fn reading_whole(mut self) -> Self {
        self.reads_whole = true;
        self
    }

    /// The members of `record` that no pointer reads (feed drift); none when a pointer
    /// is `""` (it reads the whole record).
    pub fn unknown_members<'v>(&self, record: &'v Node) -> impl Iterator<Item = &'v str> {
        let members = match record {
            Node::Object(members) if !self.reads_whole => &members[..],
            _ => &[],
        };
        members
            .iter()
            .map(|(key, _)| key)
            .filter(|key| self.known.binary_search(key).is_err())
            .map(String::as_str)
    }

    /// Maps one record.
    pub fn map(&self, record: &Node) -> Result<EventRecord, Refusal> {
        if !matches!(record, Node::Object(_)) {
            return Err(Refusal {
                ids: None,
                reason: format!("the record is not an object: {}", crate::values::quote(record)),
            });
        }
        let mut problems = Problems::default();
        let fields = &self.fields;
        let base_id = problems.required(record, "base_id", &fields.base_id, id);
        // Only a session without an id of its own takes its event's: a bad one is a
        // problem, not a fallback.
        let event_id = match fields.event_id.as_ref().and_then(|p| p.find(record)) {
            Some((pointer, value)) => problems.read("event_id", pointer, value, id),
            None => base_id.clone(),
        };
        let ids = base_id
            .as_deref()
            .map(|base| format!("base_id {base} / event_id {}", event_id.as_deref().unwrap_or("?")));
        let title = problems.required(record, "title", &fields.title, text);
        let clock = self.clock(record, &mut problems);
        let start = problems.time(record, "starts_at", &fields.starts_at, clock, Edge::Start, true);
        let end = match &fields.ends_at {
            Some(field) => problems.time(record, "ends_at", field, clock, Edge::End, false),
            None => None,
        };
        let sell_mode = match &fields.online {
            None => Some(SellMode::Online),
            Some(condition) => problems
                .condition(record, "online", condition, true)
                .map(|online| {
                    if online {
                        SellMode::Online
                    } else {
                        SellMode::Offline
                    }
                }),
        };
        let sold_out = match &fields.sold_out {
            Some(condition) => problems.condition(record, "sold_out", condition, false),
            None => None,
        };
        let zones = self.zones(record, &mut problems);
        let prices = self.prices(record, &mut problems);
        let currency = match &fields.currency {
            Some(pointers) => problems.optional(record, "currency", pointers, currency),
            None => None,
        };
        let mapped = match (base_id, event_id, title, start, sell_mode) {
            (Some(series_id), Some(session_id), Some(title), Some(start), Some(sell_mode))
                if problems.0.is_empty() =>
            {
                EventRecord {
                    key: ExternalKey {
                        provider: self.provider.clone(),
                        series_id,
                        session_id,
                    },
                    title,
                    sell_mode,
                    organizer_company_id: None,
                    sold_out: sold_out.unwrap_or(false),
                    start,
                    end,
                    sell_from: None,
                    sell_to: None,
                    // Zones win: a stated range only stands in for missing zones.
                    prices: if zones.is_empty() { prices } else { None },
                    zones,
                    currency,
                }
            }
            _ => {
                return Err(Refusal {
                    ids,
                    reason: problems.0.join("; "),
                });
            }
        };
        match mapped.validate() {
            Ok(()) => Ok(mapped),
            Err(reason) => Err(Refusal { ids, reason }),
        }
    }

    /// The record's clock: its own zone when the feed names one, else the instance's;
    /// offsets are served as written only where no zone pointer is configured (the
    /// meaning configurations had before it).
    fn clock(&self, record: &Node, problems: &mut Problems) -> Clock {
        let Some(pointers) = &self.fields.timezone else {
            return Clock {
                offsets_as_written: true,
                ..Clock::in_zone(self.timezone)
            };
        };
        let zone = problems
            .optional(record, "timezone", pointers, zone)
            .unwrap_or(self.timezone);
        Clock::in_zone(zone)
    }

    /// The record's stated price range (`min_price`, `max_price`).
    fn prices(&self, record: &Node, problems: &mut Problems) -> Option<PriceRange> {
        let fields = &self.fields;
        let mut read = |key: &str, pointers: &Option<Pointers>, lowest: bool| -> Option<Decimal> {
            let (pointer, values) = pointers.as_ref()?.find_all(record)?;
            let mut found: Option<Decimal> = None;
            for value in values {
                let price = problems.read(key, pointer, value, price)?;
                found = Some(match found {
                    None => price,
                    Some(seen) if lowest => seen.min(price),
                    Some(seen) => seen.max(price),
                });
            }
            found.map(|price| scaled(price, fields.price_scale))
        };
        let min = read("min_price", &fields.min_price, true);
        let max = read("max_price", &fields.max_price, false);
        match (min, max) {
            (Some(min), Some(max)) => Some(PriceRange { min, max }),
            (Some(one), None) | (None, Some(one)) => Some(PriceRange { min: one, max: one }),
            (None, None) => None,
        }
    }

    /// The record's zones; their problems join the record's.
    fn zones(&self, record: &Node, problems: &mut Problems) -> Vec<Zone> {
        let Some(config) = &self.zones else {
            return Vec::new();
        };
        let (path, items) = match config.path.find(record) {
            None => return Vec::new(),
            Some((path, Node::Array(items))) => (path, items),
            Some((path, other)) => {
                problems.push(format!(
                    "zones.path ({path}) {} is not an array",
                    crate::values::quote(other)
                ));
                return Vec::new();
            }
        };
        let mut zones = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let mut zone = ZoneProblems {
                problems: &mut *problems,
                path,
                index,
                item,
            };
            let mut one_price = |key: &str, pointers: &Option<Pointers>| match pointers {
                Some(pointers) => zone.read(key, pointers, price),
                None => Some(None),
            };
            let (plain, low, high) = (
                one_price("price", &config.price),
                one_price("min_price", &config.min_price),
                one_price("max_price", &config.max_price),
            );
            let (Some(plain), Some(low), Some(high)) = (plain, low, high) else {
                continue;
            };
            let Some(lowest) = low.or(plain).or(high) else {
                let key = if config.price.is_some() {
                    "price"
                } else {
                    "min_price"
                };
                let pointers = config
                    .price
                    .as_ref()
                    .or(config.min_price.as_ref())
                    .or(config.max_price.as_ref());
                if let Some(pointers) = pointers {
                    zone.missing(key, pointers);
                }
                continue;
            };
            let highest = high.filter(|high| *high > lowest);
            let optional = |found: Option<Option<_>>, default| found.map(|value| value.unwrap_or(default));
            let capacity = match &config.capacity {
                Some(pointers) => optional(zone.read("capacity", pointers, capacity), UNKNOWN_CAPACITY),
                None => Some(UNKNOWN_CAPACITY),
            };
            let name = match &config.name {
                Some(pointers) => zone.read("name", pointers, text).map(Option::unwrap_or_default),
                None => Some(String::new()),
            };
            let position = || (index + 1).to_string();
            let zone_id = match &config.id {
                Some(pointers) => zone
                    .read("id", pointers, id)
                    .map(|id| id.unwrap_or_else(position)),
                None => Some(position()),
            };
            if let (Some(capacity), Some(name), Some(zone_id)) = (capacity, name, zone_id) {
                zones.push(Zone {
                    zone_id,
                    name,
                    capacity,
                    price: scaled(lowest, self.zone_scale),
                    max_price: highest.map(|high| scaled(high, self.zone_scale)),
                    numbered: false,
                });
            }
        }
        zones
    }
}

fn scaled(price: Decimal, scale: Decimal) -> Decimal {
    if scale == Decimal::ONE {
        price
    } else {
        price / scale
    }
}

/// The problems found in one record.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn push(&mut self, problem: String) {
        self.0.push(problem);
    }

    /// The value of a required key: missing (absent or `null` at every pointer) is a
    /// problem.
    fn required<T>(
        &mut self,
        record: &Node,
        key: &str,
        pointers: &Pointers,
        read: impl FnOnce(&Node) -> Result<T, String>,
    ) -> Option<T> {
        match pointers.find(record) {
            None => {
                self.push(format!("{key} ({pointers}) is missing"));
                None
            }
            Some((pointer, value)) => self.read(key, pointer, value, read),
        }
    }

    /// The value of an optional key: `None` when the record has none there.
    fn optional<T>(
        &mut self,
        record: &Node,
        key: &str,
        pointers: &Pointers,
        read: impl FnOnce(&Node) -> Result<T, String>,
    ) -> Option<T> {
        let (pointer, value) = pointers.find(record)?;
        self.read(key, pointer, value, read)
    }

    fn read<T>(
        &mut self,
        key: &str,
        pointer: &Pointer,
        value: &Node,
        read: impl FnOnce(&Node) -> Result<T, String>,
    ) -> Option<T> {
        read(value)
            .map_err(|problem| self.push(format!("{key} ({pointer}) {problem}")))
            .ok()
    }

    /// A time: its date (or date-time) and, when configured apart, its time of day.
    fn time(
        &mut self,
        record: &Node,
        key: &str,
        field: &TimeField,
        clock: Clock,
        edge: Edge,
        required: bool,
    ) -> Option<LocalMoment> {
        let Some((pointer, value)) = field.path.find(record) else {
            if required {
                self.push(format!("{key} ({}) is missing", field.path));
            }
            return None;
        };
        let time_of_day = field
            .time
            .as_ref()
            .and_then(|time| time.find(record))
            .map(|(_, value)| value);
        self.read(key, pointer, value, |value| {
            moment(value, time_of_day, field, clock, edge)
        })
    }

    /// Whether a condition holds; a flag without a value is a problem when `required`,
    /// `false` otherwise.
    fn condition(&mut self, record: &Node, key: &str, condition: &Condition, required: bool) -> Option<bool> {
        match condition.holds(record) {
            Ok(Some(holds)) => Some(holds),
            Ok(None) if required => {
                let pointers = condition
                    .pointers()
                    .into_iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>();
                self.push(format!("{key} ({}) is missing", pointers.join(", ")));
                None
            }
            Ok(None) => Some(false),
            Err(problem) => {
                self.push(format!("{key} {problem}"));
                None
            }
        }
    }
}

/// Reads the values of one zone, its problems naming the zone's place in the record
/// (`zones.price (/tickets/2/price_cents) "x" is not a number`).
struct ZoneProblems<'a> {
    problems: &'a mut Problems,
    path: &'a Pointer,
    index: usize,
    item: &'a Node,
}

impl ZoneProblems<'_> {
    /// `Some(None)`: the zone has no value there; `None`: a bad value (a problem).
    fn read<T>(
        &mut self,
        key: &str,
        pointers: &Pointers,
        read: impl FnOnce(&Node) -> Result<T, String>,
    ) -> Option<Option<T>> {
        let Some((pointer, value)) = pointers.find(self.item) else {
            return Some(None);
        };
        match read(value) {
            Ok(read) => Some(Some(read)),
            Err(problem) => {
                let at = self.at(pointer);
                self.problems.push(format!("zones.{key} ({at}) {problem}"));
                None
            }
        }
    }

    fn missing(&mut self, key: &str, pointers: &Pointers) {
        let at: Vec<String> = pointers.iter().map(|pointer| self.at(pointer)).collect();
        self.problems
            .push(format!("zones.{key} ({}) is missing", at.join(", ")));
    }

    fn at(&self, pointer: &Pointer) -> String {
        format!("{}/{}{}", self.path.as_str(), self.index, pointer.as_str())
    }
}
