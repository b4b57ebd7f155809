//! Waiting from Python code without blocking other greenlets: [`wait_for`] a future,
//! [`sleep_until`] a deadline.
//!
//! On a worker greenlet the future is polled once in place (ready futures never leave the
//! thread), otherwise it is spawned on Tokio and the greenlet switches to the hub until
//! the future's task posts a resume message. Only plain Rust data crosses threads; Python
//! objects are built on the Python thread.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use futures_util::FutureExt;
use pyo3::intern;
use pyo3::prelude::*;

use crate::cancel::{cancel_scope_of, cancelled_error};
use crate::error::{exceptions, panic_message};
use crate::park::parking;
use crate::runtime::PythonRuntime;
use crate::worker::{HubMessage, greenlet_key};

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
    wait_boxed(py, boxed(py, move || fut))
}

/// [`wait_for`] the future `make` returns, built on the heap by a function whose stack
/// frame is gone before the greenlet switches. For large futures (a database statement's
/// state machine, kilobytes): every switch copies the greenlet's C stack out and back, so
/// a future built in the caller's frame would be copied twice per wait.
pub fn wait_for_with<M, F, T>(py: Python<'_>, make: M) -> PyResult<T>
where
    M: FnOnce() -> F,
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    wait_boxed(py, boxed(py, make))
}

/// A future [`wait_for`] runs, panics caught, on the heap.
type Waited<T> = Pin<Box<dyn Future<Output = std::thread::Result<T>> + Send>>;

/// The future `make` returns, in the calling Python code's trace context, boxed. Not
/// inlined, so the future's bytes never occupy the waiting caller's frame.
#[inline(never)]
fn boxed<M, F, T>(py: Python<'_>, make: M) -> Waited<T>
where
    M: FnOnce() -> F,
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    // Spans the future records nest under the calling Python code's span.
    let fut = crate::trace::within(crate::trace::python::python_current(py), make());
    Box::pin(AssertUnwindSafe(fut).catch_unwind())
}

fn wait_boxed<T: Send + 'static>(py: Python<'_>, mut fut: Waited<T>) -> PyResult<T> {
    let runtime = PythonRuntime::global()?;
    if !runtime.is_python_thread() {
        let handle = runtime.tokio().clone();
        return py
            .detach(move || handle.block_on(fut))
            .map_err(|panic| exceptions::PuffPanicError::new_err(panic_message(&*panic)));
    }
    {
        let _in_runtime = runtime.tokio().enter();
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
    runtime.tokio().spawn(async move {
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
        let _ = poster.post(HubMessage::Resume(greenlet, crate::metrics::start_timer()));
    });
    parking(py, current_key);
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
        let _ = poster.post(HubMessage::Resume(greenlet, crate::metrics::start_timer()));
    });
    parking(py, key);
    hub.call_method1(intern!(py, "switch"), (py.None(),))?;
    Ok(())
}
