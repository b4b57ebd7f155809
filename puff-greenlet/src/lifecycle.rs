//! Starting and stopping the Python thread: [`PythonRuntime::start`] spawns it,
//! initialises CPython, prepares the hub greenlet and the `puff._native` module, runs the
//! setup hooks, then hands the thread to the hub until `Shutdown`; at the end it runs
//! `atexit` callbacks and flushes stdio (the interpreter is never finalised).

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::thread;

use pyo3::prelude::*;

use crate::error::{PuffError, PuffResult};
use crate::hub::Hub;
use crate::interpreter::{self, InterpreterConfig, flush_stdio};
use crate::resources::Resources;
use crate::runtime::{GLOBAL_RUNTIME, HubObjects, Inner, PythonRuntime};
use crate::worker::HubMessage;

/// Installs a module or other start-up state on the Python thread, before any work runs.
pub type SetupFn = Box<dyn FnOnce(Python<'_>, &Bound<'_, PyModule>) -> PyResult<()> + Send>;

/// Builds the object returned by `puff.global_state()`.
pub type GlobalStateFn = Arc<dyn Fn(Python<'_>) -> PyResult<Py<PyAny>> + Send + Sync>;

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
                wake_pending: Arc::new(AtomicBool::new(false)),
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
        crate::panic_hook::install();
        let (ready_tx, ready_rx) = mpsc::sync_channel::<PuffResult<()>>(1);
        let thread_runtime = runtime.clone();
        let python_thread = thread::Builder::new()
            .name("puff-python".into())
            .stack_size(16 * 1024 * 1024)
            .spawn(move || thread_runtime.python_thread_main(start, receiver, ready_tx))
            .map_err(PuffError::Io)?;
        // `stopped` reports the thread gone, its thread-local destructors (greenlet's among
        // them) included: exiting the process while they still run is a race, the suspected
        // cause of a rare glibc `malloc_consolidate` abort at exit after a clean run.
        thread::Builder::new()
            .name("puff-python-join".into())
            .spawn(move || {
                let _ = python_thread.join();
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

        let native = crate::python::native_module(py).map_err(fail)?;
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
            wake_pending: self.inner.wake_pending.clone(),
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
