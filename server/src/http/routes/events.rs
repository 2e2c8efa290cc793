//! `GET /events/{id}`: one item with its details, from the store.

use axum::Json;
use axum::extract::State;
use boxoffice_core::model::{Zone, format};
use boxoffice_core::store::StoredEvent;
use chrono::{DateTime, Utc};
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;
use uuid::Uuid;

use crate::http::AppState;
use crate::http::error::{ApiError, Envelope, ErrorEnvelope, Result};
use crate::http::extract::PathParam;
use crate::http::middleware::auth::MaybeAdmin;
use utoipa::ToSchema;

/// An item's details as served: the latest record the provider sent, and its history.
#[derive(Serialize, ToSchema)]
pub struct EventDetails {
    id: Uuid,
    title: String,
    provider: String,
    base_event_id: String,
    event_id: String,
    sell_mode: &'static str,
    searchable: bool,
    organizer_company_id: Option<String>,
    sold_out: bool,
    start_date: String,
    start_time: Option<String>,
    end_date: Option<String>,
    end_time: Option<String>,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    sell_from: Option<String>,
    sell_to: Option<String>,
    min_price: Option<f64>,
    max_price: Option<f64>,
    /// The prices' currency (ISO 4217), when the provider says.
    #[schema(example = "EUR")]
    currency: Option<String>,
    zones: Vec<ZoneDetails>,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    last_changed: DateTime<Utc>,
}

/// A price zone of an item.
#[derive(Serialize, ToSchema)]
pub struct ZoneDetails {
    zone_id: String,
    name: String,
    capacity: u32,
    /// The price; the lowest, when the zone is a range of prices.
    price: f64,
    /// The highest price, when the zone is a range of prices.
    #[serde(skip_serializing_if = "Option::is_none")]
    max_price: Option<f64>,
    numbered: bool,
}

impl From<&Zone> for ZoneDetails {
    fn from(zone: &Zone) -> Self {
        Self {
            zone_id: zone.zone_id.clone(),
            name: zone.name.clone(),
            capacity: zone.capacity,
            price: zone.price.to_f64().unwrap_or_default(),
            max_price: zone.max_price.and_then(|max| max.to_f64()),
            numbered: zone.numbered,
        }
    }
}

impl From<StoredEvent> for EventDetails {
    fn from(stored: StoredEvent) -> Self {
        let record = stored.record;
        let range = record.price_range();
        Self {
            id: stored.id,
            ends_at: record.ends_at(),
            title: record.title,
            provider: record.key.provider,
            base_event_id: record.key.series_id,
            event_id: record.key.session_id,
            sell_mode: record.sell_mode.as_str(),
            searchable: stored.searchable,
            organizer_company_id: record.organizer_company_id,
            sold_out: record.sold_out,
            start_date: format::date(record.start.date),
            start_time: record.start.time.map(format::time),
            end_date: record.end.map(|end| format::date(end.date)),
            end_time: record.end.and_then(|end| end.time).map(format::time),
            starts_at: record.start.at,
            sell_from: record.sell_from.map(format::local_date_time),
            sell_to: record.sell_to.map(format::local_date_time),
            min_price: range.and_then(|r| r.min.to_f64()),
            max_price: range.and_then(|r| r.max.to_f64()),
            currency: record.currency,
            zones: record.zones.iter().map(ZoneDetails::from).collect(),
            first_seen: stored.first_seen,
            last_seen: stored.last_seen,
            last_changed: stored.last_changed,
        }
    }
}

/// `data` of the answer.
#[derive(Serialize, ToSchema)]
pub struct EventAnswer {
    event: EventDetails,
}

/// One item with its zones and history. An item never sold online is not public:
/// without the admin token it answers exactly as an unknown id does (ids are UUIDv5 of
/// documented parts, so they can be derived).
#[utoipa::path(get, path = "/events/{id}", tag = "events", operation_id = "getEvent",
    params(("id" = Uuid, Path, description = "The item's id, as /search serves it",
        example = "68cc90c3-bfc1-575a-ba2e-d96babb06e90")),
    responses(
        (status = 200, description = "The item", body = Envelope<EventAnswer>),
        (status = 400, description = "The id is not a UUID", body = ErrorEnvelope),
        (status = 401, description = "An Authorization header with a wrong token", body = ErrorEnvelope),
        (status = 404, description = "No item has this id, or it was never sold online", body = ErrorEnvelope),
    ),
    security((), ("adminToken" = [])))]
pub async fn get_event(
    State(state): State<AppState>,
    MaybeAdmin(admin): MaybeAdmin,
    PathParam(id): PathParam<String>,
) -> Result<Json<Envelope<EventAnswer>>> {
    let id = Uuid::parse_str(&id)
        .map_err(|_| ApiError::bad_request("invalid_parameter", format!("id {id:?} is not a UUID")))?;
    let stored = if admin {
        state.store.get(id).await?
    } else {
        state.store.get_searchable(id).await?
    };
    let stored = stored.ok_or_else(|| ApiError::not_found(format!("no event has id {id}")))?;
    Ok(Envelope::ok(EventAnswer {
        event: EventDetails::from(stored),
    }))
}
