//! Cancel scopes: a [`CancelToken`] that ends the Puff waits of the greenlet whose
//! [`cancel_scope`] it is (used to stop a subscription generator when its client leaves).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::prelude::*;

use crate::error::exceptions;
use crate::runtime::current_greenlet_key;

thread_local! {
    static CANCEL_SCOPES: RefCell<HashMap<usize, Arc<CancelToken>>> =
        RefCell::new(HashMap::new());
}

/// The error a wait raises when its scope was cancelled.
pub(crate) fn cancelled_error() -> PyErr {
    exceptions::PuffError::new_err(
        "cancelled: the work this greenlet was doing is no longer wanted (e.g. its \
         subscriber went away)",
    )
}

/// Cancels the Puff waits of the greenlets whose [`cancel_scope`] it is.
#[derive(Default)]
pub struct CancelToken {
    cancelled: AtomicBool,
    notify: tokio::sync::Notify,
}

impl CancelToken {
    /// Wake every wait in the scope now (it raises `puff.PuffError`), and make later ones
    /// raise at once.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
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

/// The token of the greenlet with key `key`, if it runs in a cancel scope.
pub(crate) fn cancel_scope_of(key: usize) -> Option<Arc<CancelToken>> {
    CANCEL_SCOPES.with(|m| {
        let m = m.borrow();
        if m.is_empty() {
            None
        } else {
            m.get(&key).cloned()
        }
    })
}

/// Make the *current* greenlet's Puff async waits ([`wait_for`](crate::wait_for), so
/// `pubsub` receive, queries, HTTP calls) end with `puff.PuffError("cancelled ...")` as
/// soon as `token` is cancelled, until the guard is dropped. Used to stop a subscription
/// generator blocked in `receive()` when its client goes away. Must be called on the
/// Python thread.
pub fn cancel_scope(py: Python<'_>, token: Arc<CancelToken>) -> PyResult<CancelScopeGuard> {
    let key = current_greenlet_key(py)?;
    CANCEL_SCOPES.with(|m| m.borrow_mut().insert(key, token));
    Ok(CancelScopeGuard { key })
}
