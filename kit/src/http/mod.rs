//! HTTP(S): the source every HTTP provider opens its documents with, and the meaning
//! of its failures.

mod error;
mod source;

pub use error::{HttpError, describe_duration, error_chain, retry_after};
pub(crate) use error::{body_error, request_error};
pub use source::{HttpOptions, HttpSource, PageRequest};
