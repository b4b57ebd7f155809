//! # puff-http
//!
//! Puff's HTTP server. It owns the axum [`Router`] users add Rust routes to, the PEP 3333
//! WSGI adapter that runs a Python app in one greenlet per request and the ASGI 3.0
//! adapter that runs an app as tasks on Puff's event loop (either as the router's
//! fallback, so Rust routes win), websockets (the ASGI `websocket` scope and the
//! [`ws::WebSocketUpgrade`] extractor for Rust routes), the pooled `puff.http` client on
//! reqwest, the middleware stack (body limit, CORS, compression, access log), the accept
//! loop and the connections themselves (HTTP/1.1 and HTTP/2 on hyper, TLS, header-read /
//! keep-alive / body-read timeouts, lingering close), graceful shutdown, and the `http`
//! [`Subsystem`](puff_greenlet::Subsystem) holding the server settings from `puff.toml`,
//! and the `runserver` commands it contributes to a program ([`commands`]).
//!
//! It does not own the Python runtime (see `puff-greenlet`) nor command-line parsing (see
//! `puff-core`, which composes the commands into a program).
//!
//! ## Modules
//!
//! Dependencies between them go one way (nothing imports a module that imports it back):
//!
//! - serving: [`server`] (middleware, listening, graceful shutdown) on `accept` (the accept
//!   loop) and `conn` (one connection, its timeouts), with [`tls`] and [`router`];
//!   `load` counts what they carry, `metrics` records it for Prometheus;
//!   [`access_log`] (formats, and the thread that writes the lines in batches);
//! - the Python adapters: [`wsgi`] and [`asgi`], one folder each with a file per job, on
//!   `body` (request bodies: preloading, faults and their answers, stall timeout) and
//!   `plumbing` (what both adapters share: client address, path decoding, the reply a
//!   Python call hands back, streamed response bodies);
//! - [`trace`]: `traceparent` in, the request's span, and the OTLP exporter for every
//!   crate's spans;
//! - [`ws`]: the websocket protocol (handshake, codec, connection task, shutdown tracking)
//!   and its Rust API; the ASGI `websocket` scope lives in [`asgi`] and uses it;
//! - [`commands`]: `runserver` for Rust routes, a WSGI or an ASGI app, on top of the rest;
//! - settings and resources: [`config`], [`static_files`], [`client`], the `http`
//!   [`HttpSubsystem`]. Configuration errors are `thiserror` types whose messages name the
//!   `puff.toml` key ([`ConfigError`](puff_greenlet::ConfigError), [`TlsError`],
//!   [`StaticError`], [`ClientError`], [`RouteOverlap`]).
//!
//! The Python half of the ASGI adapter is `puff._asgi_helpers` in the `puff` package.
//!
//! The manuals below are `docs/server.md` and `docs/http-client.md` in the repository.
#![doc = include_str!("../../docs/server.md")]
#![doc = include_str!("../../docs/http-client.md")]

mod accept;
pub mod access_log;
pub mod asgi;
mod body;
pub mod client;
pub mod commands;
pub mod config;
mod conn;
mod load;
mod metrics;
mod plumbing;
pub mod router;
pub mod server;
pub mod static_files;
mod subsystem;
pub mod tls;
pub mod trace;
pub mod ws;
pub mod wsgi;

pub use asgi::{AsgiHandler, Lifespan};
pub use client::ClientError;
pub use commands::{ASGIServerCommand, ServerCommand, WSGIServerCommand};
pub use config::{CorsConfig, HttpConfig};
pub use router::{MountedRoutes, RouteOverlap, Router};
pub use server::{apply_middleware, serve, with_asgi_fallback, with_wsgi_fallback};
pub use static_files::StaticError;
pub use subsystem::{HttpSettings, HttpSubsystem};
pub use tls::TlsError;
pub use trace::{RequestTrace, TracingSubsystem};
pub use wsgi::WsgiHandler;

pub use axum;
