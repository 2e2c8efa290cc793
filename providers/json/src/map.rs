//! One record of the feed to one canonical record, through the configured pointers,
//! or the reasons it cannot be one (every problem found in it, each naming the key,
//! the pointer and the value).

use boxoffice_core::{EventRecord, ExternalKey, SellMode, Zone};
use chrono_tz::Tz;
use rust_decimal::Decimal;

use crate::config::{Fields, Online, Zones};
use crate::node::Node;
use crate::pointer::Pointer;
use crate::time::{Edge, moment};
use crate::values::{capacity, flag, id, present, price, same, text};

/// The capacity of a zone whose feed says nothing of it. Unknown counts as available
/// (the zone's price is then in the item's range), and the model's capacity is a
/// number, so "unknown" is a number no venue has: `i32::MAX`, 2,147,483,647, the
/// largest the published API's `int32` capacity lets every client read (`u32::MAX`
/// would break that format).
pub const UNKNOWN_CAPACITY: u32 = i32::MAX as u32;

/// What maps the records of one instance.
#[derive(Debug, Clone)]
pub struct Mapping {
    provider: String,
    timezone: Tz,
    fields: Fields,
    zones: Option<Zones>,
    scale: Decimal,
    /// The members of a record that some pointer reads, sorted.
    known: Vec<String>,
    /// Some pointer is `""`: it reads the whole record, so no member is unknown.
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
    /// The mapping of instance `provider`, whose times without offset are in `timezone`.
    pub fn new(provider: &str, timezone: Tz, fields: Fields, zones: Option<Zones>) -> Self {
        let pointers = [
            Some(&fields.base_id),
            fields.event_id.as_ref(),
            Some(&fields.title),
            Some(&fields.starts_at),
            fields.ends_at.as_ref(),
            fields.online.as_ref().map(|online| match online {
                Online::Flag(pointer) | Online::Equals { path: pointer, .. } => pointer,
            }),
            fields.sold_out.as_ref(),
            zones.as_ref().map(|zones| &zones.path),
        ];
        let pointers: Vec<&Pointer> = pointers.into_iter().flatten().collect();
        let reads_whole = pointers.iter().any(|pointer| pointer.first().is_none());
        let mut known: Vec<String> = pointers
            .into_iter()
            .filter_map(Pointer::first)
            .map(str::to_owned)
            .collect();
        known.sort();
        known.dedup();
        Self {
            provider: provider.to_owned(),
            timezone,
            scale: Decimal::from(zones.as_ref().map_or(1, |zones| zones.price_scale)),
            fields,
            zones,
            known,
            reads_whole,
        }
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
        let event_id = match fields.event_id.as_ref().map(|p| (p, present(p.resolve(record)))) {
            Some((pointer, Some(value))) => problems.read("event_id", pointer, value, id),
            _ => base_id.clone(),
        };
        let ids = base_id
            .as_deref()
            .map(|base| format!("base_id {base} / event_id {}", event_id.as_deref().unwrap_or("?")));
        let title = problems.required(record, "title", &fields.title, text);
        let tz = self.timezone;
        let start = problems.required(record, "starts_at", &fields.starts_at, |v| {
            moment(v, tz, Edge::Start)
        });
        let end = match &fields.ends_at {
            Some(pointer) => problems.optional(record, "ends_at", pointer, |v| moment(v, tz, Edge::End)),
            None => None,
        };
        let sell_mode = match &fields.online {
            None => Some(SellMode::Online),
            Some(Online::Flag(pointer)) => problems.required(record, "online", pointer, flag).map(|online| {
                if online {
                    SellMode::Online
                } else {
                    SellMode::Offline
                }
            }),
            Some(Online::Equals { path, equals }) => Some(match path.resolve(record) {
                Some(found) if same(found, equals) => SellMode::Online,
                _ => SellMode::Offline,
            }),
        };
        let sold_out = match &fields.sold_out {
            Some(pointer) => problems.optional(record, "sold_out", pointer, flag),
            None => None,
        };
        let zones = self.zones(record, &mut problems);
        let mapped = match (base_id, event_id, title, start, sell_mode) {
            (Some(base_event_id), Some(event_id), Some(title), Some(start), Some(sell_mode))
                if problems.0.is_empty() =>
            {
                EventRecord {
                    key: ExternalKey {
                        provider: self.provider.clone(),
                        base_event_id,
                        event_id,
                    },
                    title,
                    sell_mode,
                    organizer_company_id: None,
                    sold_out: sold_out.unwrap_or(false),
                    start,
                    end,
                    sell_from: None,
                    sell_to: None,
                    zones,
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

    /// The record's zones; their problems join the record's.
    fn zones(&self, record: &Node, problems: &mut Problems) -> Vec<Zone> {
        let Some(config) = &self.zones else {
            return Vec::new();
        };
        let items = match present(config.path.resolve(record)) {
            None => return Vec::new(),
            Some(Node::Array(items)) => items,
            Some(other) => {
                problems.push(format!(
                    "zones.path ({}) {} is not an array",
                    config.path,
                    crate::values::quote(other)
                ));
                return Vec::new();
            }
        };
        let mut zones = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let mut zone = ZoneProblems {
                problems: &mut *problems,
                path: &config.path,
                index,
                item,
            };
            let price = match zone.read("price", &config.price, price) {
                Some(Some(price)) => Some(price),
                Some(None) => {
                    zone.missing("price", &config.price);
                    None
                }
                None => None,
            };
            let optional = |found: Option<Option<_>>, default| found.map(|value| value.unwrap_or(default));
            let capacity = match &config.capacity {
                Some(pointer) => optional(zone.read("capacity", pointer, capacity), UNKNOWN_CAPACITY),
                None => Some(UNKNOWN_CAPACITY),
            };
            let name = match &config.name {
                Some(pointer) => zone.read("name", pointer, text).map(Option::unwrap_or_default),
                None => Some(String::new()),
            };
            let position = || (index + 1).to_string();
            let zone_id = match &config.id {
                Some(pointer) => zone.read("id", pointer, id).map(|id| id.unwrap_or_else(position)),
                None => Some(position()),
            };
            if let (Some(price), Some(capacity), Some(name), Some(zone_id)) = (price, capacity, name, zone_id)
            {
                let price = if self.scale == Decimal::ONE {
                    price
                } else {
                    price / self.scale
                };
                zones.push(Zone {
                    zone_id,
                    name,
                    capacity,
                    price,
                    numbered: false,
                });
            }
        }
        zones
    }
}

/// The problems found in one record.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn push(&mut self, problem: String) {
        self.0.push(problem);
    }

    /// The value of a required key: missing (absent or `null`) is a problem.
    fn required<T>(
        &mut self,
        record: &Node,
        key: &str,
        pointer: &Pointer,
        read: impl FnOnce(&Node) -> Result<T, String>,
    ) -> Option<T> {
        match present(pointer.resolve(record)) {
            None => {
                self.push(format!("{key} ({pointer}) is missing"));
                None
            }
            Some(value) => self.read(key, pointer, value, read),
        }
    }

    /// The value of an optional key: `None` when the record has none there.
    fn optional<T>(
        &mut self,
        record: &Node,
        key: &str,
        pointer: &Pointer,
        read: impl FnOnce(&Node) -> Result<T, String>,
    ) -> Option<T> {
        let value = present(pointer.resolve(record))?;
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
        pointer: &Pointer,
        read: impl FnOnce(&Node) -> Result<T, String>,
    ) -> Option<Option<T>> {
        let Some(value) = present(pointer.resolve(self.item)) else {
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

    fn missing(&mut self, key: &str, pointer: &Pointer) {
        let at = self.at(pointer);
        self.problems.push(format!("zones.{key} ({at}) is missing"));
    }

    fn at(&self, pointer: &Pointer) -> String {
        format!("{}/{}{}", self.path.as_str(), self.index, pointer.as_str())
    }
}
