//! [`RedisConfig`]: one `[[redis]]` entry of `puff.toml`.

use std::time::Duration;

use puff_greenlet::instance::{self, NamedInstance};
use puff_greenlet::{ConfigError, redact_url};
use serde::Deserialize;

/// The URL used when an entry gives none.
pub const DEFAULT_URL: &str = "redis://localhost:6379";

/// One named pool (`[[redis]]` entry).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// Pool name; Python uses it in `puff.redis.named_client(name)`.
    #[serde(default = "default_name")]
    pub name: String,
    /// `redis://[:password@]host:port[/db]` or `unix:///path` (the password is never logged).
    #[serde(default = "default_url")]
    pub url: String,
    /// Accepted for compatibility with older configs; `false` drops the entry.
    #[serde(default = "default_true")]
    pub enable: bool,
    /// Most connections open at once. Each is multiplexed, so a few go a long way.
    #[serde(default = "default_pool_size")]
    pub pool_size: u32,
    /// How long a caller waits for a free connection before an error.
    #[serde(default = "default_acquire_timeout_ms")]
    pub acquire_timeout_ms: u64,
    /// How long opening a connection may take.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Longest wait for a reply (default: none, so blocking commands like BLPOP work).
    #[serde(default)]
    pub command_timeout_ms: Option<u64>,
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
fn default_acquire_timeout_ms() -> u64 {
    5_000
}
fn default_connect_timeout_ms() -> u64 {
    5_000
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            name: default_name(),
            url: default_url(),
            enable: true,
            pool_size: default_pool_size(),
            acquire_timeout_ms: default_acquire_timeout_ms(),
            connect_timeout_ms: default_connect_timeout_ms(),
            command_timeout_ms: None,
        }
    }
}

impl RedisConfig {
    /// A pool named `name` with default settings.
    pub fn named(name: impl Into<String>) -> Self {
        RedisConfig {
            name: name.into(),
            ..Self::default()
        }
    }

    /// The same pool on another URL.
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }

    /// Check values that serde cannot (errors name the key).
    pub fn validate(&self) -> Result<(), ConfigError> {
        instance::validate_name(&self.name)?;
        if self.pool_size == 0 {
            return Err(ConfigError::new("pool_size", "must be at least 1"));
        }
        check_url(&self.url).map_err(|e| e.at_key("url"))
    }

    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.acquire_timeout_ms)
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    pub fn command_timeout(&self) -> Option<Duration> {
        self.command_timeout_ms.map(Duration::from_millis)
    }
}

/// A URL the Redis client does not accept; any password in it is hidden.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{redacted_url} is not a valid Redis URL: {reason}")]
pub struct InvalidUrl {
    pub redacted_url: String,
    pub reason: String,
}

impl InvalidUrl {
    /// This error as the value of config key `key`.
    pub fn at_key(self, key: &str) -> ConfigError {
        ConfigError::new(key, self.to_string())
    }
}

/// Whether `url` is a Redis URL the client accepts.
pub fn check_url(url: &str) -> Result<(), InvalidUrl> {
    redis::Client::open(url)
        .map(|_| ())
        .map_err(|e| InvalidUrl {
            redacted_url: redact_url(url),
            reason: e.to_string(),
        })
}

/// `url` value that puts a Redis-backed service (pub/sub, a task queue) in process.
pub const MEMORY_URL: &str = "memory://";

/// Check the `url` and `redis` keys of a Redis-backed service's entry.
pub fn check_service_keys(url: Option<&str>, pool: Option<&str>) -> Result<(), ConfigError> {
    if url.is_some() && pool.is_some() {
        return Err(ConfigError::new(
            "redis",
            "give either `url` or `redis`, not both",
        ));
    }
    match url {
        Some(url) if url != MEMORY_URL => check_url(url).map_err(|e| e.at_key("url")),
        _ => Ok(()),
    }
}

/// Why an in-process service instance (pub/sub, a task queue) refuses to be used when
/// `workers` processes share the work: each would hold its own copy (`split` says what
/// that would break, silently). `None` for a single process. `kind` is the instance's
/// `puff.toml` section; the text names the keys that fix it.
pub fn in_process_refusal(kind: &str, name: &str, split: &str, workers: usize) -> Option<String> {
    if workers <= 1 {
        return None;
    }
    let env_var = instance::url_env_var(name, kind);
    Some(format!(
        "[[{kind}]] `{name}` runs in process, but Puff runs {workers} worker processes \
         (`workers` / `--workers`): {split}. Put it on Redis, which every worker shares; in \
         puff.toml:\n\n[[{kind}]]\nname = \"{name}\"\nurl = \"{DEFAULT_URL}\"  \
         # or: redis = \"<name of a [[redis]] pool>\"\n\n(a [[redis]] pool named \
         `default`, or {env_var}, does the same); or run one process: `workers = 1` (`--workers 1`)"
    ))
}

/// Where a Redis-backed service (pub/sub, a task queue) connects.
pub struct ServicePool<'a> {
    /// The service's entry `url`, its override already applied ([`MEMORY_URL`]: in process).
    pub url: Option<String>,
    /// The service's entry `redis`: the `[[redis]]` pool whose URL it borrows.
    pub redis: Option<&'a str>,
    /// Its own small pool: name, size and connect timeout.
    pub name: String,
    pub pool_size: u32,
    pub connect_timeout_ms: Option<u64>,
}

impl ServicePool<'_> {
    /// The service's own pool config, on the first of: `url`, the pool named by `redis`,
    /// the `default` pool; `None` (in process) when there is none. `pools` are the
    /// effective `[[redis]]` configs.
    /// The URL may come from an override (environment, flag) rather than the `url` key, so
    /// an invalid one is reported without a key.
    pub fn resolve(self, pools: &[RedisConfig]) -> Result<Option<RedisConfig>, ConfigError> {
        let url = match (self.url, self.redis) {
            (Some(url), _) if url == MEMORY_URL => return Ok(None),
            (Some(url), _) => {
                check_url(&url).map_err(|e| ConfigError::unkeyed(e.to_string()))?;
                url
            }
            (None, Some(pool)) => match pools.iter().find(|r| r.name == pool) {
                Some(redis) => redis.url.clone(),
                None => {
                    return Err(ConfigError::new(
                        "redis",
                        format!("no [[redis]] pool named `{pool}` is configured"),
                    ));
                }
            },
            (None, None) => match pools.iter().find(|r| r.name == "default") {
                Some(redis) => redis.url.clone(),
                None => return Ok(None),
            },
        };
        let mut config = RedisConfig::named(self.name).with_url(url);
        config.pool_size = self.pool_size;
        if let Some(ms) = self.connect_timeout_ms {
            config.connect_timeout_ms = ms;
        }
        Ok(Some(config))
    }
}

impl NamedInstance for RedisConfig {
    const KIND: &'static str = "redis";

    fn instance_name(&self) -> &str {
        &self.name
    }

    fn enabled(&self) -> bool {
        self.enable
    }

    fn validate(&self) -> Result<(), ConfigError> {
        RedisConfig::validate(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_process_refusal_names_the_keys() {
        assert_eq!(in_process_refusal("pubsub", "default", "split", 1), None);
        let m = in_process_refusal("task_queue", "jobs", "each has its own queue", 3).unwrap();
        assert!(
            m.starts_with("[[task_queue]] `jobs` runs in process"),
            "{m}"
        );
        assert!(m.contains("3 worker processes"), "{m}");
        assert!(m.contains("each has its own queue."), "{m}");
        assert!(
            m.contains("[[task_queue]]\nname = \"jobs\"\nurl = \"redis://"),
            "{m}"
        );
        assert!(m.contains("PUFF_JOBS_TASK_QUEUE_URL"), "{m}");
        assert!(m.ends_with("`workers = 1` (`--workers 1`)"), "{m}");
    }

    #[test]
    fn defaults_and_validation() {
        let c: RedisConfig = toml::from_str("").unwrap();
        assert_eq!(c, RedisConfig::default());
        assert_eq!(c.url, DEFAULT_URL);
        assert!(c.validate().is_ok());
        assert!(toml::from_str::<RedisConfig>("pool_sise = 1").is_err());
        let c: RedisConfig = toml::from_str("pool_size = 0").unwrap();
        assert_eq!(c.validate().unwrap_err().key.as_deref(), Some("pool_size"));
        let c: RedisConfig = toml::from_str("url = \"http://:hunter2@x\"").unwrap();
        let e = c.validate().unwrap_err();
        assert_eq!(e.key.as_deref(), Some("url"), "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let c = RedisConfig::named("cache-2");
        assert_eq!(c.cli_flag(), "cache-2-redis-url");
        assert_eq!(c.env_var(), "PUFF_CACHE_2_REDIS_URL");
    }
}
