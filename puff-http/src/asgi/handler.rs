//! The `http` scope's entry point: [`AsgiHandler`] checks the request (websocket upgrades go
//! to [`super::websocket`]), then starts the app's task on the event loop with its
//! `receive()` and `send()` callables and waits for the response.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{Request, StatusCode};
use puff_greenlet::pyo3::intern;
use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::pyo3::sync::PyOnceLock;
use puff_greenlet::pyo3::types::PyDict;
use puff_greenlet::{PythonRuntime, exceptions};
use tokio::sync::oneshot;

use super::helpers::helpers;
use super::receive::{AsgiReceive, DisconnectOnDrop, Gone, RequestBody};
use super::scope::build_scope;
use super::send::AsgiSend;
use crate::body::{InputSource, incoming_body};
use crate::plumbing::{Reply, internal_error, remote_addr};

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
        if crate::ws::is_upgrade(&req) {
            return super::websocket::handle(
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
            trace: puff_greenlet::trace::current(),
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
    /// The request's trace context, for `puff.trace_context()` in the app's task.
    trace: Option<puff_greenlet::trace::TraceContext>,
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
            let event_loop = event_loop.bind(py);
            match self.trace {
                None => event_loop.call_method1(intern!(py, "create_task"), (coroutine,))?,
                Some(trace) => {
                    let kwargs = PyDict::new(py);
                    let context = puff_greenlet::trace::python::new_context_with(py, trace)?;
                    kwargs.set_item("context", context)?;
                    event_loop.call_method(
                        intern!(py, "create_task"),
                        (coroutine,),
                        Some(&kwargs),
                    )?
                }
            };
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
