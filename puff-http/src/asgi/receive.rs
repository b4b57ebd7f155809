//! The `http` scope's `receive()`: the request body read on Tokio as the app asks for it
//! (`http.request` chunks), then `http.disconnect` once the client is gone or the response
//! is complete.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use bytes::Bytes;
use http_body_util::BodyExt;
use puff_greenlet::aio::wait_or_await;
use puff_greenlet::pyo3::intern;
use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::pyo3::types::{PyBytes, PyDict};
use tokio::sync::Notify;

use crate::body::{BodyFault, FaultFlag, ReadFailure};

/// Set once the client is gone or the response is complete (a flag and one `Notify`:
/// cheaper per request than a watch channel).
#[derive(Default)]
pub(super) struct Gone {
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
pub(super) struct DisconnectOnDrop(pub(super) Arc<Gone>);

impl Drop for DisconnectOnDrop {
    fn drop(&mut self) {
        self.0.set.store(true, Ordering::Release);
        self.0.notify.notify_waiters();
    }
}

pub(super) struct RequestBody {
    ready: Option<Bytes>,
    body: Option<Body>,
    finished: bool,
    received: usize,
    limit: usize,
    pub(super) fault: Arc<FaultFlag>,
}

impl RequestBody {
    pub(super) fn ready(bytes: Bytes) -> Self {
        RequestBody {
            ready: Some(bytes),
            body: None,
            finished: false,
            received: 0,
            limit: usize::MAX,
            fault: Arc::new(FaultFlag::default()),
        }
    }

    pub(super) fn streaming(body: Body, limit: usize) -> Self {
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

/// `receive()`: awaitable of the next `http.request` chunk, then `http.disconnect`.
#[pyclass(module = "puff._native", name = "AsgiReceive", frozen)]
pub(super) struct AsgiReceive {
    pub(super) input: Arc<tokio::sync::Mutex<RequestBody>>,
    pub(super) disconnect: Arc<Gone>,
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
