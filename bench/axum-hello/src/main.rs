//! `axum-hello --bind HOST:PORT`: a bare axum server answering `GET /rust/hello` with the same
//! 1024-byte body (`b"x" * 1024`, text/plain) as Puff's Rust route. Baseline for bench case (d).
//! With `--wait-ms N` every other GET waits N ms on Tokio's timer, then answers the same body:
//! the wait cases' reference for a server with no Python at all. `--threads N` sets Tokio's
//! worker threads (default: one per CPU).

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::Router;
use axum::http::header;
use axum::routing::get;

static BODY: [u8; 1024] = [b'x'; 1024];

const USAGE: &str =
    "Usage: axum-hello [--bind HOST:PORT] [--wait-ms N] [--threads N]   (default 127.0.0.1:8080)";

async fn hello() -> ([(header::HeaderName, &'static str); 1], &'static [u8]) {
    ([(header::CONTENT_TYPE, "text/plain")], &BODY)
}

struct Options {
    addr: SocketAddr,
    wait_ms: Option<u64>,
    threads: Option<usize>,
}

fn number<T: std::str::FromStr>(flag: &str, value: Option<String>) -> Result<T, String> {
    let value = value.ok_or(format!("{flag} needs a number"))?;
    value
        .parse()
        .map_err(|_| format!("{flag} `{value}` is not a number"))
}

fn parse_args() -> Result<Options, String> {
    let mut bind = "127.0.0.1:8080".to_string();
    let (mut wait_ms, mut threads) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bind" => bind = args.next().ok_or("--bind needs HOST:PORT")?,
            a if a.starts_with("--bind=") => bind = a["--bind=".len()..].to_string(),
            "--wait-ms" => wait_ms = Some(number("--wait-ms", args.next())?),
            "--threads" => threads = Some(number::<usize>("--threads", args.next())?.max(1)),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let addr = bind
        .parse()
        .map_err(|e| format!("--bind `{bind}` is not HOST:PORT: {e}"))?;
    Ok(Options {
        addr,
        wait_ms,
        threads,
    })
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
    let options = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("axum-hello: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = options.threads {
        builder.worker_threads(threads);
    }
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("axum-hello: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let mut app = Router::new().route("/rust/hello", get(hello));
        if let Some(ms) = options.wait_ms {
            let wait = std::time::Duration::from_millis(ms);
            app = app.fallback(get(move || async move {
                tokio::time::sleep(wait).await;
                hello().await
            }));
        }
        let listener = tokio::net::TcpListener::bind(options.addr).await?;
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
