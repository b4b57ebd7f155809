//! ASGI 3.0 adapter (`http` and `lifespan` scopes) on Puff's event loop; the `websocket`
//! scope is in [`crate::websocket`].
//!
//! Each request becomes a task on the asyncio loop the hub runs (`asyncio = true`).
//! `receive()` and `send()` return awaitables resolved from Rust (a native already-complete
//! awaitable when the result is known at once, else an asyncio future): request bodies are
//! read on Tokio as the app asks for them, response chunks go straight to hyper through a
//! bounded channel, and `http.disconnect` is delivered when the client goes away or the
//! response is complete.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode, Version};
use http_body_util::BodyExt;
use puff_greenlet::aio::{resolved_future, wait_or_await};
use puff_greenlet::pyo3::exceptions::{
    PyImportError, PyOSError, PyRuntimeError, PyTypeError, PyValueError,
};
use puff_greenlet::pyo3::intern;
use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::pyo3::sync::PyOnceLock;
use puff_greenlet::pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use puff_greenlet::{PuffError, PuffResult, PythonRuntime, exceptions};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::body::{BodyFault, FaultFlag, InputSource, ReadFailure, incoming_body};
use crate::plumbing::{
    Reply, STREAM_CHANNEL_CHUNKS, internal_error, percent_decode, remote_addr, send_or_oserror,
};

/// The Python half of the adapter, `puff._asgi_helpers` in the `puff` package.
pub(crate) fn helpers(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static HELPERS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    Ok(HELPERS
        .get_or_try_init(py, || -> PyResult<Py<PyModule>> {
            match py.import("puff._asgi_helpers") {
                Ok(module) => Ok(module.unbind()),
                Err(e) if e.is_instance_of::<PyImportError>(py) => {
                    Err(PyImportError::new_err(format!(
                        "the ASGI adapter needs `puff._asgi_helpers` from the `puff` Python \
                         package (python/ in the Puff repository; `pip install puff-py`), \
                         which this environment cannot import: {}",
                        e.value(py)
                    )))
                }
                Err(e) => Err(e),
            }
        })?
        .bind(py))
}

/// Serves a Python ASGI 3.0 application.
pub struct AsgiHandler {
    app: Arc<Py<PyAny>>,
    runtime: PythonRuntime,
    max_body: usize,
    server: SocketAddr,
    /// `scope["state"]` template filled by the lifespan startup.
    state: Arc<Py<PyDict>>,
}

impl AsgiHandler {
    pub fn new(
        app: Arc<Py<PyAny>>,
        state: Py<PyDict>,
        runtime: PythonRuntime,
        max_body: usize,
        server: SocketAddr,
    ) -> Self {
        AsgiHandler {
            app,
            runtime,
            max_body,
            server,
            state: Arc::new(state),
        }
    }

    /// Handle one request (use as the router's fallback).
    pub async fn handle(self: Arc<Self>, req: Request<Body>) -> Response {
        let remote = remote_addr(&req);
        if crate::websocket::is_upgrade(&req) {
            return crate::websocket::handle(
                self.app.clone(),
                self.state.clone(),
                self.runtime.clone(),
                self.max_body,
                remote,
                self.server,
                req,
            )
            .await;
        }
        let (parts, body) = req.into_parts();
        let input = match incoming_body(&parts, body, self.max_body).await {
            Ok(InputSource::Ready(bytes)) => RequestBody::ready(bytes),
            Ok(InputSource::Streaming(body)) => RequestBody::streaming(body, self.max_body),
            Err(response) => return response,
        };
        let fault = input.fault.clone();
        // Kept for the log line of a faulty body (cheap: the method is inline, the URI shared).
        let (method, uri) = (parts.method.clone(), parts.uri.clone());
        let gone = Arc::new(Gone::default());
        let disconnect = DisconnectOnDrop(gone.clone());
        let (reply_tx, reply_rx) = oneshot::channel();
        let call = AsgiCall {
            app: self.app.clone(),
            state: self.state.clone(),
            parts,
            remote,
            server: self.server,
            input: Arc::new(tokio::sync::Mutex::new(input)),
            disconnect: gone,
            reply: reply_tx,
        };
        if self.runtime.run_on_hub(move |py| call.start(py)).is_err() {
            return (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable\n").into_response();
        }
        let reply = reply_rx.await;
        if let (Ok(_), Some(body_fault)) = (&reply, fault.get()) {
            let target = uri.path_and_query().map_or("/", |p| p.as_str());
            body_fault.log(method.as_str(), target, fault.detail());
            return body_fault.response(self.max_body);
        }
        match reply {
            Ok(reply @ Reply::Streaming { .. }) => {
                reply.into_response_with(Some(Box::new(disconnect)))
            }
            Ok(reply) => reply.into_response(),
            Err(_) => internal_error(),
        }
    }
}

/// Set once the client is gone or the response is complete (a flag and one `Notify`:
/// cheaper per request than a watch channel).
#[derive(Default)]
struct Gone {
    set: AtomicBool,
    notify: Notify,
}

impl Gone {
    async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            if self.set.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }
}

/// Tells `receive()` the client is gone (or the response is complete) when dropped.
struct DisconnectOnDrop(Arc<Gone>);

impl Drop for DisconnectOnDrop {
    fn drop(&mut self) {
        self.0.set.store(true, Ordering::Release);
        self.0.notify.notify_waiters();
    }
}

struct RequestBody {
    ready: Option<Bytes>,
    body: Option<Body>,
    finished: bool,
    received: usize,
    limit: usize,
    fault: Arc<FaultFlag>,
}

impl RequestBody {
    fn ready(bytes: Bytes) -> Self {
        RequestBody {
            ready: Some(bytes),
            body: None,
            finished: false,
            received: 0,
            limit: usize::MAX,
            fault: Arc::new(FaultFlag::default()),
        }
    }

    fn streaming(body: Body, limit: usize) -> Self {
        RequestBody {
            ready: None,
            body: Some(body),
            finished: false,
            received: 0,
            limit,
            fault: Arc::new(FaultFlag::default()),
        }
    }
}

/// What `receive()` hands the app.
enum Received {
    Body(Bytes, bool),
    Disconnect,
}

/// One request on its way into the event loop.
struct AsgiCall {
    app: Arc<Py<PyAny>>,
    state: Arc<Py<PyDict>>,
    parts: http::request::Parts,
    remote: Option<SocketAddr>,
    server: SocketAddr,
    input: Arc<tokio::sync::Mutex<RequestBody>>,
    disconnect: Arc<Gone>,
    reply: oneshot::Sender<Reply>,
}

impl AsgiCall {
    /// Runs on the hub (inside the event loop): start the app's task.
    fn start(self, py: Python<'_>) {
        let method = self.parts.method.to_string();
        let target = self
            .parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let send = match Py::new(py, AsgiSend::new(self.reply, method, target)) {
            Ok(send) => send,
            Err(e) => {
                tracing::error!("cannot create the ASGI send callable: {e}");
                return;
            }
        };
        let started = (|| -> PyResult<()> {
            let scope = build_scope(py, &self.parts, self.remote, self.server, &self.state)?;
            let receive = Py::new(
                py,
                AsgiReceive {
                    input: self.input,
                    disconnect: self.disconnect,
                },
            )?;
            let runtime = PythonRuntime::global()?;
            let event_loop = runtime
                .event_loop()
                .ok_or_else(|| exceptions::PuffError::new_err("no event loop"))?;
            static RUN: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
            let run = RUN.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
                Ok(helpers(py)?.getattr("_run")?.unbind())
            })?;
            let coroutine =
                run.bind(py)
                    .call1((self.app.bind(py), scope, receive, send.clone_ref(py)))?;
            event_loop
                .bind(py)
                .call_method1(intern!(py, "create_task"), (coroutine,))?;
            Ok(())
        })();
        if let Err(e) = started {
            tracing::error!(
                target: "puff::asgi",
                "cannot start the ASGI app: {}",
                puff_greenlet::error::format_exception(py, &e)
            );
            send.get().fail();
        }
    }
}

pub(crate) fn build_scope<'py>(
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

/// `receive()`: awaitable of the next `http.request` chunk, then `http.disconnect`.
#[pyclass(module = "puff._native", name = "AsgiReceive", frozen)]
struct AsgiReceive {
    input: Arc<tokio::sync::Mutex<RequestBody>>,
    disconnect: Arc<Gone>,
}

#[pymethods]
impl AsgiReceive {
    fn __call__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let input = self.input.clone();
        let disconnect = self.disconnect.clone();
        wait_or_await(
            py,
            async move { next_message(&input, &disconnect).await },
            Box::new(|py, received| {
                let message = PyDict::new(py);
                match received {
                    Received::Body(data, more) => {
                        message.set_item(intern!(py, "type"), intern!(py, "http.request"))?;
                        message.set_item(intern!(py, "body"), PyBytes::new(py, &data))?;
                        message.set_item(intern!(py, "more_body"), more)?;
                    }
                    Received::Disconnect => {
                        message.set_item(intern!(py, "type"), intern!(py, "http.disconnect"))?;
                    }
                }
                Ok(message.into_any().unbind())
            }),
        )
    }
}

async fn next_message(input: &tokio::sync::Mutex<RequestBody>, disconnect: &Gone) -> Received {
    let mut body = input.lock().await;
    if let Some(ready) = body.ready.take() {
        body.finished = true;
        return Received::Body(ready, false);
    }
    if !body.finished {
        while let Some(stream) = body.body.as_mut() {
            match stream.frame().await {
                None => break,
                Some(Err(e)) => {
                    ReadFailure::of(&e).record(&body.fault);
                    body.finished = true;
                    body.body = None;
                    return Received::Disconnect;
                }
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    body.received += data.len();
                    if body.received > body.limit {
                        let detail = format!("more than {} bytes", body.limit);
                        body.fault.set(BodyFault::TooLarge, detail);
                        body.finished = true;
                        body.body = None;
                        return Received::Disconnect;
                    }
                    return Received::Body(data, true);
                }
            }
        }
        body.finished = true;
        body.body = None;
        return Received::Body(Bytes::new(), false);
    }
    drop(body);
    disconnect.wait().await;
    Received::Disconnect
}

enum SendState {
    /// Waiting for `http.response.start`.
    Idle,
    /// Start received; nothing sent to the client yet.
    Started(StatusCode, HeaderMap),
    Streaming(mpsc::Sender<Result<Bytes, std::io::Error>>),
    Done,
}

/// `send(message)`: awaitable; handles `http.response.start` and `http.response.body`.
#[pyclass(module = "puff._native", name = "AsgiSend", frozen)]
struct AsgiSend {
    reply: Mutex<Option<oneshot::Sender<Reply>>>,
    state: Mutex<SendState>,
    /// The request line, for error logs.
    method: String,
    target: String,
}

impl AsgiSend {
    fn new(reply: oneshot::Sender<Reply>, method: String, target: String) -> Self {
        AsgiSend {
            reply: Mutex::new(Some(reply)),
            state: Mutex::new(SendState::Idle),
            method,
            target,
        }
    }

    fn reply(&self, reply: Reply) {
        if let Some(tx) = self.reply.lock().ok().and_then(|mut r| r.take()) {
            let _ = tx.send(reply);
        }
    }

    /// The app failed or returned early: 500 if nothing was sent, else cut the stream.
    fn fail(&self) {
        let previous = self
            .state
            .lock()
            .map(|mut s| std::mem::replace(&mut *s, SendState::Done));
        if let Ok(SendState::Streaming(tx)) = previous {
            let _ = tx.try_send(Err(std::io::Error::other("ASGI application failed")));
        }
        self.reply(Reply::Error);
    }

    fn handle(&self, py: Python<'_>, message: &Bound<'_, PyDict>) -> PyResult<Py<PyAny>> {
        let kind = message_type(py, message)?;
        let mut state = lock_send_state(&self.state)?;
        match kind.as_str() {
            "http.response.start" => {
                if !matches!(*state, SendState::Idle) {
                    return Err(PyRuntimeError::new_err(
                        "ASGI: `http.response.start` sent twice",
                    ));
                }
                let status: u16 = message
                    .get_item(intern!(py, "status"))?
                    .ok_or_else(|| PyValueError::new_err("`http.response.start` needs `status`"))?
                    .extract()?;
                let status = StatusCode::from_u16(status)
                    .map_err(|_| PyValueError::new_err(format!("invalid HTTP status {status}")))?;
                let headers = match message.get_item(intern!(py, "headers"))? {
                    Some(headers) => parse_headers(&headers)?,
                    None => HeaderMap::new(),
                };
                *state = SendState::Started(status, headers);
                drop(state);
                resolved_future(py, Ok(py.None()))
            }
            "http.response.body" => {
                let body: Bytes = match message.get_item(intern!(py, "body"))? {
                    Some(b) if !b.is_none() => Bytes::copy_from_slice(
                        b.cast::<PyBytes>()
                            .map_err(|_| PyTypeError::new_err("`body` must be bytes"))?
                            .as_bytes(),
                    ),
                    _ => Bytes::new(),
                };
                let more_body = match message.get_item(intern!(py, "more_body"))? {
                    Some(m) => m.is_truthy()?,
                    None => false,
                };
                let current = std::mem::replace(&mut *state, SendState::Done);
                match current {
                    SendState::Idle => {
                        *state = SendState::Idle;
                        Err(PyRuntimeError::new_err(
                            "ASGI: `http.response.body` before `http.response.start`",
                        ))
                    }
                    SendState::Done => Err(PyOSError::new_err(
                        "ASGI: the response is already complete or the client disconnected",
                    )),
                    SendState::Started(status, headers) if !more_body => {
                        drop(state);
                        self.reply(Reply::Full {
                            status,
                            headers,
                            body,
                        });
                        resolved_future(py, Ok(py.None()))
                    }
                    SendState::Started(status, headers) => {
                        let (tx, rx) = mpsc::channel(STREAM_CHANNEL_CHUNKS);
                        *state = SendState::Streaming(tx);
                        drop(state);
                        self.reply(Reply::Streaming {
                            status,
                            headers,
                            first: vec![body],
                            rest: rx,
                        });
                        resolved_future(py, Ok(py.None()))
                    }
                    SendState::Streaming(tx) => {
                        if more_body {
                            *state = SendState::Streaming(tx.clone());
                        }
                        drop(state);
                        if body.is_empty() {
                            return resolved_future(py, Ok(py.None()));
                        }
                        send_or_oserror(py, tx, Ok(body), "client disconnected")
                    }
                }
            }
            other => Err(PyValueError::new_err(format!(
                "unsupported ASGI message type `{other}` for an http scope"
            ))),
        }
    }
}

#[pymethods]
impl AsgiSend {
    fn __call__(&self, py: Python<'_>, message: &Bound<'_, PyDict>) -> PyResult<Py<PyAny>> {
        self.handle(py, message)
    }

    /// Called by the helper running the app once it returns (`None`) or raises (the
    /// exception, `CancelledError` included): log failures, complete the response.
    fn finished(&self, py: Python<'_>, exception: &Bound<'_, PyAny>) {
        if exception.is_instance_of::<puff_greenlet::pyo3::exceptions::asyncio::CancelledError>() {
            self.fail();
            return;
        }
        if !exception.is_none() {
            let err = PyErr::from_value(exception.clone());
            tracing::error!(
                target: "puff::asgi",
                "{} {}: exception in ASGI application\n{}",
                self.method,
                self.target,
                puff_greenlet::error::format_exception(py, &err).trim_end()
            );
            self.fail();
            return;
        }
        let unfinished = self
            .state
            .lock()
            .map(|s| !matches!(*s, SendState::Done))
            .unwrap_or(true);
        if unfinished {
            tracing::error!(
                target: "puff::asgi",
                "{} {}: the ASGI app returned without completing its response",
                self.method,
                self.target
            );
            self.fail();
        }
    }
}

pub(crate) fn parse_headers(headers: &Bound<'_, PyAny>) -> PyResult<HeaderMap> {
    let mut map = HeaderMap::new();
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
pub(crate) fn message_type(py: Python<'_>, message: &Bound<'_, PyDict>) -> PyResult<String> {
    message
        .get_item(intern!(py, "type"))?
        .ok_or_else(|| PyValueError::new_err("ASGI message without a `type`"))?
        .extract()
}

/// Lock a `send()` callable's state, as a Python error if a panic poisoned it.
pub(crate) fn lock_send_state<T>(state: &Mutex<T>) -> PyResult<std::sync::MutexGuard<'_, T>> {
    state
        .lock()
        .map_err(|_| exceptions::PuffError::new_err("ASGI send state poisoned"))
}

/// The app's lifespan protocol, started before serving and finished after.
pub struct Lifespan {
    runtime: PythonRuntime,
    lifespan: Py<PyAny>,
}

impl Lifespan {
    /// Send `lifespan.startup` and wait for the app (apps without lifespan are fine).
    /// Also returns the `scope["state"]` dict the app filled in.
    pub async fn startup(
        runtime: &PythonRuntime,
        app: Arc<Py<PyAny>>,
    ) -> PuffResult<(Lifespan, Py<PyDict>)> {
        let (lifespan, state) = runtime
            .run(move |py| {
                let run_coroutine = py.import("puff._native")?.getattr("run_coroutine")?;
                // Lifespan.__init__ needs the running loop: build it on the loop.
                let new_lifespan = helpers(py)?.getattr("new_lifespan")?;
                let lifespan = run_coroutine.call1((new_lifespan.call1((app.bind(py),))?,))?;
                let supported = run_coroutine.call1((lifespan.call_method0("startup")?,))?;
                if !supported.is_truthy()? {
                    tracing::debug!("the ASGI app does not use the lifespan protocol");
                }
                let state = lifespan.getattr("state")?.cast_into::<PyDict>()?.unbind();
                Ok((lifespan.unbind(), state))
            })
            .await
            .map_err(|e| match e {
                PuffError::Python(e) => PuffError::Other(format!(
                    "ASGI lifespan startup failed:\n{}",
                    e.traceback().trim_end()
                )),
                other => other,
            })?;
        Ok((
            Lifespan {
                runtime: runtime.clone(),
                lifespan,
            },
            state,
        ))
    }

    /// Send `lifespan.shutdown` and wait for the app to finish it.
    pub async fn shutdown(self) -> PuffResult<()> {
        let lifespan = self.lifespan;
        self.runtime
            .run(move |py| {
                let run_coroutine = py.import("puff._native")?.getattr("run_coroutine")?;
                run_coroutine.call1((lifespan.bind(py).call_method0("shutdown")?,))?;
                Ok(())
            })
            .await
    }
}
