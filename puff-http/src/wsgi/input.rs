//! `wsgi.input`: a file-like reader over the request body, filled from Tokio as the app
//! reads (bounded by `max_request_body_bytes`, faults recorded for the handler's answer).

use std::sync::{Arc, Mutex};

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::pyo3::types::{PyBytes, PyList};
use puff_greenlet::{exceptions, wait_for};

use crate::body::{BodyFault, FaultFlag, InputSource, ReadFailure};

/// In the `PuffIOError` raised when reading the request body failed.
pub(super) const BODY_READ_FAILED: &str = "error reading the request body";

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
pub(super) struct WsgiInput {
    state: Mutex<InputState>,
}

impl WsgiInput {
    /// The reader over `input`; a streamed body may bring up to `limit` bytes, and read
    /// faults are recorded on `fault`.
    pub(super) fn new(input: InputSource, limit: usize, fault: &Arc<FaultFlag>) -> Self {
        let state = match input {
            InputSource::Ready(bytes) => InputState::ready(bytes),
            InputSource::Streaming(body) => InputState::streaming(body, limit, fault.clone()),
        };
        WsgiInput {
            state: Mutex::new(state),
        }
    }

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
