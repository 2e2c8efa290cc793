//! Instances built through the registry, as `config.toml` builds them.

use boxoffice_core::registry::{BuiltProvider, ConfigProblem, InstanceSettings, ProviderConfig};

/// Builds instance `name` from the body of its `[providers.<name>]` table, e.g.
/// `kind = "fever-xml"\nurl = "http://127.0.0.1:1234/feed"`. Problems name their
/// full key (`providers.<name>.url`). The provider crate must be linked (call its
/// `link()` first).
pub fn instance_from_toml(name: &str, table: &str) -> Result<BuiltProvider, Vec<ConfigProblem>> {
    let value: toml::Table = toml::from_str(table)
        .map_err(|error| vec![ConfigProblem::new(format!("providers.{name}"), error.to_string())])?;
    let json = serde_json::to_value(value)
        .map_err(|error| vec![ConfigProblem::new(format!("providers.{name}"), error.to_string())])?;
    let config: ProviderConfig = serde_json::from_value(json)
        .map_err(|error| vec![ConfigProblem::new(format!("providers.{name}"), error.to_string())])?;
    config.build(name)
}

/// The common settings of an instance `name` in UTC, enabled, with a 5 s timeout and a
/// 16 MiB limit: what a provider's `build` receives, for tests that build one by hand.
pub fn settings(name: &str) -> InstanceSettings {
    InstanceSettings {
        name: name.to_owned(),
        timezone: chrono_tz::UTC,
        timeout: std::time::Duration::from_secs(5),
        max_feed_bytes: 16 * 1024 * 1024,
        enabled: true,
    }
}

/// Reads `built`'s first document exactly as the sync engine does (its timeout and
/// `max_feed_bytes`), sending `validators` when given, into a
/// [`CollectingSink`](boxoffice_core::CollectingSink).
pub async fn read_first_page(
    built: &BuiltProvider,
    validators: Option<&boxoffice_core::Validators>,
) -> (
    Result<boxoffice_core::sync::feed::PageRead, boxoffice_core::ProviderError>,
    boxoffice_core::CollectingSink,
) {
    let mut sink = boxoffice_core::CollectingSink::default();
    let limits = boxoffice_core::sync::feed::FeedLimits {
        timeout: built.config.timeout,
        max_bytes: built.config.max_feed_bytes,
    };
    let request = boxoffice_core::OpenRequest {
        page: None,
        validators,
    };
    let result = boxoffice_core::sync::feed::read_page(
        built.provider.as_ref(),
        request,
        1,
        limits,
        None,
        None,
        &mut sink,
    )
    .await;
    (result, sink)
}
