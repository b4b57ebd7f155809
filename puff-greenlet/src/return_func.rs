//! `puff._native.ReturnFunc`: a one-shot function that delivers a result (or an
//! exception) to whoever waits on its channel; `puff.wrap_async` passes one to Python, and
//! `run_coroutine` uses one to hand back a coroutine's outcome.

use std::sync::Mutex;

use pyo3::prelude::*;

use crate::error::exceptions;

pub(crate) type ReturnSender = tokio::sync::oneshot::Sender<PyResult<Py<PyAny>>>;

/// The return function `puff.wrap_async` passes: call it as `ret(result)` or `ret(None, exc)`.
#[pyclass(module = "puff._native", name = "ReturnFunc")]
pub(crate) struct ReturnFunc {
    sender: Mutex<Option<ReturnSender>>,
}

#[pymethods]
impl ReturnFunc {
    #[pyo3(signature = (result=None, error=None))]
    fn __call__(
        &self,
        py: Python<'_>,
        result: Option<Py<PyAny>>,
        error: Option<Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let sender = self.sender.lock().ok().and_then(|mut s| s.take());
        let Some(sender) = sender else {
            return Err(exceptions::PuffError::new_err(
                "this return function was already called",
            ));
        };
        let outcome = match error {
            Some(err) if !err.is_none() => Err(PyErr::from_value(err)),
            _ => Ok(result.unwrap_or_else(|| py.None())),
        };
        let _ = sender.send(outcome);
        Ok(())
    }
}

/// A fresh return function delivering to `sender`.
pub(crate) fn return_func(py: Python<'_>, sender: ReturnSender) -> PyResult<Py<PyAny>> {
    Ok(Py::new(
        py,
        ReturnFunc {
            sender: Mutex::new(Some(sender)),
        },
    )?
    .into_any())
}
