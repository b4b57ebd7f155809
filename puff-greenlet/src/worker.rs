//! What the hub hands to worker greenlets: the messages on its queue, the job object a
//! worker calls, and which worker greenlet is running now.
//!
//! Each job runs in a worker greenlet in a fresh `contextvars.Context`. Workers are pooled
//! by the hub, since creating a greenlet costs ~16 µs and reusing one well under 1 µs.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

use pyo3::prelude::*;

use crate::error::panic_message;
use crate::metrics::python::GREENLETS_ALIVE;

/// A unit of work for the Python thread.
pub(crate) type Work = Box<dyn FnOnce(Python<'_>) + Send>;

/// When a message was queued, if metrics are on (for the hub's lag).
pub(crate) type Queued = Option<std::time::Instant>;

pub(crate) enum HubMessage {
    /// Run in a (pooled) worker greenlet with a fresh contextvars context.
    Job(Work, Queued),
    /// Switch back into a greenlet whose awaited future has finished.
    Resume(Py<PyAny>, Queued),
    /// Run directly on the hub greenlet; must not wait on anything.
    OnHub(Work),
    Shutdown,
}

/// A unit of work handed to a worker greenlet; calling it runs the work once.
#[pyclass(module = "puff._native", name = "Job")]
pub(crate) struct PyJob {
    work: Mutex<Option<Work>>,
}

impl PyJob {
    pub(crate) fn new(work: Work) -> Self {
        PyJob {
            work: Mutex::new(Some(work)),
        }
    }
}

#[pymethods]
impl PyJob {
    fn __call__(&self, py: Python<'_>) {
        let work = self.work.lock().ok().and_then(|mut w| w.take());
        let alive = GREENLETS_ALIVE.with(&[]);
        alive.inc();
        if let Some(work) = work
            && let Err(panic) = catch_unwind(AssertUnwindSafe(|| work(py)))
        {
            tracing::error!("panic in Puff job: {}", panic_message(&*panic));
        }
        alive.dec();
    }
}

thread_local! {
    /// Key of the worker greenlet the hub last switched into (0 on the hub itself).
    pub(crate) static CURRENT_WORKER: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

pub(crate) fn greenlet_key(greenlet: &Bound<'_, PyAny>) -> usize {
    greenlet.as_ptr() as usize
}
