//! The `puff._native.postgres` functions behind named cursors, COPY and LISTEN/NOTIFY of
//! `puff.psycopg2`: [`hold_session`] (WITH HOLD cursors keep the session, see `session.rs`),
//! [`take_notifies`] (`connection.notifies`), and the COPY streams of `copy.rs`. Added to the
//! module after `python.rs` builds it ([`add_functions`]).

use puff_greenlet::{PythonRuntime, wait_for};
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::python::NativeConnection;
use crate::session::release;

/// `hold_session(conn, hold, wait=True)`: count one more (`hold`) or one fewer open
/// `WITH HOLD` cursor on `conn`; the pooled connection stays checked out while any is
/// open. Without `wait` (from a finalizer) the release happens in the background.
#[pyfunction]
#[pyo3(signature = (conn, hold, wait = true))]
fn hold_session(py: Python<'_>, conn: &NativeConnection, hold: bool, wait: bool) -> PyResult<()> {
    let state = conn.state.clone();
    // Counted here when the state is free (the usual case); else by `work` below.
    let mut counted = false;
    if let Ok(mut s) = state.try_lock() {
        if hold {
            s.session.holds += 1;
            s.session.dirty = true;
            return Ok(());
        }
        s.session.holds = s.session.holds.saturating_sub(1);
        if s.client.is_none() || s.keeps_client() {
            return Ok(());
        }
        counted = true;
    }
    let work = async move {
        let mut s = state.lock().await;
        if hold {
            s.session.holds += 1;
            s.session.dirty = true;
            return;
        }
        if !counted {
            s.session.holds = s.session.holds.saturating_sub(1);
        }
        if s.client.is_some() && !s.keeps_client() {
            release(&mut s).await;
        }
    };
    if wait {
        wait_for(py, work)?;
    } else {
        PythonRuntime::global()?.tokio().spawn(work);
    }
    Ok(())
}

/// `take_notifies(conn)`: the `(pid, channel, payload)` of every notification `conn`'s
/// session received since the last call (empty when it holds no pooled connection).
#[pyfunction]
fn take_notifies<'py>(py: Python<'py>, conn: &NativeConnection) -> PyResult<Bound<'py, PyList>> {
    let received = match conn.state.try_lock() {
        Ok(state) => state
            .client
            .as_ref()
            .map(|c| c.take_notifications())
            .unwrap_or_default(),
        // A statement is running on it (another greenlet): its notifications come next time.
        Err(_) => Vec::new(),
    };
    let out = PyList::empty(py);
    for n in received {
        out.append((n.process_id(), n.channel(), n.payload()))?;
    }
    Ok(out)
}

/// Add these functions to `puff._native.postgres` (built by `python::add_module`).
pub(crate) fn add_functions(py: Python<'_>) -> PyResult<()> {
    // From sys.modules, where add_module put it: importing `puff._native.postgres` would
    // import the `puff` package while its native module is still being built.
    let m = py
        .import("sys")?
        .getattr("modules")?
        .get_item("puff._native.postgres")?
        .cast_into::<pyo3::types::PyModule>()?;
    m.add_function(wrap_pyfunction!(hold_session, &m)?)?;
    m.add_function(wrap_pyfunction!(take_notifies, &m)?)?;
    m.add_function(wrap_pyfunction!(crate::copy::copy_in, &m)?)?;
    m.add_function(wrap_pyfunction!(crate::copy::copy_out, &m)?)?;
    Ok(())
}
