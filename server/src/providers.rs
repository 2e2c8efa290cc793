//! Links every provider crate into the binary.
//!
//! The linker drops a crate nothing references, and its `inventory` registration with
//! it (dtolnay/inventory#7): calling a function of each crate keeps them. Add one line
//! per provider crate here.

/// Call first thing in `main` and in test helpers.
pub fn link_all() {
    boxoffice_provider_fever::link();
    boxoffice_provider_ical::link();
    boxoffice_provider_json::link();
}
