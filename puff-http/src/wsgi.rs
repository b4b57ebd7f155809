//! PEP 3333 WSGI adapter: each request runs the Python app in its own greenlet.
//!
//! Rust reads the request head (and small bodies) on Tokio, then hands plain data to a
//! worker greenlet, which builds `environ`, calls the app and iterates its result. The
//! response is buffered while the app produces it without waiting; as soon as the app
//! waits on anything (or the body grows past a threshold), the head and what was produced
//! are sent and the rest is streamed through a bounded channel, so the app feels
//! back-pressure from slow clients.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode, Version};
use http_body_util::BodyExt;
use puff_greenlet::pyo3::exceptions::{PyAssertionError, PyTypeError, PyValueError};
use puff_greenlet::pyo3::intern;
use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::pyo3::sync::PyOnceLock;
use puff_greenlet::pyo3::types::PyModule;
use puff_greenlet::pyo3::types::{PyBytes, PyDict, PyList, PyString};
use puff_greenlet::{PythonRuntime, exceptions, on_park, wait_for};
use tokio::sync::{mpsc, oneshot};

use crate::body::{BodyFault, FaultFlag, InputSource, ReadFailure, incoming_body};
use crate::plumbing::{Reply, STREAM_CHANNEL_CHUNKS, internal_error, percent_decode, remote_addr};

/// Past this much buffered output the response switches to streaming.
const STREAM_AFTER_BYTES: usize = 256 * 1024;
/// Serves a Python WSGI application.
pub struct WsgiHandler {
    // Arc: cloning a `Py` needs the GIL, which Tokio threads must never wait for.
    app: Arc<Py<PyAny>>,
    runtime: PythonRuntime,
    max_body: usize,
    server_name: String,
    server_port: u16,
}

impl WsgiHandler {
    /// `app` is the WSGI callable; `bind` provides SERVER_NAME / SERVER_PORT.
    pub fn new(app: Py<PyAny>, runtime: PythonRuntime, max_body: usize, bind: SocketAddr) -> Self {
        WsgiHandler {
            app: Arc::new(app),
            runtime,
            max_body,
            server_name: bind.ip().to_string(),
            server_port: bind.port(),
        }
    }

    /// Handle one request (use as the router's fallback).
    pub async fn handle(self: Arc<Self>, req: Request<Body>) -> Response {
        let remote = remote_addr(&req);
        let (parts, body) = req.into_parts();
        let input = match incoming_body(&parts, body, self.max_body).await {
            Ok(input) => input,
            Err(response) => return response,
        };
        let fault = Arc::new(FaultFlag::default());
        let head = RequestHead { parts, remote };
        let (reply_tx, reply_rx) = oneshot::channel();
        let call = WsgiCall {
            app: self.app.clone(),
            head,
            input,
            max_body: self.max_body,
            fault: fault.clone(),
            server_name: self.server_name.clone(),
            server_port: self.server_port,
            reply: reply_tx,
        };
        if self.runtime.spawn_job(move |py| call.run(py)).is_err() {
            return (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable\n").into_response();
        }
        match reply_rx.await {
            // The app's answer to a body it could not read is the fault's status.
            Ok(reply) if !reply.streaming() => match fault.get() {
                Some(body_fault) => body_fault.response(self.max_body),
                None => reply.into_response(),
            },
            Ok(reply) => reply.into_response(),
            Err(_) => internal_error(),
        }
    }
}

/// The request line and headers, moved (not copied) to the Python thread.
struct RequestHead {
    parts: http::request::Parts,
    remote: Option<SocketAddr>,
}

impl RequestHead {
    fn method(&self) -> &str {
        self.parts.method.as_str()
    }

    fn raw_uri(&self) -> &str {
        self.parts.uri.path_and_query().map_or("/", |p| p.as_str())
    }
}

/// One request on its way into Python.
struct WsgiCall {
    app: Arc<Py<PyAny>>,
    head: RequestHead,
    input: InputSource,
    max_body: usize,
    fault: Arc<FaultFlag>,
    server_name: String,
    server_port: u16,
    reply: oneshot::Sender<Reply>,
}

impl WsgiCall {
    /// Runs on a worker greenlet.
    fn run(self, py: Python<'_>) {
        let WsgiCall {
            app,
            head,
            input,
            max_body,
            fault,
            server_name,
            server_port,
            reply,
        } = self;

        let input_state = match input {
            InputSource::Ready(bytes) => InputState::ready(bytes),
            InputSource::Streaming(body) => InputState::streaming(body, max_body, fault.clone()),
        };
        let start_response = match Py::new(py, StartResponse::new(reply)) {
            Ok(sr) => sr,
            Err(e) => {
                log_app_error(py, &head, &e);
                return;
            }
        };
        let outcome = (|| -> PyResult<()> {
            let input = Py::new(
                py,
                WsgiInput {
                    state: Mutex::new(input_state),
                },
            )?;
            let environ = build_environ(py, &head, input, &server_name, server_port)?;
            // Whenever the app waits, what it produced so far goes to the client first
            // (PEP 3333: never delay a block while the app produces the next one).
            let flusher = start_response.clone_ref(py);
            let _flush_on_wait = on_park(py, move |py| flusher.get().flush_for_wait(py))?;
            let result = app
                .bind(py)
                .call1((environ, start_response.clone_ref(py)))?;
            let iterated = iterate_response(py, &result, start_response.get());
            // PEP 3333: close() is called whatever happened while iterating.
            // (lists and tuples have no close(); skip the failing attribute lookup)
            let closed = if !result.is_instance_of::<PyList>()
                && !result.is_instance_of::<puff_greenlet::pyo3::types::PyTuple>()
                && result.hasattr(intern!(py, "close"))?
            {
                result.call_method0(intern!(py, "close")).map(|_| ())
            } else {
                Ok(())
            };
            iterated.and(closed)
        })();
        let sink = start_response.get();
        if let Err(e) = outcome {
            if let Some(body_fault) = fault.get() {
                body_fault.log(head.method(), head.raw_uri(), fault.detail());
            } else if is_client_gone(py, &e) {
                tracing::info!(
                    target: "puff::wsgi",
                    "{} {}: client went away: {}",
                    head.method(),
                    head.raw_uri(),
                    e.value(py)
                );
            } else {
                log_app_error(py, &head, &e);
            }
            sink.fail();
        } else if let Err(e) = sink.finish() {
            log_app_error(py, &head, &e);
        }
    }
}

/// The client disconnected (while we sent the response or read its body).
fn is_client_gone(py: Python<'_>, e: &PyErr) -> bool {
    e.is_instance_of::<exceptions::PuffIOError>(py) && {
        let msg = e.value(py).to_string();
        msg.contains(CLIENT_GONE) || msg.contains(BODY_READ_FAILED)
    }
}

const BODY_READ_FAILED: &str = "error reading the request body";

const CLIENT_GONE: &str = "client disconnected";

fn log_app_error(py: Python<'_>, head: &RequestHead, e: &PyErr) {
    let text = puff_greenlet::error::format_exception(py, e);
    tracing::error!(
        target: "puff::wsgi",
        "{} {}: exception in WSGI application\n{}",
        head.method(),
        head.raw_uri(),
        text.trim_end()
    );
}

fn iterate_response(
    py: Python<'_>,
    result: &Bound<'_, PyAny>,
    sink: &StartResponse,
) -> PyResult<()> {
    // Fast path for the common list-of-bytes response.
    if let Ok(list) = result.cast::<PyList>() {
        for item in list.iter() {
            sink.push(py, &item)?;
        }
        return Ok(());
    }
    for item in result.try_iter()? {
        sink.push(py, &item?)?;
    }
    Ok(())
}

/// Builds the PEP 3333 `environ` dict.
fn build_environ<'py>(
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
pub(crate) fn sys_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
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

/// Parse a WSGI status line like `"200 OK"`.
fn parse_status(status: &str) -> PyResult<StatusCode> {
    let code = status.split(' ').next().unwrap_or("");
    if code.len() != 3 {
        return Err(PyValueError::new_err(format!(
            "invalid WSGI status {status:?}: expected e.g. \"200 OK\""
        )));
    }
    StatusCode::from_bytes(code.as_bytes())
        .map_err(|_| PyValueError::new_err(format!("invalid WSGI status code in {status:?}")))
}

/// Header (name, value) pairs from the app; values are latin-1 "bytes-as-unicode" str.
fn parse_headers(headers: &Bound<'_, PyAny>) -> PyResult<HeaderMap> {
    let mut map = HeaderMap::new();
    for item in headers.try_iter()? {
        let item = item?;
        let (name, value): (String, String) = item.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "WSGI response headers must be (str, str) tuples, got {item}"
            ))
        })?;
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| PyValueError::new_err(format!("invalid response header name {name:?}")))?;
        if is_hop_by_hop(&name) {
            // PEP 3333 forbids them; the server manages the connection itself.
            continue;
        }
        let bytes: Option<Vec<u8>> = value
            .chars()
            .map(|c| u8::try_from(u32::from(c)).ok())
            .collect();
        let value = bytes
            .and_then(|b| HeaderValue::from_bytes(&b).ok())
            .ok_or_else(|| {
                PyValueError::new_err(format!(
                    "invalid value for response header {name}: {value:?}"
                ))
            })?;
        map.append(name, value);
    }
    Ok(map)
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection" | "keep-alive" | "transfer-encoding" | "upgrade" | "proxy-connection"
    )
}

enum Output {
    /// Collecting chunks; nothing sent yet.
    Buffering {
        chunks: Vec<Bytes>,
        size: usize,
    },
    Streaming(mpsc::Sender<Result<Bytes, std::io::Error>>),
    Finished,
}

struct ResponseState {
    status: Option<StatusCode>,
    headers: HeaderMap,
    reply: Option<oneshot::Sender<Reply>>,
    output: Output,
}

/// The `start_response` callable; also owns the response as it is produced.
#[pyclass(module = "puff._native", name = "StartResponse", frozen)]
struct StartResponse {
    state: Mutex<ResponseState>,
}

impl StartResponse {
    fn new(reply: oneshot::Sender<Reply>) -> Self {
        StartResponse {
            state: Mutex::new(ResponseState {
                status: None,
                headers: HeaderMap::new(),
                reply: Some(reply),
                output: Output::Buffering {
                    chunks: Vec::new(),
                    size: 0,
                },
            }),
        }
    }

    fn lock(&self) -> PyResult<std::sync::MutexGuard<'_, ResponseState>> {
        self.state
            .lock()
            .map_err(|_| exceptions::PuffError::new_err("response state lock poisoned"))
    }

    fn push(&self, py: Python<'_>, item: &Bound<'_, PyAny>) -> PyResult<()> {
        let bytes = item.cast::<PyBytes>().map_err(|_| {
            PyTypeError::new_err(format!(
                "WSGI response iterables must yield bytes, got {}",
                item.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?;
        let data = bytes.as_bytes();
        if data.is_empty() {
            return Ok(());
        }
        self.send_chunk(py, Bytes::copy_from_slice(data))
    }

    fn send_chunk(&self, py: Python<'_>, chunk: Bytes) -> PyResult<()> {
        let sender = {
            let mut state = self.lock()?;
            if state.status.is_none() {
                return Err(PyAssertionError::new_err(
                    "the WSGI app produced body data before calling start_response()",
                ));
            }
            match &mut state.output {
                Output::Buffering { chunks, size } => {
                    *size += chunk.len();
                    chunks.push(chunk);
                    if *size < STREAM_AFTER_BYTES {
                        return Ok(());
                    }
                    start_streaming(&mut state);
                    return Ok(());
                }
                Output::Streaming(tx) => match tx.try_send(Ok(chunk)) {
                    Ok(()) => return Ok(()),
                    Err(mpsc::error::TrySendError::Closed(_)) => {
                        return Err(exceptions::PuffIOError::new_err(CLIENT_GONE));
                    }
                    Err(mpsc::error::TrySendError::Full(Ok(chunk))) => (tx.clone(), chunk),
                    Err(mpsc::error::TrySendError::Full(Err(_))) => return Ok(()),
                },
                Output::Finished => {
                    return Err(exceptions::PuffError::new_err("response already finished"));
                }
            }
        };
        // Channel full: wait (without holding the lock) until the client catches up.
        let (tx, chunk) = sender;
        let sent = wait_for(py, async move { tx.send(Ok(chunk)).await.is_ok() })?;
        if sent {
            Ok(())
        } else {
            Err(exceptions::PuffIOError::new_err(CLIENT_GONE))
        }
    }

    /// The app is about to wait: send the head and buffered chunks now, stream the rest.
    fn flush_for_wait(&self, _py: Python<'_>) {
        if let Ok(mut state) = self.state.lock()
            && state.status.is_some()
            && matches!(&state.output, Output::Buffering { size, .. } if *size > 0)
        {
            start_streaming(&mut state);
        }
    }

    /// The app returned and its iterable is exhausted: send what is buffered.
    fn finish(&self) -> PyResult<()> {
        let mut state = self.lock()?;
        let output = std::mem::replace(&mut state.output, Output::Finished);
        match output {
            Output::Buffering { chunks, .. } => {
                let Some(status) = state.status else {
                    if let Some(reply) = state.reply.take() {
                        let _ = reply.send(Reply::Error);
                    }
                    return Err(PyAssertionError::new_err(
                        "the WSGI app returned without calling start_response()",
                    ));
                };
                let body = match chunks.len() {
                    0 => Bytes::new(),
                    1 => chunks.into_iter().next().unwrap_or_default(),
                    _ => {
                        let mut all = BytesMut::with_capacity(chunks.iter().map(Bytes::len).sum());
                        for c in chunks {
                            all.extend_from_slice(&c);
                        }
                        all.freeze()
                    }
                };
                let headers = std::mem::take(&mut state.headers);
                if let Some(reply) = state.reply.take() {
                    let _ = reply.send(Reply::Full {
                        status,
                        headers,
                        body,
                    });
                }
            }
            Output::Streaming(tx) => drop(tx),
            Output::Finished => {}
        }
        Ok(())
    }

    /// The app failed: a 500 if nothing was sent yet, otherwise abort the stream.
    fn fail(&self) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let output = std::mem::replace(&mut state.output, Output::Finished);
        if let Output::Streaming(tx) = output {
            let _ = tx.try_send(Err(std::io::Error::other("WSGI application failed")));
        }
        if let Some(reply) = state.reply.take() {
            let _ = reply.send(Reply::Error);
        }
    }
}

/// Send the head and buffered chunks; later chunks go through the channel.
fn start_streaming(state: &mut ResponseState) {
    let (tx, rx) = mpsc::channel(STREAM_CHANNEL_CHUNKS);
    let first = match std::mem::replace(&mut state.output, Output::Streaming(tx)) {
        Output::Buffering { chunks, .. } => chunks,
        _ => Vec::new(),
    };
    let status = state.status.unwrap_or(StatusCode::OK);
    let headers = std::mem::take(&mut state.headers);
    if let Some(reply) = state.reply.take() {
        let _ = reply.send(Reply::Streaming {
            status,
            headers,
            first,
            rest: rx,
        });
    }
}

#[pymethods]
impl StartResponse {
    #[pyo3(signature = (status, headers, exc_info=None))]
    fn __call__(
        slf: &Bound<'_, Self>,
        status: &str,
        headers: &Bound<'_, PyAny>,
        exc_info: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let this = slf.get();
        let exc_info = exc_info.filter(|e| !e.is_none());
        {
            let state = this.lock()?;
            // Headers count as sent once the app has produced body data (PEP 3333).
            let headers_sent = !matches!(state.output, Output::Buffering { size: 0, .. });
            match exc_info {
                Some(info) if headers_sent => {
                    // PEP 3333: too late to change the response; re-raise the app's error.
                    let exc = info.get_item(1)?;
                    return Err(PyErr::from_value(exc));
                }
                None if state.status.is_some() => {
                    return Err(PyAssertionError::new_err(
                        "start_response() called a second time without exc_info",
                    ));
                }
                _ => {}
            }
        }
        let status = parse_status(status)?;
        let headers = parse_headers(headers)?;
        let mut state = this.lock()?;
        state.status = Some(status);
        state.headers = headers;
        drop(state);
        slf.getattr(intern!(py, "write")).map(Bound::unbind)
    }

    /// The legacy `write()` callable returned by `start_response`.
    fn write(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        self.push(py, data)
    }
}

/// Request body state behind `wsgi.input`.
struct InputState {
    buffer: BytesMut,
    body: Option<Body>,
    eof: bool,
    received: usize,
    limit: usize,
    fault: Option<Arc<FaultFlag>>,
}

impl InputState {
    fn ready(bytes: Bytes) -> Self {
        InputState {
            buffer: BytesMut::from(bytes.as_ref()),
            body: None,
            eof: true,
            received: bytes.len(),
            limit: usize::MAX,
            fault: None,
        }
    }

    fn streaming(body: Body, limit: usize, fault: Arc<FaultFlag>) -> Self {
        InputState {
            buffer: BytesMut::new(),
            body: Some(body),
            eof: false,
            received: 0,
            limit,
            fault: Some(fault),
        }
    }
}

/// `wsgi.input`: a file-like reader streaming the request body from Tokio.
#[pyclass(module = "puff._native", name = "WsgiInput", frozen)]
struct WsgiInput {
    state: Mutex<InputState>,
}

impl WsgiInput {
    fn lock(&self) -> PyResult<std::sync::MutexGuard<'_, InputState>> {
        self.state
            .lock()
            .map_err(|_| exceptions::PuffError::new_err("wsgi.input lock poisoned"))
    }

    /// Pull one more frame from the body into the buffer. Returns false at EOF.
    fn fill(&self, py: Python<'_>) -> PyResult<bool> {
        let body = {
            let mut state = self.lock()?;
            if state.eof {
                return Ok(false);
            }
            match state.body.take() {
                Some(body) => body,
                None => {
                    state.eof = true;
                    return Ok(false);
                }
            }
        };
        let (body, frame) = wait_for(py, async move {
            let mut body = body;
            let frame = body.frame().await;
            (body, frame)
        })?;
        let mut state = self.lock()?;
        match frame {
            None => {
                state.eof = true;
                Ok(false)
            }
            Some(Err(e)) => {
                state.eof = true;
                let failure = ReadFailure::of(&e);
                let detail = match &state.fault {
                    Some(flag) => failure.record(flag),
                    None => e.to_string(),
                };
                Err(exceptions::PuffIOError::new_err(format!(
                    "{BODY_READ_FAILED}: {detail}"
                )))
            }
            Some(Ok(frame)) => {
                state.body = Some(body);
                if let Ok(data) = frame.into_data() {
                    state.received += data.len();
                    if state.received > state.limit {
                        state.eof = true;
                        state.body = None;
                        if let Some(flag) = &state.fault {
                            flag.set(
                                BodyFault::TooLarge,
                                format!("more than {} bytes", state.limit),
                            );
                        }
                        return Err(exceptions::RequestBodyTooLarge::new_err(format!(
                            "request body exceeds the {} byte limit",
                            state.limit
                        )));
                    }
                    state.buffer.extend_from_slice(&data);
                }
                Ok(true)
            }
        }
    }

    fn take<'py>(&self, py: Python<'py>, n: usize) -> PyResult<Bound<'py, PyBytes>> {
        let mut state = self.lock()?;
        let n = n.min(state.buffer.len());
        let chunk = state.buffer.split_to(n);
        Ok(PyBytes::new(py, &chunk))
    }
}

#[pymethods]
impl WsgiInput {
    /// Read up to `size` bytes (all remaining bytes when `size` is negative or None).
    #[pyo3(signature = (size=-1))]
    fn read<'py>(&self, py: Python<'py>, size: Option<isize>) -> PyResult<Bound<'py, PyBytes>> {
        let want = size.filter(|s| *s >= 0).map(|s| s as usize);
        loop {
            let have = self.lock()?.buffer.len();
            if want.is_some_and(|w| have >= w) || !self.fill(py)? {
                break;
            }
        }
        let have = self.lock()?.buffer.len();
        self.take(py, want.unwrap_or(have))
    }

    /// Read one line (up to and including b"\n"), at most `size` bytes if given.
    #[pyo3(signature = (size=-1))]
    fn readline<'py>(&self, py: Python<'py>, size: Option<isize>) -> PyResult<Bound<'py, PyBytes>> {
        let limit = size.filter(|s| *s >= 0).map(|s| s as usize);
        loop {
            let (newline, have) = {
                let state = self.lock()?;
                (
                    state.buffer.iter().position(|&b| b == b'\n'),
                    state.buffer.len(),
                )
            };
            if let Some(pos) = newline {
                return self.take(py, limit.map_or(pos + 1, |l| l.min(pos + 1)));
            }
            if limit.is_some_and(|l| have >= l) || !self.fill(py)? {
                return self.take(py, limit.unwrap_or(have));
            }
        }
    }

    /// Read lines until EOF (or until about `hint` bytes were read).
    #[pyo3(signature = (hint=-1))]
    fn readlines<'py>(&self, py: Python<'py>, hint: Option<isize>) -> PyResult<Bound<'py, PyList>> {
        let hint = hint.filter(|h| *h > 0).map(|h| h as usize);
        let lines = PyList::empty(py);
        let mut total = 0;
        loop {
            let line = self.readline(py, None)?;
            if line.as_bytes().is_empty() {
                break;
            }
            total += line.as_bytes().len();
            lines.append(line)?;
            if hint.is_some_and(|h| total >= h) {
                break;
            }
        }
        Ok(lines)
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let line = self.readline(py, None)?;
        Ok(if line.as_bytes().is_empty() {
            None
        } else {
            Some(line)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(parse_status("200 OK").unwrap(), StatusCode::OK);
        assert_eq!(
            parse_status("404 Not Found").unwrap(),
            StatusCode::NOT_FOUND
        );
        assert!(parse_status("OK").is_err());
        assert!(parse_status("2000 Nope").is_err());
    }
}
