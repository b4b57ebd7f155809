//! The `pubsub` subsystem: `[[pubsub]]` entries (or an implicit `default`) -> started
//! [`PubSubClient`]s in the registry, plus the `puff._native.pubsub` module and the
//! builder methods ([`PubSubSettings`]).

use std::path::Path;
use std::sync::Arc;

use puff_greenlet::instance::{NamedInstance, replace_instance, set_default_instance};
use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::{
    ConfigError, PuffError, PuffResult, Resources, StartContext, Subsystem, Subsystems, UrlFlag,
    parse_instances,
};
use puff_redis::RedisSubsystem;

use crate::client::PubSubClient;
use crate::config::{Backend, PubSubConfig};

/// Owns the pub/sub instances. An instance may borrow the URL of a `[[redis]]` pool, as
/// the redis subsystem started it.
#[derive(Clone, Default)]
pub struct PubSubSubsystem {
    pub instances: Vec<PubSubConfig>,
}

impl PubSubSubsystem {
    /// Top-level `puff.toml` keys this subsystem reads.
    pub const KEYS: &'static [&'static str] = &["pubsub"];

    /// Parse the value of the `pubsub` key: `[[pubsub]]` tables, one table, or `true`.
    pub fn parse(value: &toml::Value) -> Result<Vec<PubSubConfig>, ConfigError> {
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

    fn configure(&mut self, table: &toml::Table, _base: &Path) -> Result<(), ConfigError> {
        if let Some(value) = table.get("pubsub") {
            self.instances = Self::parse(value)?;
        }
        Ok(())
    }

    fn url_flags(&self) -> Vec<UrlFlag> {
        Self::instances_with_default(&self.instances)
            .iter()
            .map(|c| UrlFlag::for_instance(&c.name, PubSubConfig::KIND, "pub/sub instance"))
            .collect()
    }

    fn start(&self, ctx: &StartContext<'_>) -> PuffResult<()> {
        let redis = RedisSubsystem::started_configs(ctx.resources);
        for config in Self::instances_with_default(&self.instances) {
            let backend = config
                .backend(&redis)
                .map_err(|m| PuffError::Config(format!("[[pubsub]] `{}`: {m}", config.name)))?;
            let client = PubSubClient::start(config.name.clone(), &backend, ctx.tokio)
                .map_err(|e| PuffError::Config(format!("[[pubsub]] `{}`: {e}", config.name)))?;
            match &backend {
                Backend::Memory => {
                    tracing::debug!("pubsub `{}`: in-process backend", config.name);
                    // The implicit `default` instance stays quiet until it is used.
                    if let (true, Err(refusal)) = (
                        self.instances.iter().any(|c| c.name == config.name),
                        client.check_shared(),
                    ) {
                        tracing::warn!("every use will raise: {refusal}");
                    }
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

/// `RuntimeConfig` builder methods for the pub/sub instances (in `puff_core::prelude`); no
/// effect in a build without the pubsub subsystem.
pub trait PubSubSettings: Subsystems + Sized {
    /// Declare (or remove) the `default` pub/sub instance. It exists either way: on the
    /// `default` Redis pool when one is configured, else in process.
    fn set_pubsub(self, on: bool) -> Self {
        self.with_subsystem(|pubsub: &mut PubSubSubsystem| {
            set_default_instance(
                &mut pubsub.instances,
                on.then(|| PubSubConfig::named("default")),
            );
        })
    }

    /// Add (or replace) a named pub/sub instance.
    fn add_pubsub(self, config: PubSubConfig) -> Self {
        self.with_subsystem(|pubsub: &mut PubSubSubsystem| {
            replace_instance(&mut pubsub.instances, config);
        })
    }

    /// The configured pub/sub instances (without the implicit `default`).
    fn pubsub_configs(&self) -> &[PubSubConfig] {
        self.subsystem::<PubSubSubsystem>()
            .map_or(&[], |pubsub| &pubsub.instances)
    }
}

impl<T: Subsystems> PubSubSettings for T {}
