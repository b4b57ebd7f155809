//! `PytestCommand`: pytest inside the runtime, so tests can call Puff APIs.

use std::process::ExitCode;

use clap::{Arg, ArgAction, ArgMatches};
use puff_greenlet::PuffError;
use puff_greenlet::pyo3::prelude::*;

use super::{CommandContext, CommandFuture, RunnableCommand, exit_code_from};

/// `pytest [ARGS...]`: runs `pytest.main(ARGS)` in a greenlet (default ARGS: the path given
/// to [`PytestCommand::new`]). Exits with pytest's exit code.
pub struct PytestCommand {
    default_path: Option<String>,
}

impl PytestCommand {
    pub fn new(default_path: impl Into<String>) -> Self {
        PytestCommand {
            default_path: Some(default_path.into()),
        }
    }

    /// No default path: pytest's own discovery from the current folder.
    pub fn discover() -> Self {
        PytestCommand { default_path: None }
    }
}

impl RunnableCommand for PytestCommand {
    fn cli(&self) -> clap::Command {
        clap::Command::new("pytest")
            .about("Run pytest inside the Puff runtime (tests can call puff APIs)")
            .arg(
                Arg::new("args")
                    .action(ArgAction::Append)
                    .num_args(0..)
                    .trailing_var_arg(true)
                    .allow_hyphen_values(true)
                    .help("Arguments passed to pytest"),
            )
    }

    fn run(&self, ctx: CommandContext, args: ArgMatches) -> CommandFuture {
        let mut pytest_args: Vec<String> = args
            .get_many::<String>("args")
            .map(|a| a.cloned().collect())
            .unwrap_or_default();
        if pytest_args.is_empty()
            && let Some(path) = &self.default_path
        {
            pytest_args.push(path.clone());
        }
        Box::pin(async move {
            let result = ctx
                .python
                .run(move |py| {
                    let pytest = py.import("pytest").map_err(|e| {
                        puff_greenlet::exceptions::PuffError::new_err(format!(
                            "cannot import pytest ({e}); install it in the virtualenv Puff uses \
                             (`pip install pytest`)"
                        ))
                    })?;
                    let code = pytest.call_method1("main", (pytest_args,))?;
                    Ok(code.extract::<i64>().ok())
                })
                .await;
            match result {
                Ok(code) => Ok(exit_code_from(code.or(Some(1)))),
                Err(PuffError::Python(e)) => {
                    eprintln!("{}", e.traceback().trim_end());
                    Ok(ExitCode::FAILURE)
                }
                Err(e) => Err(e),
            }
        })
    }
}
