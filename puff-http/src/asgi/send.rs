//! The `http` scope's `send()`: `http.response.start` and `http.response.body` messages
//! become a full response or one streamed through a bounded channel; also reports how the
//! app's task ended.

use std::sync::Mutex;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use puff_greenlet::aio::resolved_future;
use puff_greenlet::pyo3::exceptions::{PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use puff_greenlet::pyo3::intern;
use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::pyo3::types::{PyBytes, PyDict};
use tokio::sync::{mpsc, oneshot};

use super::message::{lock_send_state, message_type, parse_headers};
use crate::plumbing::{Reply, STREAM_CHANNEL_CHUNKS, send_or_oserror};

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
pub(super) struct AsgiSend {
    reply: Mutex<Option<oneshot::Sender<Reply>>>,
    state: Mutex<SendState>,
    /// The request line, for error logs.
    method: String,
    target: String,
}

impl AsgiSend {
    pub(super) fn new(reply: oneshot::Sender<Reply>, method: String, target: String) -> Self {
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
    pub(super) fn fail(&self) {
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
