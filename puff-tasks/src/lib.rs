//! # puff-tasks
//!
//! Puff's task queue: named queues from `[[task_queue]]` (a `default` one always exists),
//! each on Redis — shared by every process connected to it, every state change one atomic
//! Lua script — or in process when no Redis is configured. Tasks are importable Python
//! functions with JSON payloads; they run in order of `scheduled_time_unix_ms` (FIFO by
//! default, small values first, future values delayed), at least once: a task with no
//! result `timeout_ms` after it was claimed, or whose worker stopped renewing its lease
//! (renewed from Tokio, so a busy Python thread does not lose it), is retried, up to
//! `max_retries` times, then dead-lettered. Results (or the task's exception) are kept for
//! `keep_results_for_ms`. Periodic tasks (cron in a time zone, or every N ms; from
//! `[[task_queue.periodic]]` or `add_periodic`) are scheduled by every process with the
//! queue, each tick exactly once through an atomic claim in the backend ([`periodic`]).
//! `keep_results_for_ms`. A `unique_key` keeps a second task with that key from being
//! queued while the first is queued or running, and per-function rate limits
//! ([`rate_limit`]) cap how many runs of a function start per period across all workers.
//!
//! It owns the Rust API ([`TaskQueue`]), the worker that runs due tasks in every Puff
//! process, the native half of `puff.task_queue`, and the operator's view and actions on
//! a Redis queue ([`QueueAdmin`]) with the `puff-cli tasks` command ([`TasksCommand`]). It does not own Redis connections
//! (a small `puff-redis` pool per queue) or greenlet scheduling (`puff-greenlet`).
//!
//! With the `outbox` feature (on when puff-core has both `tasks` and `postgres`) it also
//! owns transactional enqueue (`schedule_function(transaction=conn)`): the
//! `puff_task_outbox` table and the relay that moves committed rows into the queue
//! (module `outbox`). That feature makes it depend on `puff-postgres`, whose pools it
//! borrows (the `[[postgres]]` pool named by `outbox_postgres`); the relay's own
//! LISTEN connection is a plain tokio-postgres one.
//!
//! The manual below is `docs/tasks.md` in the repository.
#![doc = include_str!("../../docs/tasks.md")]

mod admin;
mod cli;
pub mod config;
mod current;
mod memory;
mod metrics;
#[cfg(feature = "outbox")]
mod outbox;
pub mod periodic;
mod python;
mod queue;
pub mod rate_limit;
mod redis_store;
mod runner;
mod subsystem;
pub mod task;

pub use admin::{AdminError, QueueAdmin, QueueStats, RetriedAll, TaskInfo, TaskListing, TaskState};
pub use cli::TasksCommand;
pub use config::{Backend, TaskQueueConfig};
pub use queue::{ScheduleOptions, TaskQueue};
pub use rate_limit::RateLimit;
pub use subsystem::{TaskQueueSettings, TasksSubsystem};
pub use task::{DeadLetter, Outcome, TaskFailure, UnreadableOutcome};
