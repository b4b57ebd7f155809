//! Errors crossing the Rust/Python boundary.
//!
//! Rust code sees [`PuffError`]; Python code sees the `puff.PuffError` exception hierarchy
//! defined in [`exceptions`]. A Python exception that surfaces in Rust keeps the original
//! exception object and its formatted traceback text, so logs show where it came from and
//! it can be re-raised unchanged if it travels back into Python.

use std::fmt;

use pyo3::prelude::*;
use pyo3::types::PyTracebackMethods;

/// Python exception types of the `puff` package (`puff.PuffError` and subclasses).
pub mod exceptions {
    use pyo3::create_exception;
    use pyo3::exceptions::PyException;

    create_exception!(
        puff,
        PuffError,
        PyException,
        "Base class of every error raised by Puff."
    );
    create_exception!(
        puff,
        PuffTimeoutError,
        PuffError,
        "A Puff operation did not finish within its time limit."
    );
    create_exception!(
        puff,
        PuffIOError,
        PuffError,
        "An I/O operation run by Puff on Tokio failed."
    );
    create_exception!(
        puff,
        PuffPanicError,
        PuffError,
        "Rust code running on behalf of Python panicked; the panic was contained."
    );
    create_exception!(
        puff,
        NotInGreenletError,
        PuffError,
        "A Puff async function was called where it cannot wait (e.g. on the hub greenlet)."
    );
    create_exception!(
        puff,
        RequestBodyTooLarge,
        PuffError,
        "The HTTP request body is larger than the configured limit."
    );
}

/// A Python exception captured in Rust, with its traceback rendered on the Python thread.
pub struct PythonError {
    err: PyErr,
    traceback: String,
}

impl PythonError {
    /// Capture `err`, formatting `Type: message` plus the traceback while we hold the GIL.
    pub fn capture(py: Python<'_>, err: PyErr) -> Self {
        let traceback = format_exception(py, &err);
        Self { err, traceback }
    }

    /// The full `Traceback (most recent call last): ...` text.
    pub fn traceback(&self) -> &str {
        &self.traceback
    }

    /// The original exception, to re-raise it in Python unchanged.
    pub fn into_pyerr(self) -> PyErr {
        self.err
    }

    /// Whether the exception is an instance of `T`.
    pub fn is_instance_of<T: pyo3::PyTypeInfo>(&self, py: Python<'_>) -> bool {
        self.err.is_instance_of::<T>(py)
    }
}

impl fmt::Debug for PythonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.traceback)
    }
}

impl fmt::Display for PythonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.traceback.trim_end())
    }
}

/// `traceback.format_exception` text for `err`, falling back to `Type: message`.
pub fn format_exception(py: Python<'_>, err: &PyErr) -> String {
    let rendered = (|| -> PyResult<String> {
        let traceback = py.import("traceback")?;
        let lines = traceback.call_method1(
            "format_exception",
            (err.get_type(py), err.value(py), err.traceback(py)),
        )?;
        let parts: Vec<String> = lines.extract()?;
        Ok(parts.concat())
    })();
    match rendered {
        Ok(text) => text,
        Err(_) => {
            let tb = err
                .traceback(py)
                .and_then(|tb| tb.format().ok())
                .unwrap_or_default();
            format!("{tb}{err}")
        }
    }
}

/// Every error Puff's Rust APIs return.
#[derive(Debug, thiserror::Error)]
pub enum PuffError {
    /// Python code raised; the traceback text is kept.
    #[error("Python exception: {0}")]
    Python(PythonError),
    /// Rust code run for Python panicked; the panic message is kept.
    #[error("panic in Puff task: {0}")]
    Panic(String),
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The Python runtime is not running (not started yet or shutting down).
    #[error("the Puff Python runtime is not running: {0}")]
    RuntimeUnavailable(String),
    #[error("configuration error: {0}")]
    Config(String),
    #[error("{0}")]
    Other(String),
}

impl PuffError {
    /// Build from a `PyErr`, rendering its traceback (needs the GIL).
    pub fn from_pyerr(py: Python<'_>, err: PyErr) -> Self {
        PuffError::Python(PythonError::capture(py, err))
    }

    /// Turn a caught panic payload into an error with its message.
    pub fn from_panic(payload: Box<dyn std::any::Any + Send>) -> Self {
        PuffError::Panic(panic_message(payload.as_ref()))
    }

    /// The Python exception this error becomes when it reaches Python code.
    pub fn into_pyerr(self) -> PyErr {
        match self {
            PuffError::Python(e) => e.into_pyerr(),
            PuffError::Panic(msg) => exceptions::PuffPanicError::new_err(msg),
            PuffError::Timeout(msg) => exceptions::PuffTimeoutError::new_err(msg),
            PuffError::Io(e) => exceptions::PuffIOError::new_err(e.to_string()),
            other => exceptions::PuffError::new_err(other.to_string()),
        }
    }
}

impl From<PuffError> for PyErr {
    fn from(err: PuffError) -> PyErr {
        err.into_pyerr()
    }
}

/// Result alias for Puff's Rust APIs.
pub type PuffResult<T> = Result<T, PuffError>;

/// Best-effort text of a panic payload (`&str` or `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}
