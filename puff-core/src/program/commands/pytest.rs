//! `PytestCommand`: pytest inside the runtime, so tests can call Puff APIs.

use clap::ArgMatches;
use puff_greenlet::pyo3::prelude::*;

use super::{
    CommandContext, CommandFuture, RunnableCommand, passthrough_args, passthrough_values,
    python_exit, python_exit_code,
};

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
            .arg(passthrough_args("Arguments passed to pytest"))
    }

    fn run(&self, ctx: CommandContext, args: ArgMatches) -> CommandFuture {
        let mut pytest_args: Vec<String> = passthrough_values(&args);
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
                    match pytest.call_method1("main", (pytest_args,)) {
                        Ok(code) => Ok(code.extract::<i64>().ok()),
                        Err(e) => python_exit_code(py, e).map(Some),
                    }
                })
                .await;
            python_exit(result.map(|code| code.or(Some(1))))
        })
    }
}
