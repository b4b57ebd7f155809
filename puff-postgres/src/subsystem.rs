//! The `postgres` subsystem: `[[postgres]]` entries -> named pools in the registry, plus
//! the `puff._native.postgres` module, and the builder methods ([`PostgresSettings`]).

use std::path::Path;
use std::sync::Arc;

use puff_greenlet::instance::{NamedInstance, replace_instance, set_default_instance};
use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::{
    ConfigError, PuffError, PuffResult, Resources, StartContext, Subsystem, Subsystems, UrlFlag,
    parse_instances,
};

use crate::config::PostgresConfig;
use crate::pool::PostgresPool;

/// Owns the pools; one per configured name.
#[derive(Clone, Default)]
pub struct PostgresSubsystem {
    pub pools: Vec<PostgresConfig>,
}

impl PostgresSubsystem {
    /// Top-level `puff.toml` keys this subsystem reads.
    pub const KEYS: &'static [&'static str] = &["postgres"];

    /// Parse the value of the `postgres` key: an array of tables (`[[postgres]]`), a single
    /// table, or `true` (one `default` pool with default settings).
    pub fn parse(value: &toml::Value) -> Result<Vec<PostgresConfig>, ConfigError> {
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

    fn configure(&mut self, table: &toml::Table, _base: &Path) -> Result<(), ConfigError> {
        if let Some(value) = table.get("postgres") {
            self.pools = Self::parse(value)?;
        }
        Ok(())
    }

    fn url_flags(&self) -> Vec<UrlFlag> {
        self.pools
            .iter()
            .map(|c| UrlFlag::for_instance(&c.name, PostgresConfig::KIND, "Postgres pool"))
            .collect()
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
            let sampled = pool.clone();
            puff_greenlet::metrics::pool::sample(
                ctx.tokio,
                "postgres",
                config.name.clone(),
                move || {
                    let pool = sampled.clone();
                    async move { pool.status().await }
                },
            );
            ctx.resources.insert(config.name.clone(), pool);
        }
        Ok(())
    }

    fn python_module(&self, py: Python<'_>, native: &Bound<'_, PyModule>) -> PyResult<()> {
        crate::python::add_module(py, native)?;
        crate::streams::add_functions(py)
    }

    fn shutdown(&self, _resources: &Resources) {}
}

/// `RuntimeConfig` builder methods for the Postgres pools (in `puff_core::prelude`); no
/// effect in a build without the postgres subsystem.
pub trait PostgresSettings: Subsystems + Sized {
    /// Enable (or remove) the `default` Postgres pool with default settings; its URL comes
    /// from `PUFF_DEFAULT_POSTGRES_URL` / `--default-postgres-url` when set.
    fn set_postgres(self, on: bool) -> Self {
        self.with_subsystem(|postgres: &mut PostgresSubsystem| {
            set_default_instance(
                &mut postgres.pools,
                on.then(|| PostgresConfig::named("default")),
            );
        })
    }

    /// Add (or replace) a named Postgres pool.
    fn add_postgres(self, config: PostgresConfig) -> Self {
        self.with_subsystem(|postgres: &mut PostgresSubsystem| {
            replace_instance(&mut postgres.pools, config);
        })
    }

    /// The configured Postgres pools.
    fn postgres_configs(&self) -> &[PostgresConfig] {
        self.subsystem::<PostgresSubsystem>()
            .map_or(&[], |postgres| &postgres.pools)
    }
}

impl<T: Subsystems> PostgresSettings for T {}
