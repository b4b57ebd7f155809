//! The `puff.toml` keys of worker processes: how many, and when one is recycled.

use puff_greenlet::ConfigError;
use serde::Deserialize;

/// How long a new worker may take to start (import the app, bind its pools) before the
/// supervisor gives up on it: generous, as a large Django app can take seconds to import.
pub const DEFAULT_WORKER_START_TIMEOUT_S: u64 = 60;

/// `workers` and the recycling limits (top-level keys).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WorkersConfig {
    /// Worker processes for `runserver` and `wait-forever`; `0`: one per CPU; `1` (the
    /// default): no supervisor, the command runs in this process.
    pub workers: usize,
    /// A worker that has served this many requests is replaced (gracefully).
    pub max_requests: Option<u64>,
    /// Adds 0..=jitter to each worker's `max_requests`, so workers started together are
    /// not all replaced at once.
    pub max_requests_jitter: u64,
    /// A worker older than this many seconds is replaced.
    pub worker_lifetime_s: Option<u64>,
    /// A worker whose resident memory exceeds this many MiB is replaced.
    pub worker_max_rss_mb: Option<u64>,
    /// A new worker that does not start serving within this many seconds is stopped
    /// (and, during a reload, the old workers keep serving).
    pub worker_start_timeout_s: u64,
}

impl Default for WorkersConfig {
    fn default() -> Self {
        WorkersConfig {
            workers: 1,
            max_requests: None,
            max_requests_jitter: 0,
            worker_lifetime_s: None,
            worker_max_rss_mb: None,
            worker_start_timeout_s: DEFAULT_WORKER_START_TIMEOUT_S,
        }
    }
}

impl WorkersConfig {
    /// Top-level `puff.toml` keys this config reads.
    pub const KEYS: &'static [&'static str] = &[
        "workers",
        "max_requests",
        "max_requests_jitter",
        "worker_lifetime_s",
        "worker_max_rss_mb",
        "worker_start_timeout_s",
    ];

    /// Values serde accepts but that cannot work; errors name the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("max_requests", self.max_requests),
            ("worker_lifetime_s", self.worker_lifetime_s),
            ("worker_max_rss_mb", self.worker_max_rss_mb),
            ("worker_start_timeout_s", Some(self.worker_start_timeout_s)),
        ] {
            if value == Some(0) {
                return Err(ConfigError::new(
                    key,
                    "0 would replace workers without end; leave it unset for no limit",
                ));
            }
        }
        Ok(())
    }

    /// The worker count to run: `workers`, with `0` meaning one per CPU.
    pub fn worker_count(&self) -> usize {
        match self.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

/// `PUFF_WORKERS` / `--workers` values: a whole number, `0` for one per CPU.
pub fn parse_worker_count(value: &str, source: &str) -> Result<usize, String> {
    value.trim().parse::<usize>().map_err(|_| {
        format!("{source} `{value}` is not a worker count (a whole number; 0 = one per CPU)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_keep_one_process() {
        let config = WorkersConfig::default();
        assert_eq!(config.worker_count(), 1);
        config.validate().unwrap();
    }

    #[test]
    fn zero_workers_means_one_per_cpu() {
        let config = WorkersConfig {
            workers: 0,
            ..WorkersConfig::default()
        };
        assert!(config.worker_count() >= 1);
    }

    #[test]
    fn zero_limits_are_refused_by_key() {
        let config = WorkersConfig {
            max_requests: Some(0),
            ..WorkersConfig::default()
        };
        assert_eq!(
            config.validate().unwrap_err().key.as_deref(),
            Some("max_requests")
        );
    }

    #[test]
    fn counts_parse_with_a_message_naming_the_source() {
        assert_eq!(parse_worker_count("4", "--workers"), Ok(4));
        let e = parse_worker_count("four", "PUFF_WORKERS").unwrap_err();
        assert!(e.contains("PUFF_WORKERS `four`"), "{e}");
    }
}
