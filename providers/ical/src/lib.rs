//! Placeholder: being written.
/// Keeps the crate linked.
pub fn link() {}
