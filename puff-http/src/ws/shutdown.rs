//! Per-server websocket bookkeeping: upgraded connections are no longer hyper's, so the
//! server counts them and tells them to close (1001) when it shuts down.

use std::sync::Arc;

use tokio::sync::watch;

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
