//! `puff._native.task_queue.outbox_statement`: what `schedule_function(transaction=conn)`
//! runs on `conn` (the Python half, `puff._task_outbox`, runs it).

use puff_greenlet::exceptions::PuffError;
use puff_greenlet::pyo3::exceptions::PyValueError;
use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::{PythonRuntime, json, wait_for};

use super::relay::RowOptions;
use super::{Outbox, sql};
use crate::queue::ScheduleOptions;

/// [`sql::ENQUEUE`]'s parameters: queue, task id, function, payload JSON, options JSON.
type EnqueueParams = (String, String, String, String, String);

/// The enqueue statement for the caller's connection and its parameters: `(task id, SQL,
/// (queue, task id, function, payload, options))`. Creates the outbox table first if it
/// does not exist yet (on the queue's outbox pool, in its own transaction).
// The arguments are Python's keyword arguments, checked in `puff.task_queue`.
#[allow(clippy::too_many_arguments)]
#[pyfunction]
#[pyo3(signature = (queue, function, payload, scheduled_time_unix_ms, timeout_ms, keep_results_for_ms, max_retries))]
fn outbox_statement(
    py: Python<'_>,
    queue: &str,
    function: String,
    payload: &Bound<'_, PyAny>,
    scheduled_time_unix_ms: Option<u64>,
    timeout_ms: u64,
    keep_results_for_ms: u64,
    max_retries: Option<u32>,
) -> PyResult<(String, &'static str, EnqueueParams)> {
    let runtime = PythonRuntime::global()?;
    let Some(outbox) = runtime.resources().get::<Outbox>(queue) else {
        return Err(PyValueError::new_err(format!(
            "task queue `{queue}` has no outbox, so schedule_function(transaction=) cannot \
             use it: name a [[postgres]] pool with `outbox_postgres = \"...\"` in its \
             [[task_queue]] entry (or configure a `default` Postgres pool)"
        )));
    };
    let tasks = outbox.queue();
    tasks
        .check_shared()
        .map_err(|e| PuffError::new_err(e.to_string()))?;
    let payload = json::to_json_string(payload, "the task payload")?;
    if !outbox.table_ready() {
        let creating = outbox.clone();
        wait_for(py, async move { creating.ensure_table().await })?.map_err(|e| {
            PuffError::new_err(format!(
                "task queue `{queue}`: cannot create the outbox table {} in Postgres pool \
                 `{}`: {e}; create it with the migration in docs/tasks.md (Transactional \
                 enqueue)",
                sql::TABLE,
                outbox.pool_name()
            ))
        })?;
    }
    let schedule = ScheduleOptions {
        scheduled_time_unix_ms,
        timeout_ms,
        keep_results_for_ms,
        max_retries,
        unique_key: None,
    };
    let traceparent = puff_greenlet::trace::python::python_current(py).map(|c| c.to_traceparent());
    let task = tasks.new_task(function, payload, &schedule, traceparent);
    let options = RowOptions {
        scheduled_time_unix_ms: task.scheduled_time_unix_ms,
        timeout_ms: task.timeout_ms,
        keep_results_for_ms: task.keep_results_for_ms,
        max_retries: task.max_retries,
        traceparent: task.traceparent,
    };
    let options =
        serde_json::to_string(&options).map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok((
        task.id.clone(),
        sql::ENQUEUE,
        (
            queue.to_owned(),
            task.id,
            task.function,
            task.payload,
            options,
        ),
    ))
}

pub(crate) fn add_functions(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(outbox_statement, module)?)
}
