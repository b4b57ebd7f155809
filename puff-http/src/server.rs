//! Serving a router: middleware stack, the listening socket and graceful
//! shutdown (connections themselves are `conn`'s, accepting them is `accept`'s).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::response::Response;
use puff_greenlet::supervision::{self, WorkerMessage};
use puff_greenlet::{PuffError, PuffResult, PythonRuntime};

use crate::accept::accept_loop;
use crate::access_log::{self, AccessLogLayer};
use crate::config::HttpConfig;
use crate::conn::{ConnShared, serve_connection};
use crate::load::ServerLoad;
use crate::router::Router;
use crate::wsgi::WsgiHandler;

/// Rust routes first; whatever they do not match goes to `handle`.
fn with_fallback<F, Fut>(router: Router, handle: F) -> Router
where
    F: Fn(Request) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    Router::from(router.into_axum().fallback(move |req: Request| handle(req)))
}

/// Rust routes first; anything they do not match goes to the WSGI app.
pub fn with_wsgi_fallback(
    router: Router,
    app: puff_greenlet::pyo3::Py<puff_greenlet::pyo3::PyAny>,
    runtime: PythonRuntime,
    config: &HttpConfig,
    bind: SocketAddr,
) -> Router {
    let handler = Arc::new(WsgiHandler::new(
        app,
        runtime,
        config.max_request_body_bytes,
        bind,
    ));
    with_fallback(router, move |req| handler.clone().handle(req))
}

/// Rust routes first; anything they do not match goes to the ASGI app (on the event loop).
pub fn with_asgi_fallback(
    router: Router,
    app: Arc<puff_greenlet::pyo3::Py<puff_greenlet::pyo3::PyAny>>,
    state: puff_greenlet::pyo3::Py<puff_greenlet::pyo3::types::PyDict>,
    runtime: PythonRuntime,
    config: &HttpConfig,
    bind: SocketAddr,
) -> Router {
    let handler = Arc::new(crate::asgi::AsgiHandler::new(
        app,
        state,
        runtime,
        config.max_request_body_bytes,
        bind,
    ));
    with_fallback(router, move |req| handler.clone().handle(req))
}

/// Apply the configured middleware: body limit, CORS, compression, access log, tracing.
pub fn apply_middleware(router: Router, config: &HttpConfig) -> axum::Router {
    let mut app = router
        .into_axum()
        .layer(DefaultBodyLimit::max(config.max_request_body_bytes));
    if let Some(cors) = &config.cors {
        app = app.layer(cors.layer());
    }
    if config.compression {
        app = app.layer(tower_http::compression::CompressionLayer::new());
    }
    let app = match AccessLogLayer::new(config.access_log.effective()) {
        Some(layer) => app.layer(layer),
        None => app,
    };
    // Outermost, so the access log finds the request's `RequestTrace` in its extensions.
    app.layer(crate::trace::middleware::TraceLayer)
}

/// The listening socket, with `backlog` connections queued before the kernel drops SYNs
/// (tokio's own `bind` asks for 128, which a burst of new clients overflows).
fn listen(addr: SocketAddr, backlog: u32) -> std::io::Result<tokio::net::TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// Bind `addr` and serve until `shutdown` resolves, then finish in-flight requests for up
/// to the configured shutdown timeout. With `tls_cert`/`tls_key` it serves HTTPS (HTTP/2
/// or HTTP/1.1 by ALPN); otherwise HTTP/1.1 and h2c (prior knowledge) on the same port.
pub async fn serve(
    app: axum::Router,
    addr: SocketAddr,
    config: &HttpConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> PuffResult<()> {
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(tokio_rustls::TlsAcceptor::from(
            crate::tls::server_config(cert, key).map_err(|e| PuffError::Config(e.to_string()))?,
        )),
        _ => None,
    };
    let listener = match supervision::take_inherited_listener() {
        // A worker under `--workers N`: the supervisor bound the socket for all of them.
        Some(inherited) => inherited
            .set_nonblocking(true)
            .and_then(|()| tokio::net::TcpListener::from_std(inherited))
            .map_err(|e| PuffError::Other(format!("cannot use the inherited socket: {e}")))?,
        None => listen(addr, config.backlog)
            .map_err(|e| PuffError::Other(format!("cannot listen on {addr}: {e}")))?,
    };
    let local = listener.local_addr().map_err(PuffError::Io)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let protocols = if tls.is_some() {
        " (HTTP/2 and HTTP/1.1)"
    } else {
        ""
    };
    match supervision::worker_id() {
        Some(id) => tracing::info!("worker {id}: accepting on {scheme}://{local}{protocols}"),
        None => tracing::info!("listening on {scheme}://{local}{protocols}"),
    }
    let (websockets, tracker) = crate::ws::WebsocketShutdown::new();
    let app = app.layer(axum::Extension(tracker));
    let load = ServerLoad::new(config.max_concurrent_requests, supervision::max_requests());
    let shared = Arc::new(ConnShared::new(
        app,
        load.clone(),
        config.conn_limits(),
        tls,
    ));
    // Every connection holds a receiver: `stop_tx.closed()` is "all connections ended".
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let accepting = {
        let stop = stop_rx.clone();
        tokio::spawn(accept_loop(
            listener,
            config.max_connections,
            load,
            stop_rx,
            move |tcp, peer, held| {
                let shared = shared.clone();
                let stop = stop.clone();
                tokio::spawn(async move {
                    serve_connection(shared, tcp, peer, stop).await;
                    drop(held);
                });
            },
        ))
    };
    supervision::notify(&WorkerMessage::Ready);
    puff_greenlet::watchdog::arm();
    shutdown.await;
    tracing::info!(
        "shutting down: finishing in-flight requests (up to {} ms)",
        config.shutdown_timeout_ms
    );
    let _ = stop_tx.send(true);
    // Upgraded websockets are no longer hyper's: close them with 1001 and wait for them too.
    websockets.begin();
    let finished = async move {
        let _ = accepting.await;
        stop_tx.closed().await;
        websockets.wait_closed().await;
    };
    match tokio::time::timeout(config.shutdown_timeout(), finished).await {
        Ok(_) => tracing::info!("server stopped"),
        Err(_) => tracing::warn!(
            "graceful shutdown timed out after {} ms; dropping remaining connections",
            config.shutdown_timeout_ms
        ),
    }
    // The writer thread writes every few milliseconds; the last requests' lines must not
    // be lost when the process exits right after this.
    access_log::flush();
    Ok(())
}
