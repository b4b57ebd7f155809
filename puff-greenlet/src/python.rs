//! The `puff._native` module: the runtime's Python API.
//!
//! Thin wrappers: each function turns its arguments into a Rust future or job and uses
//! [`wait_for`](crate::wait_for) to wait on it from the calling greenlet.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};

use crate::aio::{in_coroutine, wait_or_await};
use crate::error::{exceptions, panic_message};
use crate::return_func::{ReturnFunc, return_func};
use crate::runtime::PythonRuntime;

/// Pause the calling greenlet for `ms` milliseconds; other greenlets keep running.
/// Awaitable from coroutines on Puff's event loop.
#[pyfunction]
fn sleep_ms(py: Python<'_>, ms: i64) -> PyResult<Py<PyAny>> {
    if ms < 0 {
        return Err(PyValueError::new_err(format!(
            "sleep_ms() needs a non-negative duration, got {ms}"
        )));
    }
    let duration = Duration::from_millis(ms as u64);
    // Not tokio::time::sleep: its millisecond wheel ends a 20 ms sleep after 21-22 ms.
    if in_coroutine(py) {
        return wait_or_await(
            py,
            crate::timer::sleep(duration),
            Box::new(|py, ()| Ok(py.None())),
        );
    }
    crate::waiting::sleep_until(py, std::time::Instant::now() + duration)?;
    Ok(py.None())
}

/// Read a whole file on Tokio; raises `puff.PuffIOError` naming the path on failure.
#[pyfunction]
fn read_file_bytes(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Py<PyAny>> {
    let shown = path.display().to_string();
    wait_or_await(
        py,
        async move { tokio::fs::read(path).await },
        Box::new(move |py, read| match read {
            Ok(data) => Ok(PyBytes::new(py, &data).into_any().unbind()),
            Err(e) => Err(exceptions::PuffIOError::new_err(format!(
                "cannot read {shown}: {e}"
            ))),
        }),
    )
}

/// Run `fn(*args, **kwargs)` on the blocking thread pool and wait for it.
///
/// Called where waiting is impossible (the hub) or pointless (already on another thread),
/// it simply calls `fn` in place.
#[pyfunction]
#[pyo3(signature = (f, args, kwargs=None))]
fn run_blocking(
    py: Python<'_>,
    f: Py<PyAny>,
    args: Py<PyTuple>,
    kwargs: Option<Py<PyDict>>,
) -> PyResult<Py<PyAny>> {
    let runtime = PythonRuntime::global()?;
    if !runtime.is_python_thread() {
        return call_with(py, &f, &args, kwargs.as_ref());
    }
    let task = runtime
        .tokio()
        .spawn_blocking(move || Python::attach(|py| call_with(py, &f, &args, kwargs.as_ref())));
    wait_or_await(
        py,
        task,
        Box::new(|_py, joined| match joined {
            Ok(result) => result,
            Err(join_error) => Err(exceptions::PuffPanicError::new_err(format!(
                "blocking function panicked: {join_error}"
            ))),
        }),
    )
}

struct SpawnState {
    result: Mutex<Option<PyResult<Py<PyAny>>>>,
    done: tokio::sync::watch::Sender<bool>,
}

/// Handle on a greenlet started by `puff.spawn`.
#[pyclass(module = "puff._native", name = "SpawnHandle")]
struct SpawnHandle {
    state: Arc<SpawnState>,
}

#[pymethods]
impl SpawnHandle {
    /// Wait for the spawned function; return its value or re-raise its exception.
    fn join(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let mut done = self.state.done.subscribe();
        let state = self.state.clone();
        wait_or_await(
            py,
            async move {
                let _ = done.wait_for(|d| *d).await;
            },
            Box::new(move |py, ()| {
                let guard = state
                    .result
                    .lock()
                    .map_err(|_| exceptions::PuffError::new_err("spawn result lock poisoned"))?;
                match guard.as_ref() {
                    Some(Ok(v)) => Ok(v.clone_ref(py)),
                    Some(Err(e)) => Err(e.clone_ref(py)),
                    None => Err(exceptions::PuffError::new_err(
                        "the spawned greenlet ended without a result (runtime shutting down?)",
                    )),
                }
            }),
        )
    }

    /// True once the spawned function has returned or raised.
    fn done(&self) -> bool {
        *self.state.done.borrow()
    }
}

/// Start `fn(*args, **kwargs)` in a new greenlet with its own contextvars context.
#[pyfunction]
#[pyo3(signature = (f, args, kwargs=None))]
fn spawn(
    py: Python<'_>,
    f: Py<PyAny>,
    args: Py<PyTuple>,
    kwargs: Option<Py<PyDict>>,
) -> PyResult<SpawnHandle> {
    let runtime = PythonRuntime::global()?;
    // The new greenlet's fresh contextvars context still belongs to the caller's trace.
    let trace = crate::trace::python::python_current(py);
    let (done, _) = tokio::sync::watch::channel(false);
    let state = Arc::new(SpawnState {
        result: Mutex::new(None),
        done,
    });
    // Marks the handle done even if the job panics or is dropped unrun, so join() never hangs.
    let guard = MarkDoneOnDrop(state.clone());
    runtime.spawn_job(move |py| {
        let guard = guard;
        if let Some(trace) = trace {
            crate::trace::python::set_python_current(py, trace);
        }
        let result = match catch_unwind(AssertUnwindSafe(|| {
            call_with(py, &f, &args, kwargs.as_ref())
        })) {
            Ok(result) => result,
            Err(panic) => Err(exceptions::PuffPanicError::new_err(panic_message(&*panic))),
        };
        if let Err(e) = &result {
            tracing::debug!(
                "spawned greenlet raised: {}",
                crate::error::format_exception(py, e)
            );
        }
        if let Ok(mut slot) = guard.0.result.lock() {
            *slot = Some(result);
        }
    })?;
    Ok(SpawnHandle { state })
}

struct MarkDoneOnDrop(Arc<SpawnState>);

impl Drop for MarkDoneOnDrop {
    fn drop(&mut self) {
        self.0.done.send_replace(true);
    }
}

/// Call `fn(return_func)` and wait until `return_func(result, error)` is called.
/// Awaitable from coroutines on Puff's event loop.
#[pyfunction]
fn wrap_async(py: Python<'_>, f: Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    f.call1((return_func(py, sender)?,))?;
    wait_or_await(
        py,
        receiver,
        Box::new(|_py, received| match received {
            Ok(outcome) => outcome,
            Err(_) => Err(exceptions::PuffError::new_err(
                "the return function was dropped without being called",
            )),
        }),
    )
}

/// The object built by `RuntimeConfig::set_global_state_fn`, or None.
#[pyfunction]
fn global_state(py: Python<'_>) -> PyResult<Py<PyAny>> {
    let runtime = PythonRuntime::global()?;
    Ok(runtime.global_state(py).unwrap_or_else(|| py.None()))
}

/// Build the `puff._native` module (subsystems add their submodules to it).
pub fn native_module(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    let m = PyModule::new(py, "puff._native")?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("PuffError", py.get_type::<exceptions::PuffError>())?;
    m.add(
        "PuffTimeoutError",
        py.get_type::<exceptions::PuffTimeoutError>(),
    )?;
    m.add("PuffIOError", py.get_type::<exceptions::PuffIOError>())?;
    m.add(
        "PuffPanicError",
        py.get_type::<exceptions::PuffPanicError>(),
    )?;
    m.add(
        "NotInGreenletError",
        py.get_type::<exceptions::NotInGreenletError>(),
    )?;
    m.add(
        "RequestBodyTooLarge",
        py.get_type::<exceptions::RequestBodyTooLarge>(),
    )?;
    m.add_class::<SpawnHandle>()?;
    m.add_class::<ReturnFunc>()?;
    m.add_class::<crate::trace::python::PyTraceContext>()?;
    m.add_function(wrap_pyfunction!(crate::trace::python::trace_context, &m)?)?;
    m.add_function(wrap_pyfunction!(sleep_ms, &m)?)?;
    m.add_function(wrap_pyfunction!(read_file_bytes, &m)?)?;
    m.add_function(wrap_pyfunction!(run_blocking, &m)?)?;
    m.add_function(wrap_pyfunction!(spawn, &m)?)?;
    m.add_function(wrap_pyfunction!(wrap_async, &m)?)?;
    m.add_function(wrap_pyfunction!(global_state, &m)?)?;
    m.add_function(wrap_pyfunction!(crate::aio::run_coroutine, &m)?)?;
    Ok(m)
}

/// Call `f(*args, **kwargs)` for a `PyTuple`/`PyDict` pair, as Python would.
fn call_with(
    py: Python<'_>,
    f: &Py<PyAny>,
    args: &Py<PyTuple>,
    kwargs: Option<&Py<PyDict>>,
) -> PyResult<Py<PyAny>> {
    f.bind(py)
        .call(args.bind(py), kwargs.map(|k| k.bind(py)))
        .map(Bound::unbind)
}
