//! # puff-http
//!
//! Puff's HTTP server. It owns the axum [`Router`] users add Rust routes to, the PEP 3333
//! WSGI adapter that runs a Python app in one greenlet per request and the ASGI 3.0
//! adapter that runs an app as tasks on Puff's event loop (either as the router's
//! fallback, so Rust routes win), the pooled `puff.http` client on reqwest, the middleware
//! stack (body limit, CORS, compression, access log), the accept loop and the connections
//! themselves (HTTP/1.1 and HTTP/2 on hyper, TLS, header-read / keep-alive / body-read
//! timeouts, lingering close), graceful shutdown, and the `http`
//! [`Subsystem`](puff_greenlet::Subsystem) holding the server settings from `puff.toml`.
//!
//! It does not own the Python runtime (see `puff-greenlet`) nor command-line handling (see
//! `puff-core`).

mod accept;
pub mod asgi;
mod body;
pub mod client;
pub mod config;
mod conn;
pub mod router;
pub mod server;
pub mod static_files;
mod subsystem;
pub mod tls;
pub mod websocket;
pub mod ws;
pub mod wsgi;

pub use asgi::{AsgiHandler, Lifespan};
pub use config::{CorsConfig, HttpConfig};
pub use router::{MountedRoutes, Router};
pub use server::{apply_middleware, serve, with_asgi_fallback, with_wsgi_fallback};
pub use subsystem::{HttpSettings, HttpSubsystem};
pub use wsgi::WsgiHandler;

pub use axum;
