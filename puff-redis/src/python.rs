//! `puff._native.redis`: the native half of `puff.redis` (the redis-py-style layer in
//! `python/puff/redis.py` wraps it). Arguments become a redis-rs command on the Python
//! thread; the command runs on Tokio; the reply is turned into Python objects by the
//! requested [`ReplyKind`], so Python code never post-processes raw replies. From a greenlet
//! a call waits (other greenlets run); from a coroutine it returns an awaitable.

use std::sync::Arc;

use puff_greenlet::PythonRuntime;
use puff_greenlet::aio::wait_or_await;
use pyo3::create_exception;
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PySet, PyString, PyTuple,
};
use redis::Value;

use crate::error::RedisError as Error;
use crate::pool::{RedisPool, is_blocking};

create_exception!(
    puff.redis,
    RedisError,
    puff_greenlet::exceptions::PuffError,
    "Base class of every puff.redis error; a puff.PuffError."
);
create_exception!(
    puff.redis,
    ResponseError,
    RedisError,
    "The server replied with an error (the message is the server's)."
);
create_exception!(
    puff.redis,
    NoScriptError,
    ResponseError,
    "EVALSHA of a script the server does not know (NOSCRIPT)."
);
create_exception!(
    puff.redis,
    ExecAbortError,
    ResponseError,
    "A transaction was discarded because a queued command was rejected (EXECABORT)."
);
create_exception!(
    puff.redis,
    ConnectionError,
    RedisError,
    "Redis is unreachable or the connection broke."
);
create_exception!(
    puff.redis,
    TimeoutError,
    RedisError,
    "A reply, a connection or a free pool slot took too long."
);
create_exception!(
    puff.redis,
    DataError,
    RedisError,
    "A value that cannot be sent to Redis, or a reply that cannot be read as asked."
);

/// The Python exception for `err`.
pub fn to_pyerr(err: Error) -> PyErr {
    match err {
        Error::Response(m) => response_error(&m),
        Error::Connection(m) => ConnectionError::new_err(m),
        Error::Timeout(m) => TimeoutError::new_err(m),
        Error::Data(m) => DataError::new_err(m),
        Error::Config(m) => RedisError::new_err(m),
    }
}

/// A server error reply as redis-py raises it: the error codes redis-py knows (`ERR`,
/// `NOSCRIPT`, ...) are dropped from the message and pick the class; others (`WRONGTYPE
/// ...`) stay in the message of a ResponseError.
fn response_error(message: &str) -> PyErr {
    let (code, rest) = message.split_once(' ').unwrap_or((message, ""));
    let rest = rest.to_owned();
    match code {
        "NOSCRIPT" => NoScriptError::new_err(rest),
        "EXECABORT" => ExecAbortError::new_err(rest),
        "ERR" | "OOM" | "LOADING" | "READONLY" | "NOAUTH" | "NOPERM" | "WRONGPASS" | "ASK"
        | "TRYAGAIN" | "MOVED" | "CLUSTERDOWN" | "CROSSSLOT" | "MASTERDOWN" => {
            ResponseError::new_err(rest)
        }
        _ => ResponseError::new_err(message.to_owned()),
    }
}

/// How a reply becomes a Python object (redis-py's per-command conventions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyKind {
    /// nil -> None, integer -> int, bulk and status -> bytes, array -> list, map -> dict.
    Raw,
    /// OK -> True, nil -> None.
    Ok,
    /// integer -> bool, OK -> True, nil -> None.
    Bool,
    /// integer (or numeric bulk) -> int, nil -> None.
    Int,
    /// numeric bulk, integer or double -> float, nil -> None.
    Float,
    /// flat `[k, v, k, v]` array or map -> dict.
    Dict,
    /// array -> set.
    Set,
    /// flat `[member, score, ...]` -> list of `(member, float)`.
    Scores,
    /// two-element array -> tuple, nil -> None.
    Pair,
    /// array of integers -> list of bool.
    Bools,
}

impl ReplyKind {
    pub fn parse(name: &str) -> PyResult<ReplyKind> {
        Ok(match name {
            "raw" => ReplyKind::Raw,
            "ok" => ReplyKind::Ok,
            "bool" => ReplyKind::Bool,
            "int" => ReplyKind::Int,
            "float" => ReplyKind::Float,
            "dict" => ReplyKind::Dict,
            "set" => ReplyKind::Set,
            "scores" => ReplyKind::Scores,
            "pair" => ReplyKind::Pair,
            "bools" => ReplyKind::Bools,
            other => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "unknown reply kind {other:?}; expected raw, ok, bool, int, float, dict, \
                     set, scores, pair or bools"
                )));
            }
        })
    }
}

/// Append one Python argument to `cmd` the way redis-py encodes it.
fn push_arg(cmd: &mut redis::Cmd, arg: &Bound<'_, PyAny>) -> PyResult<()> {
    if let Ok(b) = arg.cast::<PyBytes>() {
        cmd.arg(b.as_bytes());
    } else if let Ok(s) = arg.cast::<PyString>() {
        cmd.arg(s.to_str().map_err(|e| DataError::new_err(e.to_string()))?);
    } else if arg.is_instance_of::<PyBool>() {
        return Err(invalid_input(arg));
    } else if let Ok(i) = arg.cast::<PyInt>() {
        match i.extract::<i64>() {
            Ok(n) => cmd.arg(n),
            Err(_) => cmd.arg(i.str()?.to_str()?),
        };
    } else if arg.is_instance_of::<PyFloat>() {
        cmd.arg(arg.repr()?.to_str()?);
    } else if let Ok(b) = arg.cast::<PyByteArray>() {
        cmd.arg(b.to_vec());
    } else if arg.is_instance_of::<pyo3::types::PyMemoryView>() {
        let bytes = arg.py().get_type::<PyBytes>().call1((arg,))?;
        cmd.arg(bytes.cast::<PyBytes>()?.as_bytes());
    } else {
        return Err(invalid_input(arg));
    }
    Ok(())
}

fn invalid_input(arg: &Bound<'_, PyAny>) -> PyErr {
    let type_name = arg
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into());
    DataError::new_err(format!(
        "Invalid input of type: '{type_name}'. Convert to a bytes, string, int or float first."
    ))
}

/// A redis-rs command from a Python list/tuple of arguments (the first is the name).
pub fn command_from_args(args: &Bound<'_, PyAny>) -> PyResult<redis::Cmd> {
    let mut cmd = redis::Cmd::new();
    let mut count = 0usize;
    for arg in args.try_iter()? {
        push_arg(&mut cmd, &arg?)?;
        count += 1;
    }
    if count == 0 {
        return Err(DataError::new_err(
            "an empty command: give at least its name",
        ));
    }
    Ok(cmd)
}

/// A command's name in upper case, for error messages.
fn command_name(cmd: Option<&redis::Cmd>) -> String {
    match cmd.and_then(|c| c.args_iter().next()) {
        Some(redis::Arg::Simple(name)) => String::from_utf8_lossy(name).to_uppercase(),
        _ => String::new(),
    }
}

/// Convert a reply into Python by `kind`.
pub fn reply_to_py(py: Python<'_>, value: Value, kind: ReplyKind) -> PyResult<Py<PyAny>> {
    match (kind, value) {
        (_, Value::ServerError(e)) => Err(to_pyerr(Error::from_server(e))),
        (ReplyKind::Raw, v) => raw(py, v),
        (_, Value::Nil) => Ok(py.None()),
        (ReplyKind::Ok, Value::Okay) => Ok(true.into_pyobject(py)?.to_owned().into_any().unbind()),
        (ReplyKind::Ok, v) => raw(py, v),
        (ReplyKind::Bool, Value::Int(n)) => Ok(bool_obj(py, n != 0)),
        (ReplyKind::Bool, Value::Okay) => Ok(bool_obj(py, true)),
        (ReplyKind::Bool, Value::Boolean(b)) => Ok(bool_obj(py, b)),
        (ReplyKind::Int, Value::Int(n)) => Ok(n.into_pyobject(py)?.into_any().unbind()),
        (ReplyKind::Int, Value::BulkString(b)) => {
            let n: i64 = parse_number(&b, "an integer")?;
            Ok(n.into_pyobject(py)?.into_any().unbind())
        }
        (ReplyKind::Float, v) => Ok(PyFloat::new(py, to_f64(v)?).into_any().unbind()),
        (ReplyKind::Dict, Value::Array(items)) => {
            let d = PyDict::new(py);
            let mut it = items.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                d.set_item(raw(py, k)?, raw(py, v)?)?;
            }
            Ok(d.into_any().unbind())
        }
        (ReplyKind::Dict, Value::Map(pairs)) => {
            let d = PyDict::new(py);
            for (k, v) in pairs {
                d.set_item(raw(py, k)?, raw(py, v)?)?;
            }
            Ok(d.into_any().unbind())
        }
        (ReplyKind::Set, Value::Array(items) | Value::Set(items)) => {
            let s = PySet::empty(py)?;
            for v in items {
                s.add(raw(py, v)?)?;
            }
            Ok(s.into_any().unbind())
        }
        (ReplyKind::Scores, Value::Array(items)) => {
            let out = PyList::empty(py);
            let mut it = items.into_iter();
            while let Some(first) = it.next() {
                let (member, score) = match first {
                    // RESP3 replies nest each pair.
                    Value::Array(mut pair) if pair.len() == 2 => {
                        let score = pair.pop().unwrap_or(Value::Nil);
                        (pair.pop().unwrap_or(Value::Nil), score)
                    }
                    member => (member, it.next().unwrap_or(Value::Nil)),
                };
                let pair = PyTuple::new(
                    py,
                    [
                        raw(py, member)?,
                        PyFloat::new(py, to_f64(score)?).into_any().unbind(),
                    ],
                )?;
                out.append(pair)?;
            }
            Ok(out.into_any().unbind())
        }
        (ReplyKind::Pair, Value::Array(items)) => {
            let items = items
                .into_iter()
                .map(|v| raw(py, v))
                .collect::<PyResult<Vec<_>>>()?;
            Ok(PyTuple::new(py, items)?.into_any().unbind())
        }
        (ReplyKind::Bools, Value::Array(items)) => {
            let out = PyList::empty(py);
            for v in items {
                out.append(match v {
                    Value::Int(n) => bool_obj(py, n != 0),
                    Value::Boolean(b) => bool_obj(py, b),
                    other => raw(py, other)?,
                })?;
            }
            Ok(out.into_any().unbind())
        }
        (_, v) => raw(py, v),
    }
}

fn bool_obj(py: Python<'_>, b: bool) -> Py<PyAny> {
    PyBool::new(py, b).to_owned().into_any().unbind()
}

fn parse_number<T: std::str::FromStr>(bytes: &[u8], what: &str) -> PyResult<T> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            DataError::new_err(format!(
                "expected {what} in the reply, got {:?}",
                String::from_utf8_lossy(bytes)
            ))
        })
}

fn to_f64(value: Value) -> PyResult<f64> {
    match value {
        Value::Double(f) => Ok(f),
        Value::Int(n) => Ok(n as f64),
        Value::BulkString(b) => match b.as_slice() {
            b"inf" | b"+inf" => Ok(f64::INFINITY),
            b"-inf" => Ok(f64::NEG_INFINITY),
            b => parse_number(b, "a number"),
        },
        Value::SimpleString(s) => parse_number(s.as_bytes(), "a number"),
        other => Err(DataError::new_err(format!(
            "expected a number in the reply, got {other:?}"
        ))),
    }
}

/// A reply as plain Python values.
fn raw(py: Python<'_>, value: Value) -> PyResult<Py<PyAny>> {
    Ok(match value {
        Value::Nil => py.None(),
        Value::Int(n) => n.into_pyobject(py)?.into_any().unbind(),
        Value::BulkString(b) => PyBytes::new(py, &b).into_any().unbind(),
        Value::SimpleString(s) => PyBytes::new(py, s.as_bytes()).into_any().unbind(),
        Value::Okay => PyBytes::new(py, b"OK").into_any().unbind(),
        Value::Array(items) | Value::Push { data: items, .. } => {
            let out = PyList::empty(py);
            for v in items {
                out.append(raw(py, v)?)?;
            }
            out.into_any().unbind()
        }
        Value::Set(items) => {
            let out = PySet::empty(py)?;
            for v in items {
                out.add(raw(py, v)?)?;
            }
            out.into_any().unbind()
        }
        Value::Map(pairs) => {
            let d = PyDict::new(py);
            for (k, v) in pairs {
                d.set_item(raw(py, k)?, raw(py, v)?)?;
            }
            d.into_any().unbind()
        }
        Value::Attribute { data, .. } => raw(py, *data)?,
        Value::Double(f) => PyFloat::new(py, f).into_any().unbind(),
        Value::Boolean(b) => bool_obj(py, b),
        Value::VerbatimString { text, .. } => PyString::new(py, &text).into_any().unbind(),
        Value::BigNumber(n) => py.get_type::<PyInt>().call1((n.to_string(),))?.unbind(),
        // Nested errors (inside EXEC results) are returned as exception objects.
        Value::ServerError(e) => to_pyerr(Error::from_server(e)).into_value(py).into_any(),
    })
}

/// `puff._native.redis.NativeRedis`: a handle on one named pool.
#[pyclass(module = "puff._native.redis", name = "NativeRedis", frozen)]
pub struct NativeRedis {
    pool: Arc<RedisPool>,
}

#[pymethods]
impl NativeRedis {
    #[getter]
    fn name(&self) -> &str {
        self.pool.name()
    }

    /// Run one command: `args` is the command name then its arguments.
    #[pyo3(signature = (args, reply = "raw"))]
    fn command(&self, py: Python<'_>, args: &Bound<'_, PyAny>, reply: &str) -> PyResult<Py<PyAny>> {
        let kind = ReplyKind::parse(reply)?;
        let cmd = command_from_args(args)?;
        let pool = self.pool.clone();
        if is_blocking(&cmd) {
            return wait_or_await(
                py,
                async move { pool.query_blocking(&cmd).await },
                Box::new(move |py, result| reply_to_py(py, result.map_err(to_pyerr)?, kind)),
            );
        }
        wait_or_await(
            py,
            async move { pool.query(&cmd).await },
            Box::new(move |py, result| reply_to_py(py, result.map_err(to_pyerr)?, kind)),
        )
    }

    /// Send `(args, reply)` pairs in one round trip (MULTI/EXEC when `transaction`) and
    /// return the converted replies; the first error reply raises ResponseError, or with
    /// `raise_on_error=False` takes its command's place as an exception object.
    #[pyo3(signature = (commands, transaction = true, raise_on_error = true))]
    fn pipeline(
        &self,
        py: Python<'_>,
        commands: &Bound<'_, PyAny>,
        transaction: bool,
        raise_on_error: bool,
    ) -> PyResult<Py<PyAny>> {
        let mut pipe = redis::pipe();
        if transaction {
            pipe.atomic();
        }
        let mut kinds: Vec<ReplyKind> = Vec::new();
        for item in commands.try_iter()? {
            let (args, reply): (Bound<'_, PyAny>, pyo3::pybacked::PyBackedStr) = item?.extract()?;
            kinds.push(ReplyKind::parse(&reply)?);
            pipe.add_command(command_from_args(&args)?);
        }
        let pool = self.pool.clone();
        let count = kinds.len();
        // Inside MULTI nothing blocks; outside, a blocking command would hold a pooled
        // connection for as long as it waits.
        let blocking = !transaction && pipe.cmd_iter().any(is_blocking);
        wait_or_await(
            py,
            async move {
                let result = if blocking {
                    pool.pipeline_blocking(&pipe, count, transaction).await
                } else {
                    pool.pipeline(&pipe, count, transaction).await
                };
                (pipe, result)
            },
            Box::new(move |py, (pipe, result)| {
                let Some(replies) = result.map_err(to_pyerr)? else {
                    return Err(ResponseError::new_err(
                        "the transaction was aborted: a WATCHed key changed",
                    ));
                };
                let out = PyList::empty(py);
                for (i, (reply, kind)) in replies.into_iter().zip(kinds).enumerate() {
                    let value = match reply {
                        Ok(value) => value,
                        Err(e) if !raise_on_error => {
                            out.append(to_pyerr(e).into_value(py))?;
                            continue;
                        }
                        Err(e) => {
                            let err = to_pyerr(e);
                            let message = err.value(py).str()?.to_string();
                            return Err(PyErr::from_type(
                                err.get_type(py),
                                format!(
                                    "Command # {} ({}) of pipeline caused error: {message}",
                                    i + 1,
                                    command_name(pipe.cmd_iter().nth(i))
                                ),
                            ));
                        }
                    };
                    out.append(reply_to_py(py, value, kind)?)?;
                }
                Ok(out.into_any().unbind())
            }),
        )
    }

    fn __repr__(&self) -> String {
        format!(
            "<puff.redis client `{}` on {}>",
            self.pool.name(),
            self.pool.redacted_url()
        )
    }
}

/// The pool named `name`, or an error listing the configured ones.
pub fn pool_named(name: &str) -> PyResult<Arc<RedisPool>> {
    let runtime = PythonRuntime::global()?;
    runtime.resources().get::<RedisPool>(name).ok_or_else(|| {
        let names = runtime.resources().names::<RedisPool>();
        RedisError::new_err(format!(
            "no Redis pool named `{name}` (configured: {}); add a [[redis]] entry with \
             name = \"{name}\" to puff.toml",
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        ))
    })
}

/// A client on the pool `name`.
#[pyfunction]
#[pyo3(signature = (name = "default"))]
fn client(name: &str) -> PyResult<NativeRedis> {
    Ok(NativeRedis {
        pool: pool_named(name)?,
    })
}

/// Names of the configured pools.
#[pyfunction]
fn pool_names() -> PyResult<Vec<String>> {
    Ok(PythonRuntime::global()?.resources().names::<RedisPool>())
}

/// `{"max_open", "connections", "in_use", "idle"}` of the pool `name`.
#[pyfunction]
#[pyo3(signature = (name = "default"))]
fn pool_status<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyDict>> {
    let pool = pool_named(name)?;
    let status = puff_greenlet::wait_for(py, async move { pool.status().await })?;
    status.to_dict(py)
}

pub(crate) fn add_module(py: Python<'_>, native: &Bound<'_, PyModule>) -> PyResult<()> {
    let m = PyModule::new(py, "redis")?;
    m.add_class::<NativeRedis>()?;
    m.add_function(wrap_pyfunction!(client, &m)?)?;
    m.add_function(wrap_pyfunction!(pool_names, &m)?)?;
    m.add_function(wrap_pyfunction!(pool_status, &m)?)?;
    m.add("RedisError", py.get_type::<RedisError>())?;
    m.add("ResponseError", py.get_type::<ResponseError>())?;
    m.add("ConnectionError", py.get_type::<ConnectionError>())?;
    m.add("TimeoutError", py.get_type::<TimeoutError>())?;
    m.add("DataError", py.get_type::<DataError>())?;
    m.add("NoScriptError", py.get_type::<NoScriptError>())?;
    m.add("ExecAbortError", py.get_type::<ExecAbortError>())?;
    native.add_submodule(&m)?;
    py.import("sys")?
        .getattr("modules")?
        .set_item("puff._native.redis", &m)?;
    Ok(())
}
