//! Reading the messages an app passes to `send()` (any scope): their `type`, their
//! headers, and the lock on a `send()` callable's state.

use std::sync::Mutex;

use http::{HeaderMap, HeaderName, HeaderValue};
use puff_greenlet::exceptions;
use puff_greenlet::pyo3::exceptions::{PyTypeError, PyValueError};
use puff_greenlet::pyo3::intern;
use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::pyo3::types::PyDict;

/// Response headers the app sent as `[name, value]` byte pairs.
pub(super) fn parse_headers(headers: &Bound<'_, PyAny>) -> PyResult<HeaderMap> {
    // Sized to the app's headers: hyper keeps a response's (emptied) map per connection
    // for reuse, so a default-sized one would stay allocated on every idle connection.
    let mut map = HeaderMap::with_capacity(headers.len().unwrap_or(0));
    for item in headers.try_iter()? {
        let item = item?;
        let (name, value): (Vec<u8>, Vec<u8>) = item.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "ASGI response headers must be [bytes, bytes] pairs, got {item}"
            ))
        })?;
        let name = HeaderName::from_bytes(&name).map_err(|_| {
            PyValueError::new_err(format!(
                "invalid response header name {:?}",
                String::from_utf8_lossy(&name)
            ))
        })?;
        let value = HeaderValue::from_bytes(&value).map_err(|_| {
            PyValueError::new_err(format!("invalid value for response header {name}"))
        })?;
        map.append(name, value);
    }
    Ok(map)
}

/// The `type` of an ASGI message the app sent.
pub(super) fn message_type(py: Python<'_>, message: &Bound<'_, PyDict>) -> PyResult<String> {
    message
        .get_item(intern!(py, "type"))?
        .ok_or_else(|| PyValueError::new_err("ASGI message without a `type`"))?
        .extract()
}

/// Lock a `send()` callable's state, as a Python error if a panic poisoned it.
pub(super) fn lock_send_state<T>(state: &Mutex<T>) -> PyResult<std::sync::MutexGuard<'_, T>> {
    state
        .lock()
        .map_err(|_| exceptions::PuffError::new_err("ASGI send state poisoned"))
}
