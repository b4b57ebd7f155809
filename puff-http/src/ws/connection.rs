//! One upgraded connection, run as a Tokio task: frames from the client go to a channel of
//! [`Incoming`] messages, [`Outgoing`] frames from the handler go to the client, and the
//! closing handshake (echoed close, 1001 on server shutdown, a bounded wait for the peer's
//! close frame) ends it. Shared by the ASGI `websocket` scope and the Rust API.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, watch};

use super::codec::{Incoming, Outgoing, Stop, read_messages, write_frame};
use super::shutdown::{OpenGuard, WebsocketTracker};

/// How long a closing handshake may wait for the peer's close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);
/// Messages buffered towards the app / towards the client.
pub(crate) const CHANNEL_MESSAGES: usize = 16;

/// How a connection is closing, shared by its task and whoever handles its messages.
pub(crate) struct CloseState {
    /// The close code reported with `websocket.disconnect`.
    pub(crate) code: Mutex<u16>,
    /// The server sent (or queued) a close frame.
    pub(crate) closed: AtomicBool,
}

impl CloseState {
    /// Open; the close code reads 1006 (abnormal) until a close says otherwise.
    pub(crate) fn new() -> Arc<CloseState> {
        Arc::new(CloseState {
            code: Mutex::new(1006),
            closed: AtomicBool::new(false),
        })
    }

    pub(crate) fn set_code(&self, code: u16) {
        if let Ok(mut c) = self.code.lock() {
            *c = code;
        }
    }
}

/// The two queues between a connection task and whoever handles its messages.
pub(crate) struct Channels {
    pub(crate) in_tx: mpsc::Sender<Incoming>,
    pub(crate) out_tx: mpsc::Sender<Outgoing>,
    pub(crate) out_rx: mpsc::Receiver<Outgoing>,
    pub(crate) shared: Arc<CloseState>,
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
    shared: Arc<CloseState>,
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
                    shared.set_code(1001);
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

async fn read_loop<R: AsyncRead + Unpin>(
    mut read: R,
    in_tx: mpsc::Sender<Incoming>,
    out_tx: mpsc::Sender<Outgoing>,
    shared: &CloseState,
    max_message: usize,
) {
    let stop = read_messages(&mut read, &in_tx, &out_tx, max_message).await;
    match stop {
        Stop::Closed(code) => {
            if !shared.closed.swap(true, Ordering::AcqRel) {
                shared.set_code(code);
                let echo = if code == 1005 { 1000 } else { code };
                let _ = out_tx.send(Outgoing::Close(echo, String::new())).await;
            }
        }
        Stop::Fail(code) => {
            shared.set_code(code);
            if !shared.closed.swap(true, Ordering::AcqRel) {
                let _ = out_tx.send(Outgoing::Close(code, String::new())).await;
            }
        }
        Stop::Gone => {
            if !shared.closed.swap(true, Ordering::AcqRel) {
                shared.set_code(1006);
            }
        }
    }
    // Dropping `in_tx` delivers `websocket.disconnect`.
}
