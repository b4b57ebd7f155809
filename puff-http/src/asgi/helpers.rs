//! The adapter's Python half: `puff._asgi_helpers` from the `puff` package (the coroutine
//! running an `http` request, the websocket task starter, the lifespan driver).

use puff_greenlet::pyo3::exceptions::PyImportError;
use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::pyo3::sync::PyOnceLock;

/// The Python half of the adapter, `puff._asgi_helpers` in the `puff` package.
pub(super) fn helpers(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static HELPERS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    Ok(HELPERS
        .get_or_try_init(py, || -> PyResult<Py<PyModule>> {
            match py.import("puff._asgi_helpers") {
                Ok(module) => Ok(module.unbind()),
                Err(e) if e.is_instance_of::<PyImportError>(py) => {
                    Err(PyImportError::new_err(format!(
                        "the ASGI adapter needs `puff._asgi_helpers` from the `puff` Python \
                         package (python/ in the Puff repository; `pip install puff-py`), \
                         which this environment cannot import: {}",
                        e.value(py)
                    )))
                }
                Err(e) => Err(e),
            }
        })?
        .bind(py))
}
