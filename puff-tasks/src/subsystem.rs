//! The `tasks` subsystem: `[[task_queue]]` entries (or an implicit `default`) -> started
//! [`TaskQueue`]s in the registry with their workers, plus `puff._native.task_queue`.

use std::sync::Arc;

use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::{
    PuffError, PuffResult, PythonRuntime, Resources, StartContext, Subsystem, parse_instances,
};
use puff_redis::{RedisConfig, RedisPool, RedisSubsystem};

use crate::config::{Backend, TaskQueueConfig};
use crate::memory::MemoryStore;
use crate::queue::{Store, TaskQueue};
use crate::redis_store::RedisStore;

/// Owns the task queues. `redis` are the `[[redis]]` pools, whose URLs a queue may borrow.
#[derive(Default)]
pub struct TasksSubsystem {
    pub queues: Vec<TaskQueueConfig>,
    pub redis: Vec<RedisConfig>,
}

impl TasksSubsystem {
    /// Top-level `puff.toml` keys this subsystem reads.
    pub const KEYS: &'static [&'static str] = &["task_queue"];

    /// Parse the value of the `task_queue` key: `[[task_queue]]` tables, one table, or
    /// `true`.
    pub fn parse(value: &toml::Value) -> Result<Vec<TaskQueueConfig>, String> {
        parse_instances("task_queue", value)
    }

    /// The configured queues, plus `default` when none is named so.
    pub fn queues_with_default(queues: &[TaskQueueConfig]) -> Vec<TaskQueueConfig> {
        puff_greenlet::instance::with_default(queues, || TaskQueueConfig::named("default"))
    }
}

impl Subsystem for TasksSubsystem {
    fn name(&self) -> &'static str {
        "tasks"
    }

    fn config_keys(&self) -> &'static [&'static str] {
        Self::KEYS
    }

    fn configure(&mut self, table: &toml::Table) -> Result<(), String> {
        if let Some(value) = table.get("task_queue") {
            self.queues = Self::parse(value)?;
        }
        Ok(())
    }

    fn start(&self, ctx: &StartContext<'_>) -> PuffResult<()> {
        let redis = RedisSubsystem::effective_configs(&self.redis);
        for config in Self::queues_with_default(&self.queues) {
            let fail =
                |m: String| PuffError::Config(format!("[[task_queue]] `{}`: {m}", config.name));
            let store = match config.backend(&redis).map_err(fail)? {
                Backend::Memory => Store::Memory(MemoryStore::default()),
                Backend::Redis(redis) => {
                    let pool = Arc::new(RedisPool::new(redis).map_err(|e| fail(e.to_string()))?);
                    pool.check_in_background(ctx.tokio);
                    Store::Redis(RedisStore::new(pool, &config.name))
                }
            };
            let name = config.name.clone();
            let queue = TaskQueue::new(config, store, ctx.tokio.clone());
            tracing::debug!(
                "task queue `{name}`: {} backend{}, {} tasks at once",
                queue.backend_name(),
                queue
                    .redacted_url()
                    .map(|u| format!(" at {u}"))
                    .unwrap_or_default(),
                queue.config().concurrency()
            );
            ctx.resources.insert(name, Arc::new(queue));
        }
        Ok(())
    }

    fn python_started(&self, ctx: &StartContext<'_>, python: &PythonRuntime) -> PuffResult<()> {
        for name in ctx.resources.names::<TaskQueue>() {
            if let Some(queue) = ctx.resources.get::<TaskQueue>(&name) {
                queue.start_worker(python.clone());
            }
        }
        Ok(())
    }

    fn python_module(&self, py: Python<'_>, native: &Bound<'_, PyModule>) -> PyResult<()> {
        crate::python::add_module(py, native)
    }

    fn shutdown(&self, resources: &Resources) {
        for name in resources.names::<TaskQueue>() {
            if let Some(queue) = resources.get::<TaskQueue>(&name) {
                queue.stop();
            }
        }
    }
}
