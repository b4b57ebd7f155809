//! Websocket connections (RFC 6455): the per-server tracker that closes them on shutdown,
//! the upgrade handshake, and the connection task with its codec on hyper's upgraded
//! connection (pings answered, fragments joined, text validated as UTF-8, messages bigger
//! than `max_request_body_bytes` closed with 1009, open connections closed with 1001 on
//! server shutdown). The ASGI `websocket` scope is in `asgi::websocket`, the Rust API in
//! [`crate::ws`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use sha1::Digest;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, watch};

const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// How long a closing handshake may wait for the peer's close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);
/// Messages buffered towards the app / towards the client.
pub(crate) const CHANNEL_MESSAGES: usize = 16;

/// Per-server websocket bookkeeping, put into every request's extensions by [`crate::serve`]:
/// the shutdown signal and the number of open websockets.
#[derive(Clone)]
pub struct WebsocketTracker {
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) open: Arc<watch::Sender<usize>>,
}

/// The server side of a [`WebsocketTracker`].
pub struct WebsocketShutdown {
    shutdown: watch::Sender<bool>,
    open: Arc<watch::Sender<usize>>,
}

impl WebsocketShutdown {
    pub fn new() -> (WebsocketShutdown, WebsocketTracker) {
        let (shutdown, rx) = watch::channel(false);
        let open = Arc::new(watch::channel(0).0);
        (
            WebsocketShutdown {
                shutdown,
                open: open.clone(),
            },
            WebsocketTracker { shutdown: rx, open },
        )
    }

    /// Ask every open websocket to close with 1001 (server going away).
    pub fn begin(&self) {
        self.shutdown.send_replace(true);
    }

    /// Resolves once no websocket connection is open.
    pub async fn wait_closed(&self) {
        let mut rx = self.open.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }
}

pub(crate) struct OpenGuard(Arc<watch::Sender<usize>>);

impl OpenGuard {
    pub(crate) fn new(open: Arc<watch::Sender<usize>>) -> Self {
        open.send_modify(|n| *n += 1);
        OpenGuard(open)
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// True for an HTTP/1.1 websocket upgrade request (RFC 6455 section 4.2.1).
pub fn is_upgrade(req: &Request<Body>) -> bool {
    is_upgrade_head(req.method(), req.headers())
}

/// [`is_upgrade`] on a request's method and headers.
pub(crate) fn is_upgrade_head(method: &http::Method, h: &HeaderMap) -> bool {
    fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    }
    method == http::Method::GET
        && has_token(h, header::UPGRADE, "websocket")
        && has_token(h, header::CONNECTION, "upgrade")
        && h.contains_key(header::SEC_WEBSOCKET_KEY)
        && h.get(header::SEC_WEBSOCKET_VERSION)
            .is_some_and(|v| v.as_bytes() == b"13")
}

/// The subprotocols a client offers in `Sec-WebSocket-Protocol`.
pub(crate) fn offered_subprotocols(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

pub(crate) fn accept_key(key: &[u8]) -> String {
    let mut sha = sha1::Sha1::new();
    sha.update(key);
    sha.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// Events for the app's `receive()`.
pub(crate) enum Incoming {
    Connect,
    Text(String),
    Binary(Bytes),
}

/// Frames for the client.
pub(crate) enum Outgoing {
    Text(String),
    Binary(Bytes),
    Pong(Bytes),
    Close(u16, String),
}

pub(crate) struct Shared {
    /// The close code reported with `websocket.disconnect`.
    pub(crate) code: Mutex<u16>,
    /// The server sent (or queued) a close frame.
    pub(crate) closed: AtomicBool,
}

impl Shared {
    /// Open; the close code reads 1006 (abnormal) until a close says otherwise.
    pub(crate) fn new() -> Arc<Shared> {
        Arc::new(Shared {
            code: Mutex::new(1006),
            closed: AtomicBool::new(false),
        })
    }
}

/// The 101 answer to an accepted upgrade request with key `key`.
pub(crate) fn switching_protocols(
    key: &[u8],
    subprotocol: Option<String>,
    extra: &HeaderMap,
) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    for (name, value) in extra {
        headers.append(name, value.clone());
    }
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&accept_key(key)) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    if let Some(p) = subprotocol.and_then(|p| HeaderValue::from_str(&p).ok()) {
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, p);
    }
    response
}

/// The two queues between a connection task and whoever handles its messages.
pub(crate) struct Channels {
    pub(crate) in_tx: mpsc::Sender<Incoming>,
    pub(crate) out_tx: mpsc::Sender<Outgoing>,
    pub(crate) out_rx: mpsc::Receiver<Outgoing>,
    pub(crate) shared: Arc<Shared>,
}

/// Once the upgrade completes, run the connection on Tokio (counted as open until it ends,
/// closed with 1001 when the server shuts down).
pub(crate) fn spawn_connection(
    on_upgrade: hyper::upgrade::OnUpgrade,
    tracker: WebsocketTracker,
    channels: Channels,
    max_message: usize,
) {
    let guard = OpenGuard::new(tracker.open.clone());
    let shutdown = tracker.shutdown;
    tokio::spawn(async move {
        let _guard = guard;
        let Channels {
            in_tx,
            out_tx,
            out_rx,
            shared,
        } = channels;
        match on_upgrade.await {
            Ok(upgraded) => {
                connection(
                    TokioIo::new(upgraded),
                    in_tx,
                    out_tx,
                    out_rx,
                    shared,
                    max_message,
                    shutdown,
                )
                .await;
            }
            Err(e) => {
                tracing::debug!(target: "puff::http", "websocket upgrade failed: {e}");
                shared.closed.store(true, Ordering::Release);
            }
        }
    });
}

/// Drive one upgraded connection until it is closed.
async fn connection<S>(
    io: S,
    in_tx: mpsc::Sender<Incoming>,
    out_tx: mpsc::Sender<Outgoing>,
    mut out_rx: mpsc::Receiver<Outgoing>,
    shared: Arc<Shared>,
    max_message: usize,
    mut shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (read, mut write) = tokio::io::split(io);
    let reader_shared = shared.clone();
    let mut reader = tokio::spawn(async move {
        read_loop(
            BufReader::new(read),
            in_tx,
            out_tx,
            &reader_shared,
            max_message,
        )
        .await
    });
    let mut reader_done = false;
    loop {
        tokio::select! {
            frame = out_rx.recv() => {
                let Some(frame) = frame else { break };
                let close = matches!(frame, Outgoing::Close(..));
                if write_frame(&mut write, frame).await.is_err() {
                    break;
                }
                if close {
                    break;
                }
            }
            _ = async {
                // A dropped sender (no server) never signals.
                if shutdown.wait_for(|s| *s).await.is_err() {
                    std::future::pending::<()>().await;
                }
            } => {
                if !shared.closed.swap(true, Ordering::AcqRel) {
                    set_code(&shared, 1001);
                    let _ = write_frame(&mut write, Outgoing::Close(1001, String::new())).await;
                }
                break;
            }
            _ = &mut reader, if !reader_done => {
                reader_done = true;
                // Write what the reader queued last (a close reply), then stop.
                while let Ok(frame) = out_rx.try_recv() {
                    let close = matches!(frame, Outgoing::Close(..));
                    if write_frame(&mut write, frame).await.is_err() || close {
                        break;
                    }
                }
                break;
            }
        }
    }
    // No more frames from the app: `send()` now raises.
    shared.closed.store(true, Ordering::Release);
    out_rx.close();
    if !reader_done
        && tokio::time::timeout(CLOSE_TIMEOUT, &mut reader)
            .await
            .is_err()
    {
        reader.abort();
    }
    let _ = write.shutdown().await;
}

pub(crate) fn set_code(shared: &Shared, code: u16) {
    if let Ok(mut c) = shared.code.lock() {
        *c = code;
    }
}

/// Why reading stopped.
enum Stop {
    /// Peer closed with this code (1005 when it sent none).
    Closed(u16),
    /// We close with this code (protocol error, bad UTF-8, too big).
    Fail(u16),
    /// Connection gone.
    Gone,
}

async fn read_loop<R: AsyncRead + Unpin>(
    mut read: R,
    in_tx: mpsc::Sender<Incoming>,
    out_tx: mpsc::Sender<Outgoing>,
    shared: &Shared,
    max_message: usize,
) {
    let stop = read_messages(&mut read, &in_tx, &out_tx, max_message).await;
    match stop {
        Stop::Closed(code) => {
            if !shared.closed.swap(true, Ordering::AcqRel) {
                set_code(shared, code);
                let echo = if code == 1005 { 1000 } else { code };
                let _ = out_tx.send(Outgoing::Close(echo, String::new())).await;
            }
        }
        Stop::Fail(code) => {
            set_code(shared, code);
            if !shared.closed.swap(true, Ordering::AcqRel) {
                let _ = out_tx.send(Outgoing::Close(code, String::new())).await;
            }
        }
        Stop::Gone => {
            if !shared.closed.swap(true, Ordering::AcqRel) {
                set_code(shared, 1006);
            }
        }
    }
    // Dropping `in_tx` delivers `websocket.disconnect`.
}

async fn read_messages<R: AsyncRead + Unpin>(
    read: &mut R,
    in_tx: &mpsc::Sender<Incoming>,
    out_tx: &mpsc::Sender<Outgoing>,
    max_message: usize,
) -> Stop {
    let mut message: Vec<u8> = Vec::new();
    let mut message_opcode: Option<u8> = None;
    loop {
        let mut head = [0u8; 2];
        if read.read_exact(&mut head).await.is_err() {
            return Stop::Gone;
        }
        let fin = head[0] & 0x80 != 0;
        let opcode = head[0] & 0x0f;
        if head[0] & 0x70 != 0 || head[1] & 0x80 == 0 {
            // Reserved bits without an extension, or an unmasked client frame.
            return Stop::Fail(1002);
        }
        let len = match head[1] & 0x7f {
            126 => {
                let mut b = [0u8; 2];
                if read.read_exact(&mut b).await.is_err() {
                    return Stop::Gone;
                }
                u64::from(u16::from_be_bytes(b))
            }
            127 => {
                let mut b = [0u8; 8];
                if read.read_exact(&mut b).await.is_err() {
                    return Stop::Gone;
                }
                u64::from_be_bytes(b)
            }
            n => u64::from(n),
        };
        let control = opcode & 0x08 != 0;
        if control && (!fin || len > 125) {
            return Stop::Fail(1002);
        }
        match opcode {
            0x0 if message_opcode.is_none() => return Stop::Fail(1002),
            0x1 | 0x2 if message_opcode.is_some() => return Stop::Fail(1002),
            0x0..=0x2 | 0x8..=0xa => {}
            _ => return Stop::Fail(1002),
        }
        if !control && (message.len() as u64).saturating_add(len) > max_message as u64 {
            return Stop::Fail(1009);
        }
        let mut mask = [0u8; 4];
        if read.read_exact(&mut mask).await.is_err() {
            return Stop::Gone;
        }
        let mut payload = vec![0u8; len as usize];
        if read.read_exact(&mut payload).await.is_err() {
            return Stop::Gone;
        }
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
        match opcode {
            0x8 => {
                if payload.is_empty() {
                    return Stop::Closed(1005);
                }
                if payload.len() == 1 {
                    return Stop::Fail(1002);
                }
                let code = u16::from_be_bytes([payload[0], payload[1]]);
                if std::str::from_utf8(&payload[2..]).is_err() {
                    return Stop::Fail(1007);
                }
                let valid = matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999);
                return if valid {
                    Stop::Closed(code)
                } else {
                    Stop::Fail(1002)
                };
            }
            0x9 => {
                if out_tx.send(Outgoing::Pong(payload.into())).await.is_err() {
                    return Stop::Gone;
                }
                continue;
            }
            0xa => continue,
            0x0 => message.extend_from_slice(&payload),
            _ => {
                message_opcode = Some(opcode);
                message = payload;
            }
        }
        if !fin {
            continue;
        }
        let data = std::mem::take(&mut message);
        let event = match message_opcode.take() {
            Some(0x1) => match String::from_utf8(data) {
                Ok(text) => Incoming::Text(text),
                Err(_) => return Stop::Fail(1007),
            },
            _ => Incoming::Binary(data.into()),
        };
        if in_tx.send(event).await.is_err() {
            // The app is gone; close normally.
            return Stop::Fail(1000);
        }
    }
}

async fn write_frame<W: AsyncWrite + Unpin>(write: &mut W, frame: Outgoing) -> std::io::Result<()> {
    let (opcode, payload): (u8, Vec<u8>) = match frame {
        Outgoing::Text(t) => (0x1, t.into_bytes()),
        Outgoing::Binary(b) => (0x2, b.to_vec()),
        Outgoing::Pong(b) => (0xa, b.to_vec()),
        Outgoing::Close(code, reason) => {
            let mut p = code.to_be_bytes().to_vec();
            // Control frames carry at most 125 bytes: trim the reason on a char boundary.
            let mut end = reason.len().min(123);
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            p.extend_from_slice(&reason.as_bytes()[..end]);
            (0x8, p)
        }
    };
    let mut frame = Vec::with_capacity(payload.len() + 10);
    frame.push(0x80 | opcode);
    let len = payload.len();
    if len < 126 {
        frame.push(len as u8);
    } else if len <= usize::from(u16::MAX) {
        frame.push(126);
        frame.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        frame.push(127);
        frame.extend_from_slice(&(len as u64).to_be_bytes());
    }
    frame.extend_from_slice(&payload);
    write.write_all(&frame).await?;
    write.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_matches_rfc_6455_example() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
