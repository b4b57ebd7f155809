//! `COPY ... FROM STDIN` and `COPY ... TO STDOUT` for `puff.psycopg2`'s `copy_from`,
//! `copy_to` and `copy_expert`: the data streams between a Python file and the pooled
//! connection in chunks (tokio-postgres `copy_in` / `copy_out`), so memory stays bounded
//! whatever the size of the table. Python reads and writes the file on its own thread; each
//! chunk then waits on Tokio like any statement, letting other greenlets run.

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use std::future::Future;

use puff_greenlet::wait_for;
use tokio::sync::OwnedMutexGuard;

use crate::error::PgError;
use crate::python::{DataError, InterfaceError, NativeConnection, to_pyerr};
use crate::session::{ConnState, acquire, settle};

/// Bytes of COPY output gathered before each call of the file's `write`: the server sends
/// one message per row, and one Python call per row would cost more than the copy.
const OUT_CHUNK: usize = 64 * 1024;

fn no_connection() -> PgError {
    PgError::Interface("no connection".into())
}

/// `copy_in(conn, sql, read, size, begin)`: run `sql` (a `COPY ... FROM STDIN`) feeding it
/// `read(size)` until that returns an empty string or bytes; returns the rows copied. An
/// exception from `read` aborts the COPY and propagates.
#[pyfunction]
pub(crate) fn copy_in(
    py: Python<'_>,
    conn: &NativeConnection,
    sql: String,
    read: Bound<'_, PyAny>,
    size: usize,
    begin: bool,
) -> PyResult<i64> {
    let url = conn.pool.redacted_url().to_owned();
    with_session(py, conn, begin, |py, session| {
        let started = session.run(py, move |state| async move {
            let sink = match state.client.as_ref() {
                Some(c) => c.copy_in_sink(&sql).await,
                None => Err(no_connection()),
            };
            (state, sink)
        })?;
        let mut sink = Box::pin(started.map_err(|e| to_pyerr(py, e))?);
        loop {
            let chunk = read.call1((size,))?;
            let data = if let Ok(text) = chunk.cast::<PyString>() {
                Bytes::copy_from_slice(text.to_str()?.as_bytes())
            } else if let Ok(bytes) = chunk.cast::<PyBytes>() {
                Bytes::copy_from_slice(bytes.as_bytes())
            } else {
                Bytes::from(chunk.extract::<Vec<u8>>().map_err(|_| {
                    pyo3::exceptions::PyTypeError::new_err(format!(
                        "read() returned {}, not str or bytes",
                        chunk
                            .get_type()
                            .name()
                            .map(|n| n.to_string())
                            .unwrap_or_default()
                    ))
                })?)
            };
            if data.is_empty() {
                break;
            }
            let (back, sent) = puff_greenlet::wait_for(py, async move {
                let sent = sink.send(data).await;
                (sink, sent)
            })?;
            sink = back;
            sent.map_err(|e| to_pyerr(py, PgError::from_pg(e, &url)))?;
        }
        let rows = puff_greenlet::wait_for(py, async move { sink.as_mut().finish().await })?
            .map_err(|e| to_pyerr(py, PgError::from_pg(e, &url)))?;
        Ok(i64::try_from(rows).unwrap_or(i64::MAX))
    })
}

/// `copy_out(conn, sql, write, text, begin)`: run `sql` (a `COPY ... TO STDOUT`) and pass
/// its output to `write` in chunks of whole rows (as `str` when `text`, else `bytes`);
/// returns the rows copied.
#[pyfunction]
pub(crate) fn copy_out(
    py: Python<'_>,
    conn: &NativeConnection,
    sql: String,
    write: Bound<'_, PyAny>,
    text: bool,
    begin: bool,
) -> PyResult<i64> {
    let url = conn.pool.redacted_url().to_owned();
    with_session(py, conn, begin, |py, session| {
        let started = session.run(py, move |state| async move {
            let stream = match state.client.as_ref() {
                Some(c) => c.copy_out_stream(&sql).await,
                None => Err(no_connection()),
            };
            (state, stream)
        })?;
        let mut stream = Box::pin(started.map_err(|e| to_pyerr(py, e))?);
        let mut rows = 0i64;
        loop {
            let (back, (data, n, outcome)) = puff_greenlet::wait_for(py, async move {
                let mut data = BytesMut::new();
                let mut n = 0i64;
                let outcome = loop {
                    if data.len() >= OUT_CHUNK {
                        break Ok(false);
                    }
                    match stream.next().await {
                        Some(Ok(row)) => {
                            data.extend_from_slice(&row);
                            n += 1;
                        }
                        Some(Err(e)) => break Err(e),
                        None => break Ok(true),
                    }
                };
                (stream, (data, n, outcome))
            })?;
            stream = back;
            rows += n;
            if !data.is_empty() {
                if text {
                    let s = std::str::from_utf8(&data).map_err(|e| {
                        DataError::new_err(format!("COPY output is not UTF-8: {e}"))
                    })?;
                    write.call1((PyString::new(py, s),))?;
                } else {
                    write.call1((PyBytes::new(py, &data),))?;
                }
            }
            match outcome {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => return Err(to_pyerr(py, PgError::from_pg(e, &url))),
            }
        }
        Ok(rows)
    })
}

impl crate::pool::PgClient {
    /// Start `COPY ... FROM STDIN`.
    pub async fn copy_in_sink(
        &self,
        sql: &str,
    ) -> Result<tokio_postgres::CopyInSink<Bytes>, PgError> {
        self.client().copy_in(sql).await.map_err(|e| self.err(e))
    }

    /// Start `COPY ... TO STDOUT`.
    pub async fn copy_out_stream(
        &self,
        sql: &str,
    ) -> Result<tokio_postgres::CopyOutStream, PgError> {
        self.client().copy_out(sql).await.map_err(|e| self.err(e))
    }
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
        let guard = self
            .guard
            .take()
            .ok_or_else(|| InterfaceError::new_err("the connection's session was lost"))?;
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
