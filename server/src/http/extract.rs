//! axum's extractors with their rejections in the envelope ([`ApiError`]).

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// `axum::extract::Path`, refusing in the envelope (e.g. a segment that is not UTF-8).
pub struct PathParam<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathParam<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(value) = axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

/// The whole request body within the router's body limit, refusing in the envelope
/// (413 past the limit).
pub struct BodyBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for BodyBytes {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        Ok(Self(Bytes::from_request(request, state).await?))
    }
}

/// A request's query string, read pair by pair: the one reading of it that every
/// route's parameters go through (percent-decoded, `+` as a space).
#[derive(Clone, Copy)]
pub struct QueryPairs<'a>(&'a str);

impl<'a> QueryPairs<'a> {
    /// The query string, or none.
    pub fn new(query: Option<&'a str>) -> Self {
        Self(query.unwrap_or_default())
    }

    /// Every pair, in order.
    pub fn iter(self) -> url::form_urlencoded::Parse<'a> {
        url::form_urlencoded::parse(self.0.as_bytes())
    }

    /// The last value of `name`: a repeated parameter's later value wins.
    pub fn last(self, name: &str) -> Option<std::borrow::Cow<'a, str>> {
        self.iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value)
            .last()
    }

    /// `name` as a whole number from 1 to `max`, `default` when absent.
    pub fn limit(self, name: &str, default: u64, max: u64) -> Result<u64, ApiError> {
        self.last(name)
            .map_or(Ok(default), |value| bounded(name, &value, max))
    }

    /// `name` as `true` or `false`, `default` when absent.
    pub fn flag(self, name: &str, default: bool) -> Result<bool, ApiError> {
        match self.last(name).as_deref() {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(ApiError::bad_request(
                "invalid_parameter",
                format!("{name} {other:?} is neither true nor false"),
            )),
        }
    }
}

/// `value` of parameter `name` as a whole number from 1 to `max`, or a 400 naming it.
pub fn bounded(name: &str, value: &str, max: u64) -> Result<u64, ApiError> {
    value
        .parse::<u64>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_parameter",
                format!("{name} {value:?} is not a whole number from 1 to {max}"),
            )
        })
}
