//! `DjangoManagementCommand`: `puff-cli django <command> [args...]` runs a Django
//! management command (`migrate`, `shell -c`, `check`, custom commands) inside the
//! runtime, so it can use every Puff API; use it instead of `./manage.py`.

use clap::ArgMatches;
use puff_greenlet::pyo3::prelude::*;

use super::{
    CommandContext, CommandFuture, RunnableCommand, passthrough_args, passthrough_values,
    python_exit, python_exit_code,
};

/// The `django` subcommand. `DJANGO_SETTINGS_MODULE` comes from the environment, as
/// with `manage.py` (set it in `[env]` of puff.toml or `RuntimeConfig::add_env`).
#[derive(Default)]
pub struct DjangoManagementCommand;

impl DjangoManagementCommand {
    pub fn new() -> Self {
        DjangoManagementCommand
    }
}

/// Run `django-admin` with `args` in the current greenlet; the exit code it asks for.
fn run_management(py: Python<'_>, args: Vec<String>) -> PyResult<Option<i64>> {
    if args.first().is_some_and(|a| a == "runserver") {
        // Django's development server would serve with threads, outside Puff's server.
        return Err(puff_greenlet::exceptions::PuffError::new_err(
            "`puff-cli django runserver` would start Django's development server; serve \
             the project with `puff-cli runserver` (the `wsgi` app of puff.toml) instead",
        ));
    }
    if std::env::var_os("DJANGO_SETTINGS_MODULE").is_none_or(|v| v.is_empty()) {
        return Err(puff_greenlet::exceptions::PuffError::new_err(
            "DJANGO_SETTINGS_MODULE is not set: export it, or set it in puff.toml's [env] \
             table (e.g. DJANGO_SETTINGS_MODULE = \"mysite.settings\")",
        ));
    }
    let management = py.import("django.core.management").map_err(|e| {
        puff_greenlet::exceptions::PuffError::new_err(format!(
            "cannot import Django ({e}); install it in the virtualenv Puff uses \
             (`pip install django`)"
        ))
    })?;
    let mut argv = vec!["puff-cli django".to_owned()];
    argv.extend(args);
    match management.call_method1("execute_from_command_line", (argv,)) {
        Ok(_) => Ok(None),
        // `manage.py` exits through SystemExit (errors, `--help`, `check` failures).
        Err(e) => python_exit_code(py, e).map(Some),
    }
}

impl RunnableCommand for DjangoManagementCommand {
    fn cli(&self) -> clap::Command {
        clap::Command::new("django")
            .about("Run a Django management command inside Puff (instead of ./manage.py)")
            .arg(passthrough_args(
                "The management command and its arguments, e.g. `migrate`",
            ))
    }

    fn run(&self, ctx: CommandContext, args: ArgMatches) -> CommandFuture {
        let args: Vec<String> = passthrough_values(&args);
        Box::pin(
            async move { python_exit(ctx.python.run(move |py| run_management(py, args)).await) },
        )
    }
}
