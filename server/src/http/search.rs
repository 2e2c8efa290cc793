//! `GET /search`, per the public contract, served from the in-memory read model.
//!
//! Extensions that leave the contract's behaviour untouched when absent: `limit`
//! (1-1000) with an opaque `cursor` (a `next_cursor` is returned beside `events`),
//! `provider=<name>`, and `ETag`/`If-None-Match` with `Cache-Control`.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use boxoffice_core::SearchWindow;
use chrono::{DateTime, NaiveDateTime, Utc};
use headers::{ETag, HeaderMapExt, IfNoneMatch};

use super::AppState;
use super::error::{ApiError, Result};
use crate::read_model::{Cursor, SearchQuery};

/// The largest page a client may ask for.
pub const MAX_LIMIT: usize = 1000;

/// Parses the window from the query string; every malformed value is a 400 naming it.
pub fn parse_window(query: Option<&str>) -> Result<SearchWindow> {
    parse_query(query).map(|query| query.window)
}

/// Parses the whole query string.
pub fn parse_query(query: Option<&str>) -> Result<SearchQuery> {
    let mut parsed = SearchQuery::default();
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match name.as_ref() {
            "starts_at" => parsed.window.starts_at = Some(parse_instant("starts_at", &value)?),
            "ends_at" => parsed.window.ends_at = Some(parse_instant("ends_at", &value)?),
            "provider" => parsed.provider = Some(value.into_owned()),
            "limit" => {
                let limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n));
                parsed.limit = Some(limit.ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_parameter",
                        format!("limit {value:?} is not a whole number from 1 to {MAX_LIMIT}"),
                    )
                })?);
            }
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
    // An unencoded '+' of an offset arrives as a space: read it back as '+'.
    for candidate in [value.to_owned(), value.replacen(' ', "+", 1)] {
        if let Ok(at) = DateTime::parse_from_rfc3339(&candidate) {
            return Ok(at.with_timezone(&Utc));
        }
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

/// A strong validator of the response: the snapshot's version and the query.
fn etag(version: i64, query: &str) -> String {
    let hash = query.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("\"{version:x}-{hash:016x}\"")
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

/// The handler: no I/O, no lock a sync holds.
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
        (status = 304, description = "Extension: not modified since the `ETag` sent in `If-None-Match`"),
    ))]
pub async fn search(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let query = parse_query(raw.as_deref())?;
    let snapshot = state.read_model.snapshot();
    let tag = etag(snapshot.version(), raw.as_deref().unwrap_or_default());
    let tag_header = HeaderValue::from_str(&tag).map_err(ApiError::internal)?;
    let cache = (header::CACHE_CONTROL, state.search_cache_control.clone());
    if !precondition_passes(&headers, &tag) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, tag_header), cache]).into_response());
    }
    let body = snapshot.query(&query);
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (header::ETAG, tag_header),
            cache,
        ],
        body,
    )
        .into_response())
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
