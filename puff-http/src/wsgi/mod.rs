//! PEP 3333 WSGI adapter: each request runs the Python app in its own greenlet.
//!
//! Rust reads the request head (and small bodies) on Tokio, then hands plain data to a
//! worker greenlet, which builds `environ`, calls the app and iterates its result. The
//! response is buffered while the app produces it without waiting; as soon as the app
//! waits on anything (or the body grows past a threshold), the head and what was produced
//! are sent and the rest is streamed through a bounded channel, so the app feels
//! back-pressure from slow clients.
//!
//! - `handler`: [`WsgiHandler`], the call on a worker greenlet and its error logging;
//! - `environ`: the `environ` dict;
//! - `input`: `wsgi.input`;
//! - `response`: `start_response` and the response it collects or streams.

mod environ;
mod handler;
mod input;
mod response;

pub use handler::WsgiHandler;
