//! `GET /search`, per the public contract, served from the in-memory read model.
//!
//! Extensions that leave the contract's behaviour untouched when absent: `limit`
//! (1-1000) with an opaque `cursor` (a `next_cursor` is returned beside `events`),
//! `provider=<name>`, and `ETag`/`If-None-Match` with `Cache-Control`, and content
//! coding: `Accept-Encoding: gzip` or `br` gets the response compressed (once per
//! query and snapshot, then served from the snapshot's cache), with `Vary:
//! Accept-Encoding` and an `ETag` of its own per coding.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use boxoffice_core::SearchWindow;
use chrono::{DateTime, NaiveDateTime, Utc};
use headers::{ETag, HeaderMapExt, IfNoneMatch};

use std::sync::Arc;

use crate::http::error::{ApiError, Result};
use crate::http::extract::{QueryPairs, bounded};
use crate::http::middleware::render_budget::{self, RenderBudget};
use crate::read_model::cache::etags;
use crate::read_model::{Cursor, Encoding, ReadModel, Rendered, SearchKey, SearchQuery};

/// What the handler needs of the application.
pub struct SearchState {
    /// What /search serves.
    pub read_model: Arc<ReadModel>,
    /// `Cache-Control` of /search responses.
    pub cache_control: HeaderValue,
    /// Bounds the bytes of uncached responses in flight.
    pub render_budget: Arc<RenderBudget>,
    /// Who the client is, for its share of the render budget.
    pub proxies: crate::http::middleware::client::TrustedProxies,
}

/// The largest page a client may ask for.
pub const MAX_LIMIT: usize = 1000;

/// Parses the window from the query string; every malformed value is a 400 naming it.
pub fn parse_window(query: Option<&str>) -> Result<SearchWindow> {
    parse_query(query).map(|query| query.window)
}

/// Parses the whole query string.
pub fn parse_query(query: Option<&str>) -> Result<SearchQuery> {
    let mut parsed = SearchQuery::default();
    for (name, value) in QueryPairs::new(query).iter() {
        match name.as_ref() {
            "starts_at" => parsed.window.starts_at = Some(parse_instant("starts_at", &value)?),
            "ends_at" => parsed.window.ends_at = Some(parse_instant("ends_at", &value)?),
            "provider" => parsed.provider = Some(value.into_owned()),
            "limit" => parsed.limit = Some(bounded("limit", &value, MAX_LIMIT as u64)? as usize),
            // An empty cursor is the first page, as if there were none.
            "cursor" if value.is_empty() => parsed.cursor = None,
            "cursor" => {
                parsed.cursor = Some(Cursor::decode(&value).ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_parameter",
                        format!("cursor {value:?} is not a next_cursor this server returned"),
                    )
                })?);
            }
            _ => {}
        }
    }
    if let (Some(from), Some(to)) = (parsed.window.starts_at, parsed.window.ends_at)
        && from > to
    {
        return Err(ApiError::bad_request(
            "invalid_range",
            format!(
                "starts_at ({}) is after ends_at ({})",
                from.to_rfc3339(),
                to.to_rfc3339()
            ),
        ));
    }
    Ok(parsed)
}

/// An RFC 3339 date-time; one without an offset is read as UTC.
fn parse_instant(name: &str, value: &str) -> Result<DateTime<Utc>> {
    let value = value.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        return Ok(at.with_timezone(&Utc));
    }
    // An unencoded '+' of an offset arrives as a space: read it back as '+'.
    if value.contains(' ')
        && let Ok(at) = DateTime::parse_from_rfc3339(&value.replacen(' ', "+", 1))
    {
        return Ok(at.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(local) = NaiveDateTime::parse_from_str(value, format) {
            return Ok(local.and_utc());
        }
    }
    Err(ApiError::bad_request(
        "invalid_parameter",
        format!("{name} {value:?} is not an RFC 3339 date-time such as 2021-07-21T17:32:28Z"),
    ))
}

/// Whether `If-None-Match` lets the full response be sent: RFC 9110 §13.1.2, weak
/// comparison (`W/"x"` matches `"x"`: validators that went through a compressing
/// proxy come back weak), lists, `*`. A header that cannot be read is ignored.
fn precondition_passes(headers: &HeaderMap, tag: &str) -> bool {
    if !headers.contains_key(header::IF_NONE_MATCH) {
        return true;
    }
    let (Some(condition), Ok(tag)) = (headers.typed_get::<IfNoneMatch>(), tag.parse::<ETag>()) else {
        return true;
    };
    condition.precondition_passes(&tag)
}

/// The handler: no I/O, no lock a sync holds. A repeated query is one lookup in the
/// snapshot's response cache; a new one renders from the snapshot and is kept.
///
/// Documented by the published contract (`docs/api/search-api.yaml`), served as is;
/// what this annotation adds are Boxoffice's extensions, appended to it (see
/// `openapi.rs`).
#[utoipa::path(get, path = "/search", tag = "search", operation_id = "searchEvents",
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000,
            description = "Extension: at most this many events; `data.next_cursor` then says where the next page starts"),
        ("cursor" = Option<String>, Query, pattern = "^([0-9a-f]{48})?$",
            description = "Extension: the `next_cursor` of the previous page (empty: the first page)"),
        ("provider" = Option<String>, Query, description = "Extension: only events of this provider instance"),
    ),
    responses(
        (status = 304, description = "Extension: not modified since the `ETag` sent in `If-None-Match` (each content coding has its own)"),
    ))]
pub async fn search(State(state): State<Arc<SearchState>>, request: Request) -> Result<Response> {
    let headers = request.headers();
    let revalidating = headers.contains_key(header::IF_NONE_MATCH);
    let preferred = Encoding::negotiate(headers.get(header::ACCEPT_ENCODING).map(HeaderValue::as_bytes));
    let snapshot = state.read_model.snapshot();
    let cache = snapshot.cache();
    let raw = request.uri().query();
    // Held by a response the cache does not keep, until its body is dropped.
    let mut reservation = None;
    // A query string answered before: no parsing (it parsed then; it parses the same).
    let known = raw.and_then(|raw| cache.get_by_query_string(raw));
    let entry = match known {
        Some(entry) => {
            crate::metrics::search_cache_hit();
            entry
        }
        None => {
            let query = parse_query(raw)?;
            let key = SearchKey::of(&query);
            let entry = match cache.get(&key) {
                Some(entry) => {
                    crate::metrics::search_cache_hit();
                    entry
                }
                None => {
                    crate::metrics::search_cache_miss();
                    if revalidating {
                        // A client holding the plain representation needs no rendering.
                        let [plain, ..] = etags(snapshot.version(), &key);
                        if !precondition_passes(headers, &plain) {
                            let tag = HeaderValue::from_str(&plain).map_err(ApiError::internal)?;
                            return Ok(not_modified(&state, tag));
                        }
                    }
                    let plan = snapshot.plan(&key);
                    let client = state.proxies.client_of(request.extensions(), headers);
                    reservation = state.render_budget.reserve(plan.bytes(), client).await;
                    let body = snapshot.write(&key, &plan);
                    let rendered = Rendered::new(snapshot.version(), &key, body);
                    cache.insert(key.clone(), rendered)
                }
            };
            if let Some(raw) = raw
                && entry.is_kept()
            {
                cache.remember_query_string(raw, &key);
            }
            entry
        }
    };
    let coding = entry.coding_for(preferred);
    if revalidating && !precondition_passes(headers, entry.etag(coding).to_str().unwrap_or_default()) {
        return Ok(not_modified(&state, entry.etag(coding).clone()));
    }
    let variant = entry.variant(coding, cache).await;
    let body = match reservation.filter(|_| !entry.is_kept()) {
        Some(reservation) => render_budget::hold(variant.body.clone(), reservation),
        None => variant.body.clone(),
    };
    let mut response = Response::new(Body::from(body));
    // Room for these headers and those the front layer adds, without regrowing.
    *response.headers_mut() = HeaderMap::with_capacity(16);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::ETAG, variant.etag.clone());
    headers.insert(header::CACHE_CONTROL, state.cache_control.clone());
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Some(coding) = variant.encoding.header_value() {
        headers.insert(header::CONTENT_ENCODING, coding);
    }
    Ok(response)
}

fn not_modified(state: &SearchState, tag: HeaderValue) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NOT_MODIFIED;
    let headers = response.headers_mut();
    headers.insert(header::ETAG, tag);
    headers.insert(header::CACHE_CONTROL, state.cache_control.clone());
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(query: &str) -> String {
        parse_window(Some(query))
            .err()
            .map(|e| format!("{e:?}"))
            .unwrap_or_default()
    }

    #[test]
    fn offsets_are_honoured_and_a_missing_offset_means_utc() {
        let window = parse_window(Some(
            "starts_at=2021-02-01T02:00:00%2B02:00&ends_at=2021-02-01T00:00:00",
        ))
        .unwrap_or_default();
        assert_eq!(window.starts_at, window.ends_at);
        assert_eq!(
            window.starts_at.map(|t| t.to_rfc3339()),
            Some("2021-02-01T00:00:00+00:00".into())
        );
    }

    #[test]
    fn an_unencoded_plus_in_the_offset_is_understood() {
        let window = parse_window(Some("starts_at=2021-02-01T02:00:00+02:00")).unwrap_or_default();
        assert_eq!(
            window.starts_at.map(|t| t.to_rfc3339()),
            Some("2021-02-01T00:00:00+00:00".into())
        );
    }

    #[test]
    fn both_bounds_are_optional() {
        assert_eq!(parse_window(None).ok(), Some(SearchWindow::default()));
        assert_eq!(parse_window(Some("other=1")).ok(), Some(SearchWindow::default()));
    }

    #[test]
    fn malformed_values_are_named() {
        assert!(error_of("starts_at=tomorrow").contains("starts_at \\\"tomorrow\\\""));
        assert!(error_of("ends_at=2021-02-31T00:00:00Z").contains("ends_at"));
        assert!(error_of("starts_at=").contains("starts_at"));
        assert!(error_of("limit=0").contains("limit"));
        assert!(error_of("limit=5000").contains("limit"));
        assert!(error_of("cursor=abc").contains("cursor"));
        assert_eq!(parse_query(Some("cursor=")).ok().map(|q| q.cursor), Some(None));
    }

    #[test]
    fn a_reversed_range_is_refused() {
        assert!(
            error_of("starts_at=2022-01-01T00:00:00Z&ends_at=2021-01-01T00:00:00Z").contains("invalid_range")
        );
    }

    use crate::read_model::cache::etag;

    #[test]
    fn if_none_match_uses_the_weak_comparison() {
        let tag = etag(7, "starts_at=x");
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(header::IF_NONE_MATCH, value);
            }
            precondition_passes(&headers, &tag)
        };
        assert!(precondition_passes(&HeaderMap::new(), &tag));
        assert!(!with(&tag));
        assert!(!with(&format!("W/{tag}")));
        assert!(!with(&format!("\"other\", W/{tag}")));
        assert!(!with("*"));
        assert!(with("\"other\""));
        assert!(with(&etag(8, "starts_at=x")));
    }

    #[test]
    fn etags_change_with_the_version_and_the_query() {
        assert_eq!(etag(1, "a=1"), etag(1, "a=1"));
        assert_ne!(etag(1, "a=1"), etag(2, "a=1"));
        assert_ne!(etag(1, "a=1"), etag(1, "a=2"));
    }
}
