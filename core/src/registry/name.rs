//! The name of a provider instance, checked once wherever one comes in: the
//! configuration, the admin API's paths and the command line.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A provider instance's name: 1-64 characters of a-z, 0-9, `-` and `_`.
///
/// It is part of every id its items get, of URLs and of metric labels: hence the
/// small alphabet and the bound.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InstanceName(String);

/// Not an instance name; its message shows the start of what was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{shown:?} is not an instance name (1-64 characters of a-z, 0-9, '-' and '_')")]
pub struct InvalidInstanceName {
    shown: String,
}

impl InstanceName {
    /// The longest name.
    pub const MAX_LEN: usize = 64;

    /// Checks `name`.
    pub fn parse(name: impl Into<String>) -> Result<Self, InvalidInstanceName> {
        let name = name.into();
        let valid = (1..=Self::MAX_LEN).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if valid {
            Ok(Self(name))
        } else {
            // A hostile path can be kilobytes long: the message never is.
            let shown = name.chars().take(Self::MAX_LEN + 1).collect();
            Err(InvalidInstanceName { shown })
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for InstanceName {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for InstanceName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InstanceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for InstanceName {
    type Err = InvalidInstanceName;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::parse(name)
    }
}

impl TryFrom<String> for InstanceName {
    type Error = InvalidInstanceName;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        Self::parse(name)
    }
}

impl From<InstanceName> for String {
    fn from(name: InstanceName) -> Self {
        name.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_restricted_to_a_safe_alphabet_and_length() {
        for good in ["fever", "fever-madrid_2", "0", &"a".repeat(64)] {
            assert_eq!(InstanceName::parse(good).map(String::from).as_deref(), Ok(good));
        }
        for bad in ["", "Fever", "a b", "é", "a/b", &"a".repeat(65)] {
            assert!(InstanceName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_error_says_the_rule_and_shows_a_bounded_part_of_the_input() {
        let error = InstanceName::parse("x".repeat(60_000)).unwrap_err().to_string();
        assert!(
            error.contains("is not an instance name (1-64 characters"),
            "{error}"
        );
        assert!(error.len() < 200, "{} bytes", error.len());
    }

    #[test]
    fn it_deserializes_only_when_valid() {
        let name: InstanceName = serde_json::from_str("\"fever\"").unwrap();
        assert_eq!(&*name, "fever");
        let error = serde_json::from_str::<InstanceName>("\"Fever\"").unwrap_err();
        assert!(error.to_string().contains("is not an instance name"), "{error}");
    }
}
