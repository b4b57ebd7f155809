//! # puff-core
//!
//! Composition of the Puff runtime. It owns [`RuntimeConfig`] (built in code or read from
//! `puff.toml`), [`Program`] (command-line parsing, Tokio and Python start-up, subsystem
//! lifecycle) and the stock commands (`runserver`, Python functions, `pytest`,
//! `wait-forever`). Subsystems are enabled by Cargo features, one line each in
//! [`subsystems`].
//!
//! It owns no protocol or service itself: those live in the subsystem crates
//! (`puff-http`, ...) and the runtime foundation in `puff-greenlet`.
//!
//! ```no_run
//! use puff_core::prelude::*;
//!
//! fn main() -> ExitCode {
//!     Program::new("my_app")
//!         .about("Serves my Flask app")
//!         .command(WSGIServerCommand::new("my_app.app"))
//!         .run()
//! }
//! ```

pub mod config;
pub mod program;
pub mod subsystems;

pub use clap;
pub use config::{CommandEntry, ConfigError, RuntimeConfig};
pub use program::Program;
#[cfg(feature = "graphql")]
pub use puff_graphql as graphql;
pub use puff_greenlet::{PuffError, PuffResult, PythonRuntime, run_python_async, wait_for};
#[cfg(feature = "http")]
pub use puff_http::{self as http, Router};
#[cfg(feature = "postgres")]
pub use puff_postgres as postgres;
#[cfg(feature = "pubsub")]
pub use puff_pubsub as pubsub;
#[cfg(feature = "redis")]
pub use puff_redis as redis;
#[cfg(feature = "tasks")]
pub use puff_tasks as tasks;

/// Everything a Puff program usually needs, as in the Puff docs' examples.
pub mod prelude {
    pub use crate::config::RuntimeConfig;
    pub use crate::program::Program;
    #[cfg(feature = "http")]
    pub use crate::program::commands::{ASGIServerCommand, ServerCommand, WSGIServerCommand};
    pub use crate::program::commands::{PytestCommand, PythonCommand, WaitForever};
    pub use puff_greenlet::pyo3::prelude::*;
    pub use puff_greenlet::{PuffError, PuffResult, run_python_async, wait_for};
    #[cfg(feature = "http")]
    pub use puff_http::Router;
    pub use std::process::ExitCode;
    pub use std::time::Duration;
    pub use tracing::{debug, error, info, warn};

    /// A Python object reference (the name pyo3 used before 0.26).
    pub type PyObject = Py<PyAny>;
    /// Text passed between Rust and Python.
    pub type Text = String;

    /// `"literal".to_text()`, as in the Puff docs.
    pub trait ToText {
        fn to_text(&self) -> Text;
    }

    impl ToText for str {
        fn to_text(&self) -> Text {
            self.to_owned()
        }
    }
}
