//! The `postgres` subsystem: `[[postgres]]` entries -> named pools in the registry, plus
//! the `puff._native.postgres` module.

use std::sync::Arc;

use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::{
    PuffError, PuffResult, Resources, StartContext, Subsystem, deserialize_section,
};

use crate::config::PostgresConfig;
use crate::pool::PostgresPool;

/// Owns the pools; one per configured name.
#[derive(Default)]
pub struct PostgresSubsystem {
    pub pools: Vec<PostgresConfig>,
}

impl PostgresSubsystem {
    /// Top-level `puff.toml` keys this subsystem reads.
    pub const KEYS: &'static [&'static str] = &["postgres"];

    /// Parse the value of the `postgres` key: an array of tables (`[[postgres]]`), a single
    /// table, or `true` (one `default` pool with default settings).
    pub fn parse(value: &toml::Value) -> Result<Vec<PostgresConfig>, String> {
        let entries: Vec<toml::Table> = match value {
            toml::Value::Boolean(true) => return Ok(vec![PostgresConfig::default()]),
            toml::Value::Boolean(false) => return Ok(Vec::new()),
            toml::Value::Table(t) => vec![t.clone()],
            toml::Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_table()
                        .cloned()
                        .ok_or_else(|| format!("`postgres[{i}]`: expected a table"))
                })
                .collect::<Result<_, _>>()?,
            other => {
                return Err(format!(
                    "`postgres`: expected [[postgres]] tables, got {}",
                    other.type_str()
                ));
            }
        };
        let mut configs: Vec<PostgresConfig> = Vec::new();
        for (i, table) in entries.iter().enumerate() {
            let config: PostgresConfig =
                deserialize_section(table).map_err(|m| format!("`postgres[{i}]`: {}", m))?;
            config
                .validate()
                .map_err(|m| format!("`postgres[{i}]`: {m}"))?;
            if configs.iter().any(|c| c.name == config.name) {
                return Err(format!(
                    "`postgres[{i}]`: a pool named `{}` is configured twice",
                    config.name
                ));
            }
            if config.enable {
                configs.push(config);
            }
        }
        Ok(configs)
    }
}

impl Subsystem for PostgresSubsystem {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn config_keys(&self) -> &'static [&'static str] {
        Self::KEYS
    }

    fn configure(&mut self, table: &toml::Table) -> Result<(), String> {
        if let Some(value) = table.get("postgres") {
            self.pools = Self::parse(value)?;
        }
        Ok(())
    }

    fn start(&self, ctx: &StartContext<'_>) -> PuffResult<()> {
        let _entered = ctx.tokio.enter();
        for config in &self.pools {
            let mut config = config.clone();
            if let Ok(url) = std::env::var(config.env_var())
                && !url.is_empty()
            {
                config.url = url;
            }
            let pool = Arc::new(
                PostgresPool::new(config.clone()).map_err(|e| PuffError::Config(e.to_string()))?,
            );
            tracing::debug!(
                "Postgres pool `{}` -> {} (pool_size {})",
                config.name,
                pool.redacted_url(),
                config.pool_size
            );
            pool.check_in_background(ctx.tokio);
            ctx.resources.insert(config.name.clone(), pool);
        }
        Ok(())
    }

    fn python_module(&self, py: Python<'_>, native: &Bound<'_, PyModule>) -> PyResult<()> {
        crate::python::add_module(py, native)
    }

    fn shutdown(&self, _resources: &Resources) {}
}
