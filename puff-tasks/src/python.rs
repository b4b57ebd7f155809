//! `puff._native.task_queue`: the native half of `puff.task_queue`.

use std::time::Duration;

use puff_greenlet::aio::wait_or_await;
use puff_greenlet::exceptions::PuffError;
use puff_greenlet::pyo3::create_exception;
use puff_greenlet::pyo3::exceptions::PyValueError;
use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::pyo3::types::PyDict;
use puff_greenlet::{PythonRuntime, json};
use puff_redis::RedisError;

use crate::queue::{ScheduleOptions, TaskQueue};
use crate::rate_limit::RateLimit;
use crate::task::Outcome;

create_exception!(
    puff.task_queue,
    TaskError,
    puff_greenlet::exceptions::PuffError,
    "The task raised (or could not run); `error_type`, `message`, `traceback` and `task_id` \
     say what happened."
);

fn to_pyerr(err: RedisError) -> PyErr {
    match err {
        RedisError::Config(m) => PyValueError::new_err(m),
        other => puff_redis::python::to_pyerr(other),
    }
}

/// The value of a finished task, or its failure raised as `TaskError`.
fn outcome_to_py(py: Python<'_>, id: &str, outcome: Option<Outcome>) -> PyResult<Py<PyAny>> {
    match outcome {
        None => Ok(py.None()),
        Some(Outcome::Ok(value)) => json::to_py(py, &value),
        Some(Outcome::Error(failure)) => {
            let err = TaskError::new_err(format!(
                "task {id} failed: {}: {}",
                failure.error_type, failure.message
            ));
            let value = err.value(py);
            value.setattr("task_id", id)?;
            value.setattr("error_type", &failure.error_type)?;
            value.setattr("message", &failure.message)?;
            value.setattr("traceback", &failure.traceback)?;
            Err(err)
        }
    }
}

/// One named queue as seen from Python.
#[pyclass(module = "puff._native.task_queue", name = "NativeTaskQueue", frozen)]
pub struct PyTaskQueue {
    queue: TaskQueue,
}

impl PyTaskQueue {
    /// The queue, or `puff.PuffError` when it refuses to be used: in process while this
    /// is one of several worker processes.
    fn usable(&self) -> PyResult<&TaskQueue> {
        self.queue
            .check_shared()
            .map_err(|e| PuffError::new_err(e.to_string()))?;
        Ok(&self.queue)
    }
}

#[pymethods]
impl PyTaskQueue {
    #[getter]
    fn name(&self) -> &str {
        self.queue.name()
    }

    /// `"redis"` or `"memory"`.
    #[getter]
    fn backend(&self) -> &'static str {
        self.queue.backend_name()
    }

    /// Tasks this process runs at once (0: it only schedules).
    #[getter]
    fn max_concurrent_tasks(&self) -> usize {
        self.queue.config().concurrency()
    }

    /// Whether this process runs Puff's event loop (`async def` tasks need it).
    #[getter]
    fn has_event_loop(&self) -> bool {
        PythonRuntime::global().is_ok_and(|r| r.event_loop().is_some())
    }

    /// Enqueue `function` (a `module:function` path) with a JSON-able payload; the id.
    // The arguments are Python's keyword arguments, checked in `puff.task_queue`.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (function, payload, scheduled_time_unix_ms, timeout_ms, keep_results_for_ms, max_retries, unique_key = None))]
    fn schedule(
        &self,
        py: Python<'_>,
        function: String,
        payload: &Bound<'_, PyAny>,
        scheduled_time_unix_ms: Option<u64>,
        timeout_ms: u64,
        keep_results_for_ms: u64,
        max_retries: Option<u32>,
        unique_key: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        let payload = json::to_json_string(payload, "the task payload")?;
        let options = ScheduleOptions {
            scheduled_time_unix_ms,
            timeout_ms,
            keep_results_for_ms,
            max_retries,
            unique_key,
        };
        let queue = self.usable()?.clone();
        wait_or_await(
            py,
            async move { queue.schedule(function, payload, options).await },
            Box::new(|py, id| {
                id.map_err(to_pyerr)
                    .map(|id| pyo3::types::PyString::new(py, &id).into_any().unbind())
            }),
        )
    }

    fn task_result(&self, py: Python<'_>, task_id: String) -> PyResult<Py<PyAny>> {
        let queue = self.usable()?.clone();
        wait_or_await(
            py,
            {
                let id = task_id.clone();
                async move { queue.result(&id).await }
            },
            Box::new(move |py, r| outcome_to_py(py, &task_id, r.map_err(to_pyerr)?)),
        )
    }

    fn wait_for_task_result(
        &self,
        py: Python<'_>,
        task_id: String,
        poll_interval_ms: u64,
        timeout_ms: u64,
    ) -> PyResult<Py<PyAny>> {
        let queue = self.usable()?.clone();
        wait_or_await(
            py,
            {
                let id = task_id.clone();
                async move {
                    let (poll, timeout) = (
                        Duration::from_millis(poll_interval_ms),
                        Duration::from_millis(timeout_ms),
                    );
                    queue.wait_for_result(&id, poll, timeout).await
                }
            },
            Box::new(move |py, r| outcome_to_py(py, &task_id, r.map_err(to_pyerr)?)),
        )
    }

    fn cancel(&self, py: Python<'_>, task_id: String) -> PyResult<Py<PyAny>> {
        let queue = self.usable()?.clone();
        wait_or_await(
            py,
            async move { queue.cancel(&task_id).await },
            Box::new(|py, r| {
                let cancelled = r.map_err(to_pyerr)?;
                Ok(pyo3::types::PyBool::new(py, cancelled)
                    .to_owned()
                    .into_any()
                    .unbind())
            }),
        )
    }

    /// The newest `limit` dead letters as dicts (payload decoded).
    #[pyo3(signature = (limit = 100))]
    fn dead_letters(&self, py: Python<'_>, limit: usize) -> PyResult<Py<PyAny>> {
        let queue = self.usable()?.clone();
        wait_or_await(
            py,
            async move { queue.dead_letters(limit).await },
            Box::new(|py, r| {
                let list = pyo3::types::PyList::empty(py);
                for dead in r.map_err(to_pyerr)? {
                    let d = PyDict::new(py);
                    d.set_item("task_id", &dead.id)?;
                    d.set_item("function", &dead.function)?;
                    let payload = serde_json::from_str(&dead.payload)
                        .map_or_else(|_| Ok(py.None()), |v| json::to_py(py, &v))?;
                    d.set_item("payload", payload)?;
                    d.set_item("attempts", dead.attempts)?;
                    d.set_item("reason", &dead.reason)?;
                    d.set_item("at_unix_ms", dead.at_ms)?;
                    list.append(d)?;
                }
                Ok(list.into_any().unbind())
            }),
        )
    }

    /// `{"queued": n, "running": n}` across every worker.
    fn counts(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let queue = self.usable()?.clone();
        wait_or_await(
            py,
            async move { queue.counts().await },
            Box::new(|py, r| {
                let (queued, running) = r.map_err(to_pyerr)?;
                let d = PyDict::new(py);
                d.set_item("queued", queued)?;
                d.set_item("running", running)?;
                Ok(d.into_any().unbind())
            }),
        )
    }

    /// Run `function` on a schedule in this process; the schedule's name. Checked in
    /// `puff.task_queue.TaskQueue.add_periodic`.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (function, cron, every_ms, payload, tz, catch_up, catch_up_max, grace_ms, name, timeout_ms, keep_results_for_ms, max_retries))]
    fn add_periodic(
        &self,
        function: String,
        cron: Option<String>,
        every_ms: Option<u64>,
        payload: &Bound<'_, PyAny>,
        tz: Option<String>,
        catch_up: String,
        catch_up_max: u32,
        grace_ms: u64,
        name: Option<String>,
        timeout_ms: u64,
        keep_results_for_ms: u64,
        max_retries: Option<u32>,
    ) -> PyResult<String> {
        let args = crate::periodic::python::AddPeriodic {
            function,
            cron,
            every_ms,
            tz,
            catch_up,
            catch_up_max,
            grace_ms,
            name,
            timeout_ms,
            keep_results_for_ms,
            max_retries,
        };
        crate::periodic::python::add(self.usable()?, args, payload)
    }

    /// Stop running schedule `name` in this process; False if it does not run here.
    fn remove_periodic(&self, name: &str) -> bool {
        self.queue.remove_periodic(name)
    }

    /// Names of the schedules running in this process.
    fn periodic_names(&self) -> Vec<String> {
        self.queue.periodic().names()
    }

    /// The id of the task of schedule `name`'s tick at `tick_unix_ms`.
    fn periodic_task_id(&self, name: &str, tick_unix_ms: u64) -> String {
        crate::periodic::python::task_id(&self.queue, name, tick_unix_ms)
    }

    /// Limit `function` (`module:function`) to `limit` starts per `period_ms` in this
    /// process's claims; `limit=None` lifts the limit.
    fn set_rate_limit(&self, function: String, limit: Option<u32>, period_ms: u64) -> PyResult<()> {
        let queue = self.usable()?;
        match limit {
            Some(limit) => queue
                .set_rate_limit(RateLimit::new(function, limit, period_ms))
                .map_err(|e| PyValueError::new_err(format!("set_rate_limit: {e}"))),
            None => {
                queue.lift_rate_limit(&function);
                Ok(())
            }
        }
    }

    /// `{function: {"limit": n, "period_ms": ms}}`: the limits this process honours.
    fn rate_limits(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let d = PyDict::new(py);
        for limit in self.usable()?.rate_limits() {
            let entry = PyDict::new(py);
            entry.set_item("limit", limit.limit)?;
            entry.set_item("period_ms", limit.period_ms)?;
            d.set_item(&limit.function, entry)?;
        }
        Ok(d.into_any().unbind())
    }

    fn __repr__(&self) -> String {
        match self.queue.redacted_url() {
            Some(url) => format!("<puff.task_queue `{}` on {url}>", self.queue.name()),
            None => format!("<puff.task_queue `{}` in process>", self.queue.name()),
        }
    }
}

/// The queue named `name`.
#[pyfunction]
#[pyo3(signature = (name = "default"))]
fn client(name: &str) -> PyResult<PyTaskQueue> {
    match TaskQueue::named(name) {
        Some(queue) => Ok(PyTaskQueue {
            queue: (*queue).clone(),
        }),
        None => Err(PyValueError::new_err(format!(
            "no task queue named `{name}` (configured: {}); add a [[task_queue]] entry with \
             name = \"{name}\" to puff.toml",
            names()?.join(", ")
        ))),
    }
}

/// Names of the configured queues.
#[pyfunction]
fn names() -> PyResult<Vec<String>> {
    Ok(PythonRuntime::global()?.resources().names::<TaskQueue>())
}

pub(crate) fn add_module(py: Python<'_>, native: &Bound<'_, PyModule>) -> PyResult<()> {
    let m = PyModule::new(py, "task_queue")?;
    m.add_class::<PyTaskQueue>()?;
    m.add("TaskError", py.get_type::<TaskError>())?;
    m.add_function(wrap_pyfunction!(client, &m)?)?;
    m.add_function(wrap_pyfunction!(names, &m)?)?;
    crate::current::add_to_module(py, &m)?;
    #[cfg(feature = "outbox")]
    crate::outbox::python::add_functions(&m)?;
    native.add_submodule(&m)?;
    py.import("sys")?
        .getattr("modules")?
        .set_item("puff._native.task_queue", &m)?;
    Ok(())
}
