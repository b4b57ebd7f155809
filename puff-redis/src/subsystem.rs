//! The `redis` subsystem: `[[redis]]` entries -> named pools in the registry, plus the
//! `puff._native.redis` module, and the builder methods ([`RedisSettings`]).

use std::path::Path;
use std::sync::Arc;

use puff_greenlet::instance::{NamedInstance, replace_instance, set_default_instance};
use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::{
    ConfigError, PuffError, PuffResult, Resources, StartContext, Subsystem, Subsystems, UrlFlag,
    parse_instances,
};

use crate::config::RedisConfig;
use crate::pool::RedisPool;

/// Owns the pools; one per configured name.
#[derive(Clone, Default)]
pub struct RedisSubsystem {
    pub pools: Vec<RedisConfig>,
}

impl RedisSubsystem {
    /// Top-level `puff.toml` keys this subsystem reads.
    pub const KEYS: &'static [&'static str] = &["redis"];

    /// Parse the value of the `redis` key: `[[redis]]` tables, one table, or `true`.
    pub fn parse(value: &toml::Value) -> Result<Vec<RedisConfig>, ConfigError> {
        parse_instances("redis", value)
    }

    /// The effective configs of the pools this subsystem registered at start-up (URL
    /// overrides applied), for services that borrow a pool's URL (pub/sub, task queues).
    pub fn started_configs(resources: &Resources) -> Vec<RedisConfig> {
        resources
            .names::<RedisPool>()
            .iter()
            .filter_map(|name| resources.get::<RedisPool>(name))
            .map(|pool| pool.config().clone())
            .collect()
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

    fn configure(&mut self, table: &toml::Table, _base: &Path) -> Result<(), ConfigError> {
        if let Some(value) = table.get("redis") {
            self.pools = Self::parse(value)?;
        }
        Ok(())
    }

    fn url_flags(&self) -> Vec<UrlFlag> {
        self.pools
            .iter()
            .map(|c| UrlFlag::for_instance(&c.name, RedisConfig::KIND, "Redis pool"))
            .collect()
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
            let sampled = pool.clone();
            puff_greenlet::metrics::pool::sample(
                ctx.tokio,
                "redis",
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
        crate::python::add_module(py, native)
    }
}

/// `RuntimeConfig` builder methods for the Redis pools (in `puff_core::prelude`); no
/// effect in a build without the redis subsystem.
pub trait RedisSettings: Subsystems + Sized {
    /// Enable (or remove) the `default` Redis pool with default settings; its URL comes
    /// from `PUFF_DEFAULT_REDIS_URL` / `--default-redis-url` when set.
    fn set_redis(self, on: bool) -> Self {
        self.with_subsystem(|redis: &mut RedisSubsystem| {
            set_default_instance(&mut redis.pools, on.then(|| RedisConfig::named("default")));
        })
    }

    /// Add (or replace) a named Redis pool.
    fn add_redis(self, config: RedisConfig) -> Self {
        self.with_subsystem(|redis: &mut RedisSubsystem| {
            replace_instance(&mut redis.pools, config);
        })
    }

    /// The configured Redis pools.
    fn redis_configs(&self) -> &[RedisConfig] {
        self.subsystem::<RedisSubsystem>()
            .map_or(&[], |redis| &redis.pools)
    }
}

impl<T: Subsystems> RedisSettings for T {}
