//! The WSGI entry point: [`WsgiHandler`] reads the request on Tokio and runs the app in a
//! worker greenlet, then logs how the call ended (app errors with their traceback, clients
//! that went away, faulty request bodies).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{Request, StatusCode};
use puff_greenlet::pyo3::intern;
use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::pyo3::types::PyList;
use puff_greenlet::{PythonRuntime, exceptions, on_park};
use tokio::sync::oneshot;

use super::environ::{RequestHead, build_environ};
use super::input::{BODY_READ_FAILED, WsgiInput};
use super::response::{CLIENT_GONE, StartResponse};
use crate::body::{FaultFlag, InputSource, incoming_body};
use crate::plumbing::{Reply, internal_error, remote_addr};

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

        let input = WsgiInput::new(input, max_body, &fault);
        let start_response = match Py::new(py, StartResponse::new(reply)) {
            Ok(sr) => sr,
            Err(e) => {
                log_app_error(py, &head, &e);
                return;
            }
        };
        let outcome = (|| -> PyResult<()> {
            let input = Py::new(py, input)?;
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
