//! The hub: the Python thread's main greenlet, which hands work to worker greenlets.
//!
//! Two ways to wait for work:
//! - plain: block on the channel with the GIL released;
//! - asyncio: the hub runs the event loop (uvloop when installed), which watches one end of
//!   a socket pair; senders write a byte to the other end when the queue goes from empty to
//!   non-empty, and the loop's reader callback drains the queue. Coroutines then run on the
//!   hub while greenlets keep working as before.

use std::cell::RefCell;
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyCFunction, PyDict};

use crate::error::panic_message;
use crate::metrics::python::HUB_LAG;
use crate::watchdog;
use crate::worker::{CURRENT_WORKER, HubMessage, PyJob, Queued, greenlet_key};

/// Most idle worker greenlets kept for reuse.
const MAX_POOLED_WORKERS: usize = 4096;

const EVENT_LOOP_SOURCE: &std::ffi::CStr = c"
import asyncio

def make_loop(drain, wake_fd):
    try:
        import uvloop
        loop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.add_reader(wake_fd, drain)
    loop.call_soon(drain)
    return loop
";

/// The hub's state. Only the hub greenlet touches it.
pub(crate) struct Hub {
    pub(crate) hub: Py<PyAny>,
    pub(crate) greenlet_type: Py<PyAny>,
    pub(crate) worker_loop: Py<PyAny>,
    pub(crate) idle: Py<PyAny>,
    pub(crate) pool: Vec<Py<PyAny>>,
    pub(crate) receiver: Mutex<mpsc::Receiver<HubMessage>>,
    /// Set in asyncio mode: the running loop, stopped by `Shutdown`.
    pub(crate) event_loop: Option<Py<PyAny>>,
    /// The runtime's flag that a wake-up byte is on its way; cleared before each drain.
    pub(crate) wake_pending: Arc<AtomicBool>,
}

thread_local! {
    /// The hub while the event loop runs; its drain callback reaches it here.
    static ASYNC_HUB: RefCell<Option<(Hub, UnixStream)>> = const { RefCell::new(None) };
}

impl Hub {
    /// Plain mode: block on the channel (GIL released) until `Shutdown`.
    pub(crate) fn run_blocking(mut self, py: Python<'_>) {
        loop {
            // Yield once before sleeping: Tokio threads (on the same core under load)
            // queue more work meanwhile, so the hub wakes once per batch, not per item.
            let receiver = &self.receiver;
            let first = py.detach(|| match receiver.lock() {
                Ok(rx) => match rx.try_recv() {
                    Ok(msg) => Some(msg),
                    Err(mpsc::TryRecvError::Disconnected) => None,
                    Err(mpsc::TryRecvError::Empty) => {
                        thread::yield_now();
                        rx.try_recv().ok().or_else(|| {
                            watchdog::hub_sleeping(true);
                            let msg = rx.recv().ok();
                            watchdog::hub_sleeping(false);
                            msg
                        })
                    }
                },
                Err(_) => None,
            });
            let Some(first) = first else { return };
            if !self.handle(py, first) || !self.drain_queued(py) {
                return;
            }
        }
    }

    /// Asyncio mode: run the event loop on the hub until `Shutdown` stops it.
    ///
    /// Returns the loop so the caller can publish it; `wake` is the socket the loop watches.
    pub(crate) fn run_event_loop(
        mut self,
        py: Python<'_>,
        wake: UnixStream,
        on_loop: impl FnOnce(&Bound<'_, PyAny>),
    ) -> PyResult<()> {
        use std::os::fd::AsRawFd;
        wake.set_nonblocking(true)
            .map_err(|e| pyo3::exceptions::PyOSError::new_err(e.to_string()))?;
        let module = PyModule::from_code(
            py,
            EVENT_LOOP_SOURCE,
            c"<puff event loop>",
            c"puff._event_loop",
        )?;
        let drain = PyCFunction::new_closure(py, None, None, |args, _kwargs| -> PyResult<()> {
            drain_async_hub(args.py());
            Ok(())
        })?;
        let event_loop = module
            .getattr("make_loop")?
            .call1((drain, wake.as_raw_fd()))?;
        on_loop(&event_loop);
        self.event_loop = Some(event_loop.clone().unbind());
        ASYNC_HUB.with(|h| *h.borrow_mut() = Some((self, wake)));
        let ran = event_loop.call_method0("run_forever").map(|_| ());
        ASYNC_HUB.with(|h| h.borrow_mut().take());
        let _ = event_loop.call_method0("close");
        ran
    }

    /// Handle everything already queued. Returns false on `Shutdown`.
    fn drain_queued(&mut self, py: Python<'_>) -> bool {
        self.drain_counting(py).is_some()
    }

    /// [`Hub::drain_queued`], returning how many messages it handled (`None` on `Shutdown`).
    fn drain_counting(&mut self, py: Python<'_>) -> Option<usize> {
        let mut handled = 0;
        loop {
            let next = match self.receiver.lock() {
                Ok(rx) => rx.try_recv().ok(),
                Err(_) => None,
            };
            let Some(msg) = next else {
                return Some(handled);
            };
            handled += 1;
            if !self.handle(py, msg) {
                return None;
            }
        }
    }

    fn handle(&mut self, py: Python<'_>, msg: HubMessage) -> bool {
        watchdog::beat();
        match msg {
            HubMessage::Job(work, queued) => {
                observe_lag(queued);
                let job = match Py::new(py, PyJob::new(work)) {
                    Ok(job) => job,
                    Err(e) => {
                        tracing::error!("cannot create a job object: {e}");
                        return true;
                    }
                };
                let worker = match self.pool.pop() {
                    Some(worker) => worker.into_bound(py),
                    None => match self.new_worker(py) {
                        Ok(worker) => worker,
                        Err(e) => {
                            tracing::error!("cannot create a worker greenlet: {e}");
                            return true;
                        }
                    },
                };
                self.switch_into(py, worker, job.into_any().into_bound(py));
            }
            HubMessage::Resume(greenlet, queued) => {
                observe_lag(queued);
                self.switch_into(py, greenlet.into_bound(py), py.None().into_bound(py));
            }
            HubMessage::OnHub(work) => {
                if let Err(panic) = catch_unwind(AssertUnwindSafe(|| work(py))) {
                    tracing::error!("panic on the Python hub: {}", panic_message(&*panic));
                }
            }
            HubMessage::Shutdown => {
                if let Some(event_loop) = &self.event_loop {
                    let _ = event_loop.bind(py).call_method0("stop");
                }
                return false;
            }
        }
        true
    }

    fn new_worker<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let kwargs = PyDict::new(py);
        kwargs.set_item("run", self.worker_loop.bind(py))?;
        kwargs.set_item("parent", self.hub.bind(py))?;
        self.greenlet_type.bind(py).call((), Some(&kwargs))
    }

    fn switch_into<'py>(
        &mut self,
        py: Python<'py>,
        greenlet: Bound<'py, PyAny>,
        arg: Bound<'py, PyAny>,
    ) {
        CURRENT_WORKER.with(|c| c.set(greenlet_key(&greenlet)));
        let switched = greenlet.call_method1(intern!(py, "switch"), (arg,));
        CURRENT_WORKER.with(|c| c.set(0));
        match switched {
            Ok(returned) => {
                // The worker finished its job and is idle; otherwise it is parked on a future.
                if returned.is(self.idle.bind(py)) && self.pool.len() < MAX_POOLED_WORKERS {
                    self.pool.push(greenlet.unbind());
                }
            }
            Err(e) => {
                let text = crate::error::format_exception(py, &e);
                tracing::error!("a worker greenlet died: {text}");
            }
        }
    }
}

fn observe_lag(queued: Queued) {
    if let Some(queued) = queued {
        HUB_LAG.with(&[]).observe_duration(queued.elapsed());
    }
}

/// The event loop's reader callback: clear the wake socket, then handle queued messages.
fn drain_async_hub(py: Python<'_>) {
    // Control is back in the hub between coroutine steps.
    watchdog::beat();
    // The hub is only ever borrowed here, by the hub greenlet, and the callback never
    // re-enters (workers cannot run loop iterations), so holding the borrow while workers
    // run is safe.
    ASYNC_HUB.with(|cell| {
        let Ok(mut guard) = cell.try_borrow_mut() else {
            tracing::error!("the Puff hub was re-entered from its own event loop callback");
            return;
        };
        let Some((hub, wake)) = guard.as_mut() else {
            return;
        };
        let mut buf = [0u8; 256];
        while matches!((&*wake).read(&mut buf), Ok(n) if n > 0) {}
        // The event loop is about to drain the queue: later sends must wake it again.
        hub.wake_pending.store(false, Ordering::Release);
        if hub.drain_counting(py).unwrap_or(0) > 0
            && let Some(event_loop) = &hub.event_loop
        {
            // Once the work just started has run (callbacks run in order), yield the core
            // before the loop sleeps: Tokio threads on the same core queue more work
            // meanwhile, so the hub wakes once per batch rather than once per request.
            let _ = YIELD_THEN_DRAIN
                .get_or_try_init(py, || {
                    PyCFunction::new_closure(py, None, None, |args, _kwargs| -> PyResult<()> {
                        args.py().detach(thread::yield_now);
                        drain_async_hub(args.py());
                        Ok(())
                    })
                    .map(|f| f.into_any().unbind())
                })
                .and_then(|f| {
                    event_loop
                        .bind(py)
                        .call_method1(intern!(py, "call_soon"), (f,))
                });
        }
    });
}

static YIELD_THEN_DRAIN: pyo3::sync::PyOnceLock<Py<PyAny>> = pyo3::sync::PyOnceLock::new();
