//! The `redis` subsystem: `[[redis]]` entries -> named pools in the registry, plus the
//! `puff._native.redis` module.

use std::sync::Arc;

use puff_greenlet::instance::NamedInstance;
use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::{PuffError, PuffResult, StartContext, Subsystem, parse_instances};

use crate::config::RedisConfig;
use crate::pool::RedisPool;

/// Owns the pools; one per configured name.
#[derive(Default)]
pub struct RedisSubsystem {
    pub pools: Vec<RedisConfig>,
}

impl RedisSubsystem {
    /// Top-level `puff.toml` keys this subsystem reads.
    pub const KEYS: &'static [&'static str] = &["redis"];

    /// Parse the value of the `redis` key: `[[redis]]` tables, one table, or `true`.
    pub fn parse(value: &toml::Value) -> Result<Vec<RedisConfig>, String> {
        parse_instances("redis", value)
    }

    /// The configs with URL overrides from the environment (or the CLI flags) applied.
    pub fn effective_configs(configs: &[RedisConfig]) -> Vec<RedisConfig> {
        configs
            .iter()
            .map(|c| match c.url_override() {
                Some(url) => c.clone().with_url(url),
                None => c.clone(),
            })
            .collect()
    }
}

impl Subsystem for RedisSubsystem {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn config_keys(&self) -> &'static [&'static str] {
        Self::KEYS
    }

    fn configure(&mut self, table: &toml::Table) -> Result<(), String> {
        if let Some(value) = table.get("redis") {
            self.pools = Self::parse(value)?;
        }
        Ok(())
    }

    fn start(&self, ctx: &StartContext<'_>) -> PuffResult<()> {
        let _entered = ctx.tokio.enter();
        for config in Self::effective_configs(&self.pools) {
            let pool = Arc::new(
                RedisPool::new(config.clone())
                    .map_err(|e| PuffError::Config(format!("[[redis]] `{}`: {e}", config.name)))?,
            );
            tracing::debug!(
                "Redis pool `{}` -> {} (pool_size {})",
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
}
