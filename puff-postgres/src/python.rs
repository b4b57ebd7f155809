//! `puff._native.postgres`: the native half of `puff.postgres` (the DB-API 2.0 layer in
//! `python/puff/postgres.py` wraps it). Values are converted between Python objects and
//! [`Value`] here, on the Python thread; queries run on Tokio through
//! [`puff_greenlet::wait_for`], so other greenlets keep running while one waits.

use std::sync::Arc;

use puff_greenlet::{PythonRuntime, wait_for, wait_for_with};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDate, PyDateAccess, PyDateTime, PyDelta, PyDeltaAccess, PyDict,
    PyFloat, PyInt, PyList, PyString, PyTime, PyTimeAccess, PyTuple, PyTzInfo, PyTzInfoAccess,
};
use tokio::sync::Mutex;
use tokio::sync::mpsc::error::TrySendError;

use crate::error::{ErrorKind, PgError};
use crate::pool::{LaterSets, ParamSet, PostgresPool, QueryResult, batches, reports_row_count};
use crate::session::{self, ConnState};
use crate::value::interval_text::{IntervalStyle, interval_text};
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
static TIMEZONE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
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

/// Convert a Python parameter to a [`Value`] (see [`to_param`]).
pub fn to_value(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    Ok(to_param(obj)?.0)
}

/// `puff.postgres`'s Python helper `name` (adapters, range classes, session zones).
fn helper<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    MODULE
        .get_or_try_init(py, || py.import("puff.postgres").map(Bound::unbind))?
        .bind(py)
        .getattr(name)
}

/// A Python parameter as a [`Value`] and the OID to type it with: the type psycopg2's SQL
/// literal for it has ([`Value::param_oid`]; `str` and None unknown, 0). Objects of
/// other types go through `puff.postgres._adapt_value` (registered adapters, `Json`,
/// `Inet`, ranges, hstore dicts, ...), which returns a value handled here or
/// `(oid, text)`: text the server parses as type `oid`.
pub fn to_param(obj: &Bound<'_, PyAny>) -> PyResult<(Value, u32)> {
    to_param_at(obj, 0, false)
}

/// `in_list`: an element of a list, whose OID is its *element* type when it is a list.
fn to_param_at(obj: &Bound<'_, PyAny>, depth: u32, in_list: bool) -> PyResult<(Value, u32)> {
    let value = if let Some(v) = native_scalar(obj)? {
        v
    } else if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let mut items = Vec::new();
        for item in obj.try_iter()? {
            let item = item?;
            let nested = item.is_instance_of::<PyList>();
            let (v, t) = to_param_at(&item, depth + 1, true)?;
            items.push((v, t, nested));
        }
        let (value, elem) =
            Value::array_param(items, !in_list).map_err(ProgrammingError::new_err)?;
        if in_list {
            return Ok((value, elem));
        }
        let oid = match value {
            Value::Text(_) if elem == 0 => 0,
            _ => crate::value::array_oid(elem).unwrap_or(0),
        };
        return Ok((value, oid));
    } else {
        return adapted(obj, depth, in_list);
    };
    let oid = value.param_oid();
    Ok((value, oid))
}

/// A value of a type Puff does not bind itself, through `puff.postgres._adapt_value`.
fn adapted(obj: &Bound<'_, PyAny>, depth: u32, in_list: bool) -> PyResult<(Value, u32)> {
    let py = obj.py();
    if depth > 16 {
        return Err(ProgrammingError::new_err(format!(
            "can't adapt type '{}' (its adapter does not end)",
            obj.get_type().name()?
        )));
    }
    let replacement = helper(py, "_adapt_value")?.call1((obj,))?;
    if let Ok(pair) = replacement.cast::<PyTuple>()
        && pair.len() == 2
        && let Ok(oid) = pair.get_item(0)?.extract::<u32>()
    {
        let text = pair.get_item(1)?;
        if text.is_none() {
            return Ok((Value::Null, oid));
        }
        let text: String = text.extract()?;
        check_nul(&text)?;
        if oid == JSON_UNTYPED {
            return Ok((Value::Json(text), 0));
        }
        return Ok((Value::Text(text), oid));
    }
    to_param_at(&replacement, depth + 1, in_list)
}

/// The OID `_adapt_value` gives a dict's JSON: sent as JSON text whose type the server
/// infers (json or jsonb, also as elements of json[] / jsonb[]).
const JSON_UNTYPED: u32 = 114;

fn check_nul(text: &str) -> PyResult<()> {
    if text.contains('\0') {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "A string literal cannot contain NUL (0x00) characters.",
        ));
    }
    Ok(())
}

/// The built-in scalar types, converted without Python calls (None for other objects).
fn native_scalar(obj: &Bound<'_, PyAny>) -> PyResult<Option<Value>> {
    let py = obj.py();
    if obj.is_none() {
        return Ok(Some(Value::Null));
    }
    if obj.is_instance_of::<PyBool>() {
        return Ok(Some(Value::Bool(obj.extract()?)));
    }
    if obj.is_instance_of::<PyInt>() {
        return Ok(Some(match obj.extract::<i64>() {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Numeric(obj.str()?.extract()?),
        }));
    }
    if obj.is_instance_of::<PyFloat>() {
        return Ok(Some(Value::Float(obj.extract()?)));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        let text = s.to_str()?;
        check_nul(text)?;
        return Ok(Some(Value::Text(text.to_owned())));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Some(Value::Bytes(b.as_bytes().to_vec())));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Some(Value::Bytes(b.to_vec())));
    }
    if let Ok(dt) = obj.cast::<PyDateTime>() {
        if let Some(tz) = dt.get_tzinfo() {
            if dt.call_method0("utcoffset")?.is_none() {
                // psycopg2 writes such a value without offset, as a timestamptz the server
                // reads in the session's zone.
                return Ok(None); // `_adapt_value` sends its text as timestamptz
            }
            let utc = PyTzInfo::utc(py)?;
            if tz.is(utc) {
                // Already in UTC (the usual case): no conversion call.
                return Ok(Some(Value::TimestampTz(datetime_micros(dt))));
            }
            let in_utc = dt.call_method1("astimezone", (utc,))?;
            return Ok(Some(Value::TimestampTz(datetime_micros(
                in_utc.cast::<PyDateTime>()?,
            ))));
        }
        return Ok(Some(Value::Timestamp(datetime_micros(dt))));
    }
    if let Ok(d) = obj.cast::<PyDate>() {
        let days = days_from_civil(
            i64::from(d.get_year()),
            u32::from(d.get_month()),
            u32::from(d.get_day()),
        ) - PG_EPOCH_DAYS;
        return Ok(Some(Value::Date(days as i32)));
    }
    if let Ok(t) = obj.cast::<PyTime>() {
        if t.get_tzinfo().is_some() {
            let offset = t.call_method0("utcoffset")?;
            let Ok(delta) = offset.cast::<PyDelta>() else {
                return Ok(None); // no offset: `_adapt_value` sends its text as timetz
            };
            return Ok(Some(Value::TimeTz {
                micros: time_micros(t),
                offset: delta.get_days() * 86_400 + delta.get_seconds(),
            }));
        }
        return Ok(Some(Value::Time(time_micros(t))));
    }
    if let Ok(td) = obj.cast::<PyDelta>() {
        return Ok(Some(Value::Interval {
            months: 0,
            days: td.get_days(),
            micros: i64::from(td.get_seconds()) * 1_000_000 + i64::from(td.get_microseconds()),
        }));
    }
    if obj.is_instance(DECIMAL.import(py, "decimal", "Decimal")?)? {
        if !obj.call_method0("is_finite")?.extract::<bool>()? {
            // psycopg2 writes every non-finite Decimal as 'NaN'::numeric.
            return Ok(Some(Value::Numeric("NaN".into())));
        }
        // str() is the C fast path; only exponent notation (`1E+2`) needs format(..., "f").
        let text = obj.str()?;
        let text = text.to_str()?;
        if !text.contains(['E', 'e']) {
            return Ok(Some(Value::Numeric(text.to_owned())));
        }
        let format = FORMAT.import(py, "builtins", "format")?;
        return Ok(Some(Value::Numeric(format.call1((obj, "f"))?.extract()?)));
    }
    if obj.is_instance(UUID.import(py, "uuid", "UUID")?)? {
        let bytes: Vec<u8> = obj.getattr("bytes")?.extract()?;
        let arr: [u8; 16] = bytes
            .try_into()
            .map_err(|_| DataError::new_err("UUID.bytes is not 16 bytes"))?;
        return Ok(Some(Value::Uuid(arr)));
    }
    if obj.is_instance_of::<pyo3::types::PyMemoryView>() {
        let bytes: Vec<u8> = obj.call_method0("tobytes")?.extract()?;
        return Ok(Some(Value::Bytes(bytes)));
    }
    Ok(None)
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

/// How a result shows time-zoned values: psycopg2 shows a timestamptz in the session's
/// `TimeZone` with a tzinfo from the cursor's `tzinfo_factory` (`datetime.timezone`
/// unless changed; None: naive datetimes), and hstore as a dict once registered.
pub struct Shown<'py> {
    /// The session zone's name; its tzinfo is looked up on the first time-zoned value.
    zone_name: Option<std::sync::Arc<str>>,
    /// The session zone as a tzinfo; None when it is UTC.
    zone: std::cell::OnceCell<Option<Bound<'py, PyAny>>>,
    factory: Factory<'py>,
    hstore_dicts: bool,
    /// bytea as `memoryview` (psycopg2) instead of `bytes`.
    bytea_memoryview: bool,
}

enum Factory<'py> {
    /// `datetime.timezone`.
    Timezone,
    /// None: naive datetimes.
    Naive,
    Custom(Bound<'py, PyAny>),
}

impl<'py> Shown<'py> {
    /// UTC, `datetime.timezone` tzinfos, hstore as dicts.
    pub fn utc() -> Shown<'py> {
        Shown {
            zone_name: None,
            zone: std::cell::OnceCell::new(),
            factory: Factory::Timezone,
            hstore_dicts: true,
            bytea_memoryview: false,
        }
    }

    /// For a result of a session in `zone`, with the cursor's `tzinfo_factory`.
    fn new(
        py: Python<'py>,
        zone_name: Option<std::sync::Arc<str>>,
        factory: &Bound<'py, PyAny>,
        hstore_dicts: bool,
    ) -> PyResult<Shown<'py>> {
        let factory = if factory.is_none() {
            Factory::Naive
        } else if factory.is(TIMEZONE.import(py, "datetime", "timezone")?) {
            Factory::Timezone
        } else {
            Factory::Custom(factory.clone())
        };
        Ok(Shown {
            zone_name,
            zone: std::cell::OnceCell::new(),
            factory,
            hstore_dicts,
            bytea_memoryview: false,
        })
    }

    /// The tzinfo for a UTC offset, or None for naive values.
    fn tzinfo(
        &self,
        py: Python<'py>,
        offset: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        Ok(match &self.factory {
            Factory::Naive => None,
            Factory::Timezone => Some(
                TIMEZONE
                    .import(py, "datetime", "timezone")?
                    .call1((offset,))?,
            ),
            Factory::Custom(f) => Some(f.call1((offset,))?),
        })
    }

    /// The session zone's tzinfo (None: UTC), through `puff.postgres._session_zone`.
    fn zone(&self, py: Python<'py>) -> PyResult<Option<&Bound<'py, PyAny>>> {
        if self.zone.get().is_none() {
            let zone = match &self.zone_name {
                Some(name) => {
                    Some(helper(py, "_session_zone")?.call1((&**name,))?).filter(|z| !z.is_none())
                }
                None => None,
            };
            let _ = self.zone.set(zone);
        }
        Ok(self.zone.get().and_then(Option::as_ref))
    }

    fn timestamptz(&self, py: Python<'py>, micros: i64) -> PyResult<Bound<'py, PyAny>> {
        let utc = PyTzInfo::utc(py)?.to_owned();
        if micros == i64::MAX || micros == i64::MIN {
            // 'infinity': datetime.max / min, in UTC unless naive (as psycopg2).
            let dt = py
                .import("datetime")?
                .getattr("datetime")?
                .getattr(if micros > 0 { "max" } else { "min" })?;
            return match self.factory {
                Factory::Naive => Ok(dt),
                _ => {
                    let kwargs = PyDict::new(py);
                    kwargs.set_item("tzinfo", utc)?;
                    dt.call_method("replace", (), Some(&kwargs))
                }
            };
        }
        let Some(zone) = self.zone(py)? else {
            return match &self.factory {
                Factory::Timezone => make_datetime(py, micros, Some(&utc)),
                Factory::Naive => make_datetime(py, micros, None),
                Factory::Custom(f) => {
                    let tz = f.call1((PyDelta::new(py, 0, 0, 0, false)?,))?;
                    make_datetime(py, micros, Some(tz.cast::<PyTzInfo>()?))
                }
            };
        };
        let local = make_datetime(py, micros, Some(&utc))?.call_method1("astimezone", (zone,))?;
        let offset = local.call_method0("utcoffset")?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("tzinfo", self.tzinfo(py, &offset)?)?;
        local.call_method("replace", (), Some(&kwargs))
    }
}

/// Build the Python object for a [`Value`] (timestamptz in UTC; see [`to_python_shown`]).
pub fn to_python<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    to_python_shown(py, value, &Shown::utc())
}

/// Build the Python object for a [`Value`] the way psycopg2 shows it with `shown`.
pub fn to_python_shown<'py>(
    py: Python<'py>,
    value: &Value,
    shown: &Shown<'py>,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Int(i) => i.into_pyobject(py)?.into_any(),
        Value::Float(f) => f.into_pyobject(py)?.into_any(),
        Value::Numeric(s) => DECIMAL.import(py, "decimal", "Decimal")?.call1((s,))?,
        Value::Text(s) => PyString::new(py, s).into_any(),
        Value::Bytes(b) if shown.bytea_memoryview => {
            pyo3::types::PyMemoryView::from(PyBytes::new(py, b).as_any())?.into_any()
        }
        Value::Bytes(b) => PyBytes::new(py, b).into_any(),
        Value::Date(d) if *d == i32::MAX || *d == i32::MIN => py
            .import("datetime")?
            .getattr("date")?
            .getattr(if *d > 0 { "max" } else { "min" })?,
        Value::Date(d) => {
            let (y, m, day) = date_parts(i64::from(*d))?;
            PyDate::new(py, y, m, day)?.into_any()
        }
        Value::Time(us) => make_time(py, *us, None)?,
        Value::TimeTz { micros, offset } => {
            let delta = PyDelta::new(py, 0, *offset, 0, true)?;
            let tz = shown.tzinfo(py, delta.as_any())?;
            make_time(py, *micros, tz.as_ref())?
        }
        Value::Timestamp(us) if *us == i64::MAX || *us == i64::MIN => py
            .import("datetime")?
            .getattr("datetime")?
            .getattr(if *us > 0 { "max" } else { "min" })?,
        Value::Timestamp(us) => make_datetime(py, *us, None)?,
        Value::TimestampTz(us) => shown.timestamptz(py, *us)?,
        Value::Interval {
            months,
            days,
            micros,
        } => {
            // As psycopg2 reads the interval's text: a year is 365 days, a month 30.
            let total_days = i64::from(months / 12) * 365
                + i64::from(months % 12) * 30
                + i64::from(*days)
                + micros.div_euclid(DAY_MICROS);
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
                list.append(to_python_shown(py, item, shown)?)?;
            }
            list.into_any()
        }
        Value::Range {
            type_oid,
            empty,
            lower,
            upper,
            lower_inc,
            upper_inc,
        } => {
            let bound = |b: &Option<Box<Value>>| -> PyResult<Bound<'py, PyAny>> {
                match b {
                    Some(v) => to_python_shown(py, v, shown),
                    None => Ok(py.None().into_bound(py)),
                }
            };
            let bounds = format!(
                "{}{}",
                if *lower_inc { '[' } else { '(' },
                if *upper_inc { ']' } else { ')' }
            );
            helper(py, "_make_range")?.call1((
                *type_oid,
                bound(lower)?,
                bound(upper)?,
                bounds,
                *empty,
            ))?
        }
        Value::Hstore(pairs) => {
            if shown.hstore_dicts {
                let dict = PyDict::new(py);
                for (k, v) in pairs {
                    dict.set_item(k, v)?;
                }
                dict.into_any()
            } else {
                PyString::new(py, &crate::value::hstore_text(pairs)).into_any()
            }
        }
    })
}

fn make_time<'py>(
    py: Python<'py>,
    us: i64,
    tz: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let secs = us / 1_000_000;
    let tz = tz.map(|t| t.cast::<PyTzInfo>()).transpose()?;
    Ok(PyTime::new(
        py,
        (secs / 3600).min(23) as u8,
        (secs / 60 % 60) as u8,
        (secs % 60) as u8,
        (us % 1_000_000) as u32,
        tz,
    )?
    .into_any())
}

/// `(description, rows, rowcount)` for a result: description is a tuple of `Column` (see
/// [`crate::description`]) or None, rows a list of tuples.
/// `jsonb_loads`: `jsonb` columns come back as `jsonb_loads(text)` instead of parsed by
/// Puff, for callers that parse JSON themselves (Django, through `register_default_jsonb`).
/// `interval_text_oids`: in columns of these types (`interval`, `interval[]`) intervals
/// come back as the text the server prints for them, for the typecasters registered for
/// them (a `timedelta` has lost months, hours past a day and mixed signs).
fn result_to_python<'py>(
    py: Python<'py>,
    result: &QueryResult,
    jsonb_loads: Option<&Bound<'py, PyAny>>,
    interval_text_oids: &[u32],
    shown: &Shown<'py>,
) -> PyResult<Bound<'py, PyTuple>> {
    let description = crate::description::description(py, &result.columns)?;
    let rows = PyList::empty(py);
    for row in &result.rows {
        let mut items = Vec::with_capacity(row.len());
        for (v, column) in row.iter().zip(&result.columns) {
            if interval_text_oids.contains(&column.type_oid) {
                items.push(interval_text_to_python(
                    py,
                    v,
                    result.interval_style,
                    shown,
                )?);
                continue;
            }
            items.push(match jsonb_loads {
                Some(loads) if JSONB_OIDS.contains(&column.type_oid) => {
                    jsonb_to_python(py, v, loads, shown)?
                }
                _ => to_python_shown(py, v, shown)?,
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

/// `jsonb` and `jsonb[]`: psycopg2's `register_default_jsonb` sets the loads of both.
const JSONB_OIDS: [u32; 2] = [3802, 3807];

/// A `jsonb` value, or an array of them, with each JSON text through `loads`.
fn jsonb_to_python<'py>(
    py: Python<'py>,
    value: &Value,
    loads: &Bound<'py, PyAny>,
    shown: &Shown<'py>,
) -> PyResult<Bound<'py, PyAny>> {
    match value {
        Value::Json(text) => loads.call1((PyString::new(py, text),)),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(jsonb_to_python(py, item, loads, shown)?)?;
            }
            Ok(list.into_any())
        }
        _ => to_python_shown(py, value, shown),
    }
}

/// An interval, or an array of them, as the text the server prints in `style`.
fn interval_text_to_python<'py>(
    py: Python<'py>,
    value: &Value,
    style: IntervalStyle,
    shown: &Shown<'py>,
) -> PyResult<Bound<'py, PyAny>> {
    match value {
        Value::Interval {
            months,
            days,
            micros,
        } => Ok(PyString::new(py, &interval_text(*months, *days, *micros, style)).into_any()),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(interval_text_to_python(py, item, style, shown)?)?;
            }
            Ok(list.into_any())
        }
        _ => to_python_shown(py, value, shown),
    }
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
    /// Parameter types are inferred by the server.
    pub async fn query(&self, sql: &str, params: Vec<Value>) -> Result<QueryResult, PgError> {
        run_statements(
            self.pool.clone(),
            self.state.clone(),
            sql.to_owned(),
            vec![(params, Vec::new())],
            None,
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
                hstore_dicts: std::sync::atomic::AtomicBool::new(false),
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
    /// hstore results as dicts (psycopg2's `register_hstore` on this connection); see
    /// also [`HSTORE_DICTS`].
    hstore_dicts: std::sync::atomic::AtomicBool,
}

/// hstore results as dicts on every connection (`register_hstore(globally=True)`); else
/// as their text, as psycopg2 returns them unregistered.
static HSTORE_DICTS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

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

/// Run `sql` on the connection in `state`, checking one out of `pool` first if needed,
/// once per parameter set of `param_sets` and then of each chunk `later` delivers.
async fn run_statements(
    pool: Arc<PostgresPool>,
    state: Arc<Mutex<ConnState>>,
    sql: String,
    mut param_sets: Vec<ParamSet>,
    mut later: Option<LaterSets>,
    begin: bool,
) -> Result<QueryResult, PgError> {
    let mut guard = session::acquire(&pool, state, begin).await?;
    let state = &mut *guard;
    let in_transaction = state.in_transaction;
    let outcome = async {
        let Some(client) = state.client.as_mut() else {
            return Err(PgError::Interface("no connection".into()));
        };
        let many = param_sets.len() > 1 || later.is_some();
        let columns = if in_transaction && many && batches(&sql) {
            client.retype_for_insert(&sql, &mut param_sets).await?
        } else {
            Vec::new()
        };
        let same_types = param_sets.windows(2).all(|w| w[0].1 == w[1].1);
        if in_transaction && many && same_types && batches(&sql) {
            // executemany in a transaction: batches, each one Sync (see
            // `PgClient::execute_batch`). In autocommit each row is its own statement and
            // commit, run one at a time below as psycopg2 runs them: a batch would be one
            // implicit transaction, and rows sent after a failing one would still run.
            let prepared = client.prepare_columns(&sql, &param_sets[0].1).await?;
            if prepared == 0 {
                let mut affected = client
                    .execute_batch(&sql, param_sets, later.as_mut(), &columns)
                    .await?;
                if affected == 0 && !reports_row_count(&sql) {
                    affected = -1;
                }
                return Ok(QueryResult {
                    rows_affected: affected,
                    ..QueryResult::default()
                });
            }
        }
        if let Some(later) = later.as_mut() {
            while let Some(mut sets) = later.recv().await {
                param_sets.append(&mut sets);
            }
        }
        let mut total = QueryResult::default();
        let mut affected = 0i64;
        let count = param_sets.len();
        for (params, oids) in &param_sets {
            let result = client.query_typed(&sql, params, oids).await?;
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
    match &outcome {
        Ok(_) => {
            session::note_statement(state, &sql);
            // In a failed transaction only a rollback (to a savepoint) succeeds.
            state.transaction_failed = false;
        }
        Err(PgError::Db { .. }) if state.in_transaction => state.transaction_failed = true,
        Err(_) => {}
    }
    session::settle(state, outcome).await
}

async fn end_transaction(state: Arc<Mutex<ConnState>>, sql: &'static str) -> Result<(), PgError> {
    let mut guard = state.lock().await;
    let state = &mut *guard;
    let result = match state.client.as_mut() {
        Some(client) if state.in_transaction => {
            let result = client.batch_execute(sql).await;
            if state.zone.is_some() {
                // A rollback may have undone the zone a statement set.
                state.zone = client.session_zone().map(str::to_owned);
            }
            result
        }
        _ => Ok(()),
    };
    state.in_transaction = false;
    state.transaction_failed = false;
    if result.is_err() || !state.keeps_client() {
        session::release(state).await;
    }
    result
}

/// Parameter sets an `executemany` converts and sends at a time once it has more than two
/// of them: the server starts on the first while the next are converted.
const STREAMED_CHUNK: usize = 256;

/// The first chunk is smaller: the server waits for it, and it only has to outlast the
/// conversion of the next one.
const FIRST_STREAMED_CHUNK: usize = 32;

/// Converted chunks that may wait for Tokio to send them. Bounded so that this thread,
/// converting, cannot starve Tokio's thread when both share a core (then nothing would
/// reach the server until every set is converted), and to bound the memory they hold.
const CHUNKS_AHEAD: usize = 2;

/// `sets` as values with their type OIDs ([`to_param`]); on failure, those converted
/// before the failing one and its error.
fn converted(sets: &[Bound<'_, PyAny>]) -> Result<Vec<ParamSet>, (Vec<ParamSet>, PyErr)> {
    let mut out = Vec::with_capacity(sets.len());
    for params in sets {
        let mut values = Vec::new();
        let mut oids = Vec::new();
        let items = match params.try_iter() {
            Ok(items) => items,
            Err(e) => return Err((out, e)),
        };
        for p in items {
            match p.and_then(|p| to_param(&p)) {
                Ok((value, oid)) => {
                    values.push(value);
                    oids.push(oid);
                }
                Err(e) => return Err((out, e)),
            }
        }
        out.push((values, oids));
    }
    Ok(out)
}

impl NativeConnection {
    /// [`NativeConnection::execute`] of many parameter sets: the statements run on Tokio
    /// from the first chunk on while this thread converts the next chunks. A set that
    /// cannot be converted raises its error after the sets before it ran (as psycopg2,
    /// which adapts each set when it runs it), unless one of those failed first.
    // Not inlined: its statement future would sit in `execute`'s frame, which the greenlet
    // switch of every statement copies.
    #[inline(never)]
    fn execute_streamed(
        &self,
        py: Python<'_>,
        sql: String,
        param_sets: &[Bound<'_, PyAny>],
        begin: bool,
    ) -> PyResult<QueryResult> {
        let (first, later) = param_sets.split_at(FIRST_STREAMED_CHUNK);
        let first = converted(first).map_err(|(_, e)| e)?;
        let (sender, receiver) = tokio::sync::mpsc::channel(CHUNKS_AHEAD);
        let fut = run_statements(
            self.pool.clone(),
            self.state.clone(),
            sql,
            first,
            Some(receiver),
            begin,
        );
        let task = PythonRuntime::global()?.tokio().spawn(fut);
        let mut unconverted = None;
        for chunk in later.chunks(STREAMED_CHUNK) {
            let sets = match converted(chunk) {
                Ok(sets) => sets,
                Err((before, e)) => {
                    unconverted = Some(e);
                    before
                }
            };
            let sent = match sender.try_send(sets) {
                Ok(()) => Ok(()),
                // Tokio has not taken the chunks ahead yet: wait for it (other greenlets
                // run meanwhile, and on a shared core Tokio's thread gets its turn).
                Err(TrySendError::Full(sets)) => {
                    match wait_for(py, sender.clone().reserve_owned()) {
                        Ok(Ok(permit)) => {
                            permit.send(sets);
                            Ok(())
                        }
                        Ok(Err(_)) => Err(()),
                        Err(e) => {
                            unconverted.get_or_insert(e);
                            Err(())
                        }
                    }
                }
                Err(TrySendError::Closed(_)) => Err(()),
            };
            // A closed channel: the run stopped (a row failed); converting on is no use.
            if sent.is_err() || unconverted.is_some() {
                break;
            }
        }
        drop(sender);
        let outcome = wait_for(py, task)?
            .map_err(|e| PgError::Interface(format!("executemany stopped: {e}")))
            .and_then(|r| r);
        match (outcome, unconverted) {
            (Err(e), _) => Err(to_pyerr(py, e)),
            (Ok(_), Some(e)) => Err(e),
            (Ok(result), None) => Ok(result),
        }
    }
}

#[pymethods]
impl NativeConnection {
    /// Run `sql` (with `$n` placeholders) once per parameter list in `param_sets`.
    /// `begin`: open a transaction first unless one is open (DB-API non-autocommit mode).
    /// Returns `(description, rows, rowcount)` of the last run.
    /// Parameters are typed from their Python values ([`to_param`]). `tzinfo_factory`
    /// makes the tzinfo of timestamptz / timetz values from their UTC offset in the
    /// session's zone (`datetime.timezone`, or None for naive values), as psycopg2's
    /// cursor attribute of that name.
    /// `bytea_memoryview`: bytea values as `memoryview` (psycopg2) rather than `bytes`.
    /// `interval_text_oids`: columns of these types give their intervals as the server's
    /// text (see [`result_to_python`]).
    #[pyo3(signature = (
        sql, param_sets, begin, tzinfo_factory, bytea_memoryview = false,
        interval_text_oids = None
    ))]
    #[allow(clippy::too_many_arguments)] // the Python method's parameters
    fn execute<'py>(
        &self,
        py: Python<'py>,
        sql: String,
        param_sets: Vec<Bound<'py, PyAny>>,
        begin: bool,
        tzinfo_factory: Bound<'py, PyAny>,
        bytea_memoryview: bool,
        interval_text_oids: Option<Vec<u32>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let result = if param_sets.len() > 2 * STREAMED_CHUNK {
            self.execute_streamed(py, sql, &param_sets, begin)?
        } else {
            let mut sets = converted(&param_sets).map_err(|(_, e)| e)?;
            if sets.is_empty() {
                sets.push((Vec::new(), Vec::new()));
            }
            let (pool, state) = (self.pool.clone(), self.state.clone());
            wait_for_with(py, move || {
                run_statements(pool, state, sql, sets, None, begin)
            })?
            .map_err(|e| to_pyerr(py, e))?
        };
        let loads = self.get_jsonb_loads(py).map(|l| l.into_bound(py));
        let hstore_dicts = HSTORE_DICTS.load(std::sync::atomic::Ordering::Relaxed)
            || self.hstore_dicts.load(std::sync::atomic::Ordering::Relaxed);
        let mut shown = Shown::new(
            py,
            result.session_zone.clone(),
            &tzinfo_factory,
            hstore_dicts,
        )?;
        shown.bytea_memoryview = bytea_memoryview;
        let interval_text_oids = interval_text_oids.unwrap_or_default();
        result_to_python(py, &result, loads.as_ref(), &interval_text_oids, &shown)
    }

    /// hstore results of this connection as dicts (psycopg2's `register_hstore`).
    #[getter]
    fn get_hstore_dicts(&self) -> bool {
        self.hstore_dicts.load(std::sync::atomic::Ordering::Relaxed)
    }

    #[setter]
    fn set_hstore_dicts(&self, on: bool) {
        self.hstore_dicts
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    fn commit(&self, py: Python<'_>) -> PyResult<()> {
        wait_for_with(py, || end_transaction(self.state.clone(), "COMMIT"))?
            .map_err(|e| to_pyerr(py, e))
    }

    fn rollback(&self, py: Python<'_>) -> PyResult<()> {
        wait_for_with(py, || end_transaction(self.state.clone(), "ROLLBACK"))?
            .map_err(|e| to_pyerr(py, e))
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

    /// A statement of the open transaction failed (only a rollback can follow).
    #[getter]
    fn transaction_failed(&self) -> bool {
        self.state
            .try_lock()
            .map(|s| s.in_transaction && s.transaction_failed)
            .unwrap_or(false)
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

    /// The session `TimeZone` this connection's statements run in (psycopg2's
    /// `connection.info.parameter_status('TimeZone')`): the one a statement set, else the
    /// pool's, else the server's default (None when unknown without a round trip).
    fn session_zone(&self) -> Option<String> {
        let state = self.state.try_lock().ok()?;
        if let Some(client) = &state.client {
            return client.session_zone().map(str::to_owned);
        }
        state.zone.clone().or_else(|| self.pool.session_timezone())
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
        hstore_dicts: std::sync::atomic::AtomicBool::new(false),
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

/// hstore results as dicts on every connection (psycopg2's `register_hstore(globally=True)`).
#[pyfunction]
fn set_hstore_dicts(on: bool) {
    HSTORE_DICTS.store(on, std::sync::atomic::Ordering::Relaxed);
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
    m.add_function(wrap_pyfunction!(set_hstore_dicts, &m)?)?;
    m.add_function(wrap_pyfunction!(crate::plain_rows::plain_rows, &m)?)?;
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
