//! [`PostgresConfig`]: one `[[postgres]]` entry of `puff.toml`.

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

    /// Check values that serde cannot (errors start with the key in backticks).
    pub fn validate(&self) -> Result<(), String> {
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(format!(
                "`name`: `{}` must be letters, digits, `_` or `-`",
                self.name
            ));
        }
        if self.pool_size == 0 {
            return Err("`pool_size`: must be at least 1".into());
        }
        if let Some(min) = self.min_idle
            && min > self.pool_size
        {
            return Err(format!(
                "`min_idle`: {min} is larger than pool_size {}",
                self.pool_size
            ));
        }
        self.url.parse::<tokio_postgres::Config>().map_err(|e| {
            format!(
                "`url`: {} is not a valid Postgres URL: {e}",
                redact_url(&self.url)
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

    /// The name of the CLI flag overriding this pool's URL (`--{name}-postgres-url`).
    pub fn cli_flag(&self) -> String {
        format!("{}-postgres-url", self.name.replace('_', "-"))
    }

    /// The environment variable overriding this pool's URL (`PUFF_{NAME}_POSTGRES_URL`).
    pub fn env_var(&self) -> String {
        format!(
            "PUFF_{}_POSTGRES_URL",
            self.name.to_ascii_uppercase().replace('-', "_")
        )
    }
}

/// `url` with any password replaced by `***`, safe to log.
///
/// Handles `scheme://user:password@host/...` URLs and `password=...` in query strings and
/// key/value connection strings. Text that cannot be parsed is returned with everything
/// between `://` and the last `@` hidden.
pub fn redact_url(url: &str) -> String {
    let mut out = match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
            let (authority, tail) = rest.split_at(authority_end);
            match authority.rfind('@') {
                Some(at) => {
                    let userinfo = &authority[..at];
                    let host = &authority[at..];
                    let user = match userinfo.split_once(':') {
                        Some((user, _)) => format!("{user}:***"),
                        None => userinfo.to_owned(),
                    };
                    format!("{scheme}://{user}{host}{tail}")
                }
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    };
    // `password=secret` in a query string or a key/value connection string.
    let lower = out.to_ascii_lowercase();
    if let Some(pos) = lower.find("password=") {
        let start = pos + "password=".len();
        let end = out[start..]
            .find(['&', ' '])
            .map_or(out.len(), |e| start + e);
        out.replace_range(start..end, "***");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://postgres:s3cr%40t@localhost:5432/db"),
            "postgres://postgres:***@localhost:5432/db"
        );
        assert_eq!(
            redact_url("postgresql://u:p@h/db?sslmode=disable&password=x2"),
            "postgresql://u:***@h/db?sslmode=disable&password=***"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            redact_url("host=h user=u password=pw dbname=d"),
            "host=h user=u password=*** dbname=d"
        );
        assert!(!redact_url("postgres://a:b:c@d@host/x").contains("b:c"));
    }

    #[test]
    fn defaults_and_validation() {
        let c: PostgresConfig = toml::from_str("").unwrap();
        assert_eq!(c, PostgresConfig::default());
        assert_eq!(c.url, DEFAULT_URL);
        assert_eq!(c.pool_size, 10);
        assert!(c.validate().is_ok());
        assert!(toml::from_str::<PostgresConfig>("bogus = 1").is_err());
        let c: PostgresConfig = toml::from_str("name = \"x\"\npool_size = 0").unwrap();
        assert!(c.validate().unwrap_err().starts_with("`pool_size`"));
        let c: PostgresConfig = toml::from_str("url = \"nope://\"").unwrap();
        assert!(c.validate().unwrap_err().starts_with("`url`"));
        let c = PostgresConfig::named("read_only");
        assert_eq!(c.cli_flag(), "read-only-postgres-url");
        assert_eq!(c.env_var(), "PUFF_READ_ONLY_POSTGRES_URL");
    }
}
