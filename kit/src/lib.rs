//! Boxoffice's provider kit: what every provider that reads a feed over HTTP needs,
//! in one place.
//!
//! - [`HttpSource`]: GET (or POST with a JSON body) with the instance's `[headers]`,
//!   `[query]` and `auth` (bearer, Basic, OAuth 2.0 client credentials), compressed
//!   transfers decoded as they stream, conditional requests (`ETag`/`Last-Modified`,
//!   304), pages kept on the feed's origin, redirects bounded, TLS verified, error
//!   bodies quoted without secrets;
//! - [`HttpError`]: what statuses, timeouts and `Retry-After` mean to the engine
//!   (transient or not), public so that every provider maps them alike;
//! - [`FeedUrl`], [`Headers`], [`Query`] and [`Auth`]: the `url`, `[headers]`,
//!   `[query]` and `auth` keys of the HTTP kinds, checked when read, never printed with
//!   their secrets;
//! - [`ChunkedInput`]: a feed body read in large chunks, for the streaming parsers
//!   (carried-over tokens, growth, byte order mark, UTF-8, held read errors);
//! - [`generate`]: the shape and random sequence every kind's feed generator shares.
//!
//! Core stays free of any HTTP client; providers depend on this crate for it.

pub mod auth;
mod file;
pub mod generate;
pub mod headers;
pub mod http;
pub mod input;
pub mod query;
pub mod url;

pub use auth::Auth;
pub use headers::Headers;
pub use http::{HttpError, HttpOptions, HttpSource, PageRequest};
pub use input::{ChunkedInput, Utf8};
pub use query::Query;
pub use url::{FeedUrl, display_url, relative_file};
