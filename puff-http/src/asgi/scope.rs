//! The ASGI connection scope of a request (`http`; the websocket scope starts from it).

use std::net::SocketAddr;
use std::sync::Mutex;

use http::Version;
use puff_greenlet::pyo3::intern;
use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use crate::plumbing::percent_decode;

/// The `http` scope of a request; `state` is the lifespan's, copied per request.
pub(super) fn build_scope<'py>(
    py: Python<'py>,
    parts: &http::request::Parts,
    remote: Option<SocketAddr>,
    server: SocketAddr,
    state: &Py<PyDict>,
) -> PyResult<Bound<'py, PyDict>> {
    let scope = PyDict::new(py);
    scope.set_item(intern!(py, "type"), intern!(py, "http"))?;
    let asgi = PyDict::new(py);
    asgi.set_item(intern!(py, "version"), intern!(py, "3.0"))?;
    asgi.set_item(intern!(py, "spec_version"), intern!(py, "2.3"))?;
    scope.set_item(intern!(py, "asgi"), asgi)?;
    scope.set_item(
        intern!(py, "http_version"),
        match parts.version {
            Version::HTTP_10 => intern!(py, "1.0"),
            Version::HTTP_2 => intern!(py, "2"),
            _ => intern!(py, "1.1"),
        },
    )?;
    let method = &parts.method;
    if *method == http::Method::GET {
        scope.set_item(intern!(py, "method"), intern!(py, "GET"))?;
    } else if *method == http::Method::POST {
        scope.set_item(intern!(py, "method"), intern!(py, "POST"))?;
    } else {
        scope.set_item(intern!(py, "method"), method.as_str())?;
    }
    let scheme = if crate::tls::is_tls(&parts.extensions) {
        intern!(py, "https")
    } else {
        intern!(py, "http")
    };
    scope.set_item(intern!(py, "scheme"), scheme)?;
    let raw_path = parts.uri.path();
    let decoded = percent_decode(raw_path);
    scope.set_item(
        intern!(py, "path"),
        String::from_utf8_lossy(&decoded).as_ref(),
    )?;
    scope.set_item(
        intern!(py, "raw_path"),
        PyBytes::new(py, raw_path.as_bytes()),
    )?;
    scope.set_item(
        intern!(py, "query_string"),
        PyBytes::new(py, parts.uri.query().unwrap_or("").as_bytes()),
    )?;
    scope.set_item(intern!(py, "root_path"), intern!(py, ""))?;
    let headers = PyList::empty(py);
    let mut has_host = false;
    for (name, value) in &parts.headers {
        has_host |= name == http::header::HOST;
        headers.append(PyTuple::new(
            py,
            [
                PyBytes::new(py, name.as_str().as_bytes()),
                PyBytes::new(py, value.as_bytes()),
            ],
        )?)?;
    }
    if !has_host && let Some(authority) = parts.uri.authority() {
        headers.append((
            PyBytes::new(py, b"host"),
            PyBytes::new(py, authority.as_str().as_bytes()),
        ))?;
    }
    scope.set_item(intern!(py, "headers"), headers)?;
    if let Some(remote) = remote {
        scope.set_item(
            intern!(py, "client"),
            (remote.ip().to_string(), remote.port()),
        )?;
    }
    scope.set_item(intern!(py, "server"), server_tuple(py, server)?)?;
    // ASGI: each request gets a shallow copy of the lifespan state.
    scope.set_item(intern!(py, "state"), state.bind(py).copy()?)?;
    Ok(scope)
}

/// `(host, port)` of the listening address, shared by the scopes of one server.
fn server_tuple(py: Python<'_>, server: SocketAddr) -> PyResult<Bound<'_, PyAny>> {
    static LAST: Mutex<Option<(SocketAddr, Py<PyAny>)>> = Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((addr, tuple)) = last.as_ref()
        && *addr == server
    {
        return Ok(tuple.bind(py).clone());
    }
    let tuple = (server.ip().to_string(), server.port())
        .into_pyobject(py)?
        .into_any();
    *last = Some((server, tuple.clone().unbind()));
    Ok(tuple)
}
