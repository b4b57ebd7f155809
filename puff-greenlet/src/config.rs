//! Parsing a subsystem's `puff.toml` section: [`ConfigError`] (the key and what is wrong)
//! and the helpers that deserialize a section naming the offending key. A leaf module:
//! `subsystem` and `instance` both build on it.

use serde::de::DeserializeOwned;

/// A bad value in a subsystem's `puff.toml` section: the key (`bind`, `postgres[0]`,
/// `cors.allow_origins`, ...) when known, and what is wrong. The caller adds the file name.
///
/// Displayed as ``"`key`: message"`` (or the message alone), the form runtime errors use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", display_keyed(.key.as_deref(), .message))]
pub struct ConfigError {
    pub key: Option<String>,
    pub message: String,
}

fn display_keyed(key: Option<&str>, message: &str) -> String {
    match key {
        Some(key) => format!("`{key}`: {message}"),
        None => message.to_owned(),
    }
}

impl ConfigError {
    /// An error about `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            key: Some(key.into()),
            message: message.into(),
        }
    }

    /// An error no single key can be blamed for.
    pub fn unkeyed(message: impl Into<String>) -> Self {
        ConfigError {
            key: None,
            message: message.into(),
        }
    }

    /// This error (about a key inside `key`) as an error about `key`: the inner key stays
    /// in the message (`postgres[0]` with ``"`pool_sise`: unknown field ..."``).
    pub fn inside(self, key: impl Into<String>) -> Self {
        ConfigError::new(key, self.to_string())
    }
}

/// Deserialize a subsystem's keys into `T`, naming the offending key on error.
///
/// serde errors from an in-memory TOML value lose the key (`invalid type: integer`), so on
/// failure each key is tried alone to find which one is wrong.
pub fn deserialize_keys<T: DeserializeOwned>(table: &toml::Table) -> Result<T, ConfigError> {
    match T::deserialize(toml::Value::Table(table.clone())) {
        Ok(v) => Ok(v),
        Err(whole) => {
            for (key, value) in table {
                let mut single = toml::Table::new();
                single.insert(key.clone(), value.clone());
                if let Err(e) = T::deserialize(toml::Value::Table(single)) {
                    let msg = e.to_string();
                    if !msg.contains("missing field") {
                        return Err(ConfigError::new(key.clone(), msg.trim()));
                    }
                }
            }
            Err(ConfigError::unkeyed(whole.to_string().trim()))
        }
    }
}
