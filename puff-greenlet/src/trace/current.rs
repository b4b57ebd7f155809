//! The trace context of the running Rust future, and the process-wide switch that says
//! whether there is any trace context to look for.
//!
//! Rust code finds its parent span in a Tokio task-local ([`current`]); code that starts
//! a span runs its inner work [`within`] it. Python code finds it in a `contextvars`
//! variable (`python`); Puff copies one into the other when work crosses between them.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::future::Either;

use super::context::TraceContext;

tokio::task_local! {
    static CURRENT: TraceContext;
}

/// True once tracing is enabled or a request arrived with a valid `traceparent`: before
/// that no work can have a trace context, and hot paths skip looking for one.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Whether any work may carry a trace context (one relaxed atomic load).
#[inline]
pub fn active() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

/// From now on, look for trace contexts (an exporter was installed, or a caller sent a
/// `traceparent` to pass on).
pub fn mark_active() {
    if !ACTIVE.load(Ordering::Relaxed) {
        ACTIVE.store(true, Ordering::Relaxed);
    }
}

/// The trace context of the running future, if it runs in one.
#[inline]
pub fn current() -> Option<TraceContext> {
    if !active() {
        return None;
    }
    CURRENT.try_with(|c| *c).ok()
}

/// Run `fut` with `context` as its current trace context (as is when `None`).
pub fn within<F: Future>(
    context: Option<TraceContext>,
    fut: F,
) -> Either<tokio::task::futures::TaskLocalFuture<TraceContext, F>, F> {
    match context {
        Some(context) => Either::Left(CURRENT.scope(context, fut)),
        None => Either::Right(fut),
    }
}
