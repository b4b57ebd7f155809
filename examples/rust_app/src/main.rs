//! A user binary built on Puff: its own axum routes (plain and websockets, one of them a
//! chat on Puff's pub/sub that Python publishes into too), a `#[pyclass]` global state
//! with sync and async methods callable from Python, and a WSGI app behind the Rust routes.
//!
//! ```text
//! cargo run -p puff-example-rust-app -- runserver          # http://127.0.0.1:7777
//! cargo run -p puff-example-rust-app -- run_hello_world    # the Python command
//! ```

use puff_core::http::axum::extract::Path;
use puff_core::http::axum::http::StatusCode;
use puff_core::http::axum::response::{IntoResponse, Response};
use puff_core::http::ws::{Message, WebSocket, WebSocketUpgrade};
use puff_core::prelude::*;
use puff_core::pubsub::PubSubClient;

/// State shared with Python as `puff.global_state`.
#[pyclass]
struct MyPythonState;

#[pymethods]
impl MyPythonState {
    fn hello_from_rust(&self, py_says: Text) -> Text {
        format!("Hello from Rust! Python Says: {py_says}")
    }

    /// Async Puff functions take a return function and offload the future onto Tokio.
    fn hello_from_rust_async(&self, return_func: PyObject, py_says: Text) {
        run_python_async(return_func, async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            debug!("Python says: {}", &py_says);
            Ok(42)
        })
    }
}

/// The benchmark route: 1 KiB of text straight from Rust.
async fn rust_hello() -> Text {
    "x".repeat(1024)
}

async fn root() -> Text {
    "Ok".to_text()
}

/// `/rust/ws/echo`: every message comes back as it was sent.
async fn ws_echo(ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(|mut socket| async move {
        while let Some(message) = socket.recv().await {
            if socket.send(message).await.is_err() {
                break;
            }
        }
    })
}

/// `/rust/ws/chat/{room}`: text sent by one client reaches every client of the room as
/// `"<sender connection id>: <text>"`, through the `default` pub/sub instance (Redis when
/// configured, else in process). Python's `puff.pubsub` publishes into the same channels.
async fn ws_chat(Path(room): Path<String>, ws: WebSocketUpgrade) -> Response {
    let Some(pubsub) = PubSubClient::named("default") else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no pub/sub\n").into_response();
    };
    ws.on_upgrade(move |socket| chat(socket, pubsub, format!("rust-chat:{room}")))
}

async fn chat(mut socket: WebSocket, pubsub: std::sync::Arc<PubSubClient>, channel: String) {
    let conn = pubsub.connection();
    conn.subscribe(&channel).await;
    if socket
        .send(format!("joined {channel} as {}", conn.connection_id()))
        .await
        .is_err()
    {
        return;
    }
    let mut messages = conn.receiver().await;
    loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Message::Text(text)) => {
                    if let Err(e) = conn.publish(&channel, text.as_bytes()).await {
                        let _ = socket.send(format!("error: {e}")).await;
                    }
                }
                Some(Message::Binary(_)) => {
                    socket.close(1003, "text only").await;
                    return;
                }
                None => return,
            },
            Some(message) = messages.recv() => {
                let line = format!(
                    "{}: {}",
                    message.from_connection_id,
                    String::from_utf8_lossy(&message.body)
                );
                if socket.send(line).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn main() -> ExitCode {
    let example_dir = concat!(env!("CARGO_MANIFEST_DIR"));
    let rc = RuntimeConfig::default()
        .add_python_path(example_dir)
        .set_global_state_fn(|py| Ok(Py::new(py, MyPythonState)?.into_any()));
    let router = Router::new()
        .get("/rust/hello", rust_hello)
        .get("/rust", root)
        .get("/rust/ws/echo", ws_echo)
        .get("/rust/ws/chat/{room}", ws_chat);
    Program::new("puff-example-rust-app")
        .about("A Rust binary serving its own routes and a Python WSGI app on Puff")
        .runtime_config(rc)
        .command(WSGIServerCommand::new_with_router("app.app", router))
        .command(PythonCommand::new("run_hello_world", "app.hello_world"))
        .run()
}
