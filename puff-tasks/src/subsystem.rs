//! The `tasks` subsystem: `[[task_queue]]` entries (or an implicit `default`) -> started
//! [`TaskQueue`]s in the registry with their workers, plus `puff._native.task_queue` and
//! the builder methods ([`TaskQueueSettings`]).

use std::path::Path;
use std::sync::Arc;

use puff_greenlet::instance::{NamedInstance, replace_instance, set_default_instance};
use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::{
    ConfigError, PuffError, PuffResult, PythonRuntime, Resources, StartContext, Subsystem,
    Subsystems, UrlFlag, parse_instances,
};
use puff_redis::{RedisPool, RedisSubsystem};

use crate::config::{Backend, TaskQueueConfig};
use crate::memory::MemoryStore;
use crate::queue::{Store, TaskQueue};
use crate::redis_store::RedisStore;

/// Owns the task queues. A queue may borrow the URL of a `[[redis]]` pool, as the redis
/// subsystem started it.
#[derive(Clone, Default)]
pub struct TasksSubsystem {
    pub queues: Vec<TaskQueueConfig>,
}

impl TasksSubsystem {
    /// Top-level `puff.toml` keys this subsystem reads.
    pub const KEYS: &'static [&'static str] = &["task_queue"];

    /// Parse the value of the `task_queue` key: `[[task_queue]]` tables, one table, or
    /// `true`.
    pub fn parse(value: &toml::Value) -> Result<Vec<TaskQueueConfig>, ConfigError> {
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

    fn configure(&mut self, table: &toml::Table, _base: &Path) -> Result<(), ConfigError> {
        if let Some(value) = table.get("task_queue") {
            self.queues = Self::parse(value)?;
        }
        Ok(())
    }

    fn url_flags(&self) -> Vec<UrlFlag> {
        Self::queues_with_default(&self.queues)
            .iter()
            .map(|c| UrlFlag::for_instance(&c.name, TaskQueueConfig::KIND, "task queue"))
            .collect()
    }

    fn start(&self, ctx: &StartContext<'_>) -> PuffResult<()> {
        let redis = RedisSubsystem::started_configs(ctx.resources);
        for config in Self::queues_with_default(&self.queues) {
            let fail = |m: &dyn std::fmt::Display| {
                PuffError::Config(format!("[[task_queue]] `{}`: {m}", config.name))
            };
            let store = match config.backend(&redis).map_err(|e| fail(&e))? {
                Backend::Memory => Store::Memory(MemoryStore::default()),
                Backend::Redis(redis) => {
                    let pool = Arc::new(RedisPool::new(redis).map_err(|e| fail(&e))?);
                    pool.check_in_background(ctx.tokio);
                    Store::Redis(RedisStore::new(pool, &config.name))
                }
            };
            let name = config.name.clone();
            let queue = TaskQueue::new(config, store, ctx.tokio.clone());
            #[cfg(feature = "outbox")]
            crate::outbox::attach(&queue, ctx)
                .map_err(|e| PuffError::Config(format!("[[task_queue]] `{name}`: {e}")))?;
            #[cfg(not(feature = "outbox"))]
            if queue.config().outbox_postgres.is_some() {
                return Err(PuffError::Config(format!(
                    "[[task_queue]] `{name}`: `outbox_postgres` needs a build with the \
                     `postgres` feature (puff-tasks `outbox`)"
                )));
            }
            tracing::debug!(
                "task queue `{name}`: {} backend{}, {} tasks at once",
                queue.backend_name(),
                queue
                    .redacted_url()
                    .map(|u| format!(" at {u}"))
                    .unwrap_or_default(),
                queue.config().concurrency()
            );
            // The implicit `default` queue stays quiet until it is used.
            if let (true, Err(refusal)) = (
                self.queues.iter().any(|c| c.name == name),
                queue.check_shared(),
            ) {
                tracing::warn!("every use will raise: {refusal}");
            }
            ctx.resources.insert(name, Arc::new(queue));
        }
        Ok(())
    }

    fn python_started(&self, ctx: &StartContext<'_>, python: &PythonRuntime) -> PuffResult<()> {
        for name in ctx.resources.names::<TaskQueue>() {
            if let Some(queue) = ctx.resources.get::<TaskQueue>(&name) {
                queue.start_worker(python.clone());
                crate::periodic::start_configured(&queue);
            }
        }
        Ok(())
    }

    fn python_module(&self, py: Python<'_>, native: &Bound<'_, PyModule>) -> PyResult<()> {
        crate::python::add_module(py, native)
    }

    fn shutdown(&self, resources: &Resources) {
        #[cfg(feature = "outbox")]
        for name in resources.names::<crate::outbox::Outbox>() {
            if let Some(outbox) = resources.get::<crate::outbox::Outbox>(&name) {
                outbox.stop();
            }
        }
        for name in resources.names::<TaskQueue>() {
            if let Some(queue) = resources.get::<TaskQueue>(&name) {
                queue.stop();
            }
        }
    }
}

/// `RuntimeConfig` builder methods for the task queues (in `puff_core::prelude`); no effect
/// in a build without the tasks subsystem.
pub trait TaskQueueSettings: Subsystems + Sized {
    /// Declare (or remove) the `default` task queue. It exists either way: on the
    /// `default` Redis pool when one is configured, else in process.
    fn set_task_queue(self, on: bool) -> Self {
        self.with_subsystem(|tasks: &mut TasksSubsystem| {
            set_default_instance(
                &mut tasks.queues,
                on.then(|| TaskQueueConfig::named("default")),
            );
        })
    }

    /// How many tasks of the `default` queue this process runs at once (default: CPUs x
    /// 4; 0 makes the process schedule only).
    fn set_task_queue_concurrent_tasks(self, max: usize) -> Self {
        self.with_subsystem(|tasks: &mut TasksSubsystem| {
            if !tasks.queues.iter().any(|c| c.name == "default") {
                tasks.queues.push(TaskQueueConfig::named("default"));
            }
            for c in tasks.queues.iter_mut().filter(|c| c.name == "default") {
                c.max_concurrent_tasks = Some(max);
            }
        })
    }

    /// Add (or replace) a named task queue.
    fn add_task_queue(self, config: TaskQueueConfig) -> Self {
        self.with_subsystem(|tasks: &mut TasksSubsystem| {
            replace_instance(&mut tasks.queues, config);
        })
    }

    /// The configured task queues (without the implicit `default`).
    fn task_queue_configs(&self) -> &[TaskQueueConfig] {
        self.subsystem::<TasksSubsystem>()
            .map_or(&[], |tasks| &tasks.queues)
    }
}

impl<T: Subsystems> TaskQueueSettings for T {}
