//! Which `BOXOFFICE_*` environment variables are configuration.

use super::{CONFIG_FILE_ENV, ENV_PREFIX, SECTIONS};

/// Whether an environment variable, named without the `BOXOFFICE_` prefix, is meant as
/// configuration: its first segment (before `__`) names a section. Case does not
/// matter, as for every configuration variable.
pub fn is_configuration_key(key: &str) -> bool {
    let section = key.split("__").next().unwrap_or_default().trim();
    SECTIONS.iter().any(|known| known.eq_ignore_ascii_case(section))
}

/// The `BOXOFFICE_*` variables of this process that are not configuration (see
/// [`is_configuration_key`]), sorted, for the one warning start-up logs.
/// `BOXOFFICE_CONFIG` is not among them: it names the configuration file.
pub fn ignored_environment() -> Vec<String> {
    ignored_variables(std::env::vars_os().map(|(name, _)| name.to_string_lossy().into_owned()))
}

pub(super) fn ignored_variables(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut ignored: Vec<String> = names
        .filter(|name| {
            // The prefix matches whatever its case, as figment's does.
            name.get(..ENV_PREFIX.len())
                .is_some_and(|prefix| prefix.eq_ignore_ascii_case(ENV_PREFIX))
                && !name.eq_ignore_ascii_case(CONFIG_FILE_ENV)
                && !is_configuration_key(&name[ENV_PREFIX.len()..])
        })
        .collect();
    ignored.sort();
    ignored
}
