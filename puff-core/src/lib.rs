//! # puff-core
//!
//! Composition of the Puff runtime. It owns [`RuntimeConfig`] (built in code or read from
//! `puff.toml`), [`Program`] (command-line parsing, Tokio and Python start-up, subsystem
//! lifecycle), the stock commands (`runserver`, Python functions, `pytest`,
//! `wait-forever`) and the [`supervisor`] that runs `runserver`/`wait-forever` as N worker
//! processes. Subsystems are enabled by Cargo features, one line each in
//! [`subsystems`], the only module that names a feature; each subsystem parses its own
//! `puff.toml` section and brings its own builder methods (in [`prelude`]).
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
//!
//! The manuals below are `docs/configuration.md` and `docs/rust-api.md` in the repository.
#![doc = include_str!("../../docs/configuration.md")]
#![doc = include_str!("../../docs/rust-api.md")]

pub mod config;
pub mod program;
pub mod subsystems;
pub mod supervisor;

pub use clap;
pub use config::{CommandEntry, ConfigError, RuntimeConfig, WorkersConfig};
pub use program::Program;
pub use puff_greenlet::{
    PuffError, PuffResult, PythonRuntime, Subsystem, Subsystems, run_python_async, wait_for,
};
// Empty in a build without subsystems.
#[allow(unused_imports)]
pub use subsystems::crates::*;

/// Everything a Puff program usually needs, as in the Puff docs' examples.
pub mod prelude {
    pub use crate::config::RuntimeConfig;
    pub use crate::program::Program;
    pub use crate::program::commands::prelude::*;
    #[allow(unused_imports)] // empty in a build without subsystems
    pub use crate::subsystems::prelude::*;
    pub use puff_greenlet::pyo3::prelude::*;
    pub use puff_greenlet::{PuffError, PuffResult, Subsystems, run_python_async, wait_for};
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
