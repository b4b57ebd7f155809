//! [`RuntimeConfig`]: how a Puff program is set up, in code or from `puff.toml`
//! ([`load`]). The core settings (Python environment, apps, commands, Tokio) are fields;
//! every subsystem keeps its own settings, changed through the builder traits of its
//! crate (`set_postgres`, `set_bind`, ... in [`crate::prelude`]).

pub mod load;
pub mod workers;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use puff_greenlet::pyo3::prelude::*;
use puff_greenlet::{GlobalStateFn, Subsystem, Subsystems};
use serde::Deserialize;

use crate::subsystems;

pub use load::{ConfigError, EXAMPLE_CONFIG};
pub use workers::WorkersConfig;

/// One `[[commands]]` entry: a subcommand that runs a Python function.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CommandEntry {
    /// Subcommand name, e.g. `hello_world`.
    pub command_name: String,
    /// `module.function` to call (no arguments).
    pub function: String,
    /// Help text for `--help`.
    #[serde(default)]
    pub about: Option<String>,
}

/// Python's gen-0 garbage collection threshold Puff sets by default (Python's own is 700).
pub const DEFAULT_GC_THRESHOLD: u32 = 20_000;

/// How long one greenlet, task or coroutine step may hold the Python thread before the
/// blocked-thread detector warns, by default.
pub const DEFAULT_BLOCK_WARN_MS: u64 = 100;

/// How to set up the runtime: Python environment, global state, enabled subsystems and
/// their settings.
#[derive(Clone)]
pub struct RuntimeConfig {
    pub(crate) env: Vec<(String, String)>,
    pub(crate) python_paths: Vec<PathBuf>,
    pub(crate) virtualenv: Option<PathBuf>,
    pub(crate) global_state_fn: Option<GlobalStateFn>,
    pub(crate) wsgi: Option<String>,
    pub(crate) asgi: Option<String>,
    pub(crate) commands: Vec<CommandEntry>,
    pub(crate) tokio_worker_threads: Option<usize>,
    /// `None`: [`DEFAULT_GC_THRESHOLD`]; `Some(0)`: leave Python's collector alone.
    pub(crate) gc_threshold: Option<u32>,
    /// `None`: on; see [`RuntimeConfig::set_tokio_batch_scheduling`].
    pub(crate) tokio_batch_scheduling: Option<bool>,
    /// `None`: [`DEFAULT_BLOCK_WARN_MS`]; `Some(0)`: no detector.
    pub(crate) block_warn_ms: Option<u64>,
    pub(crate) asyncio: bool,
    pub(crate) source: Option<PathBuf>,
    /// `workers` and the recycling limits (`runserver`/`wait-forever` under a supervisor).
    pub(crate) workers: WorkersConfig,
    /// Where `/metrics` listens (`metrics_bind`); `None`: metrics off.
    pub(crate) metrics_bind: Option<String>,
    /// The subsystems compiled into this build, in start-up order, each with its own
    /// settings.
    pub(crate) subsystems: Vec<Box<dyn Subsystem>>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            env: Vec::new(),
            python_paths: Vec::new(),
            virtualenv: None,
            global_state_fn: None,
            wsgi: None,
            asgi: None,
            commands: Vec::new(),
            tokio_worker_threads: None,
            gc_threshold: None,
            tokio_batch_scheduling: None,
            block_warn_ms: None,
            asyncio: false,
            source: None,
            workers: WorkersConfig::default(),
            metrics_bind: None,
            subsystems: subsystems::default_subsystems(),
        }
    }
}

impl Subsystems for RuntimeConfig {
    fn subsystem_list(&self) -> &[Box<dyn Subsystem>] {
        &self.subsystems
    }

    fn subsystem_list_mut(&mut self) -> &mut [Box<dyn Subsystem>] {
        &mut self.subsystems
    }
}

impl fmt::Debug for RuntimeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeConfig")
            .field("python_paths", &self.python_paths)
            .field("wsgi", &self.wsgi)
            .field("commands", &self.commands)
            .field(
                "subsystems",
                &self.subsystems.iter().map(|s| s.name()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl RuntimeConfig {
    /// Set an environment variable before Python starts (e.g. `DJANGO_SETTINGS_MODULE`).
    pub fn add_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Put a folder on `sys.path` (before site-packages).
    pub fn add_python_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.python_paths.push(path.into());
        self
    }

    /// Use this virtualenv instead of `$VIRTUAL_ENV`.
    pub fn set_virtualenv(mut self, path: impl Into<PathBuf>) -> Self {
        self.virtualenv = Some(path.into());
        self
    }

    /// Build the object Python gets from `puff.global_state()`.
    pub fn set_global_state_fn<F>(mut self, f: F) -> Self
    where
        F: Fn(Python<'_>) -> PyResult<Py<PyAny>> + Send + Sync + 'static,
    {
        self.global_state_fn = Some(Arc::new(f));
        self
    }

    /// Run an asyncio event loop (uvloop when installed) on the Python thread: Puff async
    /// functions become awaitable from coroutines, and `puff.run_coroutine` works.
    pub fn set_asyncio(mut self, on: bool) -> Self {
        self.asyncio = on;
        self
    }

    /// Number of Tokio worker threads (default: one per CPU).
    /// Python's generation-0 garbage collection threshold (default
    /// [`DEFAULT_GC_THRESHOLD`]; Python's own is 700). Servers create thousands of short-lived
    /// objects per millisecond, and collecting every 700 allocations cost them about a tenth
    /// of their Python time; servers also `gc.freeze()` what exists once the app is loaded.
    /// `0` leaves Python's collector exactly as it is.
    pub fn set_gc_threshold(mut self, threshold: u32) -> Self {
        self.gc_threshold = Some(threshold);
        self
    }

    /// The effective gen-0 threshold; `None` when Python's collector is left alone.
    pub fn gc_threshold(&self) -> Option<u32> {
        match self.gc_threshold.unwrap_or(DEFAULT_GC_THRESHOLD) {
            0 => None,
            n => Some(n),
        }
    }

    /// Run Tokio's threads under Linux's `SCHED_BATCH` policy (default on): a Tokio thread
    /// that wakes (a socket is readable, Python handed it a query) then waits for the CPU
    /// instead of preempting the Python thread on the spot. When both share a core, every
    /// wake was a context switch and a cold cache for Python, several per request; batched,
    /// Tokio runs when Python waits or its time slice ends. On a machine with an idle core
    /// the woken thread runs there at once, as before. Elsewhere than Linux: no effect.
    pub fn set_tokio_batch_scheduling(mut self, on: bool) -> Self {
        self.tokio_batch_scheduling = Some(on);
        self
    }

    /// Whether Tokio's threads run under `SCHED_BATCH` (see
    /// [`RuntimeConfig::set_tokio_batch_scheduling`]).
    pub fn tokio_batch_scheduling(&self) -> bool {
        self.tokio_batch_scheduling.unwrap_or(true)
    }

    /// Warn (with the Python stack) when one greenlet, task, resolver or coroutine step
    /// holds the Python thread longer than `ms` while the program serves (default
    /// [`DEFAULT_BLOCK_WARN_MS`]); everything else waits meanwhile. `0` turns the detector
    /// off: no watchdog thread at all.
    pub fn set_block_warn_ms(mut self, ms: u64) -> Self {
        self.block_warn_ms = Some(ms);
        self
    }

    /// The detector's threshold; `None` when it is off.
    pub fn block_warn(&self) -> Option<std::time::Duration> {
        match self.block_warn_ms.unwrap_or(DEFAULT_BLOCK_WARN_MS) {
            0 => None,
            ms => Some(std::time::Duration::from_millis(ms)),
        }
    }

    pub fn set_tokio_worker_threads(mut self, threads: usize) -> Self {
        self.tokio_worker_threads = Some(threads.max(1));
        self
    }

    /// The WSGI app (`module.attr`) `puff-cli runserver` serves.
    pub fn set_wsgi(mut self, app: impl Into<String>) -> Self {
        self.wsgi = Some(app.into());
        self
    }

    pub fn wsgi(&self) -> Option<&str> {
        self.wsgi.as_deref()
    }

    /// The ASGI app (`module.attr`) `puff-cli runserver` serves; implies `asyncio`.
    pub fn set_asgi(mut self, app: impl Into<String>) -> Self {
        self.asgi = Some(app.into());
        self.asyncio = true;
        self
    }

    pub fn asgi(&self) -> Option<&str> {
        self.asgi.as_deref()
    }

    /// `[[commands]]` entries.
    /// Run `runserver` and `wait-forever` as `workers` processes under a supervisor
    /// (`0`: one per CPU; `1`, the default: in this process). See [`WorkersConfig`].
    pub fn set_workers(mut self, workers: usize) -> Self {
        self.workers.workers = workers;
        self
    }

    /// Change the worker settings in place (counts and recycling limits).
    pub fn with_workers_config(mut self, change: impl FnOnce(&mut WorkersConfig)) -> Self {
        change(&mut self.workers);
        self
    }

    pub fn workers_config(&self) -> &WorkersConfig {
        &self.workers
    }

    pub fn commands(&self) -> &[CommandEntry] {
        &self.commands
    }

    /// Serve Prometheus metrics on `addr` (`host:port`) at `/metrics` while `runserver` or
    /// `wait-forever` runs; with `--workers N`, the supervisor serves every worker's.
    pub fn set_metrics_bind(mut self, addr: impl Into<String>) -> Self {
        self.metrics_bind = Some(addr.into());
        self
    }

    pub fn metrics_bind(&self) -> Option<&str> {
        self.metrics_bind.as_deref()
    }

    /// The file this configuration was read from, if any.
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }
}
