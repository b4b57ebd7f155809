//! The `pubsub` subsystem: `[[pubsub]]` entries (or an implicit `default`) -> started
//! [`PubSubClient`]s in the registry, plus the `puff._native.pubsub` module.

use std::sync::Arc;

use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::{PuffError, PuffResult, Resources, StartContext, Subsystem, parse_instances};
use puff_redis::{RedisConfig, RedisSubsystem};

use crate::client::PubSubClient;
use crate::config::{Backend, PubSubConfig};

/// Owns the pub/sub instances. `redis` are the `[[redis]]` pools, whose URLs an instance
/// may borrow.
#[derive(Default)]
pub struct PubSubSubsystem {
    pub instances: Vec<PubSubConfig>,
    pub redis: Vec<RedisConfig>,
}

impl PubSubSubsystem {
    /// Top-level `puff.toml` keys this subsystem reads.
    pub const KEYS: &'static [&'static str] = &["pubsub"];

    /// Parse the value of the `pubsub` key: `[[pubsub]]` tables, one table, or `true`.
    pub fn parse(value: &toml::Value) -> Result<Vec<PubSubConfig>, String> {
        parse_instances("pubsub", value)
    }

    /// The configured instances, plus `default` when none is named so.
    pub fn instances_with_default(instances: &[PubSubConfig]) -> Vec<PubSubConfig> {
        puff_greenlet::instance::with_default(instances, || PubSubConfig::named("default"))
    }
}

impl Subsystem for PubSubSubsystem {
    fn name(&self) -> &'static str {
        "pubsub"
    }

    fn config_keys(&self) -> &'static [&'static str] {
        Self::KEYS
    }

    fn configure(&mut self, table: &toml::Table) -> Result<(), String> {
        if let Some(value) = table.get("pubsub") {
            self.instances = Self::parse(value)?;
        }
        Ok(())
    }

    fn start(&self, ctx: &StartContext<'_>) -> PuffResult<()> {
        let redis = RedisSubsystem::effective_configs(&self.redis);
        for config in Self::instances_with_default(&self.instances) {
            let backend = config
                .backend(&redis)
                .map_err(|m| PuffError::Config(format!("[[pubsub]] `{}`: {m}", config.name)))?;
            let client = PubSubClient::start(config.name.clone(), &backend, ctx.tokio)
                .map_err(|e| PuffError::Config(format!("[[pubsub]] `{}`: {e}", config.name)))?;
            match &backend {
                Backend::Memory => {
                    tracing::debug!("pubsub `{}`: in-process backend", config.name)
                }
                Backend::Redis(_) => tracing::debug!(
                    "pubsub `{}`: Redis at {}",
                    config.name,
                    client.redacted_url().unwrap_or_default()
                ),
            }
            ctx.resources.insert(config.name.clone(), Arc::new(client));
        }
        Ok(())
    }

    fn python_module(&self, py: Python<'_>, native: &Bound<'_, PyModule>) -> PyResult<()> {
        crate::python::add_module(py, native)
    }

    fn shutdown(&self, resources: &Resources) {
        for name in resources.names::<PubSubClient>() {
            if let Some(client) = resources.get::<PubSubClient>(&name) {
                client.stop();
            }
        }
    }
}
