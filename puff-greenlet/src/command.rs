//! The command contract: a subcommand of a Puff program ([`RunnableCommand`]) and what it
//! gets when it runs ([`CommandContext`]). It lives here, beside [`Subsystem`], so that a
//! subsystem crate can bring its own commands (puff-http's `runserver`) without depending
//! on `puff-core`, which composes them into a program.
//!
//! [`Subsystem`]: crate::Subsystem

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitCode;
use std::time::Duration;

use clap::ArgMatches;
use pyo3::prelude::PyAnyMethods;

use crate::error::PuffResult;
use crate::resources::Resources;
use crate::runtime::PythonRuntime;
use crate::subsystem::Subsystem;

/// What a running command gets. The program's configuration (`puff-core`'s
/// `RuntimeConfig`) is in `resources` under `"default"`.
#[derive(Clone)]
pub struct CommandContext {
    pub python: PythonRuntime,
    pub resources: Resources,
    /// The gen-0 garbage collection threshold the program set; `None` when Python's
    /// collector is left alone.
    pub gc_threshold: Option<u32>,
}

impl CommandContext {
    /// Just before serving: move everything loaded so far (the app, its imports) out of
    /// the garbage collector's sight with `gc.freeze()`, so collections only look at
    /// objects made while serving. Skipped when the program leaves Python's collector
    /// alone (`gc_threshold = 0`).
    pub async fn freeze_gc(&self) -> PuffResult<()> {
        if self.gc_threshold.is_none() {
            return Ok(());
        }
        self.python
            .run(|py| py.import("gc")?.call_method0("freeze").map(|_| ()))
            .await
    }
}

pub type CommandFuture = Pin<Box<dyn Future<Output = PuffResult<ExitCode>> + Send>>;

/// A subcommand: its command-line definition and what it does.
pub trait RunnableCommand {
    /// The clap subcommand (name, help, arguments).
    fn cli(&self) -> clap::Command;

    /// Whether the command needs Tokio and Python (most do).
    fn needs_runtime(&self) -> bool {
        true
    }

    /// For commands that do not need the runtime.
    fn run_without_runtime(&self, _args: &ArgMatches) -> ExitCode {
        ExitCode::FAILURE
    }

    /// Run inside the runtime.
    fn run(&self, ctx: CommandContext, args: ArgMatches) -> CommandFuture;

    /// Whether the command can run as N worker processes under a supervisor
    /// (`--workers N`, `--reload`): servers and background workers can; one-off commands
    /// (pytest, django, `[[commands]]`) always run in one process.
    fn runs_in_workers(&self) -> bool {
        false
    }

    /// For a command that [`runs_in_workers`](Self::runs_in_workers): what the supervisor
    /// needs to know before starting the workers.
    fn worker_spec(
        &self,
        _subsystems: &[Box<dyn Subsystem>],
        _args: &ArgMatches,
    ) -> PuffResult<WorkerSpec> {
        Ok(WorkerSpec::default())
    }
}

/// What a supervisor needs to know to run a command as worker processes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerSpec {
    /// The socket the supervisor binds once and every worker inherits; `None` for
    /// background work.
    pub listen: Option<ListenSpec>,
    /// How long a worker told to stop may take to finish its work before it is killed.
    pub stop_timeout: Duration,
}

impl Default for WorkerSpec {
    fn default() -> Self {
        WorkerSpec {
            listen: None,
            stop_timeout: Duration::from_secs(30),
        }
    }
}

/// A listening socket the supervisor binds for its workers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenSpec {
    pub addr: SocketAddr,
    /// Connections the kernel queues for `accept`.
    pub backlog: u32,
}

/// Resolves on SIGINT or SIGTERM (Python's own handlers are off; Tokio owns signals).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => tracing::info!("received SIGINT"),
        _ = term => tracing::info!("received SIGTERM"),
    }
}
