//! How a claimed task runs: in a greenlet on the Python thread, its function imported by
//! name and called with the decoded payload; whatever goes wrong becomes its error outcome.

use puff_greenlet::pyo3::exceptions::PyValueError;
use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::trace::{Span, SpanKind, TraceContext};
use puff_greenlet::{PythonRuntime, import_object, json};

use crate::metrics::RunMetrics;
use crate::task::{ClaimedTask, Outcome, TaskFailure};

/// Start a claimed task in a greenlet now (tasks claimed together start in claim order):
/// import its function, call it with the decoded payload (awaiting it on Puff's event loop
/// if it is a coroutine) and encode the result. Whatever goes wrong becomes the task's
/// error outcome.
///
/// The run is recorded as a span under the scheduling code's span (a new trace's root
/// when it was scheduled outside any trace), and the task's Python code runs in it; the
/// run is counted in `metrics` when it ends.
pub(crate) fn start_task(
    python: &PythonRuntime,
    task: ClaimedTask,
    metrics: RunMetrics,
) -> impl std::future::Future<Output = Outcome> + Send + 'static {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let scheduled_in = task
        .traceparent
        .as_deref()
        .and_then(TraceContext::from_traceparent);
    let mut span = Span::start_under(
        scheduled_in,
        format!("task {}", task.function),
        SpanKind::Consumer,
    );
    if let Some(span) = &mut span {
        span.set_attribute("puff.task.function", task.function.clone());
        span.set_attribute("puff.task.attempt", task.attempt);
        span.set_attribute("puff.task.id", task.id.clone());
    }
    let trace = span.as_ref().map(Span::context).or(scheduled_in);
    let posted = python.spawn_job(move |py| {
        if let Some(trace) = trace {
            puff_greenlet::trace::python::set_python_current(py, trace);
        }
        let started = puff_greenlet::metrics::start_timer();
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            match call_task(py, &task) {
                Ok(value) => Outcome::Ok(value),
                Err(err) => Outcome::Error(failure(py, &err)),
            }
        }));
        let outcome = ran.unwrap_or_else(|panic| {
            Outcome::failure(
                "puff.PuffPanicError",
                puff_greenlet::error::panic_message(&*panic),
            )
        });
        let _ = sender.send((outcome, started.map(|s| s.elapsed())));
    });
    async move {
        let (outcome, took) = match posted {
            Err(e) => (Outcome::failure("puff.PuffError", e.to_string()), None),
            Ok(()) => receiver.await.unwrap_or_else(|_| {
                let stopped = Outcome::failure(
                    "puff.PuffError",
                    "the Python runtime stopped before the task finished",
                );
                (stopped, None)
            }),
        };
        metrics.finished(matches!(outcome, Outcome::Ok(_)), took);
        if let (Some(span), Outcome::Error(failure)) = (&mut span, &outcome) {
            span.set_error(failure.error_type.clone());
        }
        outcome
    }
}

fn call_task(py: Python<'_>, task: &ClaimedTask) -> PyResult<serde_json::Value> {
    crate::current::set(py, task)?;
    let function = import_object(py, &task.function)?;
    let payload: serde_json::Value = serde_json::from_str(&task.payload)
        .map_err(|e| PyValueError::new_err(format!("the task payload is not JSON: {e}")))?;
    let mut out = function.call1((json::to_py(py, &payload)?,))?;
    if out.hasattr(pyo3::intern!(py, "__await__"))? {
        out = crate::current::wrap(py, task, out)?;
        out = puff_greenlet::aio::run_coroutine(py, out.unbind())?.into_bound(py);
    }
    json::to_json(&out, "the task's return value")
}

fn failure(py: Python<'_>, err: &PyErr) -> TaskFailure {
    let kind = err.get_type(py);
    let module: String = kind
        .getattr("__module__")
        .and_then(|m| m.extract())
        .unwrap_or_default();
    let name = kind
        .qualname()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "Exception".into());
    TaskFailure {
        error_type: if module.is_empty() {
            name
        } else {
            format!("{module}.{name}")
        },
        message: err
            .value(py)
            .str()
            .map(|s| s.to_string())
            .unwrap_or_default(),
        traceback: puff_greenlet::error::format_exception(py, err),
    }
}
