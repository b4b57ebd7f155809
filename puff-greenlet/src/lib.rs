//! # puff-greenlet
//!
//! The foundation of Puff. It owns the embedded CPython interpreter and the one thread that
//! runs it, the hub greenlet that schedules Python work as greenlets, and the bridge
//! between those greenlets and Tokio: Rust can run Python and await it
//! ([`PythonRuntime::run`]), and Python-callable Rust can wait on a future without blocking
//! other greenlets ([`wait_for`], [`run_python_async`]). It also defines the error
//! hierarchy ([`PuffError`], `puff.PuffError`), the [`Subsystem`] plug-in trait, the
//! [`RunnableCommand`] contract of a program's subcommands and the typed [`Resources`]
//! registry.
//!
//! It does not own any network protocol or service (HTTP, Postgres, Redis, ...): those are
//! subsystems in their own crates, composed by `puff-core`.
//!
//! The manual below is `docs/python-api.md` in the repository.
#![doc = include_str!("../../docs/python-api.md")]

pub mod aio;
pub mod calendar;
mod cancel;
pub mod command;
pub mod config;
pub mod error;
mod hub;
pub mod ids;
pub mod instance;
pub mod interpreter;
pub mod json;
mod lifecycle;
pub mod load_board;
pub mod metrics;
mod panic_hook;
mod park;
mod python;
pub mod resources;
mod return_func;
mod run_python_async;
pub mod runtime;
mod shared_memory;
pub mod subsystem;
pub mod supervision;
pub mod timer;
pub mod trace;
mod waiting;
pub mod watchdog;
mod worker;

pub use cancel::{CancelScopeGuard, CancelToken, cancel_scope};
pub use command::{
    CommandContext, CommandFuture, ListenSpec, RunnableCommand, WorkerSpec, shutdown_signal,
};
pub use error::{PuffError, PuffResult, PythonError, exceptions, format_exception};
pub use instance::{NamedInstance, PoolStatus, parse_instances, redact_url};
pub use interpreter::{InterpreterConfig, flush_stdio, import_object};
pub use lifecycle::{GlobalStateFn, RuntimeStart, SetupFn};
pub use park::{ParkHookGuard, on_park, park_count};
pub use resources::Resources;
pub use run_python_async::run_python_async;
pub use runtime::PythonRuntime;
pub use subsystem::{ConfigError, StartContext, Subsystem, Subsystems, UrlFlag, deserialize_keys};
pub use waiting::{sleep_until, wait_for, wait_for_with};

pub use pyo3;
