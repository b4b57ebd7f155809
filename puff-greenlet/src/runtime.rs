//! The Python thread, its hub greenlet and the bridge between greenlets and Tokio.
//!
//! One OS thread owns the interpreter. Its main greenlet is the *hub*: it blocks on a
//! channel with the GIL released, and for each message either runs a unit of work in a
//! worker greenlet (each in a fresh `contextvars.Context`) or resumes a greenlet whose
//! future finished. Worker greenlets are pooled, since creating one costs ~16 µs and
//! reusing one well under 1 µs.
//!
//! A Rust function called from a worker greenlet waits on a future with [`wait_for`]: the
//! future is polled once in place (ready futures never leave the thread), otherwise it is
//! spawned on Tokio and the greenlet switches to the hub until the future's task sends a
//! resume message. Only plain Rust data crosses threads; Python objects are built on the
//! Python thread.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::thread::{self, ThreadId};

use futures_util::FutureExt;
use pyo3::BoundObject;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::error::{PuffError, PuffResult, exceptions, panic_message};
use crate::hub::Hub;
use crate::interpreter::{self, InterpreterConfig};
use crate::resources::Resources;

/// A unit of work for the Python thread.
type Work = Box<dyn FnOnce(Python<'_>) + Send>;

/// Installs a module or other start-up state on the Python thread, before any work runs.
pub type SetupFn = Box<dyn FnOnce(Python<'_>, &Bound<'_, PyModule>) -> PyResult<()> + Send>;

/// Builds the object returned by `puff.global_state()`.
pub type GlobalStateFn = Arc<dyn Fn(Python<'_>) -> PyResult<Py<PyAny>> + Send + Sync>;

pub(crate) enum HubMessage {
    /// Run in a (pooled) worker greenlet with a fresh contextvars context.
    Job(Work),
    /// Switch back into a greenlet whose awaited future has finished.
    Resume(Py<PyAny>),
    /// Run directly on the hub greenlet; must not wait on anything.
    OnHub(Work),
    Shutdown,
}

/// Greenlet objects the hub and waiting functions need, created on the Python thread.
struct HubObjects {
    hub: Py<PyAny>,
    getcurrent: Py<PyAny>,
}

struct Inner {
    sender: mpsc::Sender<HubMessage>,
    /// Asyncio mode: written to when the queue goes from empty to non-empty.
    wake: OnceLock<std::os::unix::net::UnixStream>,
    wake_pending: std::sync::atomic::AtomicBool,
    /// Asyncio mode: the event loop the hub runs.
    event_loop: OnceLock<Py<PyAny>>,
    tokio: tokio::runtime::Handle,
    python_thread: OnceLock<ThreadId>,
    hub_objects: OnceLock<HubObjects>,
    global_state: OnceLock<Py<PyAny>>,
    resources: Resources,
    stopped: Mutex<Option<mpsc::Receiver<()>>>,
}

/// Cheap, cloneable handle on the running Python runtime, usable from any thread.
#[derive(Clone)]
pub struct PythonRuntime {
    inner: Arc<Inner>,
}

static GLOBAL_RUNTIME: OnceLock<PythonRuntime> = OnceLock::new();

/// Everything needed to start the Python thread.
pub struct RuntimeStart {
    pub interpreter: InterpreterConfig,
    pub tokio: tokio::runtime::Handle,
    /// Run in order on the Python thread with the `puff._native` module, before work starts.
    pub setup: Vec<SetupFn>,
    pub global_state: Option<GlobalStateFn>,
    pub resources: Resources,
    /// Run an asyncio event loop (uvloop when installed) on the hub, so coroutines can
    /// await Puff functions and ASGI apps can run.
    pub asyncio: bool,
}

const WORKER_LOOP_SOURCE: &std::ffi::CStr = c"
import contextvars

def make_worker_loop(hub_switch, idle):
    new_context = contextvars.Context

    def worker_loop(job):
        while True:
            new_context().run(job)
            job = hub_switch(idle)

    return worker_loop
";

impl PythonRuntime {
    /// Start the Python thread, initialise CPython and run the setup hooks.
    ///
    /// Blocks until the interpreter is ready (or failed to start). Only one runtime can
    /// exist per process; it is reachable afterwards through [`PythonRuntime::global`].
    pub fn start(start: RuntimeStart) -> PuffResult<PythonRuntime> {
        if GLOBAL_RUNTIME.get().is_some() {
            return Err(PuffError::RuntimeUnavailable(
                "a Puff Python runtime is already running in this process".into(),
            ));
        }
        let (sender, receiver) = mpsc::channel();
        let (stopped_tx, stopped_rx) = mpsc::channel();
        let runtime = PythonRuntime {
            inner: Arc::new(Inner {
                sender,
                wake: OnceLock::new(),
                wake_pending: std::sync::atomic::AtomicBool::new(false),
                event_loop: OnceLock::new(),
                tokio: start.tokio.clone(),
                python_thread: OnceLock::new(),
                hub_objects: OnceLock::new(),
                global_state: OnceLock::new(),
                resources: start.resources.clone(),
                stopped: Mutex::new(Some(stopped_rx)),
            }),
        };
        if GLOBAL_RUNTIME.set(runtime.clone()).is_err() {
            return Err(PuffError::RuntimeUnavailable(
                "a Puff Python runtime is already running in this process".into(),
            ));
        }
        let (ready_tx, ready_rx) = mpsc::sync_channel::<PuffResult<()>>(1);
        let thread_runtime = runtime.clone();
        thread::Builder::new()
            .name("puff-python".into())
            .stack_size(16 * 1024 * 1024)
            .spawn(move || {
                thread_runtime.python_thread_main(start, receiver, ready_tx);
                let _ = stopped_tx.send(());
            })
            .map_err(PuffError::Io)?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(runtime),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(PuffError::RuntimeUnavailable(
                "the Python thread exited during start-up".into(),
            )),
        }
    }

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
    fn post(&self, msg: HubMessage) -> PuffResult<()> {
        self.inner
            .sender
            .send(msg)
            .map_err(|_| PuffError::RuntimeUnavailable("the Python thread has stopped".into()))?;
        if let Some(wake) = self.inner.wake.get()
            && !self
                .inner
                .wake_pending
                .swap(true, std::sync::atomic::Ordering::AcqRel)
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
    /// `work` may call Puff async functions ([`wait_for`]); it must handle its own errors.
    pub fn spawn_job(&self, work: impl FnOnce(Python<'_>) + Send + 'static) -> PuffResult<()> {
        self.post(HubMessage::Job(Box::new(work)))
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
    fn waiting_greenlet<'py>(
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

    fn python_thread_main(
        self,
        start: RuntimeStart,
        receiver: mpsc::Receiver<HubMessage>,
        ready: mpsc::SyncSender<PuffResult<()>>,
    ) {
        let _ = self.inner.python_thread.set(thread::current().id());
        // Futures built on this thread (timers, I/O) find Tokio's reactor.
        let _tokio_context = self.inner.tokio.enter();
        if let Err(e) = interpreter::initialize(&start.interpreter) {
            let _ = ready.send(Err(e));
            return;
        }
        let asyncio = start.asyncio;
        Python::attach(|py| {
            let hub = match self.prepare(py, start, receiver) {
                Ok(hub) => hub,
                Err(e) => {
                    let _ = ready.send(Err(e));
                    return;
                }
            };
            if asyncio {
                let sockets = std::os::unix::net::UnixStream::pair();
                let (wake_reader, wake_writer) = match sockets {
                    Ok(pair) => pair,
                    Err(e) => {
                        let _ = ready.send(Err(PuffError::Io(e)));
                        return;
                    }
                };
                let _ = wake_writer.set_nonblocking(true);
                let _ = self.inner.wake.set(wake_writer);
                let inner = self.inner.clone();
                let ran = hub.run_event_loop(py, wake_reader, move |event_loop| {
                    let _ = inner.event_loop.set(event_loop.clone().unbind());
                    let _ = ready.send(Ok(()));
                });
                if let Err(e) = ran {
                    tracing::error!(
                        "the asyncio event loop failed: {}",
                        crate::error::format_exception(py, &e)
                    );
                }
            } else {
                let _ = ready.send(Ok(()));
                drop(ready);
                hub.run_blocking(py);
            }
            finish_python(py);
        });
    }

    fn prepare(
        &self,
        py: Python<'_>,
        start: RuntimeStart,
        receiver: mpsc::Receiver<HubMessage>,
    ) -> PuffResult<Hub> {
        let fail = |e: PyErr| PuffError::from_pyerr(py, e);
        let sys = py.import("sys").map_err(fail)?;
        let sys_path = sys.getattr("path").map_err(fail)?;
        for (i, path) in start.interpreter.python_paths.iter().enumerate() {
            sys_path
                .call_method1("insert", (i, path.to_string_lossy().as_ref()))
                .map_err(fail)?;
        }
        ensure_puff_package_importable(py).map_err(fail)?;
        let greenlet = py.import("greenlet").map_err(|e| {
            let prefix: String = sys
                .getattr("prefix")
                .and_then(|p| p.extract())
                .unwrap_or_default();
            PuffError::RuntimeUnavailable(format!(
                "cannot import the Python package `greenlet` (sys.prefix = {prefix}): {e}. \
                 Install it in the virtualenv Puff uses (`cargo xtask setup`, or \
                 `pip install greenlet` with VIRTUAL_ENV set)"
            ))
        })?;
        let getcurrent = greenlet.getattr("getcurrent").map_err(fail)?;
        let hub = getcurrent.call0().map_err(fail)?;
        let idle = py
            .import("builtins")
            .and_then(|b| b.getattr("object"))
            .and_then(|o| o.call0())
            .map_err(fail)?;
        let loop_module = PyModule::from_code(
            py,
            WORKER_LOOP_SOURCE,
            c"<puff worker loop>",
            c"puff._worker_loop",
        )
        .map_err(fail)?;
        let worker_loop = loop_module
            .getattr("make_worker_loop")
            .and_then(|m| m.call1((hub.getattr("switch")?, idle.clone())))
            .map_err(fail)?;
        let _ = self.inner.hub_objects.set(HubObjects {
            hub: hub.clone().unbind(),
            getcurrent: getcurrent.unbind(),
        });

        let native = crate::pyapi::native_module(py).map_err(fail)?;
        for setup in start.setup {
            setup(py, &native).map_err(fail)?;
        }
        sys.getattr("modules")
            .and_then(|m| m.set_item("puff._native", &native))
            .map_err(fail)?;
        if start.asyncio {
            // Let asgiref's sync/async bridges use greenlets and this loop (no-op without
            // asgiref or without the puff package).
            if let Ok(patch) = py.import("puff._asgiref") {
                patch.call_method0("install").map_err(fail)?;
            }
        }
        if let Some(state_fn) = start.global_state {
            let state = state_fn(py).map_err(fail)?;
            let _ = self.inner.global_state.set(state);
        }
        Ok(Hub {
            hub: hub.unbind(),
            greenlet_type: greenlet.getattr("greenlet").map_err(fail)?.unbind(),
            worker_loop: worker_loop.unbind(),
            idle: idle.unbind(),
            pool: Vec::new(),
            receiver: Mutex::new(receiver),
            event_loop: None,
        })
    }
}

/// If `puff` is not installed in the environment, fall back to this source tree's copy.
fn ensure_puff_package_importable(py: Python<'_>) -> PyResult<()> {
    let util = py.import("importlib.util")?;
    if !util.call_method1("find_spec", ("puff",))?.is_none() {
        return Ok(());
    }
    let source_tree = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../python");
    if source_tree.join("puff/__init__.py").exists() {
        py.import("sys")?
            .getattr("path")?
            .call_method1("append", (source_tree.to_string_lossy().as_ref(),))?;
    } else {
        tracing::warn!(
            "the `puff` Python package is not installed in this environment; \
             `import puff` will fail (pip install puff-py)"
        );
    }
    Ok(())
}

/// Flush stdio and run `atexit` callbacks, since the interpreter is never finalised.
fn finish_python(py: Python<'_>) {
    if let Ok(atexit) = py.import("atexit") {
        let _ = atexit.call_method0("_run_exitfuncs");
    }
    flush_stdio(py);
}

/// Flush Python's `sys.stdout` and `sys.stderr` (buffered when not a terminal).
pub fn flush_stdio(py: Python<'_>) {
    if let Ok(sys) = py.import("sys") {
        for name in ["stdout", "stderr"] {
            if let Ok(stream) = sys.getattr(name) {
                let _ = stream.call_method0("flush");
            }
        }
    }
}

/// Import `module.attr.attr` and return the object.
pub fn import_object<'py>(py: Python<'py>, path: &str) -> PyResult<Bound<'py, PyAny>> {
    let (module, attrs) = match path.split_once(':') {
        Some((m, a)) => (m.to_owned(), a.to_owned()),
        None => match path.rsplit_once('.') {
            Some((m, a)) => (m.to_owned(), a.to_owned()),
            None => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "`{path}` is not a `module.attribute` path"
                )));
            }
        },
    };
    let mut obj = py.import(module.as_str())?.into_any();
    for attr in attrs.split('.') {
        obj = obj.getattr(attr).map_err(|e| {
            pyo3::exceptions::PyAttributeError::new_err(format!(
                "`{path}`: module `{module}` has no attribute `{attr}` ({e})"
            ))
        })?;
    }
    Ok(obj)
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
        if let Some(work) = work
            && let Err(panic) = catch_unwind(AssertUnwindSafe(|| work(py)))
        {
            tracing::error!("panic in Puff job: {}", panic_message(&*panic));
        }
    }
}

/// Wait for `fut` from Python code without blocking other greenlets.
///
/// - On a worker greenlet: a ready future returns at once; otherwise it runs on Tokio and
///   the greenlet switches to the hub until it completes.
/// - On any other OS thread (`@puff.blocking` pool, user threads): blocks that thread with
///   the GIL released.
/// - On the hub greenlet itself: raises `puff.NotInGreenletError`.
///
/// A panic inside `fut` becomes `puff.PuffPanicError`.
pub fn wait_for<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let runtime = PythonRuntime::global()?;
    if !runtime.is_python_thread() {
        let handle = runtime.inner.tokio.clone();
        return py
            .detach(move || handle.block_on(AssertUnwindSafe(fut).catch_unwind()))
            .map_err(|panic| exceptions::PuffPanicError::new_err(panic_message(&*panic)));
    }
    let mut fut = Box::pin(AssertUnwindSafe(fut).catch_unwind());
    {
        let _in_runtime = runtime.inner.tokio.enter();
        let mut cx = Context::from_waker(Waker::noop());
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out
                .map_err(|panic| exceptions::PuffPanicError::new_err(panic_message(&*panic)));
        }
    }
    let (hub, current) = runtime.waiting_greenlet(py)?;
    let slot: Arc<Mutex<Option<std::thread::Result<T>>>> = Arc::new(Mutex::new(None));
    let current_key = greenlet_key(&current);
    let scope = cancel_scope_of(current_key);
    if scope.as_ref().is_some_and(|t| t.is_cancelled()) {
        return Err(cancelled_error());
    }
    let task_slot = slot.clone();
    let greenlet = current.unbind();
    let poster = runtime.clone();
    let task_scope = scope.clone();
    runtime.inner.tokio.spawn(async move {
        let out = match &task_scope {
            None => Some(fut.await),
            Some(token) => tokio::select! {
                out = &mut fut => Some(out),
                () = token.cancelled() => None,
            },
        };
        if let (Some(out), Ok(mut s)) = (out, task_slot.lock()) {
            *s = Some(out);
        }
        // If the hub is gone the process is shutting down; nothing left to resume.
        let _ = poster.post(HubMessage::Resume(greenlet));
    });
    PARKS.with(|p| p.set(p.get().wrapping_add(1)));
    run_park_hook(py, current_key);
    hub.call_method1(intern!(py, "switch"), (py.None(),))?;
    let out = slot.lock().ok().and_then(|mut s| s.take());
    match out {
        Some(Ok(v)) => Ok(v),
        Some(Err(panic)) => Err(exceptions::PuffPanicError::new_err(panic_message(&*panic))),
        None if scope.is_some_and(|t| t.is_cancelled()) => Err(cancelled_error()),
        None => Err(exceptions::PuffError::new_err(
            "greenlet resumed before its future completed",
        )),
    }
}

fn cancelled_error() -> PyErr {
    exceptions::PuffError::new_err(
        "cancelled: the work this greenlet was doing is no longer wanted (e.g. its \
         subscriber went away)",
    )
}

/// Cancels the Puff waits of the greenlets whose [`cancel_scope`] it is.
#[derive(Default)]
pub struct CancelToken {
    cancelled: std::sync::atomic::AtomicBool,
    notify: tokio::sync::Notify,
}

impl CancelToken {
    /// Wake every wait in the scope now (it raises `puff.PuffError`), and make later ones
    /// raise at once.
    pub fn cancel(&self) {
        self.cancelled
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Resolves once [`cancel`](Self::cancel) was called.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

/// Removes its cancel scope when dropped.
pub struct CancelScopeGuard {
    key: usize,
}

impl Drop for CancelScopeGuard {
    fn drop(&mut self) {
        let _ = CANCEL_SCOPES.try_with(|m| m.borrow_mut().remove(&self.key));
    }
}

fn cancel_scope_of(key: usize) -> Option<Arc<CancelToken>> {
    CANCEL_SCOPES.with(|m| {
        let m = m.borrow();
        if m.is_empty() {
            None
        } else {
            m.get(&key).cloned()
        }
    })
}

/// Make the *current* greenlet's Puff async waits ([`wait_for`], so `pubsub` receive,
/// queries, HTTP calls) end with `puff.PuffError("cancelled ...")` as soon as `token` is
/// cancelled, until the guard is dropped. Used to stop a subscription generator blocked
/// in `receive()` when its client goes away. Must be called on the Python thread.
pub fn cancel_scope(py: Python<'_>, token: Arc<CancelToken>) -> PyResult<CancelScopeGuard> {
    let mut key = CURRENT_WORKER.with(|c| c.get());
    if key == 0 {
        let objects = PythonRuntime::global()?.hub_objects()?;
        key = greenlet_key(&objects.getcurrent.bind(py).call0()?);
    }
    CANCEL_SCOPES.with(|m| m.borrow_mut().insert(key, token));
    Ok(CancelScopeGuard { key })
}

type ParkHook = std::rc::Rc<dyn Fn(Python<'_>)>;

/// Pause the calling greenlet until `deadline` on the precise timer.
///
/// On a worker greenlet the timer thread resumes it through the hub channel directly (one
/// wake-up, no Tokio task); elsewhere this behaves like [`wait_for`] on a timer future.
pub fn sleep_until(py: Python<'_>, deadline: std::time::Instant) -> PyResult<()> {
    let runtime = PythonRuntime::global()?;
    if !runtime.is_python_thread() {
        return wait_for(py, crate::timer::sleep_until(deadline));
    }
    if std::time::Instant::now() >= deadline {
        return Ok(());
    }
    let (hub, current) = runtime.waiting_greenlet(py)?;
    let key = greenlet_key(&current);
    let greenlet = current.unbind();
    let poster = runtime.clone();
    crate::timer::call_at(deadline, move || {
        let _ = poster.post(HubMessage::Resume(greenlet));
    });
    PARKS.with(|p| p.set(p.get().wrapping_add(1)));
    run_park_hook(py, key);
    hub.call_method1(intern!(py, "switch"), (py.None(),))?;
    Ok(())
}

/// The event loop is about to drain the queue: later sends must wake it again.
pub(crate) fn clear_wake_pending() {
    if let Some(rt) = GLOBAL_RUNTIME.get() {
        rt.inner
            .wake_pending
            .store(false, std::sync::atomic::Ordering::Release);
    }
}

thread_local! {
    static PARKS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    /// Key of the worker greenlet the hub last switched into (0 on the hub itself).
    pub(crate) static CURRENT_WORKER: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    static PARK_HOOKS: std::cell::RefCell<std::collections::HashMap<usize, ParkHook>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
    static CANCEL_SCOPES: std::cell::RefCell<std::collections::HashMap<usize, Arc<CancelToken>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

pub(crate) fn greenlet_key(greenlet: &Bound<'_, PyAny>) -> usize {
    greenlet.as_ptr() as usize
}

fn run_park_hook(py: Python<'_>, key: usize) {
    // Clone out of the map first: the hook may register or drop hooks itself.
    let hook = PARK_HOOKS.with(|h| h.borrow().get(&key).cloned());
    if let Some(hook) = hook {
        hook(py);
    }
}

/// Removes its park hook when dropped.
pub struct ParkHookGuard {
    key: usize,
}

impl Drop for ParkHookGuard {
    fn drop(&mut self) {
        let _ = PARK_HOOKS.try_with(|h| h.borrow_mut().remove(&self.key));
    }
}

/// Run `hook` whenever the *current* greenlet is about to park on a future, until the
/// guard is dropped. Used to flush buffered output before other greenlets get a turn.
/// Must be called on the Python thread.
pub fn on_park(py: Python<'_>, hook: impl Fn(Python<'_>) + 'static) -> PyResult<ParkHookGuard> {
    let mut key = CURRENT_WORKER.with(|c| c.get());
    if key == 0 {
        // Not a hub-scheduled worker (e.g. a greenlet the user created): ask greenlet.
        let objects = PythonRuntime::global()?.hub_objects()?;
        key = greenlet_key(&objects.getcurrent.bind(py).call0()?);
    }
    PARK_HOOKS.with(|h| h.borrow_mut().insert(key, std::rc::Rc::new(hook)));
    Ok(ParkHookGuard { key })
}

/// Number of times a greenlet on this thread has parked on a future so far.
///
/// If it changes across a stretch of Python code, that code gave other greenlets a turn.
pub fn park_count() -> u64 {
    PARKS.with(|p| p.get())
}

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
    runtime.inner.tokio.spawn(async move {
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

/// Call `f(*args, **kwargs)` for a `PyTuple`/`PyDict` pair, as Python would.
pub(crate) fn call_with(
    py: Python<'_>,
    f: &Py<PyAny>,
    args: &Py<PyTuple>,
    kwargs: Option<&Py<PyDict>>,
) -> PyResult<Py<PyAny>> {
    f.bind(py)
        .call(args.bind(py), kwargs.map(|k| k.bind(py)))
        .map(Bound::unbind)
}
