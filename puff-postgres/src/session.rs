//! The life of a DB-API connection's pooled session: checking it out for a statement
//! ([`acquire`]), giving it back afterwards ([`settle`], [`release`]), and what keeps it
//! checked out between autocommit statements besides a transaction: `WITH HOLD` server
//! cursors ([`hold_session`]) and `LISTEN` ([`note_statement`]), and the `TimeZone` a
//! statement set, which follows the connection from session to session. A session that had any of
//! those runs `CLOSE ALL; UNLISTEN *` before it goes back to the pool, so the next user
//! never meets another connection's cursors or notifications.

use std::sync::Arc;

use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::error::PgError;
use crate::pool::{PooledClient, PostgresPool, may_set_time_zone, set_time_zone_sql};

/// A DB-API connection's state: the pooled connection it holds, if any, and why.
#[derive(Default)]
pub(crate) struct ConnState {
    pub(crate) client: Option<PooledClient>,
    pub(crate) in_transaction: bool,
    /// A statement of the open transaction failed on the server, which then refuses all
    /// but a rollback (psycopg2's `TRANSACTION_STATUS_INERROR`).
    pub(crate) transaction_failed: bool,
    pub(crate) closed: bool,
    /// Keep the pooled connection between autocommit statements (`SharedConnection`).
    pub(crate) pinned: bool,
    /// What opens a transaction when `begin` is asked for (`BEGIN ISOLATION LEVEL ...`);
    /// None: `BEGIN`.
    pub(crate) begin_sql: Option<String>,
    /// Session state that outlives transactions (cursors WITH HOLD, LISTEN).
    pub(crate) session: SessionState,
    /// The `TimeZone` a statement on this connection set (None: the pool's). Pooled
    /// sessions are shared, so it is set again on each one checked out whose zone differs,
    /// as psycopg2's one session keeps it (Django's `ensure_timezone` sets it once).
    pub(crate) zone: Option<String>,
}

/// What keeps a session checked out outside transactions.
#[derive(Default)]
pub(crate) struct SessionState {
    /// Open `WITH HOLD` cursors.
    pub(crate) holds: u32,
    /// The session ran `LISTEN` (and no `UNLISTEN *` since).
    listening: bool,
    /// Cursors or LISTENs may be left on the session: reset it before giving it back.
    pub(crate) dirty: bool,
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
        let mut client = pool.get().await?;
        if let Some(zone) = &state.zone
            && client.session_zone() != Some(zone.as_str())
        {
            client.query(&set_time_zone_sql(zone), &[]).await?;
        }
        state.client = Some(client);
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
        state.transaction_failed = false;
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
    state.transaction_failed = false;
    state.session = SessionState::default();
}

/// Record what a successful statement did to the session (`LISTEN`, `UNLISTEN *`, the
/// `TimeZone`).
pub(crate) fn note_statement(state: &mut ConnState, sql: &str) {
    // The session's zone is the connection's once it set one (also after a `ROLLBACK` run
    // as a statement undid a `SET` of the transaction).
    if (state.zone.is_some() || may_set_time_zone(sql))
        && let Some(client) = &state.client
        && state.zone.as_deref() != client.session_zone()
    {
        state.zone = client.session_zone().map(str::to_owned);
    }
    if crate::notify::is_listen(sql) {
        state.session.listening = true;
        state.session.dirty = true;
    } else if crate::notify::is_unlisten_all(sql) {
        state.session.listening = false;
    }
}
