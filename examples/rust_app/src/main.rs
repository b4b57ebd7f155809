//! A user binary built on Puff: its own axum route, a `#[pyclass]` global state with sync
//! and async methods callable from Python, and a WSGI app behind the Rust routes.
//!
//! ```text
//! cargo run -p puff-example-rust-app -- runserver          # http://127.0.0.1:7777
//! cargo run -p puff-example-rust-app -- run_hello_world    # the Python command
//! ```

use puff_core::prelude::*;

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

fn main() -> ExitCode {
    let example_dir = concat!(env!("CARGO_MANIFEST_DIR"));
    let rc = RuntimeConfig::default()
        .add_python_path(example_dir)
        .set_global_state_fn(|py| Ok(Py::new(py, MyPythonState)?.into_any()));
    let router = Router::new()
        .get("/rust/hello", rust_hello)
        .get("/rust", root);
    Program::new("puff-example-rust-app")
        .about("A Rust binary serving its own routes and a Python WSGI app on Puff")
        .runtime_config(rc)
        .command(WSGIServerCommand::new_with_router("app.app", router))
        .command(PythonCommand::new("run_hello_world", "app.hello_world"))
        .run()
}
