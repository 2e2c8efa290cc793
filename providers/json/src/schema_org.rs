//! schema.org `Event`s as records: which objects of a JSON-LD document are events, and
//! the fields an HTML page's events are mapped with unless the instance says otherwise.
//!
//! schema.org names its enumerations by URL (`https://schema.org/InStock`); each
//! event's `@type`, `eventStatus` and `availability` values are read without that
//! prefix (`InStock`), so that configurations compare with the short names.

use serde_json::json;

use crate::config::Fields;
use crate::node::Node;

/// `Event` and its schema.org subtypes.
const EVENT_TYPES: &[&str] = &[
    "Event",
    "BusinessEvent",
    "ChildrensEvent",
    "ComedyEvent",
    "CourseInstance",
    "DanceEvent",
    "DeliveryEvent",
    "EducationEvent",
    "EventSeries",
    "ExhibitionEvent",
    "Festival",
    "FoodEvent",
    "Hackathon",
    "LiteraryEvent",
    "MusicEvent",
    "PublicationEvent",
    "BroadcastEvent",
    "OnDemandEvent",
    "SaleEvent",
    "ScreeningEvent",
    "SocialEvent",
    "SportsEvent",
    "TheaterEvent",
    "VisualArtsEvent",
];

/// The members whose values are schema.org names, read without their prefix.
const NAMED_MEMBERS: &[&str] = &["@type", "eventStatus", "availability", "eventAttendanceMode"];

/// The most events one document may hold: a page is the provider's to write.
pub const MAX_EVENTS_PER_BLOCK: usize = 100_000;

/// `https://schema.org/InStock`, `http://schema.org/InStock` and `schema:InStock` are
/// `InStock`.
fn short_name(name: &str) -> &str {
    ["https://schema.org/", "http://schema.org/", "schema:"]
        .iter()
        .find_map(|prefix| name.strip_prefix(prefix))
        .unwrap_or(name)
}

fn is_event(node: &Node) -> bool {
    let is_event_type =
        |node: &Node| matches!(node, Node::String(name) if EVENT_TYPES.contains(&short_name(name)));
    match node.member("@type") {
        Some(Node::Array(types)) => types.iter().any(is_event_type),
        Some(one) => is_event_type(one),
        None => false,
    }
}

/// The events of a JSON-LD document, in document order: the document itself, the
/// elements of an array, of a `@graph`, or of an `ItemList`'s `itemListElement` (a
/// `ListItem`'s `item`).
pub fn events(document: Node, out: &mut Vec<Node>) {
    if out.len() >= MAX_EVENTS_PER_BLOCK {
        return;
    }
    match document {
        Node::Array(items) => items.into_iter().for_each(|item| events(item, out)),
        mut node @ Node::Object(_) if is_event(&node) => {
            shorten_names(&mut node);
            out.push(node);
        }
        Node::Object(members) => {
            let mut members = members;
            if let Some(at) = members
                .iter()
                .rposition(|(name, _)| name == "@graph" || name == "itemListElement")
            {
                let (_, inner) = members.swap_remove(at);
                events(inner, out);
            } else if let Some(at) = members.iter().rposition(|(name, _)| name == "item") {
                let (_, inner) = members.swap_remove(at);
                events(inner, out);
            }
        }
        _ => {}
    }
}

fn shorten_names(node: &mut Node) {
    match node {
        Node::Object(members) => {
            for (name, value) in members.iter_mut() {
                if NAMED_MEMBERS.contains(&name.as_str()) {
                    shorten_value(value);
                } else {
                    shorten_names(value);
                }
            }
        }
        Node::Array(items) => items.iter_mut().for_each(shorten_names),
        _ => {}
    }
}

fn shorten_value(value: &mut Node) {
    match value {
        Node::String(text) => {
            let short = short_name(text);
            if short.len() != text.len() {
                *text = short.to_owned();
            }
        }
        Node::Array(items) => items.iter_mut().for_each(shorten_value),
        _ => {}
    }
}

/// The fields of a schema.org `Event`: `@id` (else `url`) as the id, `name`,
/// `startDate`, `endDate`; on sale unless cancelled, postponed or every offer
/// discontinued; sold out when every offer is; prices from the offers' `lowPrice` /
/// `highPrice` or `price`, in `priceCurrency`.
pub fn default_fields() -> Fields {
    let fields = json!({
        "base_id": ["/@id", "/url"],
        "title": "/name",
        "starts_at": "/startDate",
        "ends_at": "/endDate",
        "online": [
            {"path": "/eventStatus", "not_in": ["EventCancelled", "EventPostponed"]},
            {"path": "/offers/*/availability", "not_in": ["Discontinued"]},
        ],
        "sold_out": {"path": "/offers/*/availability", "in": ["SoldOut", "OutOfStock"], "match": "all"},
        "min_price": ["/offers/*/lowPrice", "/offers/*/price"],
        "max_price": ["/offers/*/highPrice", "/offers/*/price"],
        "currency": "/offers/*/priceCurrency",
    });
    // A constant table of known keys and pointers: it always reads.
    serde_json::from_value(fields).unwrap_or_default()
}

/// `fields` with each field the instance leaves out taken from `defaults`.
pub fn with_defaults(fields: Fields, defaults: Fields) -> Fields {
    Fields {
        base_id: fields.base_id.or(defaults.base_id),
        event_id: fields.event_id.or(defaults.event_id),
        title: fields.title.or(defaults.title),
        starts_at: fields.starts_at.or(defaults.starts_at),
        ends_at: fields.ends_at.or(defaults.ends_at),
        timezone: fields.timezone.or(defaults.timezone),
        online: fields.online.or(defaults.online),
        sold_out: fields.sold_out.or(defaults.sold_out),
        min_price: fields.min_price.or(defaults.min_price),
        max_price: fields.max_price.or(defaults.max_price),
        price_scale: fields.price_scale.or(defaults.price_scale),
        currency: fields.currency.or(defaults.currency),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn node(value: Value) -> Node {
        serde_json::from_value(value).unwrap_or(Node::Null)
    }

    fn names(found: &[Node]) -> Vec<String> {
        found
            .iter()
            .filter_map(|event| match event.member("name") {
                Some(Node::String(name)) => Some(name.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn events_are_found_alone_in_arrays_graphs_and_item_lists_with_short_names() {
        let mut found = Vec::new();
        events(
            node(
                json!({"@context": "https://schema.org", "@type": "MusicEvent", "name": "A",
            "eventStatus": "https://schema.org/EventScheduled",
            "offers": [{"@type": "Offer", "availability": "http://schema.org/InStock"}]}),
            ),
            &mut found,
        );
        events(
            node(
                json!([{"@type": "Organization", "name": "no"}, {"@type": ["Event", "Thing"], "name": "B"}]),
            ),
            &mut found,
        );
        events(
            node(json!({"@graph": [{"@type": "WebPage"}, {"@type": "schema:TheaterEvent", "name": "C"}]})),
            &mut found,
        );
        events(
            node(json!({"@type": "ItemList", "itemListElement": [
                {"@type": "ListItem", "position": 1, "item": {"@type": "SportsEvent", "name": "D"}},
                {"@type": "ComedyEvent", "name": "E"},
            ]})),
            &mut found,
        );
        assert_eq!(names(&found), ["A", "B", "C", "D", "E"]);
        assert_eq!(
            found[0].member("eventStatus"),
            Some(&Node::String("EventScheduled".into()))
        );
        let offers = found[0].member("offers");
        let availability = match offers {
            Some(Node::Array(offers)) => offers[0].member("availability").cloned(),
            _ => None,
        };
        assert_eq!(availability, Some(Node::String("InStock".into())));
    }

    #[test]
    fn the_default_fields_read() {
        let fields = default_fields();
        assert!(fields.base_id.is_some() && fields.online.is_some() && fields.currency.is_some());
        let mine = Fields {
            title: fields.base_id.clone(),
            ..Fields::default()
        };
        let merged = with_defaults(mine, default_fields());
        assert_eq!(merged.title.map(|p| p.to_string()), Some("/@id, /url".into()));
    }
}
