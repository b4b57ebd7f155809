//! ASGI 3.0 adapter on Puff's event loop: the `http`, `websocket` and `lifespan` scopes.
//!
//! Each request becomes a task on the asyncio loop the hub runs (`asyncio = true`).
//! `receive()` and `send()` return awaitables resolved from Rust (a native already-complete
//! awaitable when the result is known at once, else an asyncio future): request bodies are
//! read on Tokio as the app asks for them, response chunks go straight to hyper through a
//! bounded channel, and `http.disconnect` is delivered when the client goes away or the
//! response is complete.
//!
//! - `handler`: [`AsgiHandler`], one request's task on the event loop;
//! - `scope`: the connection scope dict;
//! - `receive` / `send`: the `http` scope's callables; `message`: reading the app's messages;
//! - `websocket`: the `websocket` scope (the connection itself is [`crate::ws`]'s);
//! - `lifespan`: [`Lifespan`], startup and shutdown around serving;
//! - `helpers`: the Python half, `puff._asgi_helpers`.

mod handler;
mod helpers;
mod lifespan;
mod message;
mod receive;
mod scope;
mod send;
mod websocket;

pub use handler::AsgiHandler;
pub use lifespan::Lifespan;
