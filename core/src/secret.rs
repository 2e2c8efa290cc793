//! Secrets: values that never appear in logs, errors, reports or printed
//! configuration, and where the configuration takes them from.

use std::fmt;
use std::path::PathBuf;

use schemars::JsonSchema;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Deserializer, Serialize};

/// What a secret prints as, everywhere.
pub const REDACTED: &str = "[redacted]";

/// A secret string: never printed, never logged, and zeroed in memory when dropped
/// (`secrecy` holds it).
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// A secret holding `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    /// Accepts numbers too: environment values that look numeric arrive as numbers.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Signed(i64),
            Unsigned(u64),
            Float(f64),
        }
        // Serde's own message for a mismatch would not quote the value either.
        Ok(Secret::new(match Raw::deserialize(deserializer)? {
            Raw::Text(text) => text,
            Raw::Signed(n) => n.to_string(),
            Raw::Unsigned(n) => n.to_string(),
            Raw::Float(n) => n.to_string(),
        }))
    }
}

impl JsonSchema for Secret {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Secret".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "description": "a secret value (never printed)" })
    }
}

/// Where the configuration takes a secret from: the value itself (`"…"`), an
/// environment variable (`{ env = "NAME" }`) or a file (`{ file = "PATH" }`, its
/// surrounding white space ignored). Read each time it is used, so that a rotated
/// file or variable is picked up without a restart.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// Written in the configuration.
    Value(Secret),
    /// The value of an environment variable.
    Env(String),
    /// The contents of a file.
    File(PathBuf),
}

impl SecretSource {
    /// The secret, or why it cannot be had; the message names where it was looked
    /// for, never a value.
    pub fn resolve(&self) -> Result<Secret, String> {
        match self {
            SecretSource::Value(secret) => Ok(secret.clone()),
            SecretSource::Env(name) => match std::env::var(name) {
                Ok(value) if !value.is_empty() => Ok(Secret::new(value)),
                Ok(_) => Err(format!("the environment variable {name} is empty")),
                Err(std::env::VarError::NotPresent) => {
                    Err(format!("the environment variable {name} is not set"))
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    Err(format!("the environment variable {name} is not UTF-8"))
                }
            },
            SecretSource::File(path) => match std::fs::read_to_string(path) {
                Ok(text) if !text.trim().is_empty() => Ok(Secret::new(text.trim())),
                Ok(_) => Err(format!("the file {} is empty", path.display())),
                Err(error) => Err(format!("cannot read the file {}: {error}", path.display())),
            },
        }
    }
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Value(_) => f.write_str(REDACTED),
            SecretSource::Env(name) => write!(f, "env {name}"),
            SecretSource::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

/// The configuration's spellings of a [`SecretSource`].
#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
enum Spelled {
    /// The value itself.
    Value(Secret),
    /// `{ env = "NAME" }`.
    Env {
        /// The environment variable.
        env: String,
    },
    /// `{ file = "PATH" }`.
    File {
        /// The file.
        file: PathBuf,
    },
}

impl<'de> Deserialize<'de> for SecretSource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        if let serde_json::Value::Object(table) = &value {
            let keys: Vec<&str> = table.keys().map(String::as_str).collect();
            if !matches!(keys.as_slice(), ["env"] | ["file"]) {
                return Err(serde::de::Error::custom(format!(
                    "expected a value, {{ env = \"NAME\" }} or {{ file = \"PATH\" }}, not a table with {}",
                    if keys.is_empty() {
                        "no key".to_owned()
                    } else {
                        format!("keys {keys:?}")
                    }
                )));
            }
        }
        match Spelled::deserialize(value) {
            Ok(Spelled::Value(secret)) => Ok(SecretSource::Value(secret)),
            Ok(Spelled::Env { env }) => Ok(SecretSource::Env(env)),
            Ok(Spelled::File { file }) => Ok(SecretSource::File(file)),
            // Never serde's message: it could quote the value.
            Err(_) => Err(serde::de::Error::custom(
                "expected a string, { env = \"NAME\" } or { file = \"PATH\" }",
            )),
        }
    }
}

impl Serialize for SecretSource {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            SecretSource::Value(secret) => Spelled::Value(secret.clone()),
            SecretSource::Env(env) => Spelled::Env { env: env.clone() },
            SecretSource::File(file) => Spelled::File { file: file.clone() },
        }
        .serialize(serializer)
    }
}

impl JsonSchema for SecretSource {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SecretSource".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        Spelled::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?} {secret}"), "[redacted] [redacted]");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"[redacted]\"");
        let source: SecretSource = serde_json::from_value(json!("hunter2")).unwrap();
        assert_eq!(format!("{source:?}"), "[redacted]");
        let json = serde_json::to_string(&source).unwrap();
        assert!(json.contains("[redacted]") && !json.contains("hunter2"), "{json}");
    }

    #[test]
    fn sources_are_spelled_three_ways_and_resolved_when_used() {
        let parse = |value| serde_json::from_value::<SecretSource>(value);
        assert!(matches!(parse(json!({"env": "X"})), Ok(SecretSource::Env(name)) if name == "X"));
        assert!(matches!(
            parse(json!({"file": "/run/x"})),
            Ok(SecretSource::File(_))
        ));
        assert!(matches!(parse(json!(12345)), Ok(SecretSource::Value(s)) if s.expose() == "12345"));
        let wrong = parse(json!({"env": "X", "value": "hunter2"}))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(wrong.contains("env") && !wrong.contains("hunter2"), "{wrong}");
        let missing = SecretSource::Env("BOXOFFICE_TEST_SURELY_UNSET_VARIABLE".into()).resolve();
        assert_eq!(
            missing.err().as_deref(),
            Some("the environment variable BOXOFFICE_TEST_SURELY_UNSET_VARIABLE is not set")
        );
        let dir = std::env::temp_dir().join(format!("boxoffice-secret-{}", uuid::Uuid::new_v4().simple()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("key");
        let _ = std::fs::write(&path, " s3cret\n");
        let from_file = SecretSource::File(path).resolve();
        assert_eq!(
            from_file.map(|s| s.expose().to_owned()).ok().as_deref(),
            Some("s3cret")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
