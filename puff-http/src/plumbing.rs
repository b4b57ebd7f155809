//! Plumbing the Python adapters share (WSGI, ASGI `http` and `websocket`): the client's
//! address, percent-decoded paths, the [`Reply`] a Python call hands back to Tokio (a full
//! body or one streamed through a bounded channel), the 500 answer, and the awaitable that
//! sends into a channel from Python. Request bodies are [`crate::body`]'s.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body::Frame;
use puff_greenlet::pyo3::prelude::*;
use tokio::sync::mpsc;

/// Chunks in flight between the app and the client when streaming.
pub(crate) const STREAM_CHANNEL_CHUNKS: usize = 16;

/// The client's address, when the server was started with connect info.
pub(crate) fn remote_addr(req: &Request<Body>) -> Option<SocketAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}

/// A URL path with its `%XX` escapes decoded, as bytes (they need not be UTF-8).
pub(crate) fn percent_decode(path: &str) -> Vec<u8> {
    percent_encoding::percent_decode_str(path).collect()
}

/// The answer when the app failed before sending anything.
pub(crate) fn internal_error() -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error\n").into_response()
}

/// An awaitable (or, in a greenlet, a wait) that sends `item` into the response channel;
/// raises `OSError(closed)` if the other side is gone.
pub(crate) fn send_or_oserror<T: Send + 'static>(
    py: Python<'_>,
    tx: mpsc::Sender<T>,
    item: T,
    closed: &'static str,
) -> PyResult<Py<PyAny>> {
    puff_greenlet::aio::wait_or_await(
        py,
        async move { tx.send(item).await.is_ok() },
        Box::new(move |py, sent| {
            if sent {
                Ok(py.None())
            } else {
                Err(puff_greenlet::pyo3::exceptions::PyOSError::new_err(closed))
            }
        }),
    )
}

/// What the Python side sends back to the Tokio side.
pub(crate) enum Reply {
    Full {
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
    },
    Streaming {
        status: StatusCode,
        headers: HeaderMap,
        first: Vec<Bytes>,
        rest: mpsc::Receiver<Result<Bytes, std::io::Error>>,
    },
    Error,
}

impl Reply {
    pub(crate) fn streaming(&self) -> bool {
        matches!(self, Reply::Streaming { .. })
    }

    pub(crate) fn into_response(self) -> Response {
        self.into_response_with(None)
    }

    /// Like `into_response`; `on_drop` lives as long as a streamed body does.
    pub(crate) fn into_response_with(self, on_drop: Option<Box<dyn Send>>) -> Response {
        match self {
            Reply::Full {
                status,
                headers,
                body,
            } => {
                let mut resp = Response::new(Body::from(body));
                *resp.status_mut() = status;
                *resp.headers_mut() = headers;
                resp
            }
            Reply::Streaming {
                status,
                headers,
                first,
                rest,
            } => {
                let mut resp = Response::new(Body::new(ChannelBody {
                    first: first.into_iter().collect(),
                    rest,
                    _on_drop: on_drop,
                }));
                *resp.status_mut() = status;
                *resp.headers_mut() = headers;
                resp
            }
            Reply::Error => internal_error(),
        }
    }
}

/// Response body fed by the Python side.
struct ChannelBody {
    first: std::collections::VecDeque<Bytes>,
    rest: mpsc::Receiver<Result<Bytes, std::io::Error>>,
    /// Dropped with the body: when the response is done or the client went away.
    _on_drop: Option<Box<dyn Send>>,
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(chunk) = self.first.pop_front() {
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        match self.rest.poll_recv(cx) {
            Poll::Ready(Some(Ok(chunk))) => Poll::Ready(Some(Ok(Frame::data(chunk)))),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_decode_to_bytes() {
        assert_eq!(percent_decode("/a%20b/%C3%A9"), b"/a b/\xc3\xa9".to_vec());
        assert_eq!(percent_decode("/plain"), b"/plain".to_vec());
    }
}
