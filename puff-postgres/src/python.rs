//! `puff._native.postgres`: the native half of `puff.postgres` (the DB-API 2.0 layer in
//! `python/puff/postgres.py` wraps it). Values are converted between Python objects and
//! [`Value`] here, on the Python thread; queries run on Tokio through
//! [`puff_greenlet::wait_for`], so other greenlets keep running while one waits.

use std::sync::Arc;

use puff_greenlet::{PythonRuntime, wait_for};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDate, PyDateAccess, PyDateTime, PyDelta, PyDeltaAccess, PyDict,
    PyFloat, PyInt, PyList, PyString, PyTime, PyTimeAccess, PyTuple, PyTzInfo, PyTzInfoAccess,
};
use tokio::sync::Mutex;

use crate::error::{ErrorKind, PgError};
use crate::pool::{PostgresPool, QueryResult, has_several_statements, reports_row_count};
use crate::session::{self, ConnState};
use crate::value::{DAY_MICROS, PG_EPOCH_DAYS, Value, civil_from_days, days_from_civil};

create_exception!(puff.postgres, Warning, PyException, "DB-API 2.0 Warning.");
create_exception!(
    puff.postgres,
    Error,
    puff_greenlet::exceptions::PuffError,
    "Base class of every puff.postgres error (DB-API 2.0); a puff.PuffError."
);
create_exception!(
    puff.postgres,
    InterfaceError,
    Error,
    "Misuse of the database interface."
);
create_exception!(
    puff.postgres,
    DatabaseError,
    Error,
    "An error reported by or about the database."
);
create_exception!(puff.postgres, DataError, DatabaseError, "Bad data.");
create_exception!(
    puff.postgres,
    OperationalError,
    DatabaseError,
    "The server is unreachable, the connection broke or the pool timed out."
);
create_exception!(
    puff.postgres,
    IntegrityError,
    DatabaseError,
    "A constraint was violated."
);
create_exception!(
    puff.postgres,
    InternalError,
    DatabaseError,
    "Internal error."
);
create_exception!(
    puff.postgres,
    ProgrammingError,
    DatabaseError,
    "Bad SQL, unknown table, wrong number of parameters, ..."
);
create_exception!(
    puff.postgres,
    NotSupportedError,
    DatabaseError,
    "Not supported by the database."
);

/// The Python exception for `err`, with `pgcode` and `pgerror` set.
pub(crate) fn to_pyerr(py: Python<'_>, err: PgError) -> PyErr {
    let message = err.to_string();
    let py_err = match err.kind() {
        ErrorKind::Interface => InterfaceError::new_err(message.clone()),
        ErrorKind::Database => DatabaseError::new_err(message.clone()),
        ErrorKind::Data => DataError::new_err(message.clone()),
        ErrorKind::Operational => OperationalError::new_err(message.clone()),
        ErrorKind::Integrity => IntegrityError::new_err(message.clone()),
        ErrorKind::Internal => InternalError::new_err(message.clone()),
        ErrorKind::Programming => ProgrammingError::new_err(message.clone()),
        ErrorKind::NotSupported => NotSupportedError::new_err(message.clone()),
    };
    let value = py_err.value(py);
    let (code, pgerror) = match &err {
        PgError::Db { code, detail, .. } => {
            let text = match detail {
                Some(d) => format!("ERROR:  {message}\nDETAIL:  {d}"),
                None => format!("ERROR:  {message}"),
            };
            (Some(code.clone()), Some(text))
        }
        _ => (None, None),
    };
    let _ = value.setattr("pgcode", code);
    let _ = value.setattr("pgerror", pgerror);
    py_err
}

static DECIMAL: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static UUID: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static JSON_DUMPS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static JSON_LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static FORMAT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

// ---- Python -> Value ----------------------------------------------------------------

fn datetime_micros(dt: &Bound<'_, PyDateTime>) -> i64 {
    let days = days_from_civil(
        i64::from(dt.get_year()),
        u32::from(dt.get_month()),
        u32::from(dt.get_day()),
    ) - PG_EPOCH_DAYS;
    days * DAY_MICROS + time_micros(dt)
}

fn time_micros(t: &impl PyTimeAccess) -> i64 {
    let secs =
        (i64::from(t.get_hour()) * 60 + i64::from(t.get_minute())) * 60 + i64::from(t.get_second());
    secs * 1_000_000 + i64::from(t.get_microsecond())
}

/// Convert a Python parameter to a [`Value`].
pub fn to_value(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    let py = obj.py();
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if obj.is_instance_of::<PyBool>() {
        return Ok(Value::Bool(obj.extract()?));
    }
    if obj.is_instance_of::<PyInt>() {
        return Ok(match obj.extract::<i64>() {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Numeric(obj.str()?.extract()?),
        });
    }
    if obj.is_instance_of::<PyFloat>() {
        return Ok(Value::Float(obj.extract()?));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::Text(s.to_str()?.to_owned()));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Value::Bytes(b.as_bytes().to_vec()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Value::Bytes(b.to_vec()));
    }
    if let Ok(dt) = obj.cast::<PyDateTime>() {
        if let Some(tz) = dt.get_tzinfo() {
            let utc = PyTzInfo::utc(py)?;
            if tz.is(utc) {
                // Already in UTC (the usual case): no conversion call.
                return Ok(Value::TimestampTz(datetime_micros(dt)));
            }
            let in_utc = dt.call_method1("astimezone", (utc,))?;
            return Ok(Value::TimestampTz(datetime_micros(
                in_utc.cast::<PyDateTime>()?,
            )));
        }
        return Ok(Value::Timestamp(datetime_micros(dt)));
    }
    if let Ok(d) = obj.cast::<PyDate>() {
        let days = days_from_civil(
            i64::from(d.get_year()),
            u32::from(d.get_month()),
            u32::from(d.get_day()),
        ) - PG_EPOCH_DAYS;
        return Ok(Value::Date(days as i32));
    }
    if let Ok(t) = obj.cast::<PyTime>() {
        return Ok(Value::Time(time_micros(t)));
    }
    if let Ok(td) = obj.cast::<PyDelta>() {
        return Ok(Value::Interval {
            months: 0,
            days: td.get_days(),
            micros: i64::from(td.get_seconds()) * 1_000_000 + i64::from(td.get_microseconds()),
        });
    }
    if obj.is_instance(DECIMAL.import(py, "decimal", "Decimal")?)? {
        // str() is the C fast path; only exponent notation (`1E+2`) needs format(..., "f").
        let text = obj.str()?;
        let text = text.to_str()?;
        if !text.contains(['E', 'e']) {
            return Ok(Value::Numeric(text.to_owned()));
        }
        let format = FORMAT.import(py, "builtins", "format")?;
        return Ok(Value::Numeric(format.call1((obj, "f"))?.extract()?));
    }
    if obj.is_instance(UUID.import(py, "uuid", "UUID")?)? {
        let bytes: Vec<u8> = obj.getattr("bytes")?.extract()?;
        let arr: [u8; 16] = bytes
            .try_into()
            .map_err(|_| DataError::new_err("UUID.bytes is not 16 bytes"))?;
        return Ok(Value::Uuid(arr));
    }
    if obj.hasattr("__puff_json__")? {
        return Ok(Value::Json(obj.call_method0("__puff_json__")?.extract()?));
    }
    if obj.is_instance_of::<PyDict>() {
        let dumps = JSON_DUMPS.import(py, "json", "dumps")?;
        return Ok(Value::Json(dumps.call1((obj,))?.extract()?));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let mut items = Vec::new();
        for item in obj.try_iter()? {
            items.push(to_value(&item?)?);
        }
        return Ok(Value::Array(items));
    }
    if obj.hasattr("tobytes")? {
        // memoryview and similar buffers.
        let bytes: Vec<u8> = obj.call_method0("tobytes")?.extract()?;
        return Ok(Value::Bytes(bytes));
    }
    Err(ProgrammingError::new_err(format!(
        "can't adapt type '{}'",
        obj.get_type().name()?
    )))
}

// ---- Value -> Python ----------------------------------------------------------------

fn out_of_range(what: &str) -> PyErr {
    DataError::new_err(format!("{what} is out of Python's range"))
}

fn date_parts(days_since_pg_epoch: i64) -> PyResult<(i32, u8, u8)> {
    let (y, m, d) = civil_from_days(days_since_pg_epoch + PG_EPOCH_DAYS);
    if !(1..=9999).contains(&y) {
        return Err(out_of_range("date"));
    }
    Ok((y as i32, m as u8, d as u8))
}

fn make_datetime<'py>(
    py: Python<'py>,
    micros: i64,
    tz: Option<&Bound<'py, PyTzInfo>>,
) -> PyResult<Bound<'py, PyAny>> {
    let (y, mo, d) = date_parts(micros.div_euclid(DAY_MICROS))?;
    let rest = micros.rem_euclid(DAY_MICROS);
    let secs = rest / 1_000_000;
    Ok(PyDateTime::new(
        py,
        y,
        mo,
        d,
        (secs / 3600) as u8,
        (secs / 60 % 60) as u8,
        (secs % 60) as u8,
        (rest % 1_000_000) as u32,
        tz,
    )?
    .into_any())
}

/// Build the Python object for a [`Value`].
pub fn to_python<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Int(i) => i.into_pyobject(py)?.into_any(),
        Value::Float(f) => f.into_pyobject(py)?.into_any(),
        Value::Numeric(s) => DECIMAL.import(py, "decimal", "Decimal")?.call1((s,))?,
        Value::Text(s) => PyString::new(py, s).into_any(),
        Value::Bytes(b) => PyBytes::new(py, b).into_any(),
        Value::Date(d) => {
            let (y, m, day) = date_parts(i64::from(*d))?;
            PyDate::new(py, y, m, day)?.into_any()
        }
        Value::Time(us) => {
            let secs = us / 1_000_000;
            PyTime::new(
                py,
                (secs / 3600).min(23) as u8,
                (secs / 60 % 60) as u8,
                (secs % 60) as u8,
                (us % 1_000_000) as u32,
                None,
            )?
            .into_any()
        }
        Value::Timestamp(us) => make_datetime(py, *us, None)?,
        Value::TimestampTz(us) => {
            let utc = PyTzInfo::utc(py)?;
            make_datetime(py, *us, Some(&utc.to_owned()))?
        }
        Value::Interval {
            months,
            days,
            micros,
        } => {
            // A month counts as 30 days, as Postgres does when it needs a fixed length.
            let total_days =
                i64::from(*months) * 30 + i64::from(*days) + micros.div_euclid(DAY_MICROS);
            let rest = micros.rem_euclid(DAY_MICROS);
            let days = i32::try_from(total_days).map_err(|_| out_of_range("interval"))?;
            PyDelta::new(
                py,
                days,
                (rest / 1_000_000) as i32,
                (rest % 1_000_000) as i32,
                true,
            )?
            .into_any()
        }
        Value::Uuid(u) => {
            let kwargs = PyDict::new(py);
            kwargs.set_item("bytes", PyBytes::new(py, u))?;
            UUID.import(py, "uuid", "UUID")?.call((), Some(&kwargs))?
        }
        Value::Json(text) => JSON_LOADS.import(py, "json", "loads")?.call1((text,))?,
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_python(py, item)?)?;
            }
            list.into_any()
        }
    })
}

/// `(description, rows, rowcount)` for a result: description is a tuple of `Column` (see
/// [`crate::description`]) or None, rows a list of tuples.
/// `jsonb_loads`: `jsonb` columns come back as `jsonb_loads(text)` instead of parsed by
/// Puff, for callers that parse JSON themselves (Django, through `register_default_jsonb`).
fn result_to_python<'py>(
    py: Python<'py>,
    result: &QueryResult,
    jsonb_loads: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyTuple>> {
    let description = crate::description::description(py, &result.columns)?;
    let rows = PyList::empty(py);
    for row in &result.rows {
        let mut items = Vec::with_capacity(row.len());
        for (v, column) in row.iter().zip(&result.columns) {
            items.push(match (v, jsonb_loads) {
                (Value::Json(text), Some(loads))
                    if column.type_oid == tokio_postgres::types::Type::JSONB.oid() =>
                {
                    loads.call1((PyString::new(py, text),))?
                }
                _ => to_python(py, v)?,
            });
        }
        rows.append(PyTuple::new(py, items)?)?;
    }
    PyTuple::new(
        py,
        [
            description,
            rows.into_any(),
            result.rows_affected.into_pyobject(py)?.into_any(),
        ],
    )
}

// ---- connections --------------------------------------------------------------------

/// One pooled connection shared by several users: a GraphQL request runs its SQL on it
/// and lends it to resolvers marked `borrow_db_context`, whose `puff.postgres` (and so
/// Django) work then runs on the same connection, transactions included. Checked out on
/// first use; when the last owner drops it, an open transaction is rolled back and the
/// connection goes back to the pool.
pub struct SharedConnection {
    pool: Arc<PostgresPool>,
    state: Arc<Mutex<ConnState>>,
}

impl SharedConnection {
    pub fn new(pool: Arc<PostgresPool>) -> SharedConnection {
        SharedConnection {
            pool,
            state: Arc::new(Mutex::new(ConnState {
                pinned: true,
                ..ConnState::default()
            })),
        }
    }

    /// The pool this connection comes from.
    pub fn pool(&self) -> &Arc<PostgresPool> {
        &self.pool
    }

    /// Run one statement (inside the transaction a borrower opened, if any).
    pub async fn query(&self, sql: &str, params: Vec<Value>) -> Result<QueryResult, PgError> {
        run_statements(
            self.pool.clone(),
            self.state.clone(),
            sql.to_owned(),
            vec![params],
            false,
        )
        .await
    }

    /// A `puff._native.postgres.NativeConnection` on this connection, for Python code.
    pub fn lend(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(
            py,
            NativeConnection {
                pool: self.pool.clone(),
                state: self.state.clone(),
                borrowed: Some(std::sync::atomic::AtomicBool::new(false)),
                jsonb_loads: std::sync::Mutex::new(None),
            },
        )?
        .into_any())
    }
}

impl Drop for SharedConnection {
    fn drop(&mut self) {
        let state = self.state.clone();
        let Ok(mut guard) = state.try_lock() else {
            return; // a statement is still running; it returns the client when done
        };
        let Some(client) = guard.client.take() else {
            return;
        };
        if !guard.in_transaction {
            return; // dropping `client` returns it to the pool
        }
        guard.in_transaction = false;
        drop(guard);
        let Ok(runtime) = PythonRuntime::global() else {
            return;
        };
        runtime.tokio().spawn(async move {
            let mut client = client;
            if !client.is_closed() {
                let _ = client.batch_execute("ROLLBACK").await;
            }
        });
    }
}

/// One DB-API connection: holds a pooled connection while a transaction is open (or, in
/// autocommit mode, only during a statement). Dropping it rolls back and returns the
/// connection to the pool.
#[pyclass(module = "puff._native.postgres", name = "NativeConnection")]
pub(crate) struct NativeConnection {
    pub(crate) pool: Arc<PostgresPool>,
    pub(crate) state: Arc<Mutex<ConnState>>,
    /// Lent by a [`SharedConnection`]: closing or dropping it leaves the shared
    /// connection to its owner.
    borrowed: Option<std::sync::atomic::AtomicBool>,
    /// Parses `jsonb` columns instead of Puff (see [`result_to_python`]).
    jsonb_loads: std::sync::Mutex<Option<Py<PyAny>>>,
}

fn pool_named(name: &str) -> PyResult<Arc<PostgresPool>> {
    let runtime = PythonRuntime::global()?;
    runtime
        .resources()
        .get::<PostgresPool>(name)
        .ok_or_else(|| {
            let names = runtime.resources().names::<PostgresPool>();
            InterfaceError::new_err(format!(
                "no Postgres pool named `{name}` (configured: {}); add a [[postgres]] entry \
                 with name = \"{name}\" to puff.toml",
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            ))
        })
}

/// Run `sql` on the connection in `state`, checking one out of `pool` first if needed.
async fn run_statements(
    pool: Arc<PostgresPool>,
    state: Arc<Mutex<ConnState>>,
    sql: String,
    param_sets: Vec<Vec<Value>>,
    begin: bool,
) -> Result<QueryResult, PgError> {
    let mut guard = session::acquire(&pool, state, begin).await?;
    let state = &mut *guard;
    let in_transaction = state.in_transaction;
    let outcome = async {
        let Some(client) = state.client.as_mut() else {
            return Err(PgError::Interface("no connection".into()));
        };
        if in_transaction && param_sets.len() > 1 && !has_several_statements(&sql) {
            // executemany in a transaction: pipeline the executions.
            let prepared = client.prepare_columns(&sql).await?;
            if prepared == 0 {
                let mut affected = client.execute_pipelined(&sql, &param_sets).await?;
                if affected == 0 && !reports_row_count(&sql) {
                    affected = -1;
                }
                return Ok(QueryResult {
                    rows_affected: affected,
                    ..QueryResult::default()
                });
            }
        }
        let mut total = QueryResult::default();
        let mut affected = 0i64;
        let count = param_sets.len();
        for params in &param_sets {
            let result = client.query(&sql, params).await?;
            if result.rows_affected >= 0 && affected >= 0 {
                affected += result.rows_affected;
            } else {
                affected = -1;
            }
            total = result;
        }
        if count > 1 {
            total.rows_affected = affected;
        }
        Ok(total)
    }
    .await;
    if outcome.is_ok() {
        session::note_statement(state, &sql);
    }
    session::settle(state, outcome).await
}

async fn end_transaction(state: Arc<Mutex<ConnState>>, sql: &'static str) -> Result<(), PgError> {
    let mut guard = state.lock().await;
    let state = &mut *guard;
    let result = match state.client.as_mut() {
        Some(client) if state.in_transaction => client.batch_execute(sql).await,
        _ => Ok(()),
    };
    state.in_transaction = false;
    if result.is_err() || !state.keeps_client() {
        session::release(state).await;
    }
    result
}

#[pymethods]
impl NativeConnection {
    /// Run `sql` (with `$n` placeholders) once per parameter list in `param_sets`.
    /// `begin`: open a transaction first unless one is open (DB-API non-autocommit mode).
    /// Returns `(description, rows, rowcount)` of the last run.
    fn execute<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        param_sets: Vec<Bound<'py, PyAny>>,
        begin: bool,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let mut sets = Vec::with_capacity(param_sets.len());
        for params in &param_sets {
            let mut values = Vec::new();
            for p in params.try_iter()? {
                values.push(to_value(&p?)?);
            }
            sets.push(values);
        }
        if sets.is_empty() {
            sets.push(Vec::new());
        }
        let fut = run_statements(self.pool.clone(), self.state.clone(), sql, sets, begin);
        let result = wait_for(py, fut)?.map_err(|e| to_pyerr(py, e))?;
        let loads = self.get_jsonb_loads(py).map(|l| l.into_bound(py));
        result_to_python(py, &result, loads.as_ref())
    }

    fn commit(&self, py: Python<'_>) -> PyResult<()> {
        wait_for(py, end_transaction(self.state.clone(), "COMMIT"))?.map_err(|e| to_pyerr(py, e))
    }

    fn rollback(&self, py: Python<'_>) -> PyResult<()> {
        wait_for(py, end_transaction(self.state.clone(), "ROLLBACK"))?.map_err(|e| to_pyerr(py, e))
    }

    /// Roll back any open transaction and return the connection to the pool (a borrowed
    /// connection stays with its owner).
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let state = self.state.clone();
        let borrowed = self.borrowed.is_some();
        if let Some(closed) = &self.borrowed {
            closed.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        if let Ok(mut idle) = state.try_lock()
            && idle.client.is_none()
        {
            // Nothing checked out (autocommit between statements): no need to wait on Tokio.
            idle.in_transaction = false;
            if !borrowed {
                idle.closed = true;
            }
            return Ok(());
        }
        wait_for(py, async move {
            let result = end_transaction(state.clone(), "ROLLBACK").await;
            if !borrowed {
                // Also when WITH HOLD cursors or LISTENs kept it: they end with the connection.
                let mut state = state.lock().await;
                session::release(&mut state).await;
                state.closed = true;
            }
            result
        })?
        .map_err(|e| to_pyerr(py, e))
    }

    /// Open transactions with `BEGIN ISOLATION LEVEL <level>` (None: the server's default).
    #[pyo3(signature = (level))]
    fn set_isolation_level(&self, level: Option<&str>) -> PyResult<()> {
        const LEVELS: [&str; 4] = [
            "READ UNCOMMITTED",
            "READ COMMITTED",
            "REPEATABLE READ",
            "SERIALIZABLE",
        ];
        let begin_sql = match level {
            None => None,
            Some(l) => {
                let upper = l.to_ascii_uppercase();
                if !LEVELS.contains(&upper.as_str()) {
                    return Err(ProgrammingError::new_err(format!(
                        "unknown isolation level {l:?} (one of {})",
                        LEVELS.join(", ")
                    )));
                }
                Some(format!("BEGIN ISOLATION LEVEL {upper}"))
            }
        };
        let mut state = self.state.try_lock().map_err(|_| {
            InterfaceError::new_err("cannot change the isolation level while a statement runs")
        })?;
        if state.in_transaction {
            return Err(ProgrammingError::new_err(
                "cannot change the isolation level inside a transaction",
            ));
        }
        state.begin_sql = begin_sql;
        Ok(())
    }

    /// What parses `jsonb` column text (None: Puff does), set by psycopg2's
    /// `register_default_jsonb(loads=)`.
    #[getter]
    fn get_jsonb_loads(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        let loads = self.jsonb_loads.lock().unwrap_or_else(|e| e.into_inner());
        loads.as_ref().map(|l| l.clone_ref(py))
    }

    #[setter]
    fn set_jsonb_loads(&self, loads: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        if let Some(l) = &loads
            && !l.is_callable()
        {
            return Err(PyTypeError::new_err(format!(
                "jsonb_loads must be callable or None, not {}",
                l.get_type().name()?
            )));
        }
        *self.jsonb_loads.lock().unwrap_or_else(|e| e.into_inner()) = loads.map(Bound::unbind);
        Ok(())
    }

    #[getter]
    fn in_transaction(&self) -> bool {
        self.state
            .try_lock()
            .map(|s| s.in_transaction)
            .unwrap_or(true)
    }

    #[getter]
    fn closed(&self) -> bool {
        if let Some(closed) = &self.borrowed
            && closed.load(std::sync::atomic::Ordering::Relaxed)
        {
            return true;
        }
        self.state.try_lock().map(|s| s.closed).unwrap_or(false)
    }

    /// Whether this connection is lent by a GraphQL request (`borrow_db_context`).
    #[getter]
    fn borrowed(&self) -> bool {
        self.borrowed.is_some()
    }

    #[getter]
    fn pool_name(&self) -> String {
        self.pool.name().to_owned()
    }
}

impl Drop for NativeConnection {
    fn drop(&mut self) {
        if self.borrowed.is_some() {
            return; // the owner ends the shared connection
        }
        let state = self.state.clone();
        let holds_client = match state.try_lock() {
            Ok(s) => s.client.is_some(),
            Err(_) => true,
        };
        if !holds_client {
            return;
        }
        // Forgotten without close(): roll back on Tokio, then the pool gets it back.
        let Ok(runtime) = PythonRuntime::global() else {
            return;
        };
        runtime.tokio().spawn(async move {
            session::release(&mut *state.lock().await).await;
        });
    }
}

/// Pools on other databases of a configured pool's server, by (pool, database).
static DERIVED_POOLS: std::sync::Mutex<Vec<(String, String, Arc<PostgresPool>)>> =
    std::sync::Mutex::new(Vec::new());

/// The pool `name`, or with `database` naming another database than its own, a pool on
/// that database of the same server ([`PostgresPool::on_database`]), made on first use.
fn pool_for(name: &str, database: Option<&str>) -> PyResult<Arc<PostgresPool>> {
    let pool = pool_named(name)?;
    let Some(database) = database.filter(|d| *d != pool.database()) else {
        return Ok(pool);
    };
    let mut derived = DERIVED_POOLS
        .lock()
        .map_err(|_| InterfaceError::new_err("the derived pool registry is poisoned"))?;
    if let Some((_, _, found)) = derived.iter().find(|(n, d, _)| n == name && d == database) {
        return Ok(found.clone());
    }
    let _entered = PythonRuntime::global()?.tokio().enter();
    let made = Arc::new(pool.on_database(database));
    tracing::debug!("Postgres pool `{name}`: opening database `{database}` on its server");
    derived.push((name.to_owned(), database.to_owned(), made.clone()));
    Ok(made)
}

/// A new DB-API connection on the pool `name` (on `database` of its server when given).
#[pyfunction]
#[pyo3(signature = (name = "default", database = None))]
fn connect(name: &str, database: Option<&str>) -> PyResult<NativeConnection> {
    Ok(NativeConnection {
        pool: pool_for(name, database)?,
        state: Arc::new(Mutex::new(ConnState::default())),
        borrowed: None,
        jsonb_loads: std::sync::Mutex::new(None),
    })
}

/// The database the pool `name` connects to.
#[pyfunction]
#[pyo3(signature = (name = "default"))]
fn pool_database(name: &str) -> PyResult<String> {
    Ok(pool_named(name)?.database().to_owned())
}

/// Run the sessions of pool `name` (and the pools derived from it) in time zone `tz`;
/// None: the server's default.
#[pyfunction]
#[pyo3(signature = (name, tz))]
fn set_session_timezone(name: &str, tz: Option<String>) -> PyResult<()> {
    pool_named(name)?.set_session_timezone(tz);
    Ok(())
}

/// The time zone set by `set_session_timezone` for pool `name`, if any.
#[pyfunction]
#[pyo3(signature = (name = "default"))]
fn session_timezone(name: &str) -> PyResult<Option<String>> {
    Ok(pool_named(name)?.session_timezone())
}

/// Names of the configured pools.
#[pyfunction]
fn pool_names() -> PyResult<Vec<String>> {
    Ok(PythonRuntime::global()?.resources().names::<PostgresPool>())
}

/// `{"max_open", "connections", "in_use", "idle"}` of the pool `name`.
#[pyfunction]
#[pyo3(signature = (name = "default"))]
fn pool_status<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyDict>> {
    let pool = pool_named(name)?;
    let status = wait_for(py, async move { pool.status().await })?;
    status.to_dict(py)
}

/// Build `puff._native.postgres` and attach it to `native`.
pub(crate) fn add_module(py: Python<'_>, native: &Bound<'_, PyModule>) -> PyResult<()> {
    let m = PyModule::new(py, "postgres")?;
    m.add_class::<NativeConnection>()?;
    m.add_class::<crate::description::PyColumn>()?;
    m.add_function(wrap_pyfunction!(connect, &m)?)?;
    m.add_function(wrap_pyfunction!(pool_names, &m)?)?;
    m.add_function(wrap_pyfunction!(pool_status, &m)?)?;
    m.add_function(wrap_pyfunction!(pool_database, &m)?)?;
    m.add_function(wrap_pyfunction!(set_session_timezone, &m)?)?;
    m.add_function(wrap_pyfunction!(session_timezone, &m)?)?;
    m.add("Warning", py.get_type::<Warning>())?;
    m.add("Error", py.get_type::<Error>())?;
    m.add("InterfaceError", py.get_type::<InterfaceError>())?;
    m.add("DatabaseError", py.get_type::<DatabaseError>())?;
    m.add("DataError", py.get_type::<DataError>())?;
    m.add("OperationalError", py.get_type::<OperationalError>())?;
    m.add("IntegrityError", py.get_type::<IntegrityError>())?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    m.add("ProgrammingError", py.get_type::<ProgrammingError>())?;
    m.add("NotSupportedError", py.get_type::<NotSupportedError>())?;
    native.add_submodule(&m)?;
    py.import("sys")?
        .getattr("modules")?
        .set_item("puff._native.postgres", &m)?;
    Ok(())
}
