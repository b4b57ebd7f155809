//! The life of a DB-API connection's pooled session: checking it out for a statement
//! ([`acquire`]), giving it back afterwards ([`settle`], [`release`]), and what keeps it
//! checked out between autocommit statements besides a transaction: `WITH HOLD` server
//! cursors ([`hold_session`]) and `LISTEN` ([`note_statement`]). A session that had any of
//! those runs `CLOSE ALL; UNLISTEN *` before it goes back to the pool, so the next user
//! never meets another connection's cursors or notifications.

use std::future::Future;
use std::sync::Arc;

use puff_greenlet::{PythonRuntime, wait_for};
use pyo3::prelude::*;
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::error::PgError;
use crate::pool::PostgresPool;
use crate::python::{ConnState, NativeConnection, to_pyerr};

/// What keeps a session checked out outside transactions.
#[derive(Default)]
pub(crate) struct SessionState {
    /// Open `WITH HOLD` cursors.
    holds: u32,
    /// The session ran `LISTEN` (and no `UNLISTEN *` since).
    listening: bool,
    /// Cursors or LISTENs may be left on the session: reset it before giving it back.
    dirty: bool,
}

impl ConnState {
    /// Whether the pooled connection stays checked out after the current statement.
    pub(crate) fn keeps_client(&self) -> bool {
        self.pinned || self.in_transaction || self.session.holds > 0 || self.session.listening
    }
}

/// Lock `state` and make sure it holds a pooled connection, in a transaction when `begin`
/// (DB-API non-autocommit mode) and none is open yet.
pub(crate) async fn acquire(
    pool: &PostgresPool,
    state: Arc<Mutex<ConnState>>,
    begin: bool,
) -> Result<OwnedMutexGuard<ConnState>, PgError> {
    let mut guard = state.lock_owned().await;
    let state = &mut *guard;
    if state.closed {
        return Err(PgError::Interface("the connection is closed".into()));
    }
    if state.client.is_none() {
        state.client = Some(pool.get().await?);
        state.in_transaction = false;
    }
    if begin && !state.in_transaction {
        let began = match state.client.as_mut() {
            Some(client) => {
                let sql = state.begin_sql.as_deref().unwrap_or("BEGIN");
                client.batch_execute(sql).await
            }
            None => Err(PgError::Interface("no connection".into())),
        };
        if let Err(e) = began {
            release(state).await;
            return Err(e);
        }
        state.in_transaction = true;
    }
    Ok(guard)
}

/// After a statement ran on `state`'s connection: give the connection back unless
/// something keeps it; after a failure also when the connection broke.
pub(crate) async fn settle<T>(
    state: &mut ConnState,
    outcome: Result<T, PgError>,
) -> Result<T, PgError> {
    let broken = state.client.as_ref().is_none_or(|c| c.is_closed());
    if broken || !state.keeps_client() {
        // A finished autocommit statement, a failed one (start afresh next time) or a
        // dead connection (the pool discards it).
        release(state).await;
    }
    outcome
}

/// Give the pooled connection back: roll back an open transaction and clear the session's
/// cursors and LISTENs first.
pub(crate) async fn release(state: &mut ConnState) {
    let Some(mut client) = state.client.take() else {
        return;
    };
    let reset = match (state.in_transaction, state.session.dirty) {
        (true, true) => Some("ROLLBACK; CLOSE ALL; UNLISTEN *"),
        (true, false) => Some("ROLLBACK"),
        (false, true) => Some("CLOSE ALL; UNLISTEN *"),
        (false, false) => None,
    };
    if let Some(sql) = reset
        && !client.is_closed()
        && let Err(e) = client.batch_execute(sql).await
    {
        tracing::debug!("resetting a Postgres session before returning it failed: {e}");
    }
    drop(client.take_notifications());
    state.in_transaction = false;
    state.session = SessionState::default();
}

/// Record what a successful statement did to the session (`LISTEN`, `UNLISTEN *`).
pub(crate) fn note_statement(state: &mut ConnState, sql: &str) {
    if crate::notify::is_listen(sql) {
        state.session.listening = true;
        state.session.dirty = true;
    } else if crate::notify::is_unlisten_all(sql) {
        state.session.listening = false;
    }
}

/// `hold_session(conn, hold, wait=True)`: count one more (`hold`) or one fewer open
/// `WITH HOLD` cursor on `conn`; the pooled connection stays checked out while any is
/// open. Without `wait` (from a finalizer) the release happens in the background.
#[pyfunction]
#[pyo3(signature = (conn, hold, wait = true))]
pub(crate) fn hold_session(
    py: Python<'_>,
    conn: &NativeConnection,
    hold: bool,
    wait: bool,
) -> PyResult<()> {
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

/// A DB-API connection's state, locked and holding a pooled connection, for work that
/// alternates between Python (reading or writing a file) and Tokio (see [`with_session`]).
pub(crate) struct Session {
    guard: Option<OwnedMutexGuard<ConnState>>,
}

impl Session {
    /// Run `step` on Tokio with the locked state, which it hands back with its result.
    pub(crate) fn run<T, F, Fut>(&mut self, py: Python<'_>, step: F) -> PyResult<T>
    where
        F: FnOnce(OwnedMutexGuard<ConnState>) -> Fut,
        Fut: Future<Output = (OwnedMutexGuard<ConnState>, T)> + Send + 'static,
        T: Send + 'static,
    {
        let guard = self.guard.take().ok_or_else(|| {
            crate::python::InterfaceError::new_err("the connection's session was lost")
        })?;
        let (guard, out) = wait_for(py, step(guard))?;
        self.guard = Some(guard);
        Ok(out)
    }
}

/// Run `work` on `conn`'s session, checked out as [`acquire`] does (in a transaction when
/// `begin`), then give it back as [`settle`] does, whatever `work` returned.
pub(crate) fn with_session<T>(
    py: Python<'_>,
    conn: &NativeConnection,
    begin: bool,
    work: impl FnOnce(Python<'_>, &mut Session) -> PyResult<T>,
) -> PyResult<T> {
    let (pool, state) = (conn.pool.clone(), conn.state.clone());
    let guard = wait_for(py, async move { acquire(&pool, state, begin).await })?
        .map_err(|e| to_pyerr(py, e))?;
    let mut session = Session { guard: Some(guard) };
    let result = work(py, &mut session);
    if let Some(mut guard) = session.guard.take() {
        wait_for(py, async move { settle(&mut guard, Ok(())).await })?
            .map_err(|e| to_pyerr(py, e))?;
    }
    result
}
