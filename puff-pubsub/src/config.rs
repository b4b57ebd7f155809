//! [`PubSubConfig`]: one `[[pubsub]]` entry of `puff.toml`, and how its backend is chosen.

use puff_greenlet::ConfigError;
use puff_greenlet::instance::{self, NamedInstance};
use puff_redis::RedisConfig;
use serde::Deserialize;

pub use puff_redis::config::MEMORY_URL;

/// One named pub/sub instance (`[[pubsub]]` entry).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PubSubConfig {
    /// Instance name; Python uses it in `puff.pubsub.named_client(name)`.
    #[serde(default = "default_name")]
    pub name: String,
    /// A Redis URL, or `memory://` for the in-process backend.
    #[serde(default)]
    pub url: Option<String>,
    /// Use the URL of this `[[redis]]` pool.
    #[serde(default)]
    pub redis: Option<String>,
    /// Accepted for compatibility with older configs; `false` drops the entry.
    #[serde(default = "default_true")]
    pub enable: bool,
    /// Connection settings for the Redis backend.
    #[serde(default)]
    pub connect_timeout_ms: Option<u64>,
}

fn default_name() -> String {
    "default".into()
}
fn default_true() -> bool {
    true
}

/// Where an instance's messages go.
#[derive(Clone, Debug, PartialEq)]
pub enum Backend {
    /// Fan-out inside this process only.
    Memory,
    /// Through a Redis server, shared by every process connected to it.
    Redis(RedisConfig),
}

impl PubSubConfig {
    /// An instance named `name` with default settings.
    pub fn named(name: impl Into<String>) -> Self {
        PubSubConfig {
            name: name.into(),
            enable: true,
            ..Self::default()
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        instance::validate_name(&self.name)?;
        puff_redis::config::check_service_keys(self.url.as_deref(), self.redis.as_deref())?;
        Ok(())
    }

    /// The backend, from the first of: `PUFF_{NAME}_PUBSUB_URL` (or `--{name}-pubsub-url`),
    /// `url`, the `redis` pool named here, the `default` Redis pool; else in-process.
    /// `redis_pools` are the effective `[[redis]]` configs (their overrides applied).
    pub fn backend(&self, redis_pools: &[RedisConfig]) -> Result<Backend, ConfigError> {
        let pool = puff_redis::config::ServicePool {
            url: self.url_override().or_else(|| self.url.clone()),
            redis: self.redis.as_deref(),
            name: format!("pubsub-{}", self.name),
            pool_size: 2,
            connect_timeout_ms: self.connect_timeout_ms,
        };
        Ok(pool
            .resolve(redis_pools)?
            .map_or(Backend::Memory, Backend::Redis))
    }
}

impl NamedInstance for PubSubConfig {
    const KIND: &'static str = "pubsub";

    fn instance_name(&self) -> &str {
        &self.name
    }

    fn enabled(&self) -> bool {
        self.enable
    }

    fn validate(&self) -> Result<(), ConfigError> {
        PubSubConfig::validate(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_resolution() {
        let c: PubSubConfig = toml::from_str("").unwrap();
        assert_eq!(c.name, "default");
        assert!(c.validate().is_ok());
        assert_eq!(c.backend(&[]).unwrap(), Backend::Memory);
        let default_redis = RedisConfig::named("default").with_url("redis://h:1");
        match c.backend(std::slice::from_ref(&default_redis)).unwrap() {
            Backend::Redis(r) => assert_eq!(r.url, "redis://h:1"),
            other => panic!("{other:?}"),
        }
        let c: PubSubConfig = toml::from_str("url = \"memory://\"").unwrap();
        assert_eq!(
            c.backend(std::slice::from_ref(&default_redis)).unwrap(),
            Backend::Memory
        );
        let c: PubSubConfig = toml::from_str("name = \"x\"\nredis = \"cache\"").unwrap();
        assert!(
            c.backend(&[default_redis])
                .unwrap_err()
                .to_string()
                .contains("cache")
        );
        let c: PubSubConfig = toml::from_str("url = \"redis://a\"\nredis = \"b\"").unwrap();
        assert!(c.validate().is_err());
        assert!(toml::from_str::<PubSubConfig>("urll = 1").is_err());
        assert_eq!(
            PubSubConfig::named("other-ps").env_var(),
            "PUFF_OTHER_PS_PUBSUB_URL"
        );
    }
}
