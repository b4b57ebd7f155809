//! asyncio side of the bridge: Puff functions awaited from coroutines, and coroutines
//! awaited from greenlets.
//!
//! With `asyncio: true` the hub runs the event loop, so coroutine code runs on the hub
//! greenlet. A Puff function called there cannot park; instead it returns an asyncio
//! future that Tokio resolves through the hub queue (one loop wake-up per batch, never
//! taking the GIL on a Tokio thread).

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use pyo3::exceptions::PyStopIteration;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::error::{exceptions, panic_message};
use crate::return_func::return_func;
use crate::runtime::PythonRuntime;
use crate::waiting::wait_for;
use crate::worker::CURRENT_WORKER;

/// Turns a future's output into a Python object, on the Python thread.
pub type Convert<T> = Box<dyn FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send>;

/// True when called from coroutine code on Puff's event loop (the hub greenlet).
pub fn in_coroutine(py: Python<'_>) -> bool {
    let Ok(runtime) = PythonRuntime::global() else {
        return false;
    };
    if runtime.event_loop().is_none()
        || !runtime.is_python_thread()
        || CURRENT_WORKER.with(|c| c.get()) != 0
    {
        return false;
    }
    runtime.current_is_hub(py).unwrap_or(false)
}

/// Wait for `fut` the way the caller can: in a greenlet, park and return the converted
/// value; in a coroutine on the loop, return an awaitable of it (an asyncio future, or a
/// [`resolved_future`] when `fut` is already complete).
pub fn wait_or_await<F, T>(py: Python<'_>, fut: F, convert: Convert<T>) -> PyResult<Py<PyAny>>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    if !in_coroutine(py) {
        let value = wait_for(py, fut)?;
        return convert(py, value);
    }
    let runtime = PythonRuntime::global()?;
    let fut = crate::trace::within(crate::trace::python::python_current(py), fut);
    let mut fut = Box::pin(AssertUnwindSafe(fut).catch_unwind());
    // Already complete (e.g. a send into a channel with room): resolve in place.
    {
        let _in_runtime = runtime.tokio().enter();
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        if let std::task::Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return match out {
                Ok(value) => resolved_future(py, convert(py, value)),
                Err(panic) => resolved_future(
                    py,
                    Err(exceptions::PuffPanicError::new_err(panic_message(&*panic))),
                ),
            };
        }
    }
    let event_loop = runtime
        .event_loop()
        .ok_or_else(|| exceptions::PuffError::new_err("no Puff event loop"))?;
    let future = event_loop.bind(py).call_method0("create_future")?;
    let target = future.clone().unbind();
    let hub = runtime.clone();
    let task = runtime.tokio().spawn(async move {
        let out = fut.await;
        let _ = hub.run_on_hub(move |py| {
            let future = target.bind(py);
            // Cancelled (or otherwise finished) while we worked: nothing to deliver.
            if future
                .call_method0("done")
                .and_then(|d| d.is_truthy())
                .unwrap_or(true)
            {
                return;
            }
            let result = match out {
                Ok(value) => convert(py, value),
                Err(panic) => Err(exceptions::PuffPanicError::new_err(panic_message(&*panic))),
            };
            let set = match result {
                Ok(value) => future.call_method1("set_result", (value,)),
                Err(err) => future.call_method1("set_exception", (err.into_value(py),)),
            };
            if let Err(e) = set {
                tracing::error!("cannot resolve an asyncio future: {e}");
            }
        });
    });
    // A cancelled await stops the Tokio work too, so e.g. a cancelled `receive()` does not
    // go on to take (and lose) the next message.
    future.call_method1(
        "add_done_callback",
        (CancelOnCancelled {
            task: task.abort_handle(),
        },),
    )?;
    Ok(future.unbind())
}

/// Done-callback of an asyncio future: aborts its Tokio task if the future was cancelled.
#[pyclass(module = "puff._native", name = "CancelOnCancelled", frozen)]
struct CancelOnCancelled {
    task: tokio::task::AbortHandle,
}

#[pymethods]
impl CancelOnCancelled {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0("cancelled")?.is_truthy()? {
            self.task.abort();
        }
        Ok(())
    }
}

/// An awaitable that already holds `outcome`: awaiting it returns the value (or raises the
/// error) at once, without an asyncio future or any call into the loop. It works wherever
/// asyncio takes an awaitable (`ensure_future`, `gather`, `wait_for`, ...), which wrap it
/// in a coroutine.
pub fn resolved_future(py: Python<'_>, outcome: PyResult<Py<PyAny>>) -> PyResult<Py<PyAny>> {
    let outcome = outcome.map(|value| (!value.is_none(py)).then_some(value));
    Ok(Py::new(py, Ready { outcome })?.into_any())
}

/// What [`resolved_future`] returns: its own `__await__` iterator, finished on the first
/// `__next__`.
#[pyclass(module = "puff._native", name = "Ready", frozen)]
struct Ready {
    /// `Ok(None)` stands for Python's `None`.
    outcome: PyResult<Option<Py<PyAny>>>,
}

impl Ready {
    fn finish(&self, py: Python<'_>) -> PyErr {
        match &self.outcome {
            Ok(None) => PyStopIteration::new_err(()),
            Ok(Some(value)) => PyStopIteration::new_err((value.clone_ref(py),)),
            Err(err) => err.clone_ref(py),
        }
    }
}

#[pymethods]
impl Ready {
    fn __await__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match &self.outcome {
            // `None` from `__next__` is a `StopIteration` without a value: the fast path.
            Ok(None) => Ok(None),
            _ => Err(self.finish(py)),
        }
    }

    fn send(&self, py: Python<'_>, _value: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(self.finish(py))
    }

    #[pyo3(signature = (kind, value = None, _traceback = None))]
    fn throw(
        &self,
        kind: &Bound<'_, PyAny>,
        value: Option<&Bound<'_, PyAny>>,
        _traceback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let err = match value {
            Some(value) if !value.is_none() => PyErr::from_value(value.clone()),
            _ => PyErr::from_value(kind.clone()),
        };
        Err(err)
    }

    fn close(&self) {}
}

const RUN_COROUTINE_SOURCE: &std::ffi::CStr = c"
import asyncio

def start(loop, awaitable, deliver):
    task = asyncio.ensure_future(awaitable, loop=loop)

    def done(task):
        if task.cancelled():
            deliver(None, asyncio.CancelledError())
        elif task.exception() is not None:
            deliver(None, task.exception())
        else:
            deliver(task.result(), None)

    task.add_done_callback(done)
";

/// From a greenlet (or another thread): run `awaitable` on Puff's event loop and wait for
/// its result without blocking other greenlets.
#[pyfunction]
pub fn run_coroutine(py: Python<'_>, awaitable: Py<PyAny>) -> PyResult<Py<PyAny>> {
    let runtime = PythonRuntime::global()?;
    let Some(event_loop) = runtime.event_loop() else {
        return Err(exceptions::PuffError::new_err(
            "no asyncio event loop: set `asyncio = true` in puff.toml \
             (RuntimeConfig::set_asyncio(true))",
        ));
    };
    if in_coroutine(py) {
        return Err(exceptions::NotInGreenletError::new_err(
            "puff.run_coroutine() waits from a greenlet; in a coroutine use `await` instead",
        ));
    }
    let (sender, receiver) = tokio::sync::oneshot::channel::<PyResult<Py<PyAny>>>();
    let deliver = return_func(py, sender)?;
    let event_loop = event_loop.clone_ref(py);
    runtime.run_on_hub(move |py| {
        let started = (|| -> PyResult<()> {
            static START: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
            let start = START.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
                let module = PyModule::from_code(
                    py,
                    RUN_COROUTINE_SOURCE,
                    c"<puff run_coroutine>",
                    c"puff._run_coroutine",
                )?;
                Ok(module.getattr("start")?.unbind())
            })?;
            start
                .bind(py)
                .call1((event_loop, awaitable, deliver.clone_ref(py)))?;
            Ok(())
        })();
        if let Err(e) = started {
            let _ = deliver.call1(py, (py.None(), e.into_value(py)));
        }
    })?;
    match wait_for(py, receiver)? {
        Ok(outcome) => outcome,
        Err(_) => Err(exceptions::PuffError::new_err(
            "the event loop stopped before the coroutine finished",
        )),
    }
}
