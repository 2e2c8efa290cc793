//! HTTP(S): the source every HTTP provider opens its documents with, and the meaning
//! of its failures.

mod error;
mod source;

pub use error::{HttpError, describe_duration, error_chain, retry_after};
pub use source::HttpSource;
