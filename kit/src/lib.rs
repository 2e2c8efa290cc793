//! Boxoffice's provider kit: what every provider that reads a feed over HTTP needs,
//! so that all of them request, retry and guard secrets alike: [`HttpSource`] and
//! [`HttpError`], the HTTP kinds' `url`, `[headers]`, `[query]` and `auth` keys
//! ([`FeedUrl`], [`Headers`], [`Query`], [`Auth`], never printed with their secrets),
//! [`ChunkedInput`] for the streaming parsers, and the feed generators' [`generate`].
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
