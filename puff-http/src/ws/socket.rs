//! Websockets for Rust handlers: the [`WebSocketUpgrade`] extractor and the [`WebSocket`]
//! it hands over, with [`Message`] and [`WebSocketClosed`].

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, StatusCode, header};
use tokio::sync::mpsc;

use super::codec::{Incoming, Outgoing};
use super::connection::{CHANNEL_MESSAGES, Channels, CloseState, spawn_connection};
use super::handshake::{is_upgrade_head, offered_subprotocols, switching_protocols};
use super::shutdown::{WebsocketShutdown, WebsocketTracker};

/// Largest message accepted by default (the server's default body limit).
pub const DEFAULT_MAX_MESSAGE: usize = crate::config::DEFAULT_MAX_REQUEST_BODY_BYTES;

/// A data message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Text(String),
    Binary(Bytes),
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Message::Text(text)
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Message::Text(text.to_owned())
    }
}

impl From<Vec<u8>> for Message {
    fn from(data: Vec<u8>) -> Self {
        Message::Binary(data.into())
    }
}

/// The connection is closed; nothing more can be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the websocket is closed")]
pub struct WebSocketClosed;

/// Extractor for a websocket upgrade request; answer it with [`WebSocketUpgrade::on_upgrade`].
/// Requests that are not upgrades are rejected with 426 Upgrade Required.
pub struct WebSocketUpgrade {
    on_upgrade: hyper::upgrade::OnUpgrade,
    key: Vec<u8>,
    offered: Vec<String>,
    protocol: Option<String>,
    tracker: WebsocketTracker,
    max_message: usize,
}

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if !is_upgrade_head(&parts.method, &parts.headers) {
            let mut response = (
                StatusCode::UPGRADE_REQUIRED,
                "expected a websocket upgrade (GET with Upgrade: websocket, \
                 Sec-WebSocket-Version: 13)\n",
            )
                .into_response();
            response.headers_mut().insert(
                header::SEC_WEBSOCKET_VERSION,
                http::HeaderValue::from_static("13"),
            );
            return Err(response);
        }
        let Some(on_upgrade) = parts.extensions.remove::<hyper::upgrade::OnUpgrade>() else {
            return Err((
                StatusCode::BAD_REQUEST,
                "this connection cannot be upgraded (websockets need HTTP/1.1)\n",
            )
                .into_response());
        };
        Ok(WebSocketUpgrade {
            on_upgrade,
            key: parts
                .headers
                .get(header::SEC_WEBSOCKET_KEY)
                .map(|k| k.as_bytes().to_vec())
                .unwrap_or_default(),
            offered: offered_subprotocols(&parts.headers),
            protocol: None,
            // Outside `serve` (no tracker) the shutdown signal never fires.
            tracker: parts
                .extensions
                .get::<WebsocketTracker>()
                .cloned()
                .unwrap_or_else(|| WebsocketShutdown::new().1),
            max_message: DEFAULT_MAX_MESSAGE,
        })
    }
}

impl WebSocketUpgrade {
    /// Pick the first of `supported` that the client offered as its subprotocol.
    pub fn protocols<I, P>(mut self, supported: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<str>,
    {
        self.protocol = supported
            .into_iter()
            .find(|p| self.offered.iter().any(|o| o == p.as_ref()))
            .map(|p| p.as_ref().to_owned());
        self
    }

    /// Messages larger than this close the connection with 1009 (default 10 MiB).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message = bytes;
        self
    }

    /// The subprotocols the client offered.
    pub fn offered_protocols(&self) -> &[String] {
        &self.offered
    }

    /// Accept: answer 101 and run `handler` with the connection once it is upgraded.
    pub fn on_upgrade<F, Fut>(self, handler: F) -> Response
    where
        F: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let shared = CloseState::new();
        let (in_tx, in_rx) = mpsc::channel(CHANNEL_MESSAGES);
        let (out_tx, out_rx) = mpsc::channel(CHANNEL_MESSAGES);
        let socket = WebSocket {
            incoming: in_rx,
            outgoing: out_tx.clone(),
            shared: shared.clone(),
            protocol: self.protocol.clone(),
        };
        let channels = Channels {
            in_tx,
            out_tx,
            out_rx,
            shared,
        };
        spawn_connection(self.on_upgrade, self.tracker, channels, self.max_message);
        tokio::spawn(handler(socket));
        switching_protocols(&self.key, self.protocol, &HeaderMap::new())
    }
}

/// An open websocket. Dropping it closes the connection with 1000.
pub struct WebSocket {
    incoming: mpsc::Receiver<Incoming>,
    outgoing: mpsc::Sender<Outgoing>,
    shared: Arc<CloseState>,
    protocol: Option<String>,
}

impl WebSocket {
    /// The next message; `None` once the connection is closed (see [`WebSocket::close_code`]).
    pub async fn recv(&mut self) -> Option<Message> {
        loop {
            match self.incoming.recv().await? {
                Incoming::Text(text) => return Some(Message::Text(text)),
                Incoming::Binary(data) => return Some(Message::Binary(data)),
                Incoming::Connect => continue,
            }
        }
    }

    /// Queue `message` for the client.
    pub async fn send(&self, message: impl Into<Message>) -> Result<(), WebSocketClosed> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(WebSocketClosed);
        }
        let frame = match message.into() {
            Message::Text(text) => Outgoing::Text(text),
            Message::Binary(data) => Outgoing::Binary(data),
        };
        self.outgoing.send(frame).await.map_err(|_| WebSocketClosed)
    }

    /// Close with `code` and `reason` (trimmed to fit a control frame).
    pub async fn close(self, code: u16, reason: &str) {
        if !self.shared.closed.swap(true, Ordering::AcqRel) {
            self.shared.set_code(code);
            let _ = self
                .outgoing
                .send(Outgoing::Close(code, reason.to_owned()))
                .await;
        }
    }

    /// The close code once closed: the peer's (1005 if it sent none), 1006 when the
    /// connection dropped, or ours.
    pub fn close_code(&self) -> Option<u16> {
        if !self.shared.closed.load(Ordering::Acquire) {
            return None;
        }
        self.shared.code.lock().ok().map(|c| *c)
    }

    /// The negotiated subprotocol.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }
}

impl Drop for WebSocket {
    fn drop(&mut self) {
        if !self.shared.closed.swap(true, Ordering::AcqRel) {
            let _ = self.outgoing.try_send(Outgoing::Close(1000, String::new()));
        }
    }
}
