//! Request bodies as the WSGI and ASGI adapters see them: the declared length checked and
//! small bodies read before the app starts ([`incoming_body`]), why reading one failed, the
//! early error response each reason gets (413, 400, 408), and the stall timeout that turns a
//! body which stops arriving into a 408.

use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;

/// Bodies up to this size (with a Content-Length) are read before the app starts.
pub(crate) const PRELOAD_BODY_BYTES: u64 = 64 * 1024;

/// A request body as the adapters receive it.
pub(crate) enum InputSource {
    /// Small bodies with a Content-Length, read before the app starts.
    Ready(Bytes),
    /// Everything else, read as the app asks for it.
    Streaming(Body),
}

/// Check the declared length against `max_body` (413) and read small declared bodies now.
/// `Err` is the response to send instead of running the app.
pub(crate) async fn incoming_body(
    parts: &http::request::Parts,
    body: Body,
    max_body: usize,
) -> Result<InputSource, Response> {
    let content_length = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let refuse = |fault: BodyFault, detail: &str| {
        let uri = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        fault.log(parts.method.as_str(), uri, detail);
        fault.response(max_body)
    };
    match content_length {
        Some(len) if len > max_body as u64 => Err(refuse(
            BodyFault::TooLarge,
            &format!("Content-Length {len} over {max_body} bytes"),
        )),
        Some(len) if len <= PRELOAD_BODY_BYTES => {
            match http_body_util::Limited::new(body, max_body).collect().await {
                Ok(collected) => Ok(InputSource::Ready(collected.to_bytes())),
                Err(e) => Err(match ReadFailure::of(&*e) {
                    ReadFailure::Fault(fault, detail) => refuse(fault, &detail),
                    // Nobody is left to read an answer; this one only ends the request.
                    ReadFailure::ClientGone(_) => BodyFault::Truncated.response(max_body),
                }),
            }
        }
        _ => Ok(InputSource::Streaming(body)),
    }
}

/// Why the app could not have the whole request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum BodyFault {
    /// More than `max_request_body_bytes`: 413.
    TooLarge = 1,
    /// Bad chunked framing (size line, extension, terminator): 400.
    Malformed = 2,
    /// The connection ended before the declared end of the body: 400 (if anyone listens).
    Truncated = 3,
    /// No data for `body_read_timeout_ms`: 408.
    Stalled = 4,
}

/// The body's fault, set by whoever reads the body and read by the handler once the app
/// has returned, so that the answer is the fault's status, not the app's 500.
#[derive(Debug, Default)]
pub(crate) struct FaultFlag {
    kind: AtomicU8,
    detail: std::sync::OnceLock<String>,
}

impl FaultFlag {
    pub(crate) fn set(&self, fault: BodyFault, detail: String) {
        let _ = self.detail.set(detail);
        self.kind.store(fault as u8, Ordering::Release);
    }

    pub(crate) fn get(&self) -> Option<BodyFault> {
        match self.kind.load(Ordering::Acquire) {
            1 => Some(BodyFault::TooLarge),
            2 => Some(BodyFault::Malformed),
            3 => Some(BodyFault::Truncated),
            4 => Some(BodyFault::Stalled),
            _ => None,
        }
    }

    /// What was wrong, in the words of whoever found it.
    pub(crate) fn detail(&self) -> &str {
        self.detail.get().map_or("", String::as_str)
    }
}

/// A failed body read: a fault of the request, or the client going away.
#[derive(Debug)]
pub(crate) enum ReadFailure {
    Fault(BodyFault, String),
    /// Reset or closed mid-body with nothing to answer: logged at INFO, not as an error.
    ClientGone(String),
}

impl ReadFailure {
    /// Records a fault on `flag` (departures are not faults); returns the detail text.
    pub(crate) fn record(self, flag: &FaultFlag) -> String {
        match self {
            ReadFailure::Fault(fault, detail) => {
                flag.set(fault, detail.clone());
                detail
            }
            ReadFailure::ClientGone(detail) => detail,
        }
    }

    /// Classifies an error from a request body's `poll_frame`.
    pub(crate) fn of(err: &(dyn std::error::Error + 'static)) -> ReadFailure {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
        while let Some(e) = cause {
            if let Some(stalled) = e.downcast_ref::<BodyStalled>() {
                return ReadFailure::Fault(BodyFault::Stalled, stalled.to_string());
            }
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                // hyper's chunked decoder reports bad framing as InvalidInput/InvalidData and
                // an early end (a client that half-closed, or a truncating proxy) as
                // UnexpectedEof; resets and broken pipes are the client going away.
                return match io.kind() {
                    std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData => {
                        ReadFailure::Fault(BodyFault::Malformed, io.to_string())
                    }
                    std::io::ErrorKind::UnexpectedEof => {
                        ReadFailure::Fault(BodyFault::Truncated, io.to_string())
                    }
                    _ => ReadFailure::ClientGone(io.to_string()),
                };
            }
            cause = e.source();
        }
        ReadFailure::ClientGone(err.to_string())
    }
}

impl BodyFault {
    /// One accurate log line: a truncated body at INFO (almost always a client that went
    /// away), the others at WARN.
    pub(crate) fn log(self, method: &str, uri: &str, detail: &str) {
        if self == BodyFault::Truncated {
            tracing::info!(
                target: "puff::http",
                "{method} {uri}: request body truncated, the client ended the connection early ({detail})"
            );
        } else {
            tracing::warn!(target: "puff::http", "{method} {uri}: {} ({detail})", self.describe());
        }
    }

    fn describe(self) -> &'static str {
        match self {
            BodyFault::TooLarge => "request body over the size limit (413)",
            BodyFault::Malformed => "malformed request body (400)",
            BodyFault::Truncated => "request body truncated (400)",
            BodyFault::Stalled => "request body stalled (408)",
        }
    }

    /// The response for this fault. It carries [`CloseConnection`]: the rest of the body
    /// is unread, so the connection cannot carry another request.
    pub(crate) fn response(self, max_body: usize) -> Response {
        let (status, text) = match self {
            BodyFault::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("Payload Too Large: request bodies are limited to {max_body} bytes\n"),
            ),
            BodyFault::Malformed => (
                StatusCode::BAD_REQUEST,
                "Bad Request: malformed chunked request body\n".to_owned(),
            ),
            BodyFault::Truncated => (
                StatusCode::BAD_REQUEST,
                "Bad Request: the request body ended early\n".to_owned(),
            ),
            BodyFault::Stalled => (
                StatusCode::REQUEST_TIMEOUT,
                "Request Timeout: the request body stopped arriving\n".to_owned(),
            ),
        };
        let mut response = (status, text).into_response();
        response.extensions_mut().insert(CloseConnection);
        response
    }
}

/// Marks a response after which an HTTP/1.x connection must close (`Connection: close`):
/// sent before the request body was read to its end.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CloseConnection;

/// A body that stopped arriving for longer than `body_read_timeout_ms`.
#[derive(Debug, thiserror::Error)]
#[error("no request body data for {} ms (body_read_timeout_ms)", .0.as_millis())]
pub(crate) struct BodyStalled(Duration);

/// The request body with a stall timeout: only the time the reader spends waiting for the
/// client counts, never the time the app takes between reads.
pub(crate) struct StallGuard {
    inner: Incoming,
    limit: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
    waiting: bool,
}

impl StallGuard {
    pub(crate) fn new(inner: Incoming, limit: Duration) -> Self {
        StallGuard {
            inner,
            limit,
            timer: Box::pin(tokio::time::sleep(limit)),
            waiting: false,
        }
    }
}

impl HttpBody for StallGuard {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.waiting = false;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                if !this.waiting {
                    this.waiting = true;
                    let deadline = tokio::time::Instant::now() + this.limit;
                    this.timer.as_mut().reset(deadline);
                }
                match this.timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyStalled(this.limit))))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_flag_round_trips() {
        let flag = FaultFlag::default();
        assert_eq!(flag.get(), None);
        for fault in [
            BodyFault::TooLarge,
            BodyFault::Malformed,
            BodyFault::Truncated,
            BodyFault::Stalled,
        ] {
            flag.set(fault, String::new());
            assert_eq!(flag.get(), Some(fault));
        }
    }

    #[test]
    fn classification_follows_the_cause_chain() {
        #[derive(Debug, thiserror::Error)]
        #[error("body error")]
        struct Wrapper(#[source] std::io::Error);

        let bad = Wrapper(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "Invalid chunk size line",
        ));
        assert!(matches!(
            ReadFailure::of(&bad),
            ReadFailure::Fault(BodyFault::Malformed, d) if d.contains("chunk size")
        ));
        let eof = Wrapper(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "early eof",
        ));
        assert!(matches!(
            ReadFailure::of(&eof),
            ReadFailure::Fault(BodyFault::Truncated, _)
        ));
        let reset = Wrapper(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(matches!(
            ReadFailure::of(&reset),
            ReadFailure::ClientGone(_)
        ));
        let stalled = BodyStalled(Duration::from_millis(5));
        assert!(matches!(
            ReadFailure::of(&stalled),
            ReadFailure::Fault(BodyFault::Stalled, d) if d.contains("5 ms")
        ));
    }

    #[test]
    fn fault_responses_close_the_connection() {
        let response = BodyFault::Stalled.response(10);
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        assert!(response.extensions().get::<CloseConnection>().is_some());
        assert_eq!(
            BodyFault::TooLarge.response(10).status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            BodyFault::Malformed.response(10).status(),
            StatusCode::BAD_REQUEST
        );
    }
}
