//! One accepted connection: HTTP/1.1 or HTTP/2 (h2c or ALPN) on hyper, with Puff's
//! connection timeouts, graceful stop and lingering close.
//!
//! hyper's own HTTP/1 header timeout also runs while a kept-alive connection is idle, so
//! the two could not differ; here a small watchdog beside the connection decides instead,
//! from what the connection is doing:
//! - waiting for a request head (the first one, or one whose first byte arrived): closed
//!   after `header_read_timeout_ms`;
//! - idle between requests: closed after `keep_alive_timeout_ms` (HTTP/2 gets a GOAWAY);
//! - serving a request: no connection timeout (`body_read_timeout_ms` covers bodies).
//!
//! A connection Puff closes while the client may still be sending (a 413 before the body
//! was read) is closed gracefully: the write side first, then the rest of the input is read
//! and discarded for a bounded time and size, so the client reads the status instead of a
//! reset.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, Version};
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::sync::watch;
use tokio::time::Instant;
use tower::ServiceExt;

use crate::body::{CloseConnection, StallGuard};
use crate::load::{RequestSlot, ServerLoad};
use crate::metrics::RequestMetrics;

/// After a lingering close, input is discarded for at most this long in all...
const LINGER_TOTAL: Duration = Duration::from_secs(30);
/// ... or until the client sends nothing for this long ...
const LINGER_IDLE: Duration = Duration::from_secs(5);
/// ... or this many bytes.
const LINGER_MAX_BYTES: usize = 64 * 1024 * 1024;
/// An HTTP/2 connection told to go away (GOAWAY) is dropped if still open after this.
const GOAWAY_GRACE: Duration = Duration::from_secs(10);
/// On shutdown, how long an idle HTTP/1 connection stays open for its client's next
/// request (answered with `Connection: close`) before it is closed.
const STOP_IDLE_GRACE: Duration = Duration::from_secs(1);

/// The per-connection limits, from `HttpConfig` (`None`: off).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConnLimits {
    pub header_read: Option<Duration>,
    pub keep_alive: Option<Duration>,
    pub body_read: Option<Duration>,
}

impl ConnLimits {
    /// How often a busy connection looks again whether it became idle.
    fn recheck(&self) -> Option<Duration> {
        match (self.header_read, self.keep_alive) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// What every connection shares: the app, the protocol settings, the limits.
pub(crate) struct ConnShared {
    pub app: axum::Router,
    pub load: Arc<ServerLoad>,
    pub builder: auto::Builder<TokioExecutor>,
    pub limits: ConnLimits,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
}

impl ConnShared {
    pub(crate) fn new(
        app: axum::Router,
        load: Arc<ServerLoad>,
        limits: ConnLimits,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> Self {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // Websockets over HTTP/2 (RFC 8441) need the extended CONNECT protocol.
        builder.http2().enable_connect_protocol();
        ConnShared {
            app,
            load,
            builder,
            limits,
            tls,
        }
    }
}

/// Serves one accepted TCP connection until it ends, times out or the server stops.
pub(crate) async fn serve_connection(
    shared: Arc<ConnShared>,
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    stop: watch::Receiver<bool>,
) {
    // No Nagle delay on responses written in pieces (streamed bodies, websockets).
    let _ = tcp.set_nodelay(true);
    let activity = Arc::new(Activity::new());
    match &shared.tls {
        None => {
            let io = TrackedIo::new(tcp, activity.clone());
            drive(&shared, io, peer, false, activity, stop).await;
        }
        // Boxed: a TLS connection's state is several KB larger, and every plain connection's
        // task would otherwise be sized for it (idle connections are counted in thousands).
        Some(acceptor) => Box::pin(serve_tls(&shared, acceptor, tcp, peer, activity, stop)).await,
    }
}

async fn serve_tls(
    shared: &ConnShared,
    acceptor: &tokio_rustls::TlsAcceptor,
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    activity: Arc<Activity>,
    stop: watch::Receiver<bool>,
) {
    // The handshake is part of the request head's time.
    let handshake = shared.limits.header_read.unwrap_or(Duration::from_secs(10));
    match tokio::time::timeout(handshake, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => {
            if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
                activity.h2.store(true, Ordering::Relaxed);
            }
            let io = TrackedIo::new(tls, activity.clone());
            drive(shared, io, peer, true, activity, stop).await;
        }
        Ok(Err(e)) => {
            tracing::debug!(target: "puff::http", "TLS handshake with {peer} failed: {e}")
        }
        Err(_) => {
            tracing::debug!(target: "puff::http", "TLS handshake with {peer} timed out")
        }
    }
}

/// Why the watchdog acts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expiry {
    /// A request head did not arrive within `header_read_timeout_ms`.
    Head,
    /// No request for `keep_alive_timeout_ms`.
    Idle,
}

async fn drive<T>(
    shared: &ConnShared,
    io: TrackedIo<T>,
    peer: SocketAddr,
    tls: bool,
    activity: Arc<Activity>,
    mut stop: watch::Receiver<bool>,
) where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = {
        let app = shared.app.clone();
        let activity = activity.clone();
        let load = shared.load.clone();
        let stall = shared.limits.body_read;
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let guard = activity.request_started(&load, req.method());
            // Boxed: hyper keeps the slot for a request's future for the connection's whole
            // life, so an unboxed future would cost its full size on every idle connection.
            Box::pin(handle(app.clone(), guard, req, peer, tls, stall))
        })
    };
    let conn = shared
        .builder
        .serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);
    let limits = shared.limits;
    let mut stopping = false;
    let mut goaway_deadline: Option<Instant> = None;
    let mut drain_deadline: Option<Instant> = None;
    loop {
        let now = Instant::now();
        let wake = match (
            activity.deadline(&limits),
            goaway_deadline.or(drain_deadline),
        ) {
            (_, Some(at)) => Some(at),
            (Some((_, at)), None) => Some(at),
            (None, None) => limits.recheck().map(|d| now + d),
        };
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(target: "puff::http", "connection from {peer} ended: {e}");
                }
                return;
            }
            _ = sleep_until(wake) => {
                if goaway_deadline.is_some_and(|at| at <= Instant::now()) {
                    tracing::debug!(target: "puff::http", "{peer}: closed {GOAWAY_GRACE:?} after GOAWAY");
                    return;
                }
                if drain_deadline.is_some_and(|at| at <= Instant::now()) {
                    if activity.in_flight() == 0 {
                        return;
                    }
                    drain_deadline = None;
                    conn.as_mut().graceful_shutdown();
                }
                match activity.deadline(&limits) {
                    Some((Expiry::Head, at)) if at <= Instant::now() => {
                        tracing::debug!(
                            target: "puff::http",
                            "{peer}: no complete request head within header_read_timeout_ms; closing"
                        );
                        return;
                    }
                    Some((Expiry::Idle, at)) if at <= Instant::now() => {
                        if !activity.h2.load(Ordering::Relaxed) {
                            tracing::debug!(target: "puff::http", "{peer}: idle past keep_alive_timeout_ms; closing");
                            return;
                        }
                        if goaway_deadline.is_none() {
                            tracing::debug!(target: "puff::http", "{peer}: idle past keep_alive_timeout_ms; GOAWAY");
                            conn.as_mut().graceful_shutdown();
                            goaway_deadline = Some(Instant::now() + GOAWAY_GRACE);
                        }
                    }
                    _ => {}
                }
            }
            _ = stop.changed(), if !stopping => {
                stopping = true;
                // Every HTTP/1 response from now on says `Connection: close`, so a client
                // reconnects (to another worker, or to a successor) instead of sending
                // into a connection that is about to close.
                activity.closing.store(true, Ordering::Release);
                if activity.in_flight() == 0 && !activity.h2.load(Ordering::Relaxed) {
                    // Idle, or a head still arriving: a busy client's next request comes
                    // within the grace and gets its answer with `Connection: close`; a
                    // quiet or half-sent one cannot hold the shutdown longer than that.
                    drain_deadline = Some(Instant::now() + STOP_IDLE_GRACE);
                } else {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn handle(
    app: axum::Router,
    mut guard: InFlight,
    req: Request<Incoming>,
    peer: SocketAddr,
    tls: bool,
    stall: Option<Duration>,
) -> Result<Response<TrackedBody>, Infallible> {
    if req.version() == Version::HTTP_2 {
        guard.activity.h2.store(true, Ordering::Relaxed);
    }
    let version = req.version();
    let mut req = req.map(|body| match stall {
        Some(limit) => Body::new(StallGuard::new(body, limit)),
        None => Body::new(body),
    });
    req.extensions_mut().insert(ConnectInfo(peer));
    if tls {
        req.extensions_mut().insert(crate::tls::TlsConnection);
    }
    let Ok(mut response) = app.oneshot(req).await;
    // 408, 413 and 431 are sent before the request was read to its end; so is anything the
    // adapters mark. HTTP/1 must close after them (HTTP/2 streams end on their own).
    guard.metrics.answered(response.status());
    let status = response.status().as_u16();
    if version < Version::HTTP_2
        && (matches!(status, 408 | 413 | 431)
            || response.extensions().get::<CloseConnection>().is_some()
            || guard.activity.closing.load(Ordering::Acquire))
    {
        response
            .headers_mut()
            .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
    Ok(response.map(|body| TrackedBody {
        body,
        _guard: guard,
    }))
}

/// What the watchdog reads; written by the I/O wrapper and the request handling.
struct Activity {
    born: Instant,
    in_flight: AtomicUsize,
    requests: AtomicU64,
    /// Milliseconds after `born` when the last response finished.
    idle_since_ms: AtomicU64,
    /// 1 + milliseconds after `born` of the first byte since then (0: none yet).
    head_started_ms: AtomicU64,
    h2: AtomicBool,
    /// The server is stopping: responses close the connection.
    closing: AtomicBool,
}

impl Activity {
    fn new() -> Self {
        Activity {
            born: Instant::now(),
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            idle_since_ms: AtomicU64::new(0),
            head_started_ms: AtomicU64::new(0),
            h2: AtomicBool::new(false),
            closing: AtomicBool::new(false),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn at(&self, ms: u64) -> Instant {
        self.born + Duration::from_millis(ms)
    }

    fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    fn bytes_read(&self, first: &[u8]) {
        if self.in_flight() == 0 && self.head_started_ms.load(Ordering::Relaxed) == 0 {
            if self.requests.load(Ordering::Relaxed) == 0 && first.starts_with(b"PRI * HTTP/2") {
                self.h2.store(true, Ordering::Relaxed);
            }
            self.head_started_ms
                .store(self.now_ms() + 1, Ordering::Release);
        }
    }

    fn request_started(self: &Arc<Self>, load: &Arc<ServerLoad>, method: &Method) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.head_started_ms.store(0, Ordering::Release);
        InFlight {
            activity: self.clone(),
            _slot: load.request_started(),
            metrics: RequestMetrics::start(method),
        }
    }

    /// What the connection waits for and when that wait runs out; `None` while a request
    /// is being served or when the relevant timeout is off.
    fn deadline(&self, limits: &ConnLimits) -> Option<(Expiry, Instant)> {
        if self.in_flight() > 0 {
            return None;
        }
        if !self.h2.load(Ordering::Relaxed) {
            let head = self.head_started_ms.load(Ordering::Acquire);
            if head > 0 {
                return limits
                    .header_read
                    .map(|t| (Expiry::Head, self.at(head - 1) + t));
            }
            if self.requests.load(Ordering::Relaxed) == 0 {
                // A new connection owes its first request head from the start.
                return limits.header_read.map(|t| (Expiry::Head, self.born + t));
            }
        }
        let idle = self.idle_since_ms.load(Ordering::Acquire);
        limits.keep_alive.map(|t| (Expiry::Idle, self.at(idle) + t))
    }
}

/// One request in flight, on its connection and in the server's load; dropped with its
/// response body (sent, or abandoned).
struct InFlight {
    activity: Arc<Activity>,
    _slot: RequestSlot,
    metrics: RequestMetrics,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let activity = &self.activity;
        activity
            .idle_since_ms
            .store(activity.now_ms(), Ordering::Release);
        activity.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The response body, holding its request's [`InFlight`] until hyper is done with it.
pub(crate) struct TrackedBody {
    body: Body,
    _guard: InFlight,
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The connection's byte stream: tells [`Activity`] when a request head starts arriving,
/// and lingers on close when Puff closed first with input possibly unread.
struct TrackedIo<T: AsyncRead + Unpin + Send + 'static> {
    inner: Option<T>,
    activity: Arc<Activity>,
    /// We shut the write side down (hyper closing the connection).
    shut_down: bool,
    /// The client closed its side: nothing left to drain.
    saw_eof: bool,
}

impl<T: AsyncRead + Unpin + Send + 'static> TrackedIo<T> {
    fn new(inner: T, activity: Arc<Activity>) -> Self {
        TrackedIo {
            inner: Some(inner),
            activity,
            shut_down: false,
            saw_eof: false,
        }
    }

    fn inner(&mut self) -> std::io::Result<&mut T> {
        self.inner
            .as_mut()
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotConnected))
    }
}

impl<T: AsyncRead + Unpin + Send + 'static> AsyncRead for TrackedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let inner = match self.inner() {
            Ok(inner) => inner,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let result = std::task::ready!(Pin::new(inner).poll_read(cx, buf));
        if result.is_ok() {
            let read = &buf.filled()[before..];
            if read.is_empty() {
                self.saw_eof = true;
            } else {
                self.activity.bytes_read(read);
            }
        }
        Poll::Ready(result)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncWrite for TrackedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.inner() {
            Ok(inner) => Pin::new(inner).poll_write(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.inner() {
            Ok(inner) => Pin::new(inner).poll_write_vectored(cx, bufs),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.as_ref().is_some_and(|i| i.is_write_vectored())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.inner() {
            Ok(inner) => Pin::new(inner).poll_flush(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.shut_down = true;
        match self.inner() {
            Ok(inner) => Pin::new(inner).poll_shutdown(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl<T: AsyncRead + Unpin + Send + 'static> Drop for TrackedIo<T> {
    fn drop(&mut self) {
        // Closing a socket with unread input makes the kernel send a reset, which can
        // destroy the response still on its way to the client. Drain it first.
        if !self.shut_down || self.saw_eof {
            return;
        }
        if let (Some(io), Ok(runtime)) = (self.inner.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(linger(io));
        }
    }
}

/// Reads and discards what the client still sends after Puff closed its side.
async fn linger<T: AsyncRead + Unpin>(mut io: T) {
    let until = Instant::now() + LINGER_TOTAL;
    let mut scratch = vec![0u8; 16 * 1024];
    let mut drained = 0usize;
    while drained < LINGER_MAX_BYTES {
        let wait = (Instant::now() + LINGER_IDLE).min(until);
        match tokio::time::timeout_at(wait, io.read(&mut scratch)).await {
            Ok(Ok(n)) if n > 0 => drained += n,
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ConnLimits {
        ConnLimits {
            header_read: Some(Duration::from_secs(2)),
            keep_alive: Some(Duration::from_secs(5)),
            body_read: None,
        }
    }

    #[test]
    fn a_new_connection_owes_its_head_from_the_start() {
        let activity = Arc::new(Activity::new());
        let (kind, at) = activity.deadline(&limits()).unwrap();
        assert_eq!(kind, Expiry::Head);
        assert_eq!(at, activity.born + Duration::from_secs(2));
    }

    #[test]
    fn serving_has_no_deadline_and_idle_uses_keep_alive() {
        let activity = Arc::new(Activity::new());
        let guard = activity.request_started(&ServerLoad::new(None, None), &Method::GET);
        assert!(activity.deadline(&limits()).is_none());
        drop(guard);
        let idle = activity.idle_since_ms.load(Ordering::Relaxed);
        let (kind, at) = activity.deadline(&limits()).unwrap();
        assert_eq!(kind, Expiry::Idle);
        assert_eq!(at, activity.at(idle) + Duration::from_secs(5));
    }

    #[test]
    fn a_byte_after_idle_starts_the_head_timer() {
        let activity = Arc::new(Activity::new());
        drop(activity.request_started(&ServerLoad::new(None, None), &Method::GET));
        activity.bytes_read(b"GE");
        let head = activity.head_started_ms.load(Ordering::Relaxed);
        assert!(head > 0);
        let (kind, at) = activity.deadline(&limits()).unwrap();
        assert_eq!(kind, Expiry::Head);
        assert_eq!(at, activity.at(head - 1) + Duration::from_secs(2));
        // The head arriving ends that wait.
        let _serving = activity.request_started(&ServerLoad::new(None, None), &Method::GET);
        assert!(activity.deadline(&limits()).is_none());
    }

    #[test]
    fn http2_connections_only_have_the_idle_timeout() {
        let activity = Arc::new(Activity::new());
        activity.bytes_read(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        assert!(activity.h2.load(Ordering::Relaxed));
        let (kind, _) = activity.deadline(&limits()).unwrap();
        assert_eq!(kind, Expiry::Idle);
    }

    #[test]
    fn off_means_no_deadline() {
        let activity = Arc::new(Activity::new());
        let off = ConnLimits {
            header_read: None,
            keep_alive: None,
            body_read: None,
        };
        assert!(activity.deadline(&off).is_none());
        assert!(off.recheck().is_none());
    }

    /// Idle connections are counted in thousands: a plain connection's task must not carry
    /// the TLS state (7 KB when it did, about 2.3 KB without it).
    #[tokio::test]
    async fn a_plain_connection_task_is_not_sized_for_tls() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (tcp, peer) = listener.accept().await.unwrap();
        let off = ConnLimits {
            header_read: None,
            keep_alive: None,
            body_read: None,
        };
        let shared = Arc::new(ConnShared::new(
            axum::Router::new(),
            ServerLoad::new(None, None),
            off,
            None,
        ));
        let (_stop_tx, stop) = watch::channel(false);
        let task = serve_connection(shared, tcp, peer, stop);
        let size = std::mem::size_of_val(&task);
        assert!(size < 4096, "the connection future is {size} bytes");
    }
}
