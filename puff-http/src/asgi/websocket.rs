//! The ASGI `websocket` scope: the app decides the handshake and then exchanges messages
//! with a connection run by [`crate::ws`].
//!
//! `receive()` yields `websocket.connect` first; the app answers with `websocket.accept`
//! (101 and the connection is taken over) or `websocket.close` (403). Afterwards the
//! messages read by the connection task are handed to the app, and the app's messages are
//! written back; `websocket.disconnect` carries the close code.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, header};
use puff_greenlet::aio::{resolved_future, wait_or_await};
use puff_greenlet::pyo3::exceptions::{PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use puff_greenlet::pyo3::intern;
use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::pyo3::types::{PyBytes, PyDict, PyList, PyString};
use puff_greenlet::{PythonRuntime, exceptions};
use tokio::sync::{mpsc, oneshot};

use super::helpers::helpers;
use super::message::{lock_send_state, message_type, parse_headers};
use super::scope::build_scope;
use crate::plumbing::send_or_oserror;
use crate::ws::codec::{Incoming, Outgoing};
use crate::ws::connection::{CHANNEL_MESSAGES, Channels, CloseState, spawn_connection};
use crate::ws::handshake::{offered_subprotocols, switching_protocols};
use crate::ws::shutdown::{WebsocketShutdown, WebsocketTracker};

/// The app's answer to `websocket.connect`.
enum Decision {
    Accept {
        subprotocol: Option<String>,
        headers: HeaderMap,
    },
    Reject(StatusCode),
}

/// Serve one websocket upgrade request with the ASGI app.
pub(super) async fn handle(
    app: Arc<Py<PyAny>>,
    state: Arc<Py<PyDict>>,
    runtime: PythonRuntime,
    max_message: usize,
    remote: Option<SocketAddr>,
    server: SocketAddr,
    mut req: Request<Body>,
) -> Response {
    let on_upgrade = hyper::upgrade::on(&mut req);
    // Outside `serve` (no tracker) the signal never fires.
    let tracker = req
        .extensions()
        .get::<WebsocketTracker>()
        .cloned()
        .unwrap_or_else(|| WebsocketShutdown::new().1);
    let (parts, _body) = req.into_parts();
    let key = parts
        .headers
        .get(header::SEC_WEBSOCKET_KEY)
        .map(|k| k.as_bytes().to_vec())
        .unwrap_or_default();
    let subprotocols = offered_subprotocols(&parts.headers);
    let shared = CloseState::new();
    let (in_tx, in_rx) = mpsc::channel(CHANNEL_MESSAGES);
    let _ = in_tx.try_send(Incoming::Connect);
    let (out_tx, out_rx) = mpsc::channel(CHANNEL_MESSAGES);
    let (decision_tx, decision_rx) = oneshot::channel();
    let receive = WsReceive {
        input: Arc::new(tokio::sync::Mutex::new(in_rx)),
        shared: shared.clone(),
    };
    let send = WsSend {
        state: Mutex::new(SendState::Connecting(decision_tx, out_tx.clone())),
        shared: shared.clone(),
    };
    let target = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let started = runtime.run_on_hub(move |py| {
        let result = (|| -> PyResult<()> {
            let scope = build_scope(py, &parts, remote, server, &state)?;
            scope.set_item(intern!(py, "type"), intern!(py, "websocket"))?;
            let scheme = if crate::tls::is_tls(&parts.extensions) {
                intern!(py, "wss")
            } else {
                intern!(py, "ws")
            };
            scope.set_item(intern!(py, "scheme"), scheme)?;
            scope.del_item(intern!(py, "method"))?;
            scope.set_item(intern!(py, "subprotocols"), PyList::new(py, subprotocols)?)?;
            let send = Py::new(py, send)?;
            let on_done = Py::new(
                py,
                WsDone {
                    send: send.clone_ref(py),
                    target,
                },
            )?;
            let event_loop = PythonRuntime::global()?
                .event_loop()
                .ok_or_else(|| exceptions::PuffError::new_err("no event loop"))?;
            helpers(py)?.getattr(intern!(py, "run_app"))?.call1((
                event_loop.bind(py),
                app.bind(py),
                scope,
                Py::new(py, receive)?,
                send,
                on_done,
            ))?;
            Ok(())
        })();
        if let Err(e) = result {
            tracing::error!(
                target: "puff::asgi",
                "cannot start the ASGI websocket app: {}",
                puff_greenlet::error::format_exception(py, &e)
            );
        }
    });
    if started.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable\n").into_response();
    }
    let decision = match decision_rx.await {
        Ok(decision) => decision,
        Err(_) => Decision::Reject(StatusCode::INTERNAL_SERVER_ERROR),
    };
    let (subprotocol, extra) = match decision {
        Decision::Reject(status) => return status.into_response(),
        Decision::Accept {
            subprotocol,
            headers,
        } => (subprotocol, headers),
    };
    let channels = Channels {
        in_tx,
        out_tx,
        out_rx,
        shared,
    };
    spawn_connection(on_upgrade, tracker, channels, max_message);
    switching_protocols(&key, subprotocol, &extra)
}

/// `receive()`: `websocket.connect`, then `websocket.receive`, then `websocket.disconnect`.
#[pyclass(module = "puff._native", name = "AsgiWebsocketReceive", frozen)]
struct WsReceive {
    input: Arc<tokio::sync::Mutex<mpsc::Receiver<Incoming>>>,
    shared: Arc<CloseState>,
}

#[pymethods]
impl WsReceive {
    fn __call__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let input = self.input.clone();
        let shared = self.shared.clone();
        wait_or_await(
            py,
            async move {
                let event = input.lock().await.recv().await;
                let code = shared.code.lock().map(|c| *c).unwrap_or(1006);
                (event, code)
            },
            Box::new(|py, (event, code)| {
                let message = PyDict::new(py);
                match event {
                    Some(Incoming::Connect) => {
                        message.set_item(intern!(py, "type"), intern!(py, "websocket.connect"))?;
                    }
                    Some(Incoming::Text(text)) => {
                        message.set_item(intern!(py, "type"), intern!(py, "websocket.receive"))?;
                        message.set_item(intern!(py, "text"), text)?;
                    }
                    Some(Incoming::Binary(data)) => {
                        message.set_item(intern!(py, "type"), intern!(py, "websocket.receive"))?;
                        message.set_item(intern!(py, "bytes"), PyBytes::new(py, &data))?;
                    }
                    None => {
                        message
                            .set_item(intern!(py, "type"), intern!(py, "websocket.disconnect"))?;
                        message.set_item(intern!(py, "code"), code)?;
                        message.set_item(intern!(py, "reason"), "")?;
                    }
                }
                Ok(message.into_any().unbind())
            }),
        )
    }
}

enum SendState {
    Connecting(oneshot::Sender<Decision>, mpsc::Sender<Outgoing>),
    Accepted(mpsc::Sender<Outgoing>),
    Closed,
}

/// `send(message)`: `websocket.accept`, `websocket.send`, `websocket.close`.
#[pyclass(module = "puff._native", name = "AsgiWebsocketSend", frozen)]
struct WsSend {
    state: Mutex<SendState>,
    shared: Arc<CloseState>,
}

impl WsSend {
    /// The app finished: reject a pending handshake or close an open connection.
    fn finish(&self, failed: bool) {
        let previous = self
            .state
            .lock()
            .map(|mut s| std::mem::replace(&mut *s, SendState::Closed));
        match previous {
            Ok(SendState::Connecting(decision, _)) => {
                let status = if failed {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::FORBIDDEN
                };
                let _ = decision.send(Decision::Reject(status));
            }
            Ok(SendState::Accepted(out)) if !self.shared.closed.swap(true, Ordering::AcqRel) => {
                let code = if failed { 1011 } else { 1000 };
                self.shared.set_code(code);
                if let Err(mpsc::error::TrySendError::Full(close)) =
                    out.try_send(Outgoing::Close(code, String::new()))
                {
                    // Rare (the app returned with many messages still queued): wait for
                    // room on Tokio, not on the Python thread.
                    if let Ok(runtime) = PythonRuntime::global() {
                        runtime.tokio().spawn(async move {
                            let _ = out.send(close).await;
                        });
                    }
                }
            }
            _ => {}
        }
    }

    fn handle(&self, py: Python<'_>, message: &Bound<'_, PyDict>) -> PyResult<Py<PyAny>> {
        let kind = message_type(py, message)?;
        let mut state = lock_send_state(&self.state)?;
        match kind.as_str() {
            "websocket.accept" => {
                let SendState::Connecting(..) = &*state else {
                    return Err(PyRuntimeError::new_err(
                        "ASGI: `websocket.accept` after the handshake",
                    ));
                };
                let subprotocol: Option<String> = match message.get_item("subprotocol")? {
                    Some(p) if !p.is_none() => Some(p.extract()?),
                    _ => None,
                };
                let headers = match message.get_item(intern!(py, "headers"))? {
                    Some(h) if !h.is_none() => parse_headers(&h)?,
                    _ => HeaderMap::new(),
                };
                let SendState::Connecting(decision, out) =
                    std::mem::replace(&mut *state, SendState::Closed)
                else {
                    unreachable!()
                };
                *state = SendState::Accepted(out);
                let _ = decision.send(Decision::Accept {
                    subprotocol,
                    headers,
                });
                drop(state);
                resolved_future(py, Ok(py.None()))
            }
            "websocket.close" => {
                let code: u16 = match message.get_item(intern!(py, "code"))? {
                    Some(c) if !c.is_none() => c.extract()?,
                    _ => 1000,
                };
                let reason: String = match message.get_item(intern!(py, "reason"))? {
                    Some(r) if !r.is_none() => r.extract()?,
                    _ => String::new(),
                };
                match std::mem::replace(&mut *state, SendState::Closed) {
                    SendState::Connecting(decision, _) => {
                        let _ = decision.send(Decision::Reject(StatusCode::FORBIDDEN));
                        drop(state);
                        resolved_future(py, Ok(py.None()))
                    }
                    SendState::Accepted(out) => {
                        drop(state);
                        if self.shared.closed.swap(true, Ordering::AcqRel) {
                            return Err(PyOSError::new_err("websocket already closed"));
                        }
                        self.shared.set_code(code);
                        wait_or_await(
                            py,
                            async move { out.send(Outgoing::Close(code, reason)).await.is_ok() },
                            Box::new(|py, _| Ok(py.None())),
                        )
                    }
                    SendState::Closed => Err(PyOSError::new_err("websocket already closed")),
                }
            }
            "websocket.send" => {
                let out = match &*state {
                    SendState::Accepted(out) => out.clone(),
                    SendState::Connecting(..) => {
                        return Err(PyRuntimeError::new_err(
                            "ASGI: `websocket.send` before `websocket.accept`",
                        ));
                    }
                    SendState::Closed => {
                        return Err(PyOSError::new_err("websocket is closed"));
                    }
                };
                drop(state);
                if self.shared.closed.load(Ordering::Acquire) {
                    return Err(PyOSError::new_err("websocket is closed"));
                }
                let frame = match message.get_item(intern!(py, "bytes"))? {
                    Some(b) if !b.is_none() => Outgoing::Binary(Bytes::copy_from_slice(
                        b.cast::<PyBytes>()
                            .map_err(|_| PyTypeError::new_err("`bytes` must be bytes"))?
                            .as_bytes(),
                    )),
                    _ => match message.get_item(intern!(py, "text"))? {
                        Some(t) if !t.is_none() => Outgoing::Text(
                            t.cast::<PyString>()
                                .map_err(|_| PyTypeError::new_err("`text` must be str"))?
                                .to_str()?
                                .to_owned(),
                        ),
                        _ => {
                            return Err(PyValueError::new_err(
                                "`websocket.send` needs `bytes` or `text`",
                            ));
                        }
                    },
                };
                send_or_oserror(py, out, frame, "websocket is closed")
            }
            other => Err(PyValueError::new_err(format!(
                "unsupported ASGI message type `{other}` for a websocket scope"
            ))),
        }
    }
}

#[pymethods]
impl WsSend {
    fn __call__(&self, py: Python<'_>, message: &Bound<'_, PyDict>) -> PyResult<Py<PyAny>> {
        self.handle(py, message)
    }
}

/// Done-callback of the websocket app's task.
#[pyclass(module = "puff._native", name = "AsgiWebsocketDone", frozen)]
struct WsDone {
    send: Py<WsSend>,
    target: String,
}

#[pymethods]
impl WsDone {
    fn __call__(&self, py: Python<'_>, task: &Bound<'_, PyAny>) -> PyResult<()> {
        let send = self.send.get();
        if task.call_method0("cancelled")?.is_truthy()? {
            send.finish(true);
            return Ok(());
        }
        let exception = task.call_method0("exception")?;
        if !exception.is_none() {
            let err = PyErr::from_value(exception);
            tracing::error!(
                target: "puff::asgi",
                "websocket {}: exception in ASGI application\n{}",
                self.target,
                puff_greenlet::error::format_exception(py, &err).trim_end()
            );
            send.finish(true);
            return Ok(());
        }
        send.finish(false);
        Ok(())
    }
}
