//! `PythonCommand`: a subcommand that calls a Python function in a greenlet.

use clap::ArgMatches;
use puff_greenlet::import_object;
use puff_greenlet::pyo3::prelude::*;

use super::{CommandContext, CommandFuture, RunnableCommand, python_exit, python_exit_code};

/// `PythonCommand::new("hello_world", "my_app.hello_world")` adds `hello_world`, which
/// imports `my_app` and calls `hello_world()` as a greenlet. An int return value becomes
/// the exit code; `sys.exit()` and `KeyboardInterrupt` end the process as they end
/// `python` itself; any other exception prints its traceback and exits 1.
pub struct PythonCommand {
    name: String,
    function: String,
    about: Option<String>,
}

impl PythonCommand {
    pub fn new(name: impl Into<String>, function: impl Into<String>) -> Self {
        PythonCommand {
            name: name.into(),
            function: function.into(),
            about: None,
        }
    }

    pub fn about(mut self, about: impl Into<String>) -> Self {
        self.about = Some(about.into());
        self
    }
}

impl RunnableCommand for PythonCommand {
    fn cli(&self) -> clap::Command {
        let about = self
            .about
            .clone()
            .unwrap_or_else(|| format!("Run the Python function {}", self.function));
        clap::Command::new(self.name.clone()).about(about)
    }

    fn run(&self, ctx: CommandContext, _args: ArgMatches) -> CommandFuture {
        let function = self.function.clone();
        Box::pin(async move {
            let result = ctx
                .python
                .run(
                    move |py| match import_object(py, &function).and_then(|f| f.call0()) {
                        Ok(value) => Ok(value.extract::<i64>().ok()),
                        Err(e) => python_exit_code(py, e).map(Some),
                    },
                )
                .await;
            python_exit(result)
        })
    }
}
