//! [`run_python_async`]: the seeds' bridge for users' own `#[pymethods]`, which offload a
//! Rust future and deliver its result to a Python return function.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use pyo3::BoundObject;
use pyo3::prelude::*;

use crate::error::{PuffResult, exceptions, panic_message};
use crate::runtime::PythonRuntime;

/// Offload `fut` onto Tokio and hand its result to `return_func(result, error)`.
///
/// This is the seeds' bridge for users' own `#[pymethods]`: Python passes a return
/// function (from `puff.wrap_async`), Rust computes asynchronously, and the result (or the
/// error as a Python exception) is delivered back on the Python thread.
pub fn run_python_async<F, T>(return_func: Py<PyAny>, fut: F)
where
    F: Future<Output = PuffResult<T>> + Send + 'static,
    T: for<'py> IntoPyObject<'py> + Send + 'static,
{
    let runtime = match PythonRuntime::global() {
        Ok(rt) => rt.clone(),
        Err(e) => {
            tracing::error!("run_python_async called without a runtime: {e}");
            return;
        }
    };
    let hub_runtime = runtime.clone();
    runtime.tokio().spawn(async move {
        let out = AssertUnwindSafe(fut).catch_unwind().await;
        let delivered = hub_runtime.run_on_hub(move |py| {
            let outcome: PyResult<Py<PyAny>> = match out {
                Ok(Ok(v)) => v
                    .into_pyobject(py)
                    .map(|b| b.into_any().unbind())
                    .map_err(Into::into),
                Ok(Err(e)) => Err(e.into_pyerr()),
                Err(panic) => Err(exceptions::PuffPanicError::new_err(panic_message(&*panic))),
            };
            let call = match outcome {
                Ok(value) => return_func.call1(py, (value, py.None())),
                Err(err) => return_func.call1(py, (py.None(), err.into_value(py))),
            };
            if let Err(e) = call {
                tracing::error!(
                    "return function raised: {}",
                    crate::error::format_exception(py, &e)
                );
            }
        });
        if delivered.is_err() {
            tracing::warn!("run_python_async finished after the Python runtime stopped");
        }
    });
}
