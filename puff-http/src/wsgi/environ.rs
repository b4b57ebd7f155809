//! The PEP 3333 `environ` dict, built on the Python thread from the request head that
//! [`super::handler`] moved there: CGI variables, `HTTP_*` headers (repeated ones joined),
//! latin-1 "bytes-as-unicode" strings and the `wsgi.*` keys.

use std::net::SocketAddr;

use http::{HeaderName, Version};
use puff_greenlet::pyo3::intern;
use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::pyo3::sync::PyOnceLock;
use puff_greenlet::pyo3::types::{PyDict, PyModule, PyString};

use super::input::WsgiInput;
use crate::plumbing::percent_decode;

/// The request line and headers, moved (not copied) to the Python thread.
pub(super) struct RequestHead {
    pub(super) parts: http::request::Parts,
    pub(super) remote: Option<SocketAddr>,
}

impl RequestHead {
    pub(super) fn method(&self) -> &str {
        self.parts.method.as_str()
    }

    pub(super) fn raw_uri(&self) -> &str {
        self.parts.uri.path_and_query().map_or("/", |p| p.as_str())
    }
}

/// Builds the PEP 3333 `environ` dict.
pub(super) fn build_environ<'py>(
    py: Python<'py>,
    head: &RequestHead,
    input: Py<WsgiInput>,
    server_name: &str,
    server_port: u16,
) -> PyResult<Bound<'py, PyDict>> {
    let env = PyDict::new(py);
    let uri = &head.parts.uri;
    let raw_uri = head.raw_uri();
    env.set_item(intern!(py, "REQUEST_METHOD"), head.method())?;
    env.set_item(intern!(py, "SCRIPT_NAME"), intern!(py, ""))?;
    env.set_item(
        intern!(py, "PATH_INFO"),
        latin1_str(py, &percent_decode(uri.path())),
    )?;
    env.set_item(intern!(py, "QUERY_STRING"), uri.query().unwrap_or(""))?;
    let raw_uri = PyString::new(py, raw_uri);
    env.set_item(intern!(py, "RAW_URI"), &raw_uri)?;
    env.set_item(intern!(py, "REQUEST_URI"), raw_uri)?;
    env.set_item(intern!(py, "SERVER_NAME"), server_name)?;
    env.set_item(intern!(py, "SERVER_PORT"), server_port.to_string())?;
    env.set_item(
        intern!(py, "SERVER_PROTOCOL"),
        match head.parts.version {
            Version::HTTP_10 => intern!(py, "HTTP/1.0"),
            Version::HTTP_2 => intern!(py, "HTTP/2"),
            _ => intern!(py, "HTTP/1.1"),
        },
    )?;
    if let Some(remote) = head.remote {
        env.set_item(intern!(py, "REMOTE_ADDR"), remote.ip().to_string())?;
        env.set_item(intern!(py, "REMOTE_PORT"), remote.port().to_string())?;
    }
    let mut has_host = false;
    let headers = &head.parts.headers;
    for name in headers.keys() {
        let mut values = headers.get_all(name).iter();
        let Some(first) = values.next() else { continue };
        let joined: std::borrow::Cow<'_, [u8]> = match values.next() {
            None => first.as_bytes().into(),
            Some(second) => {
                // Repeated headers are joined as one value (cookies with "; ").
                let sep: &[u8] = if name == http::header::COOKIE {
                    b"; "
                } else {
                    b", "
                };
                let mut all = first.as_bytes().to_vec();
                for v in std::iter::once(second).chain(values) {
                    all.extend_from_slice(sep);
                    all.extend_from_slice(v.as_bytes());
                }
                all.into()
            }
        };
        let value = latin1_str(py, &joined);
        if name == http::header::CONTENT_TYPE {
            env.set_item(intern!(py, "CONTENT_TYPE"), value)?;
        } else if name == http::header::CONTENT_LENGTH {
            env.set_item(intern!(py, "CONTENT_LENGTH"), value)?;
        } else {
            has_host |= name == http::header::HOST;
            env.set_item(cgi_header_name(py, name), value)?;
        }
    }
    if !has_host && let Some(authority) = uri.authority() {
        // HTTP/2 carries the host in the :authority pseudo-header.
        env.set_item(intern!(py, "HTTP_HOST"), authority.as_str())?;
    }
    env.set_item(intern!(py, "wsgi.version"), (1, 0))?;
    let scheme = if crate::tls::is_tls(&head.parts.extensions) {
        intern!(py, "https")
    } else {
        intern!(py, "http")
    };
    env.set_item(intern!(py, "wsgi.url_scheme"), scheme)?;
    env.set_item(intern!(py, "wsgi.input"), input)?;
    env.set_item(
        intern!(py, "wsgi.errors"),
        sys_module(py)?.getattr(intern!(py, "stderr"))?,
    )?;
    env.set_item(intern!(py, "wsgi.multithread"), true)?;
    env.set_item(intern!(py, "wsgi.multiprocess"), false)?;
    env.set_item(intern!(py, "wsgi.run_once"), false)?;
    env.set_item(intern!(py, "wsgi.input_terminated"), true)?;
    Ok(env)
}

/// The `sys` module, looked up once (`import` machinery is slow per request).
fn sys_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static SYS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    Ok(SYS
        .get_or_try_init(py, || py.import("sys").map(Bound::unbind))?
        .bind(py))
}

/// `HTTP_` + upper-cased name with `-` as `_`, interned for the common headers.
fn cgi_header_name<'py>(py: Python<'py>, name: &HeaderName) -> Bound<'py, PyString> {
    macro_rules! known {
        ($($h:ident => $s:literal),* $(,)?) => {
            $(if name == http::header::$h { return intern!(py, $s).clone(); })*
        };
    }
    known!(
        HOST => "HTTP_HOST", USER_AGENT => "HTTP_USER_AGENT", ACCEPT => "HTTP_ACCEPT",
        ACCEPT_ENCODING => "HTTP_ACCEPT_ENCODING", ACCEPT_LANGUAGE => "HTTP_ACCEPT_LANGUAGE",
        CONNECTION => "HTTP_CONNECTION", COOKIE => "HTTP_COOKIE", REFERER => "HTTP_REFERER",
        AUTHORIZATION => "HTTP_AUTHORIZATION", CACHE_CONTROL => "HTTP_CACHE_CONTROL",
        ORIGIN => "HTTP_ORIGIN", TRANSFER_ENCODING => "HTTP_TRANSFER_ENCODING",
    );
    let mut key = String::with_capacity(5 + name.as_str().len());
    key.push_str("HTTP_");
    for c in name.as_str().chars() {
        key.push(if c == '-' {
            '_'
        } else {
            c.to_ascii_uppercase()
        });
    }
    PyString::new(py, &key)
}

/// Bytes as a Python str with one code point per byte (PEP 3333's "bytes-as-unicode").
fn latin1_str<'py>(py: Python<'py>, bytes: &[u8]) -> Bound<'py, PyString> {
    if bytes.is_ascii() {
        // SAFETY-free fast path: ASCII is valid UTF-8.
        return PyString::new(py, std::str::from_utf8(bytes).unwrap_or_default());
    }
    let s: String = bytes.iter().map(|&b| b as char).collect();
    PyString::new(py, &s)
}
