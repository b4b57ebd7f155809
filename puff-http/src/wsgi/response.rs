//! The WSGI response: the `start_response` callable, which also owns the response as the
//! app produces it (buffered until the app waits or the body passes a threshold, then
//! streamed through a bounded channel), and the checks on status lines and headers.

use std::sync::Mutex;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use puff_greenlet::pyo3::exceptions::{PyAssertionError, PyTypeError, PyValueError};
use puff_greenlet::pyo3::intern;
use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::pyo3::types::PyBytes;
use puff_greenlet::{exceptions, wait_for};
use tokio::sync::{mpsc, oneshot};

use crate::plumbing::{Reply, STREAM_CHANNEL_CHUNKS};

/// Past this much buffered output the response switches to streaming.
const STREAM_AFTER_BYTES: usize = 256 * 1024;

/// In the `PuffIOError` raised when the client went away while the app wrote.
pub(super) const CLIENT_GONE: &str = "client disconnected";

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
    // Sized to the app's headers: hyper keeps a response's (emptied) map per connection
    // for reuse, so a default-sized one would stay allocated on every idle connection.
    let mut map = HeaderMap::with_capacity(headers.len().unwrap_or(0));
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
pub(super) struct StartResponse {
    state: Mutex<ResponseState>,
}

impl StartResponse {
    pub(super) fn new(reply: oneshot::Sender<Reply>) -> Self {
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

    pub(super) fn push(&self, py: Python<'_>, item: &Bound<'_, PyAny>) -> PyResult<()> {
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
    pub(super) fn flush_for_wait(&self, _py: Python<'_>) {
        if let Ok(mut state) = self.state.lock()
            && state.status.is_some()
            && matches!(&state.output, Output::Buffering { size, .. } if *size > 0)
        {
            start_streaming(&mut state);
        }
    }

    /// The app returned and its iterable is exhausted: send what is buffered.
    pub(super) fn finish(&self) -> PyResult<()> {
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
    pub(super) fn fail(&self) {
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
