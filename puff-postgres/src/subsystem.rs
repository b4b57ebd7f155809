//! The `postgres` subsystem: `[[postgres]]` entries -> named pools in the registry, plus
//! the `puff._native.postgres` module.

use std::sync::Arc;

use puff_greenlet::instance::NamedInstance;
use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::{PuffError, PuffResult, Resources, StartContext, Subsystem, parse_instances};

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
        parse_instances("postgres", value)
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
            if let Some(url) = config.url_override() {
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
