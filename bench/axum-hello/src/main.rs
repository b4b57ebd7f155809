//! `axum-hello --bind HOST:PORT`: a bare axum server answering `GET /rust/hello` with the same
//! 1024-byte body (`b"x" * 1024`, text/plain) as Puff's Rust route. Baseline for bench case (d).

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::Router;
use axum::http::header;
use axum::routing::get;

static BODY: [u8; 1024] = [b'x'; 1024];

const USAGE: &str = "Usage: axum-hello [--bind HOST:PORT]   (default 127.0.0.1:8080)";

async fn hello() -> ([(header::HeaderName, &'static str); 1], &'static [u8]) {
    ([(header::CONTENT_TYPE, "text/plain")], &BODY)
}

fn parse_args() -> Result<SocketAddr, String> {
    let mut bind = "127.0.0.1:8080".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bind" => bind = args.next().ok_or("--bind needs HOST:PORT")?,
            a if a.starts_with("--bind=") => bind = a["--bind=".len()..].to_string(),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    bind.parse()
        .map_err(|e| format!("--bind `{bind}` is not HOST:PORT: {e}"))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}

fn main() -> ExitCode {
    let addr = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("axum-hello: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("axum-hello: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let app = Router::new().route("/rust/hello", get(hello));
        let listener = tokio::net::TcpListener::bind(addr).await?;
        eprintln!("axum-hello listening on http://{}", listener.local_addr()?);
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("axum-hello: {e}");
            ExitCode::FAILURE
        }
    }
}
