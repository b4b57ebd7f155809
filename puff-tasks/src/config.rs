//! [`TaskQueueConfig`]: one `[[task_queue]]` entry of `puff.toml`, and how its backend is
//! chosen.

use puff_greenlet::ConfigError;
use puff_greenlet::instance::{self, NamedInstance};
use puff_redis::RedisConfig;
use serde::Deserialize;

use crate::rate_limit::RateLimit;

pub use puff_redis::config::MEMORY_URL;

/// One named task queue (`[[task_queue]]` entry).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TaskQueueConfig {
    /// Queue name; Python uses it in `puff.task_queue.named_queue(name)`.
    #[serde(default = "default_name")]
    pub name: String,
    /// A Redis URL, or `memory://` for the in-process backend.
    #[serde(default)]
    pub url: Option<String>,
    /// Use the URL of this `[[redis]]` pool.
    #[serde(default)]
    pub redis: Option<String>,
    /// `false` drops the entry (the seeds write `enable = true`).
    #[serde(default = "default_true")]
    pub enable: bool,
    /// Tasks this process runs at once; 0 makes it schedule only (default: CPUs x 4).
    #[serde(default)]
    pub max_concurrent_tasks: Option<usize>,
    /// Retries after a timeout or a lost worker before a task goes to the dead-letter
    /// list (default 3; `schedule_function(max_retries=)` overrides it per task).
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// A worker that stops renewing its lease for this long is presumed dead and its
    /// tasks are retried (default 3000 ms; renewed every third of it, from Rust).
    #[serde(default = "default_lease_ms")]
    pub lease_ms: u64,
    /// How often an idle worker looks for due tasks scheduled by other processes (tasks
    /// scheduled in this process wake it at once; default 50 ms).
    #[serde(default = "default_poll_ms")]
    pub poll_interval_ms: u64,
    /// On shutdown, how long running tasks may take to finish before they are handed
    /// back to the queue for another worker (default 10000 ms).
    #[serde(default = "default_shutdown_ms")]
    pub shutdown_timeout_ms: u64,
    /// Connection settings for the Redis backend.
    #[serde(default)]
    pub connect_timeout_ms: Option<u64>,
    /// `[[task_queue.periodic]]` entries: tasks run on a schedule (`crate::periodic`).
    #[serde(default)]
    pub periodic: Vec<crate::periodic::PeriodicConfig>,
    /// `[[task_queue.rate_limit]]`: at most `limit` runs of `function` start in any
    /// `period_ms`, across every worker (each worker enforces the limits it is given).
    #[serde(default)]
    pub rate_limit: Vec<RateLimit>,
    /// The `[[postgres]]` pool whose database holds this queue's transactional outbox
    /// (`schedule_function(transaction=)`); default: the `default` pool, if configured.
    #[serde(default)]
    pub outbox_postgres: Option<String>,
    /// Whether this process runs the relay that moves committed outbox rows into the
    /// queue (default true; false leaves it to other processes).
    #[serde(default = "default_true")]
    pub outbox_relay: bool,
}

fn default_name() -> String {
    "default".into()
}
fn default_true() -> bool {
    true
}
fn default_max_retries() -> u32 {
    3
}
fn default_lease_ms() -> u64 {
    3000
}
fn default_poll_ms() -> u64 {
    50
}
fn default_shutdown_ms() -> u64 {
    10_000
}

/// Where a queue's tasks live.
#[derive(Clone, Debug, PartialEq)]
pub enum Backend {
    /// In this process only (lost when it exits).
    Memory,
    /// In Redis, shared by every process connected to it.
    Redis(RedisConfig),
}

impl TaskQueueConfig {
    /// A queue named `name` with default settings.
    pub fn named(name: impl Into<String>) -> Self {
        TaskQueueConfig {
            name: name.into(),
            enable: true,
            max_retries: default_max_retries(),
            lease_ms: default_lease_ms(),
            poll_interval_ms: default_poll_ms(),
            shutdown_timeout_ms: default_shutdown_ms(),
            outbox_relay: true,
            ..Self::default()
        }
    }

    /// The number of tasks this process runs at once.
    pub fn concurrency(&self) -> usize {
        self.max_concurrent_tasks.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                * 4
        })
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        instance::validate_name(&self.name)?;
        puff_redis::config::check_service_keys(self.url.as_deref(), self.redis.as_deref())?;
        if self.lease_ms < 300 {
            return Err(ConfigError::new("lease_ms", "must be at least 300"));
        }
        if self.poll_interval_ms == 0 {
            return Err(ConfigError::new("poll_interval_ms", "must be at least 1"));
        }
        crate::periodic::validate_all(&self.periodic)?;
        crate::rate_limit::validate_all(&self.rate_limit)?;
        Ok(())
    }

    /// The backend, from the first of: `PUFF_{NAME}_TASK_QUEUE_URL` (or
    /// `--{name}-task-queue-url`), `url`, the `redis` pool named here, the `default` Redis
    /// pool; else in process. `redis_pools` are the effective `[[redis]]` configs.
    pub fn backend(&self, redis_pools: &[RedisConfig]) -> Result<Backend, ConfigError> {
        let pool = puff_redis::config::ServicePool {
            url: self.url_override().or_else(|| self.url.clone()),
            redis: self.redis.as_deref(),
            name: format!("task-queue-{}", self.name),
            pool_size: 4,
            connect_timeout_ms: self.connect_timeout_ms,
        };
        Ok(pool
            .resolve(redis_pools)?
            .map_or(Backend::Memory, Backend::Redis))
    }
}

impl NamedInstance for TaskQueueConfig {
    const KIND: &'static str = "task_queue";

    fn instance_name(&self) -> &str {
        &self.name
    }

    fn enabled(&self) -> bool {
        self.enable
    }

    fn validate(&self) -> Result<(), ConfigError> {
        TaskQueueConfig::validate(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_backend_resolution() {
        let c: TaskQueueConfig = toml::from_str("enable = true").unwrap();
        assert_eq!(c, TaskQueueConfig::named("default"));
        assert!(c.concurrency() >= 4);
        assert_eq!(c.backend(&[]).unwrap(), Backend::Memory);
        let default_redis = RedisConfig::named("default").with_url("redis://h:1");
        match c.backend(std::slice::from_ref(&default_redis)).unwrap() {
            Backend::Redis(r) => assert_eq!(r.url, "redis://h:1"),
            other => panic!("{other:?}"),
        }
        let c: TaskQueueConfig = toml::from_str("url = \"memory://\"").unwrap();
        assert_eq!(
            c.backend(std::slice::from_ref(&default_redis)).unwrap(),
            Backend::Memory
        );
        let c: TaskQueueConfig = toml::from_str("name = \"x\"\nredis = \"cache\"").unwrap();
        assert!(
            c.backend(&[default_redis])
                .unwrap_err()
                .to_string()
                .contains("cache")
        );
        let c: TaskQueueConfig = toml::from_str("max_concurrent_tasks = 0").unwrap();
        assert_eq!(c.concurrency(), 0);
        let c: TaskQueueConfig = toml::from_str("lease_ms = 10").unwrap();
        assert_eq!(c.validate().unwrap_err().key.as_deref(), Some("lease_ms"));
        assert!(toml::from_str::<TaskQueueConfig>("max_concurent_tasks = 1").is_err());
        assert_eq!(
            TaskQueueConfig::named("jobs").env_var(),
            "PUFF_JOBS_TASK_QUEUE_URL"
        );
    }
}
