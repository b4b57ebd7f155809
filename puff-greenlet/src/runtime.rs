//! [`PythonRuntime`]: the cheap, cloneable handle on the running Python thread, usable
//! from any thread.
//!
//! Work reaches the Python thread as messages on the hub's queue: a job to run in a worker
//! greenlet, a parked greenlet to resume, or a short closure for the hub itself. Starting
//! the thread is in `lifecycle`; waiting on futures from a greenlet is in `waiting`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::thread::{self, ThreadId};

use pyo3::prelude::*;

use crate::error::{PuffError, PuffResult, exceptions};
use crate::interpreter::import_object;
use crate::resources::Resources;
use crate::worker::{CURRENT_WORKER, HubMessage, greenlet_key};

/// Greenlet objects the hub and waiting functions need, created on the Python thread.
pub(crate) struct HubObjects {
    pub(crate) hub: Py<PyAny>,
    pub(crate) getcurrent: Py<PyAny>,
}

pub(crate) struct Inner {
    pub(crate) sender: mpsc::Sender<HubMessage>,
    /// Asyncio mode: written to when the queue goes from empty to non-empty.
    pub(crate) wake: OnceLock<std::os::unix::net::UnixStream>,
    /// Set by a send that wrote to `wake`, cleared by the hub before it drains the queue.
    pub(crate) wake_pending: Arc<AtomicBool>,
    /// Asyncio mode: the event loop the hub runs.
    pub(crate) event_loop: OnceLock<Py<PyAny>>,
    pub(crate) tokio: tokio::runtime::Handle,
    pub(crate) python_thread: OnceLock<ThreadId>,
    pub(crate) hub_objects: OnceLock<HubObjects>,
    pub(crate) global_state: OnceLock<Py<PyAny>>,
    pub(crate) resources: Resources,
    pub(crate) stopped: Mutex<Option<mpsc::Receiver<()>>>,
}

/// Cheap, cloneable handle on the running Python runtime, usable from any thread.
#[derive(Clone)]
pub struct PythonRuntime {
    pub(crate) inner: Arc<Inner>,
}

/// The one runtime of this process, set by [`PythonRuntime::start`].
pub(crate) static GLOBAL_RUNTIME: OnceLock<PythonRuntime> = OnceLock::new();

impl PythonRuntime {
    /// The runtime started in this process, if any.
    pub fn global() -> PuffResult<&'static PythonRuntime> {
        GLOBAL_RUNTIME.get().ok_or_else(|| {
            PuffError::RuntimeUnavailable(
                "no Puff runtime in this process (run under puff-cli or a Puff Program)".into(),
            )
        })
    }

    /// The Tokio runtime all I/O runs on.
    pub fn tokio(&self) -> &tokio::runtime::Handle {
        &self.inner.tokio
    }

    /// Typed resources registered by subsystems (pools, configs, clients).
    pub fn resources(&self) -> &Resources {
        &self.inner.resources
    }

    /// The object built by the global state function, or `None`.
    pub fn global_state(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.inner.global_state.get().map(|s| s.clone_ref(py))
    }

    /// True on the thread that owns the interpreter and the greenlets.
    pub fn is_python_thread(&self) -> bool {
        self.inner.python_thread.get() == Some(&thread::current().id())
    }

    /// Queue a message for the hub, waking the event loop if it may be asleep.
    pub(crate) fn post(&self, msg: HubMessage) -> PuffResult<()> {
        self.inner
            .sender
            .send(msg)
            .map_err(|_| PuffError::RuntimeUnavailable("the Python thread has stopped".into()))?;
        if let Some(wake) = self.inner.wake.get()
            && !self.inner.wake_pending.swap(true, Ordering::AcqRel)
        {
            use std::io::Write;
            let _ = (&*wake).write(&[1]);
        }
        Ok(())
    }

    /// The asyncio event loop the hub runs, when started with `asyncio: true`.
    pub fn event_loop(&self) -> Option<&Py<PyAny>> {
        self.inner.event_loop.get()
    }

    /// Run `work` in a fresh greenlet (own contextvars context); fire and forget.
    ///
    /// `work` may call Puff async functions ([`wait_for`](crate::wait_for)); it must handle
    /// its own errors.
    /// The job inherits the caller's trace context (`puff.trace_context()` in the job).
    pub fn spawn_job(&self, work: impl FnOnce(Python<'_>) + Send + 'static) -> PuffResult<()> {
        let timer = crate::metrics::start_timer();
        match crate::trace::current() {
            None => self.post(HubMessage::Job(Box::new(work), timer)),
            Some(trace) => self.post(HubMessage::Job(
                Box::new(move |py| {
                    crate::trace::python::set_python_current(py, trace);
                    work(py)
                }),
                timer,
            )),
        }
    }

    /// Run `f` in a fresh greenlet and await its result from async Rust.
    ///
    /// Python exceptions come back as [`PuffError::Python`] with their traceback; a panic in
    /// `f` comes back as [`PuffError::Panic`]. Other greenlets keep running while `f` waits.
    pub async fn run<F, T>(&self, f: F) -> PuffResult<T>
    where
        F: FnOnce(Python<'_>) -> PyResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.spawn_job(move |py| {
            let out = match catch_unwind(AssertUnwindSafe(|| f(py))) {
                Ok(Ok(v)) => Ok(v),
                Ok(Err(e)) => Err(PuffError::from_pyerr(py, e)),
                Err(panic) => Err(PuffError::from_panic(panic)),
            };
            let _ = tx.send(out);
        })?;
        rx.await.map_err(|_| {
            PuffError::RuntimeUnavailable(
                "the Python thread stopped before the work finished".into(),
            )
        })?
    }

    /// Import `module.attr` (e.g. `"app.wsgi.application"`) and return the object.
    pub async fn import_object(&self, path: &str) -> PuffResult<Py<PyAny>> {
        let path = path.to_owned();
        self.run(move |py| import_object(py, &path).map(Bound::unbind))
            .await
    }

    /// The hub and the calling greenlet, which is about to wait; refuses the hub itself.
    pub(crate) fn waiting_greenlet<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let objects = self.hub_objects()?;
        let hub = objects.hub.bind(py).clone();
        let current = objects.getcurrent.bind(py).call0()?;
        if current.is(&hub) {
            return Err(exceptions::NotInGreenletError::new_err(
                "Puff async functions cannot wait on the hub greenlet; call them from a Puff \
                 greenlet (request handler, command, spawned function) or another thread",
            ));
        }
        Ok((hub, current))
    }

    /// Whether the calling code runs on the hub greenlet itself.
    pub(crate) fn current_is_hub(&self, py: Python<'_>) -> PyResult<bool> {
        let objects = self.hub_objects()?;
        Ok(objects
            .getcurrent
            .bind(py)
            .call0()?
            .is(objects.hub.bind(py)))
    }

    fn hub_objects(&self) -> PyResult<&HubObjects> {
        self.inner
            .hub_objects
            .get()
            .ok_or_else(|| exceptions::PuffError::new_err("the Puff hub is not running"))
    }

    /// Run a short closure on the hub greenlet itself (it must not wait on anything).
    pub fn run_on_hub(&self, work: impl FnOnce(Python<'_>) + Send + 'static) -> PuffResult<()> {
        self.post(HubMessage::OnHub(Box::new(work)))
    }

    /// Ask the hub to stop after the messages already queued; flushes stdio and runs atexit.
    pub fn shutdown(&self) {
        let _ = self.post(HubMessage::Shutdown);
    }

    /// [`shutdown`](Self::shutdown), then wait up to `timeout` for the Python thread to
    /// finish (it cannot if some greenlet never yields). Returns whether it finished.
    pub fn shutdown_and_wait(&self, timeout: std::time::Duration) -> bool {
        self.shutdown();
        let stopped = self.inner.stopped.lock().ok().and_then(|mut s| s.take());
        match stopped {
            Some(rx) => rx.recv_timeout(timeout).is_ok(),
            None => true,
        }
    }
}

/// The key of the calling greenlet: the worker the hub switched into, else (a greenlet
/// the user created) whatever greenlet says is current. Must be called on the Python thread.
pub(crate) fn current_greenlet_key(py: Python<'_>) -> PyResult<usize> {
    let key = CURRENT_WORKER.with(|c| c.get());
    if key != 0 {
        return Ok(key);
    }
    let objects = PythonRuntime::global()?.hub_objects()?;
    Ok(greenlet_key(&objects.getcurrent.bind(py).call0()?))
}
