//! The provider registry: each provider crate registers its kind with
//! [`register_provider!`](crate::register_provider), and the configuration's
//! `[providers.<name>]` tables are built into provider instances through it.
//!
//! A kind declares its own keys as one serde type (`deny_unknown_fields`, a doc
//! comment on every field, `schemars::JsonSchema`): the registry deserializes the
//! table's remaining keys into it, reporting every problem at once with its key, and
//! `boxoffice providers` prints the type's doc comments. There is no second list of
//! keys anywhere.

mod config;
mod name;
mod options;

use std::sync::Arc;

pub use config::{BuiltProvider, InstanceSettings, ProviderConfig};
pub use name::{InstanceName, InvalidInstanceName};
pub use options::{ConfigProblem, KeyDoc, common_keys, keys_of, parse_checked_options, parse_options};

use crate::provider::Provider;

/// A provider kind, as registered by its crate (through [`register_provider!`](crate::register_provider)).
pub struct ProviderRegistration {
    /// The `kind` that selects it in the configuration, e.g. `fever-xml`.
    pub kind: &'static str,
    /// One line on what it reads.
    pub description: &'static str,
    /// Its own configuration keys, from its options type's doc comments.
    pub keys: fn() -> Vec<KeyDoc>,
    /// Builds an instance from the common settings and the instance's own keys.
    /// Problems name their key relative to the instance table (e.g. `url`).
    pub build: BuildProvider,
}

/// How a kind builds an instance: the common settings and the instance's own keys in,
/// the provider or every problem found out.
pub type BuildProvider =
    fn(&InstanceSettings, serde_json::Value) -> Result<Arc<dyn Provider>, Vec<ConfigProblem>>;

inventory::collect!(ProviderRegistration);

/// Registers a provider kind. Use once per provider crate, at top level:
///
/// ```ignore
/// boxoffice_core::register_provider! {
///     kind: "fever-xml",
///     description: "Fever's XML event feed",
///     options: FeverConfig,          // Deserialize + JsonSchema, deny_unknown_fields
///     build: FeverProvider::build,   // fn(&InstanceSettings, FeverConfig) -> Result<Arc<dyn Provider>, Vec<ConfigProblem>>
///     checks: FeverConfig::problems, // optional: fn(&FeverConfig) -> Vec<ConfigProblem>, keys taken together
/// }
/// ```
///
/// The linker drops a crate nothing references, and its registration with it: the
/// provider crate must also export a function the binary calls (see `link()`).
#[macro_export]
macro_rules! register_provider {
    (kind: $kind:expr, description: $description:expr, options: $options:ty, build: $build:expr $(,)?) => {
        $crate::register_provider! {
            kind: $kind,
            description: $description,
            options: $options,
            build: $build,
            checks: |_: &$options| ::std::vec::Vec::new(),
        }
    };
    (kind: $kind:expr, description: $description:expr, options: $options:ty, build: $build:expr, checks: $checks:expr $(,)?) => {
        $crate::inventory::submit! {
            $crate::registry::ProviderRegistration {
                kind: $kind,
                description: $description,
                keys: {
                    fn keys() -> ::std::vec::Vec<$crate::registry::KeyDoc> {
                        $crate::registry::keys_of::<$options>()
                    }
                    keys
                },
                build: {
                    fn build(
                        settings: &$crate::registry::InstanceSettings,
                        options: $crate::serde_json::Value,
                    ) -> ::std::result::Result<
                        ::std::sync::Arc<dyn $crate::provider::Provider>,
                        ::std::vec::Vec<$crate::registry::ConfigProblem>,
                    > {
                        let options = $crate::registry::parse_checked_options::<$options>(options, $checks)?;
                        ($build)(settings, options)
                    }
                    build
                },
            }
        }
    };
}

/// Every registered provider kind, sorted by kind.
pub fn registrations() -> Vec<&'static ProviderRegistration> {
    let mut all: Vec<_> = inventory::iter::<ProviderRegistration>.into_iter().collect();
    all.sort_by_key(|registration| registration.kind);
    all
}

/// The registration of `kind`, if any crate registered it.
pub fn find(kind: &str) -> Option<&'static ProviderRegistration> {
    inventory::iter::<ProviderRegistration>
        .into_iter()
        .find(|registration| registration.kind == kind)
}
