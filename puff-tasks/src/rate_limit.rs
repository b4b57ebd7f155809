//! Per-function rate limits: the `[[task_queue.rate_limit]]` entries, the limits a queue
//! enforces now (the config's, changed at run time by `set_rate_limit`), the in-process
//! sliding log, and what a claim that honours them hands back.
//!
//! A limit of N per `period_ms` means: in any `period_ms`, at most N runs of that function
//! start across every worker (a sliding log of claim times; in Redis, one per function and
//! queue, on the workers' clocks, as delays are). A due task whose function is at its
//! limit stays queued, later due tasks of other functions are claimed past it, and the
//! claim says how long until the first held-back function has room again, so the claim
//! loop wakes then.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

use puff_greenlet::ConfigError;
use serde::Deserialize;

use crate::task::ClaimedTask;

/// One `[[task_queue.rate_limit]]` entry: at most `limit` runs of `function` start in any
/// `period_ms`, across all workers.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// `module:function`, as `schedule_function` names the task.
    pub function: String,
    pub limit: u32,
    pub period_ms: u64,
}

impl RateLimit {
    pub fn new(function: impl Into<String>, limit: u32, period_ms: u64) -> Self {
        RateLimit {
            function: function.into(),
            limit,
            period_ms,
        }
    }

    /// Errors name the key inside the entry (`function`, `limit`, `period_ms`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.function.split_once(':') {
            Some((module, name)) if !module.is_empty() && !name.is_empty() => {}
            _ => {
                return Err(ConfigError::new(
                    "function",
                    format!(
                        "`{}` is not a `module:function` path (e.g. \"app.tasks:send_email\")",
                        self.function
                    ),
                ));
            }
        }
        if self.limit == 0 {
            return Err(ConfigError::new("limit", "must be at least 1"));
        }
        if self.period_ms == 0 {
            return Err(ConfigError::new("period_ms", "must be at least 1"));
        }
        Ok(())
    }
}

/// Check every entry of a queue's `rate_limit` list (errors name `rate_limit[i].key`) and
/// that no function is limited twice.
pub fn validate_all(limits: &[RateLimit]) -> Result<(), ConfigError> {
    for (i, limit) in limits.iter().enumerate() {
        let entry = format!("rate_limit[{i}]");
        limit.validate().map_err(|e| e.inside(entry.as_str()))?;
        if limits[..i].iter().any(|l| l.function == limit.function) {
            return Err(ConfigError::new(
                entry,
                format!("`{}` has a rate limit already", limit.function),
            ));
        }
    }
    Ok(())
}

/// The limits one queue enforces in this process, by function.
#[derive(Default)]
pub struct RateLimits {
    by_function: Mutex<BTreeMap<String, RateLimit>>,
}

impl RateLimits {
    pub fn new(limits: &[RateLimit]) -> Self {
        let by_function = limits
            .iter()
            .map(|l| (l.function.clone(), l.clone()))
            .collect();
        RateLimits {
            by_function: Mutex::new(by_function),
        }
    }

    /// Set `limit.function`'s limit (replacing its limit, if any).
    pub fn set(&self, limit: RateLimit) {
        self.lock().insert(limit.function.clone(), limit);
    }

    pub fn lift(&self, function: &str) {
        self.lock().remove(function);
    }

    /// The limits now, ordered by function.
    pub fn snapshot(&self) -> Vec<RateLimit> {
        self.lock().values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, RateLimit>> {
        self.by_function.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What a claim hands out: the tasks to run, and when tasks held back by a rate limit
/// (if any) may be claimed next.
#[derive(Debug, Default)]
pub struct ClaimBatch {
    pub tasks: Vec<ClaimedTask>,
    /// Ms until the first held-back function has room again (in Redis, or the first queued
    /// task is due, when sooner).
    pub retry_in_ms: Option<u64>,
}

/// The in-process sliding log: start times of each limited function's recent runs.
#[derive(Default)]
pub struct StartLog {
    starts: HashMap<String, VecDeque<u64>>,
}

impl StartLog {
    /// How many more runs of `limit.function` may start at `now`.
    pub fn room(&mut self, limit: &RateLimit, now: u64) -> u32 {
        let Some(log) = self.starts.get_mut(&limit.function) else {
            return limit.limit;
        };
        while log
            .front()
            .is_some_and(|t| t.saturating_add(limit.period_ms) <= now)
        {
            log.pop_front();
        }
        limit.limit.saturating_sub(log.len() as u32)
    }

    pub fn record(&mut self, function: &str, now: u64) {
        self.starts
            .entry(function.to_owned())
            .or_default()
            .push_back(now);
    }

    /// Ms from `now` until `limit.function` has room again (at least 1).
    pub fn reopens_in(&self, limit: &RateLimit, now: u64) -> u64 {
        let oldest = self.starts.get(&limit.function).and_then(|l| l.front());
        oldest.map_or(1, |t| {
            t.saturating_add(limit.period_ms).saturating_sub(now).max(1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_key() {
        let key = |l: &[RateLimit]| validate_all(l).unwrap_err().to_string();
        assert!(key(&[RateLimit::new("nocolon", 1, 1)]).contains("`rate_limit[0]`"));
        assert!(key(&[RateLimit::new("nocolon", 1, 1)]).contains("`function`"));
        assert!(key(&[RateLimit::new("m:f", 0, 1)]).contains("`limit`"));
        assert!(key(&[RateLimit::new("m:f", 1, 0)]).contains("`period_ms`"));
        let twice = [RateLimit::new("m:f", 1, 1), RateLimit::new("m:f", 2, 1)];
        assert!(key(&twice).contains("`rate_limit[1]`"));
        assert!(validate_all(&[RateLimit::new("m:f", 10, 1000)]).is_ok());
    }

    #[test]
    fn the_sliding_log_counts_starts_within_the_period() {
        let limit = RateLimit::new("m:f", 2, 100);
        let mut log = StartLog::default();
        assert_eq!(log.room(&limit, 0), 2);
        log.record("m:f", 0);
        log.record("m:f", 40);
        assert_eq!(log.room(&limit, 99), 0);
        assert_eq!(log.reopens_in(&limit, 99), 1);
        assert_eq!(log.room(&limit, 100), 1, "the start at 0 left the window");
        assert_eq!(log.reopens_in(&limit, 100), 40);
        assert_eq!(log.room(&limit, 140), 2);
    }

    #[test]
    fn a_queue_reads_its_rate_limit_entries() {
        let config: crate::TaskQueueConfig = toml::from_str(
            "[[rate_limit]]\nfunction = \"app.tasks:send\"\nlimit = 10\nperiod_ms = 1000\n",
        )
        .unwrap();
        assert_eq!(
            config.rate_limit,
            [RateLimit::new("app.tasks:send", 10, 1000)]
        );
        let typo = "[[rate_limit]]\nfunction = \"m:f\"\nlimit = 1\nperiod = 1\n";
        assert!(toml::from_str::<crate::TaskQueueConfig>(typo).is_err());
        let zero = "[[rate_limit]]\nfunction = \"m:f\"\nlimit = 0\nperiod_ms = 1\n";
        let config: crate::TaskQueueConfig = toml::from_str(zero).unwrap();
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("rate_limit[0]")
        );
    }
}
