//! Websockets (RFC 6455). For Rust handlers, the [`WebSocketUpgrade`] extractor and the
//! [`WebSocket`] it hands over; underneath, the connection both they and the ASGI
//! `websocket` scope use (pings answered, fragments joined, text checked as UTF-8,
//! oversized messages closed with 1009, and open connections closed with 1001 on graceful
//! shutdown).
//!
//! ```ignore
//! use puff_http::ws::{Message, WebSocketUpgrade};
//!
//! async fn echo(ws: WebSocketUpgrade) -> axum::response::Response {
//!     ws.on_upgrade(|mut socket| async move {
//!         while let Some(msg) = socket.recv().await {
//!             if socket.send(msg).await.is_err() {
//!                 break;
//!             }
//!         }
//!     })
//! }
//! let router = puff_http::Router::new().get("/ws", echo);
//! ```

//!
//! - `socket`: the Rust API ([`WebSocketUpgrade`], [`WebSocket`], [`Message`]);
//! - `handshake`: upgrade requests and the 101 answer;
//! - `connection`: the task driving one upgraded connection;
//! - `codec`: reading and writing frames;
//! - `shutdown`: [`WebsocketShutdown`] / [`WebsocketTracker`], closing them with the server.

pub(crate) mod codec;
pub(crate) mod connection;
pub(crate) mod handshake;
pub(crate) mod shutdown;
mod socket;

pub use handshake::is_upgrade;
pub use shutdown::{WebsocketShutdown, WebsocketTracker};
pub use socket::{DEFAULT_MAX_MESSAGE, Message, WebSocket, WebSocketClosed, WebSocketUpgrade};
