//! The `/metrics` endpoint: a small HTTP/1.1 server on the configured address that
//! answers `GET /metrics` with the arena's exposition and anything else with 404.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use super::arena::Arena;
use super::exposition::{CONTENT_TYPE, render};

/// Binds `bind` (the value of the `metrics_bind` setting) now, so that a bad or busy
/// address is an error at start-up naming the key, and serves `arena` on `runtime`.
pub fn serve(
    bind: &str,
    arena: &'static Arena,
    runtime: &tokio::runtime::Handle,
) -> Result<SocketAddr, String> {
    let addr: SocketAddr = bind
        .parse()
        .map_err(|_| format!("metrics_bind: `{bind}` is not an address like 127.0.0.1:9090"))?;
    let listener = std::net::TcpListener::bind(addr)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|e| format!("metrics_bind: cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().unwrap_or(addr);
    runtime.spawn(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(listener) => listener,
            Err(e) => {
                tracing::error!("metrics_bind: cannot listen on {addr}: {e}");
                return;
            }
        };
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::debug!("metrics endpoint: accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: Request<Incoming>| async move {
                        Ok::<_, Infallible>(respond(&req, arena))
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    tracing::info!("metrics on http://{local}/metrics");
    Ok(local)
}

fn respond(req: &Request<Incoming>, arena: &Arena) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    if req.uri().path() != "/metrics" {
        *response.status_mut() = StatusCode::NOT_FOUND;
    } else if req.method() != Method::GET && req.method() != Method::HEAD {
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    } else {
        *response.body_mut() = Full::new(Bytes::from(render(arena)));
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static(CONTENT_TYPE),
        );
    }
    response
}
