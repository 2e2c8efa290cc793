//! Boxoffice's provider kit: what every provider that reads a feed over HTTP needs,
//! in one place.
//!
//! - [`HttpSource`]: GET with the instance's headers, compressed transfers decoded as
//!   they stream, conditional requests (`ETag`/`Last-Modified`, 304), pages kept on the
//!   feed's origin, redirects bounded, TLS verified;
//! - [`HttpError`]: what statuses, timeouts and `Retry-After` mean to the engine
//!   (transient or not), public so that every provider maps them alike;
//! - [`FeedUrl`] and [`Headers`]: the `url` and `[providers.<name>.headers]` keys every
//!   HTTP kind declares, checked when read, never printed with their secrets;
//! - [`generate`]: the shape and random sequence every kind's feed generator shares.
//!
//! Core stays free of any HTTP client; providers depend on this crate for it.

pub mod generate;
pub mod headers;
pub mod http;
pub mod url;

pub use headers::Headers;
pub use http::{HttpError, HttpSource};
pub use url::{FeedUrl, display_url};
