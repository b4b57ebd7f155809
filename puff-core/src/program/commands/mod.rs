//! Subcommands a [`Program`](crate::Program) can run.

use std::process::ExitCode;

use clap::ArgMatches;
use puff_greenlet::PuffResult;
use puff_greenlet::pyo3::exceptions::{PyKeyboardInterrupt, PySystemExit};
use puff_greenlet::pyo3::prelude::*;

pub mod django;
pub mod pytest;
pub mod python;
pub mod wait_forever;

pub use django::DjangoManagementCommand;
pub use puff_greenlet::command::{CommandContext, CommandFuture, RunnableCommand, shutdown_signal};
pub use pytest::PytestCommand;
pub use python::PythonCommand;
pub use wait_forever::WaitForever;
// The commands the compiled-in subsystems contribute (http: the `runserver` commands).
#[allow(unused_imports)] // empty in a build without them
pub use crate::subsystems::commands::*;

/// The commands of [`crate::prelude`] (the subsystems' own come with
/// [`crate::subsystems::prelude`]).
pub mod prelude {
    pub use super::{PytestCommand, PythonCommand, WaitForever};
}

/// Prints a complete commented `puff.toml`.
pub struct ExampleConfigCommand;

impl RunnableCommand for ExampleConfigCommand {
    fn cli(&self) -> clap::Command {
        clap::Command::new("example-config").about("Print a complete, commented puff.toml")
    }

    fn needs_runtime(&self) -> bool {
        false
    }

    fn run_without_runtime(&self, _args: &ArgMatches) -> ExitCode {
        print!("{}", crate::config::EXAMPLE_CONFIG);
        ExitCode::SUCCESS
    }

    fn run(&self, _ctx: CommandContext, _args: ArgMatches) -> CommandFuture {
        Box::pin(async {
            print!("{}", crate::config::EXAMPLE_CONFIG);
            Ok(ExitCode::SUCCESS)
        })
    }
}

/// The `args` argument of commands that hand everything after their name to Python
/// (`pytest`, `django`), hyphenated options included.
pub(crate) fn passthrough_args(help: &'static str) -> clap::Arg {
    clap::Arg::new("args")
        .action(clap::ArgAction::Append)
        .num_args(0..)
        .trailing_var_arg(true)
        .allow_hyphen_values(true)
        .help(help)
}

/// The values of [`passthrough_args`].
pub(crate) fn passthrough_values(args: &ArgMatches) -> Vec<String> {
    args.get_many::<String>("args")
        .map(|a| a.cloned().collect())
        .unwrap_or_default()
}

/// A command's outcome from Python work returning an exit code (`None`: success): a
/// Python exception prints its traceback and exits 1.
pub(crate) fn python_exit(result: PuffResult<Option<i64>>) -> PuffResult<ExitCode> {
    match result {
        Ok(code) => Ok(exit_code_from(code)),
        Err(puff_greenlet::PuffError::Python(e)) => {
            eprintln!("{}", e.traceback().trim_end());
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e),
    }
}

/// Exit code for a Python return value: ints are used as is, `None`/others mean success.
pub(crate) fn exit_code_from(value: Option<i64>) -> ExitCode {
    match value {
        Some(code) => ExitCode::from(u8::try_from(code.clamp(0, 255)).unwrap_or(1)),
        None => ExitCode::SUCCESS,
    }
}

/// The exit code Python itself would end with when `err` escapes an entry point, or `err`
/// back when Python would print a traceback and exit 1 (the caller does that).
///
/// Python's rule: `SystemExit(None)` exits 0 silently, `SystemExit(int)` exits with that
/// int (modulo 256, as the OS sees it), any other `SystemExit` payload is printed to
/// stderr and exits 1; `KeyboardInterrupt` prints its traceback and exits 130 (128 +
/// SIGINT, what a shell reports for `python` stopped by Ctrl-C).
pub(crate) fn python_exit_code(py: Python<'_>, err: PyErr) -> PyResult<i64> {
    if err.is_instance_of::<PySystemExit>(py) {
        let code = err.value(py).getattr("code")?;
        if code.is_none() {
            return Ok(0);
        }
        if let Ok(code) = code.extract::<i64>() {
            return Ok(code & 0xff);
        }
        eprintln!("{}", code.str().map(|s| s.to_string()).unwrap_or_default());
        return Ok(1);
    }
    if err.is_instance_of::<PyKeyboardInterrupt>(py) {
        eprintln!("{}", puff_greenlet::format_exception(py, &err).trim_end());
        return Ok(130);
    }
    Err(err)
}
