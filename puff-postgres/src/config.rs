//! [`PostgresConfig`]: one `[[postgres]]` entry of `puff.toml`.

use puff_greenlet::instance::{self, NamedInstance};
use puff_greenlet::{ConfigError, redact_url};
use serde::Deserialize;

/// The URL used when an entry gives none.
pub const DEFAULT_URL: &str = "postgres://postgres:password@localhost:5432/postgres";

/// One named pool (`[[postgres]]` entry).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    /// Pool name; Python uses it in `puff.postgres.connect(name)`.
    #[serde(default = "default_name")]
    pub name: String,
    /// `postgres://user:password@host:port/db?options` (the password is never logged).
    #[serde(default = "default_url")]
    pub url: String,
    /// Accepted for compatibility with older configs; an entry is always enabled.
    #[serde(default = "default_true")]
    pub enable: bool,
    /// Most connections open at once.
    #[serde(default = "default_pool_size")]
    pub pool_size: u32,
    /// Idle connections kept open (at most `pool_size`).
    #[serde(default)]
    pub min_idle: Option<u32>,
    /// How long a caller waits for a free connection before an error (default 30 s).
    #[serde(default)]
    pub acquire_timeout_ms: Option<u64>,
    /// Server-side `statement_timeout` for every connection (default: none).
    #[serde(default)]
    pub statement_timeout_ms: Option<u64>,
}

fn default_name() -> String {
    "default".into()
}
fn default_url() -> String {
    DEFAULT_URL.into()
}
fn default_true() -> bool {
    true
}
fn default_pool_size() -> u32 {
    10
}

impl Default for PostgresConfig {
    fn default() -> Self {
        PostgresConfig {
            name: default_name(),
            url: default_url(),
            enable: true,
            pool_size: default_pool_size(),
            min_idle: None,
            acquire_timeout_ms: None,
            statement_timeout_ms: None,
        }
    }
}

impl PostgresConfig {
    /// Default acquire timeout.
    pub const DEFAULT_ACQUIRE_TIMEOUT_MS: u64 = 30_000;

    /// A pool named `name` with default settings.
    pub fn named(name: impl Into<String>) -> Self {
        PostgresConfig {
            name: name.into(),
            ..Self::default()
        }
    }

    /// Check values that serde cannot (errors name the key).
    pub fn validate(&self) -> Result<(), ConfigError> {
        instance::validate_name(&self.name)?;
        if self.pool_size == 0 {
            return Err(ConfigError::new("pool_size", "must be at least 1"));
        }
        if let Some(min) = self.min_idle
            && min > self.pool_size
        {
            return Err(ConfigError::new(
                "min_idle",
                format!("{min} is larger than pool_size {}", self.pool_size),
            ));
        }
        self.url.parse::<tokio_postgres::Config>().map_err(|e| {
            ConfigError::new(
                "url",
                format!("{} is not a valid Postgres URL: {e}", redact_url(&self.url)),
            )
        })?;
        Ok(())
    }

    /// The acquire timeout as a duration.
    pub fn acquire_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(
            self.acquire_timeout_ms
                .unwrap_or(Self::DEFAULT_ACQUIRE_TIMEOUT_MS),
        )
    }
}

impl NamedInstance for PostgresConfig {
    const KIND: &'static str = "postgres";

    fn instance_name(&self) -> &str {
        &self.name
    }

    fn enabled(&self) -> bool {
        self.enable
    }

    fn validate(&self) -> Result<(), ConfigError> {
        PostgresConfig::validate(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_validation() {
        let c: PostgresConfig = toml::from_str("").unwrap();
        assert_eq!(c, PostgresConfig::default());
        assert_eq!(c.url, DEFAULT_URL);
        assert_eq!(c.pool_size, 10);
        assert!(c.validate().is_ok());
        assert!(toml::from_str::<PostgresConfig>("bogus = 1").is_err());
        let c: PostgresConfig = toml::from_str("name = \"x\"\npool_size = 0").unwrap();
        assert_eq!(c.validate().unwrap_err().key.as_deref(), Some("pool_size"));
        let c: PostgresConfig = toml::from_str("url = \"nope://\"").unwrap();
        assert!(c.validate().unwrap_err().to_string().starts_with("`url`"));
        let c = PostgresConfig::named("read_only");
        assert_eq!(c.cli_flag(), "read-only-postgres-url");
        assert_eq!(c.env_var(), "PUFF_READ_ONLY_POSTGRES_URL");
    }
}
