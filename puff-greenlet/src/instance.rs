//! Named service instances (`[[postgres]]`, `[[redis]]`, `[[pubsub]]`, ...): the shared
//! rules for parsing their `puff.toml` sections, naming their URL override flag and
//! environment variable, and keeping passwords in their URLs out of logs.

use serde::de::DeserializeOwned;

use crate::config::{ConfigError, deserialize_keys};

/// One entry of a named-instance section.
pub trait NamedInstance: DeserializeOwned + Default {
    /// The service kind, as in `[[postgres]]` and `--{name}-postgres-url`.
    const KIND: &'static str;

    /// The instance name (`default`, `readonly`, ...).
    fn instance_name(&self) -> &str;

    /// `enable = false` entries are parsed and checked, then dropped.
    fn enabled(&self) -> bool {
        true
    }

    /// Check values that serde cannot; errors name the key inside the entry.
    fn validate(&self) -> Result<(), ConfigError>;

    /// The CLI flag overriding this instance's URL (`--{name}-{kind}-url`).
    fn cli_flag(&self) -> String {
        url_flag(self.instance_name(), Self::KIND)
    }

    /// The environment variable overriding this instance's URL (`PUFF_{NAME}_{KIND}_URL`).
    fn env_var(&self) -> String {
        url_env_var(self.instance_name(), Self::KIND)
    }

    /// The URL override from the environment (set directly or by the CLI flag), if any.
    fn url_override(&self) -> Option<String> {
        url_override(self.instance_name(), Self::KIND)
    }
}

/// Usage of a connection pool, as `pool_status()` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStatus {
    pub max_open: u64,
    pub connections: u64,
    pub in_use: u64,
    pub idle: u64,
}

impl PoolStatus {
    /// `{"max_open", "connections", "in_use", "idle"}` for Python.
    pub fn to_dict<'py>(
        &self,
        py: pyo3::Python<'py>,
    ) -> pyo3::PyResult<pyo3::Bound<'py, pyo3::types::PyDict>> {
        use pyo3::types::PyDictMethods;
        let d = pyo3::types::PyDict::new(py);
        d.set_item("max_open", self.max_open)?;
        d.set_item("connections", self.connections)?;
        d.set_item("in_use", self.in_use)?;
        d.set_item("idle", self.idle)?;
        Ok(d)
    }
}

/// Parse the value of a named-instance key: an array of tables (`[[key]]`), a single table,
/// or `true` (one `default` instance with default settings) / `false` (none). Errors name
/// the entry (`postgres[0]`).
pub fn parse_instances<T: NamedInstance>(
    key: &str,
    value: &toml::Value,
) -> Result<Vec<T>, ConfigError> {
    let entries: Vec<toml::Table> = match value {
        toml::Value::Boolean(true) => return Ok(vec![T::default()]),
        toml::Value::Boolean(false) => return Ok(Vec::new()),
        toml::Value::Table(t) => vec![t.clone()],
        toml::Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_table()
                    .cloned()
                    .ok_or_else(|| ConfigError::new(format!("{key}[{i}]"), "expected a table"))
            })
            .collect::<Result<_, _>>()?,
        other => {
            return Err(ConfigError::new(
                key,
                format!("expected [[{key}]] tables, got {}", other.type_str()),
            ));
        }
    };
    let mut configs: Vec<T> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for (i, table) in entries.iter().enumerate() {
        let entry = format!("{key}[{i}]");
        let config: T = deserialize_keys(table).map_err(|e| e.inside(entry.as_str()))?;
        validate_name(config.instance_name()).map_err(|e| e.inside(entry.as_str()))?;
        config.validate().map_err(|e| e.inside(entry.as_str()))?;
        let name = config.instance_name().to_owned();
        if names.contains(&name) {
            return Err(ConfigError::new(
                entry,
                format!("an instance named `{name}` is configured twice"),
            ));
        }
        names.push(name);
        if config.enabled() {
            configs.push(config);
        }
    }
    Ok(configs)
}

/// `configs` plus a `default` instance (built by `default`) in front when none is named
/// so: for services that always have one (pub/sub, task queues).
pub fn with_default<T: NamedInstance + Clone>(
    configs: &[T],
    default: impl FnOnce() -> T,
) -> Vec<T> {
    let mut all = configs.to_vec();
    if !all.iter().any(|c| c.instance_name() == "default") {
        all.insert(0, default());
    }
    all
}

/// Add `config` to `configs`, replacing the instance of the same name (builder methods).
pub fn replace_instance<T: NamedInstance>(configs: &mut Vec<T>, config: T) {
    configs.retain(|c| c.instance_name() != config.instance_name());
    configs.push(config);
}

/// Replace the `default` instance by `default`, or remove it when `None` (builder methods).
pub fn set_default_instance<T: NamedInstance>(configs: &mut Vec<T>, default: Option<T>) {
    configs.retain(|c| c.instance_name() != "default");
    configs.extend(default);
}

/// Instance names become CLI flags and environment variables: letters, digits, `_`, `-`.
pub fn validate_name(name: &str) -> Result<(), ConfigError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(ConfigError::new(
            "name",
            format!("`{name}` must be letters, digits, `_` or `-`"),
        ));
    }
    Ok(())
}

/// The global flag overriding an instance's URL: `--{name}-{kind}-url` (`_` written as
/// `-`, so `task_queue` gives `--default-task-queue-url`).
pub fn url_flag(name: &str, kind: &str) -> String {
    format!("{}-{}-url", name.replace('_', "-"), kind.replace('_', "-"))
}

/// The environment variable overriding an instance's URL: `PUFF_{NAME}_{KIND}_URL`.
pub fn url_env_var(name: &str, kind: &str) -> String {
    format!(
        "PUFF_{}_{}_URL",
        name.to_ascii_uppercase().replace('-', "_"),
        kind.to_ascii_uppercase()
    )
}

/// The URL override from the environment (set directly or by the CLI flag), if any.
pub fn url_override(name: &str, kind: &str) -> Option<String> {
    std::env::var(url_env_var(name, kind))
        .ok()
        .filter(|url| !url.is_empty())
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
        assert_eq!(redact_url("redis://:pw@h:6379/0"), "redis://:***@h:6379/0");
        assert_eq!(
            redact_url("host=h user=u password=pw dbname=d"),
            "host=h user=u password=*** dbname=d"
        );
        assert!(!redact_url("postgres://a:b:c@d@host/x").contains("b:c"));
    }

    #[test]
    fn flag_and_env_names() {
        assert_eq!(url_flag("read_only", "postgres"), "read-only-postgres-url");
        assert_eq!(url_flag("default", "task_queue"), "default-task-queue-url");
        assert_eq!(
            url_env_var("default", "task_queue"),
            "PUFF_DEFAULT_TASK_QUEUE_URL"
        );
        assert_eq!(
            url_env_var("read-only", "redis"),
            "PUFF_READ_ONLY_REDIS_URL"
        );
        assert!(validate_name("a b").is_err());
        assert!(validate_name("ok_1-x").is_ok());
    }
}
