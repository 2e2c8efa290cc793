//! `GET /search`, per the public contract, served from the in-memory read model.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use boxoffice_core::store::SearchWindow;
use chrono::{DateTime, NaiveDateTime, Utc};

use super::AppState;
use super::error::{ApiError, Result};

/// Parses the window from the query string; every malformed value is a 400 naming it.
pub fn parse_window(query: Option<&str>) -> Result<SearchWindow> {
    let mut window = SearchWindow::default();
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match name.as_ref() {
            "starts_at" => window.starts_at = Some(parse_instant("starts_at", &value)?),
            "ends_at" => window.ends_at = Some(parse_instant("ends_at", &value)?),
            _ => {}
        }
    }
    if let (Some(from), Some(to)) = (window.starts_at, window.ends_at)
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
    Ok(window)
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

/// The handler: no I/O, no lock a sync holds.
pub async fn search(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response> {
    let window = parse_window(query.as_deref())?;
    let body = state.read_model.snapshot().search(window);
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
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
    }

    #[test]
    fn a_reversed_range_is_refused() {
        assert!(
            error_of("starts_at=2022-01-01T00:00:00Z&ends_at=2021-01-01T00:00:00Z").contains("invalid_range")
        );
    }
}
