//! [`QueueAdmin`]: an operator's view of a queue on Redis and the actions on it — list
//! tasks by state, show one, retry dead letters, cancel, purge the dead-letter list,
//! count — each one atomic Lua script (`scripts.rs`), safe while workers run. It backs
//! `puff-cli tasks` (`crate::cli`) and [`TaskQueue::admin`](crate::TaskQueue::admin).
//!
//! Only Redis queues: an in-process queue lives in one process, which no other process
//! (such as the CLI) can reach.

mod scripts;

use std::sync::Arc;

use puff_greenlet::instance::url_env_var;
use puff_redis::redis::{self, Value};
use puff_redis::{RedisConfig, RedisError, RedisPool};

use crate::config::{Backend, TaskQueueConfig};
use crate::task::{DEFAULT_KEEP_RESULTS_FOR_MS, DEFAULT_TIMEOUT_MS, now_ms};
use scripts::AdminScripts;

/// Where a task is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskState {
    /// Waiting in the queue (maybe until a future time).
    Queued,
    /// Claimed by a worker.
    Running,
    /// Done; its result (or exception) is kept for `keep_results_for_ms`.
    Finished,
    /// Ran out of retries; in the dead-letter list.
    Dead,
}

impl TaskState {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Queued => "queued",
            TaskState::Running => "running",
            TaskState::Finished => "finished",
            TaskState::Dead => "dead",
        }
    }

    fn parse(text: &str) -> Option<TaskState> {
        match text {
            "queued" => Some(TaskState::Queued),
            "running" => Some(TaskState::Running),
            "finished" => Some(TaskState::Finished),
            "dead" => Some(TaskState::Dead),
            _ => None,
        }
    }
}

impl std::fmt::Display for TaskState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the store knows about one task; fields that do not apply to its state (or that
/// `list` does not read) are `None`.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskInfo {
    pub id: String,
    pub state: TaskState,
    /// `module:function`.
    pub function: Option<String>,
    /// JSON text.
    pub payload: Option<String>,
    /// Attempts started so far (1 while the first one runs).
    pub attempts: Option<u32>,
    pub max_retries: Option<u32>,
    pub timeout_ms: Option<u64>,
    pub keep_results_for_ms: Option<u64>,
    /// Queued: when it is due (unix ms).
    pub scheduled_ms: Option<u64>,
    /// Running: when it is retried unless it finished (unix ms).
    pub deadline_ms: Option<u64>,
    /// Running: the worker holding it, and whether that worker's lease is live.
    pub worker: Option<String>,
    pub worker_alive: Option<bool>,
    /// Dead: why its last attempt was abandoned, and when (unix ms).
    pub reason: Option<String>,
    pub dead_at_ms: Option<u64>,
    /// Finished or dead: the stored outcome, JSON text (`{"ok": ...}` or `{"error":
    /// {...}}`), and how long it is kept still.
    pub result: Option<String>,
    pub result_expires_in_ms: Option<u64>,
    pub traceparent: Option<String>,
}

impl TaskInfo {
    pub(crate) fn new(id: String, state: TaskState) -> TaskInfo {
        TaskInfo {
            id,
            state,
            function: None,
            payload: None,
            attempts: None,
            max_retries: None,
            timeout_ms: None,
            keep_results_for_ms: None,
            scheduled_ms: None,
            deadline_ms: None,
            worker: None,
            worker_alive: None,
            reason: None,
            dead_at_ms: None,
            result: None,
            result_expires_in_ms: None,
            traceparent: None,
        }
    }

    /// Fill in what a dead letter (JSON, as `redis_store.rs` writes it) records.
    fn with_dead_letter(mut self, entry: &str) -> Result<TaskInfo, RedisError> {
        let letter: serde_json::Value = serde_json::from_str(entry)
            .map_err(|e| RedisError::Data(format!("unreadable dead letter {entry}: {e}")))?;
        let text = |key: &str| letter.get(key).and_then(|v| v.as_str()).map(String::from);
        let number = |key: &str| letter.get(key).and_then(|v| v.as_f64()).map(|n| n as u64);
        if self.id.is_empty() {
            self.id = text("id").unwrap_or_default();
        }
        self.function = self.function.or_else(|| text("function"));
        self.payload = self.payload.or_else(|| text("payload"));
        self.attempts = number("attempts").map(|n| n as u32);
        self.reason = text("reason");
        self.dead_at_ms = number("at_ms");
        self.timeout_ms = self.timeout_ms.or_else(|| number("timeout_ms"));
        self.keep_results_for_ms = self.keep_results_for_ms.or_else(|| number("keep_ms"));
        self.max_retries = self
            .max_retries
            .or_else(|| number("max_retries").map(|n| n as u32));
        Ok(self)
    }
}

/// Tasks of some states, as `list` found them.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskListing {
    /// Totals in the queue (whatever was asked for).
    pub queued: usize,
    pub running: usize,
    pub dead: usize,
    /// Up to `limit` of each state asked for: queued in the order they run, running by
    /// deadline, dead newest first.
    pub tasks: Vec<TaskInfo>,
}

/// Counts over every process using the queue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    pub queued: usize,
    /// Queued tasks whose time has come (the rest wait for a future time).
    pub queued_due: usize,
    pub running: usize,
    /// Running tasks past their deadline (retried at the next reap).
    pub running_overdue: usize,
    pub dead: usize,
    /// Workers holding a live lease.
    pub workers: usize,
    /// Results (and exceptions) still kept.
    pub results: usize,
}

/// What `retry --dead` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetriedAll {
    /// The tasks back in the queue.
    pub ids: Vec<String>,
    /// Dead letters left in the list: unreadable, or their task id is live again.
    pub kept: usize,
}

/// Why a [`QueueAdmin`] cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The queue is in process; the text says which keys put it on Redis.
    #[error("{0}")]
    InProcess(String),
    #[error("[[task_queue]] `{queue}`: {message}")]
    Config { queue: String, message: String },
    #[error(transparent)]
    Redis(#[from] RedisError),
}

impl AdminError {
    /// The error for in-process queue `name`, naming the keys that put it on Redis.
    pub fn in_process(name: &str) -> AdminError {
        let env_var = url_env_var(name, "task_queue");
        let flag = format!("--{name}-task-queue-url");
        AdminError::InProcess(format!(
            "task queue `{name}` runs in process (`url = \"memory://\"`, or no Redis \
             configured for it), so only the process running it sees its tasks; `puff-cli tasks` is a process of its own and \
             needs the queue on Redis. Set `url = \"redis://HOST:PORT\"` or `redis = \"<name \
             of a [[redis]] pool>\"` in its [[task_queue]] entry of puff.toml, configure a \
             [[redis]] pool named `default`, or set {env_var} (or pass {flag})"
        ))
    }
}

/// Operator access to one queue on Redis.
#[derive(Clone)]
pub struct QueueAdmin {
    name: String,
    pool: Arc<RedisPool>,
    prefix: String,
    /// What a revived dead letter gets when it did not record its own limits.
    max_retries: u32,
    scripts: Arc<AdminScripts>,
}

fn data_error(what: &str, value: &Value) -> RedisError {
    RedisError::Data(format!("unexpected reply to {what}: {value:?}"))
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::Nil => None,
        other => redis::from_redis_value(other).ok(),
    }
}

/// An integer reply, or a number as text (scores are text in RESP2).
fn number(value: &Value) -> Option<u64> {
    match value {
        Value::Int(n) => u64::try_from(*n).ok(),
        Value::Double(d) => Some(*d as u64),
        other => text(other)?.parse::<f64>().ok().map(|n| n as u64),
    }
}

fn items<'a>(what: &str, value: &'a Value) -> Result<&'a [Value], RedisError> {
    match value {
        Value::Array(items) => Ok(items),
        other => Err(data_error(what, other)),
    }
}

impl QueueAdmin {
    pub(crate) fn new(
        config: &TaskQueueConfig,
        pool: Arc<RedisPool>,
        prefix: String,
    ) -> QueueAdmin {
        QueueAdmin {
            name: config.name.clone(),
            pool,
            prefix,
            max_retries: config.max_retries,
            scripts: Arc::new(AdminScripts::new()),
        }
    }

    /// Connect to queue `config` without starting it (no worker, no lease): for a process
    /// that only operates the queue. `redis_pools` are the `[[redis]]` configs (URL
    /// overrides from the environment are applied here). Call it inside a Tokio runtime.
    pub fn connect(
        config: &TaskQueueConfig,
        redis_pools: &[RedisConfig],
    ) -> Result<QueueAdmin, AdminError> {
        let fail = |message: String| AdminError::Config {
            queue: config.name.clone(),
            message,
        };
        let pools = puff_redis::RedisSubsystem::effective_configs(redis_pools);
        match config.backend(&pools).map_err(|e| fail(e.to_string()))? {
            Backend::Memory => Err(AdminError::in_process(&config.name)),
            Backend::Redis(redis) => {
                let pool = RedisPool::new(redis).map_err(|e| fail(e.to_string()))?;
                let prefix = crate::redis_store::key_prefix(&config.name);
                Ok(QueueAdmin::new(config, Arc::new(pool), prefix))
            }
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Redis server, password hidden.
    pub fn redacted_url(&self) -> &str {
        self.pool.redacted_url()
    }

    async fn eval(&self, script: &str, args: &[&str]) -> Result<Value, RedisError> {
        // Plain EVAL: an operator's command runs each script once.
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(script).arg(0).arg(&self.prefix).arg(args);
        self.pool.query(&cmd).await
    }

    /// Up to `limit` tasks of each of `states` (finished tasks are not listed), and the
    /// totals.
    pub async fn list(
        &self,
        states: &[TaskState],
        limit: usize,
    ) -> Result<TaskListing, RedisError> {
        let which: String = [
            (TaskState::Queued, 'q'),
            (TaskState::Running, 'r'),
            (TaskState::Dead, 'd'),
        ]
        .iter()
        .filter(|(s, _)| states.contains(s))
        .map(|(_, c)| *c)
        .collect();
        let limit_arg = limit.to_string();
        let reply = self.eval(&self.scripts.list, &[&limit_arg, &which]).await?;
        let [counts, queued, running, dead] = items("list", &reply)? else {
            return Err(data_error("list", &reply));
        };
        let count = |i: usize| {
            items("list", counts)
                .ok()
                .and_then(|c| c.get(i))
                .and_then(number)
                .unwrap_or(0) as usize
        };
        let mut tasks = Vec::new();
        for (rows, state) in [(queued, TaskState::Queued), (running, TaskState::Running)] {
            for row in items("list", rows)? {
                tasks.push(Self::row(row, state).ok_or_else(|| data_error("list", row))?);
            }
        }
        for entry in items("list", dead)? {
            let entry = text(entry).ok_or_else(|| data_error("list", entry))?;
            tasks.push(TaskInfo::new(String::new(), TaskState::Dead).with_dead_letter(&entry)?);
        }
        Ok(TaskListing {
            queued: count(0),
            running: count(1),
            dead: count(2),
            tasks,
        })
    }

    /// One row of LIST_BODY's queued or running rows.
    fn row(row: &Value, state: TaskState) -> Option<TaskInfo> {
        let fields = items("list", row).ok()?;
        let mut task = TaskInfo::new(text(fields.first()?)?, state);
        let at = number(fields.get(1)?);
        task.function = fields.get(2).and_then(text);
        task.payload = fields.get(3).and_then(text);
        task.attempts = fields.get(4).and_then(number).map(|n| n as u32);
        task.max_retries = fields.get(5).and_then(number).map(|n| n as u32);
        task.timeout_ms = fields.get(6).and_then(number);
        task.keep_results_for_ms = fields.get(7).and_then(number);
        if state == TaskState::Running {
            task.deadline_ms = at;
            task.worker = fields.get(8).and_then(text);
            task.worker_alive = fields.get(9).and_then(number).map(|n| n == 1);
        } else {
            task.scheduled_ms = at;
        }
        Some(task)
    }

    /// Everything known about task `id`; `None` when the queue does not know it (never
    /// scheduled here, cancelled, or its result expired).
    pub async fn show(&self, id: &str) -> Result<Option<TaskInfo>, RedisError> {
        let reply = self.eval(&self.scripts.show, &[id]).await?;
        let [state, hash, queued, running, alive, result, ttl, dead] = items("show", &reply)?
        else {
            return Err(data_error("show", &reply));
        };
        let Some(state) = text(state).as_deref().and_then(TaskState::parse) else {
            return Ok(None);
        };
        let mut task = TaskInfo::new(id.to_owned(), state);
        for pair in items("show", hash)?.chunks(2) {
            let [key, value] = pair else { continue };
            let value = text(value);
            match text(key).as_deref() {
                Some("function") => task.function = value,
                Some("payload") => task.payload = value,
                Some("attempts") => task.attempts = value.and_then(|v| v.parse().ok()),
                Some("max_retries") => task.max_retries = value.and_then(|v| v.parse().ok()),
                Some("timeout_ms") => task.timeout_ms = value.and_then(|v| v.parse().ok()),
                Some("keep_ms") => {
                    task.keep_results_for_ms = value.and_then(|v| v.parse().ok());
                }
                Some("worker") => task.worker = value,
                Some("traceparent") => task.traceparent = value.filter(|t| !t.is_empty()),
                _ => {}
            }
        }
        task.scheduled_ms = number(queued);
        task.deadline_ms = number(running);
        if task.worker.is_some() {
            task.worker_alive = number(alive).map(|n| n == 1);
        }
        task.result = text(result);
        // PTTL: -1 without expiry, -2 without the key.
        task.result_expires_in_ms = match ttl {
            Value::Int(ms) if *ms >= 0 => Some(*ms as u64),
            _ => None,
        };
        match text(dead) {
            Some(entry) => task.with_dead_letter(&entry).map(Some),
            None => Ok(Some(task)),
        }
    }

    /// Put dead-lettered task `id` back in the queue, due now, its attempts reset (and its
    /// `RetriesExhausted` result dropped). Returns the state the task was in: only a
    /// [`TaskState::Dead`] one was retried; `None` when the queue does not know it.
    pub async fn retry(&self, id: &str) -> Result<Option<TaskState>, RedisError> {
        let (now, timeout, keep, retries) = self.revive_args();
        let reply = self
            .eval(&self.scripts.retry, &[id, &now, &timeout, &keep, &retries])
            .await?;
        Ok(text(&reply).as_deref().and_then(TaskState::parse))
    }

    /// Put every dead letter back in the queue (see [`QueueAdmin::retry`]).
    pub async fn retry_all_dead(&self) -> Result<RetriedAll, RedisError> {
        let (now, timeout, keep, retries) = self.revive_args();
        let reply = self
            .eval(&self.scripts.retry_all, &[&now, &timeout, &keep, &retries])
            .await?;
        let [ids, kept] = items("retry", &reply)? else {
            return Err(data_error("retry", &reply));
        };
        Ok(RetriedAll {
            ids: items("retry", ids)?.iter().filter_map(text).collect(),
            kept: number(kept).unwrap_or(0) as usize,
        })
    }

    /// Now, and the limits of a dead letter that recorded none: the defaults of
    /// `schedule_function` and the queue's `max_retries`.
    fn revive_args(&self) -> (String, String, String, String) {
        (
            now_ms().to_string(),
            DEFAULT_TIMEOUT_MS.to_string(),
            DEFAULT_KEEP_RESULTS_FOR_MS.to_string(),
            self.max_retries.to_string(),
        )
    }

    /// Remove queued or running task `id` (a running one's worker finishes the call, but
    /// its result is dropped and it is not retried). Returns the state the task was in:
    /// only a queued or running one was cancelled; `None` when the queue does not know it.
    pub async fn cancel(&self, id: &str) -> Result<Option<TaskState>, RedisError> {
        let reply = self.eval(&self.scripts.cancel, &[id]).await?;
        Ok(text(&reply).as_deref().and_then(TaskState::parse))
    }

    /// Drop every dead letter; returns how many there were.
    pub async fn purge_dead(&self) -> Result<usize, RedisError> {
        let reply = self.eval(&self.scripts.purge_dead, &[]).await?;
        number(&reply)
            .map(|n| n as usize)
            .ok_or_else(|| data_error("purge", &reply))
    }

    /// Counts of the queue's tasks, live workers and kept results.
    pub async fn stats(&self) -> Result<QueueStats, RedisError> {
        let now = now_ms().to_string();
        let reply = self.eval(&self.scripts.stats, &[&now]).await?;
        let counts: Vec<usize> = items("stats", &reply)?
            .iter()
            .map(|v| number(v).unwrap_or(0) as usize)
            .collect();
        let [queued, queued_due, running, running_overdue, dead] = counts[..] else {
            return Err(data_error("stats", &reply));
        };
        Ok(QueueStats {
            queued,
            queued_due,
            running,
            running_overdue,
            dead,
            workers: self.count_keys("worker:").await?,
            results: self.count_keys("result:").await?,
        })
    }

    /// Keys under `{prefix}{kind}`, counted with SCAN (never blocks the server for long).
    async fn count_keys(&self, kind: &str) -> Result<usize, RedisError> {
        // Queue names are letters, digits, `_` and `-`: nothing in the prefix is a glob.
        let pattern = format!("{}{kind}*", self.prefix);
        let mut cursor = 0u64;
        let mut count = 0;
        loop {
            let mut cmd = redis::cmd("SCAN");
            cmd.arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000);
            let reply = self.pool.query(&cmd).await?;
            let [next, keys] = items("SCAN", &reply)? else {
                return Err(data_error("SCAN", &reply));
            };
            count += items("SCAN", keys)?.len();
            cursor = number(next).ok_or_else(|| data_error("SCAN", &reply))?;
            if cursor == 0 {
                return Ok(count);
            }
        }
    }
}
