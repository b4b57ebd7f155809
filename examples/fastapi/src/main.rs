//! The Puff docs' FastAPI example: a FastAPI app served by Puff's ASGI adapter, awaiting a
//! Rust async method of the global state, behind a Rust axum route.
//!
//! ```text
//! VIRTUAL_ENV=$PWD/.venv cargo run -p puff-example-fastapi -- runserver
//! curl localhost:7777/fast-api      # FastAPI, awaiting Rust
//! curl localhost:7777/              # the Rust route
//! ```

use puff_core::prelude::*;

// Use pyo3 to generate Python compatible Rust classes.
#[pyclass]
struct MyPythonState;

#[pymethods]
impl MyPythonState {
    // Async Puff functions take a function to return the result with and offload the future
    // onto Tokio.
    fn hello_from_rust_async(&self, return_func: PyObject, py_says: Text) {
        run_python_async(return_func, async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            debug!("Python says: {}", &py_says);
            Ok(42)
        })
    }
}

// Basic handler that responds with a static string.
async fn root() -> Text {
    "Ok".to_text()
}

fn main() -> ExitCode {
    let app = Router::new().get("/", root);
    let rc = RuntimeConfig::default()
        .add_python_path(env!("CARGO_MANIFEST_DIR"))
        .set_asyncio(true)
        .set_global_state_fn(|py| Ok(Py::new(py, MyPythonState)?.into_any()));

    Program::new("my_first_app")
        .about("This is my first app")
        .runtime_config(rc)
        .command(ASGIServerCommand::new_with_router(
            "fast_api_example.app",
            app,
        ))
        .run()
}
