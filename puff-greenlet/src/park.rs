//! Park hooks: code to run whenever a greenlet is about to park on a future
//! ([`on_park`]), and the count of parks on this thread ([`park_count`]).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use pyo3::prelude::*;

use crate::runtime::current_greenlet_key;

type ParkHook = Rc<dyn Fn(Python<'_>)>;

thread_local! {
    static PARKS: Cell<u64> = const { Cell::new(0) };
    static PARK_HOOKS: RefCell<HashMap<usize, ParkHook>> = RefCell::new(HashMap::new());
}

/// The greenlet with key `key` is about to park: count it and run its hook.
pub(crate) fn parking(py: Python<'_>, key: usize) {
    PARKS.with(|p| p.set(p.get().wrapping_add(1)));
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
    let key = current_greenlet_key(py)?;
    PARK_HOOKS.with(|h| h.borrow_mut().insert(key, Rc::new(hook)));
    Ok(ParkHookGuard { key })
}

/// Number of times a greenlet on this thread has parked on a future so far.
///
/// If it changes across a stretch of Python code, that code gave other greenlets a turn.
pub fn park_count() -> u64 {
    PARKS.with(|p| p.get())
}
