//! `puff.task_queue.current_task()`: the running task's (id, function, attempt) in the
//! context variable `puff._native.task_queue._current_task`, set in the task's greenlet
//! context (each task runs in a fresh one, so it is never reset) and, for `async def`
//! tasks, in the context of the asyncio task that awaits the coroutine.

use std::ffi::CStr;

use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::pyo3::sync::PyOnceLock;

use crate::task::ClaimedTask;

const WITH_CURRENT_TASK: &CStr = c"
async def with_current_task(var, info, awaitable):
    var.set(info)
    return await awaitable
";

/// The context variable (looked up once: it is set for every task run).
fn var(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static VAR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let var = VAR.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        Ok(py
            .import("puff._native.task_queue")?
            .getattr("_current_task")?
            .unbind())
    })?;
    Ok(var.bind(py))
}

fn info<'py>(py: Python<'py>, task: &ClaimedTask) -> PyResult<Bound<'py, PyAny>> {
    Ok((task.id.as_str(), task.function.as_str(), task.attempt)
        .into_pyobject(py)?
        .into_any())
}

/// Make `task` the current task of the running greenlet.
pub(crate) fn set(py: Python<'_>, task: &ClaimedTask) -> PyResult<()> {
    var(py)?.call_method1(pyo3::intern!(py, "set"), (info(py, task)?,))?;
    Ok(())
}

/// `awaitable` (a task's coroutine) wrapped so that `task` is current where it runs.
pub(crate) fn wrap<'py>(
    py: Python<'py>,
    task: &ClaimedTask,
    awaitable: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    static WRAPPER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let wrapper = WRAPPER.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        let module = PyModule::from_code(
            py,
            WITH_CURRENT_TASK,
            c"<puff current_task>",
            c"puff._current_task",
        )?;
        Ok(module.getattr("with_current_task")?.unbind())
    })?;
    wrapper
        .bind(py)
        .call1((var(py)?, info(py, task)?, awaitable))
}

/// Add `_current_task` to `puff._native.task_queue`.
pub(crate) fn add_to_module(py: Python<'_>, module: &Bound<'_, PyModule>) -> PyResult<()> {
    let var = py
        .import("contextvars")?
        .getattr("ContextVar")?
        .call1(("puff_current_task",))?;
    module.add("_current_task", var)?;
    Ok(())
}
