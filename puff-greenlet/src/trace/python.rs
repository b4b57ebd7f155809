//! The trace context of Python code: a `contextvars` variable holding a
//! [`PyTraceContext`], and `puff.trace_context()` that returns it.
//!
//! Each job (request, resolver call, task) runs in a fresh `contextvars` context, so the
//! variable set when the job starts belongs to that job alone; asyncio tasks copy their
//! creator's context, and `puff.spawn` passes it on explicitly. Rust futures waited on
//! from Python ([`crate::wait_for`]) run [`within`](super::within) the variable's value,
//! so spans they record nest under the Python code's span.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use super::context::TraceContext;
use super::current;

/// A fresh `contextvars.Context` whose trace context is `context`, for code started outside
/// a job (an asyncio task created from the hub: `create_task(coro, context=...)`).
pub fn new_context_with<'py>(
    py: Python<'py>,
    context: TraceContext,
) -> PyResult<Bound<'py, PyAny>> {
    let fresh = py.import("contextvars")?.getattr("Context")?.call0()?;
    let value = Py::new(py, PyTraceContext { context })?;
    fresh.call_method1("run", (variable(py)?.getattr("set")?, value))?;
    Ok(fresh)
}

/// `puff.trace_context()`: the trace a piece of Python code runs in.
#[pyclass(module = "puff._native", name = "TraceContext", frozen)]
pub struct PyTraceContext {
    pub context: TraceContext,
}

#[pymethods]
impl PyTraceContext {
    /// 32 lowercase hex digits.
    #[getter]
    fn trace_id(&self) -> String {
        self.context.trace_id.to_string()
    }

    /// 16 lowercase hex digits: the span this code runs in.
    #[getter]
    fn span_id(&self) -> String {
        self.context.span_id.to_string()
    }

    /// The W3C `traceparent` header value naming this span as the parent.
    #[getter]
    fn traceparent(&self) -> String {
        self.context.to_traceparent()
    }

    #[getter]
    fn sampled(&self) -> bool {
        self.context.sampled
    }

    fn __repr__(&self) -> String {
        format!("<puff.TraceContext {}>", self.context.to_traceparent())
    }
}

static VARIABLE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn variable(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    VARIABLE
        .get_or_try_init(py, || {
            py.import("contextvars")?
                .getattr("ContextVar")?
                .call1(("puff_trace_context",))
                .map(Bound::unbind)
        })
        .map(|v| v.bind(py))
}

/// The trace context of the running Python code, if any (skipped entirely until tracing is
/// [`active`](current::active)).
pub fn python_current(py: Python<'_>) -> Option<TraceContext> {
    if !current::active() {
        return None;
    }
    let value = variable(py).ok()?.call_method1("get", (py.None(),)).ok()?;
    let context = value.cast::<PyTraceContext>().ok()?;
    Some(context.get().context)
}

/// Make `context` the trace context of the running Python code (its `contextvars`
/// context, which each job has its own of).
pub fn set_python_current(py: Python<'_>, context: TraceContext) {
    let set = Py::new(py, PyTraceContext { context })
        .and_then(|value| variable(py)?.call_method1("set", (value,)).map(drop));
    if let Err(e) = set {
        tracing::debug!("cannot set the trace context: {e}");
    }
}

/// `puff.trace_context()`: the current trace id, span id and `traceparent`, or `None`
/// outside any trace. With tracing off it is the incoming `traceparent`'s, if one was
/// sent.
#[pyfunction]
pub fn trace_context(py: Python<'_>) -> Option<PyTraceContext> {
    python_current(py).map(|context| PyTraceContext { context })
}
