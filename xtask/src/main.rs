//! `cargo xtask`: project automation for Puff (setup, build, serve, test, bench). This file is
//! the command line (clap) and its dispatch; each command lives in its own module.

mod bench;
mod build;
mod command;
// Only its tests run: they check every crate of the workspace for module cycles.
#[cfg(test)]
mod modgraph;
mod repo;
mod serve;
mod setup;
mod stamp;
mod system;
mod test;
mod usage;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use repo::Repo;
use usage::UsageError;

const AFTER_HELP: &str = "\
Every cargo, puff-cli and python call gets PYO3_PYTHON=<repo>/.venv/bin/python,
VIRTUAL_ENV=<repo>/.venv and <repo>/.venv/bin first on PATH, so pyo3 is never rebuilt
because of a different environment.

Exit codes: 0 success, 1 a step failed, 2 bad usage.";

/// Project automation for Puff.
#[derive(Parser, Debug)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    after_help = AFTER_HELP,
    arg_required_else_help = true,
    args_override_self = true,
    disable_version_flag = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create or update the project virtualenv .venv
    ///
    /// Creates .venv (python3 -m venv; $PUFF_PYTHON overrides the interpreter) and installs
    /// python/requirements-dev.txt and the puff package (pip install -e python/); idempotent
    /// and quick when nothing changed.
    Setup,
    /// Setup, then build puff-cli
    ///
    /// Setup, then cargo build -p puff-cli; named features replace the default ones.
    Build(build::Args),
    /// Setup, build, then serve an example with puff-cli
    ///
    /// Setup, build, then run `puff-cli --config examples/NAME/puff.toml runserver ARGS` from
    /// examples/NAME (replacing this process).
    Serve(serve::Args),
    /// The whole check suite, as CI runs it
    ///
    /// Runs setup, cargo fmt --check, clippy (the workspace, then puff-core with each
    /// feature alone), build, cargo test, ruff, mypy on python/puff, pytest
    /// tests/integration, the in-runtime tests (tests/runtime, postgres, redis, tasks,
    /// graphql, django) and Django's own test suite on psycopg2 vs Puff
    /// (tests/django_suite); stops at the first failure.
    Test,
    /// Benchmarks of Puff against its peers on this machine (default: http)
    Bench(bench::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if let Some(usage) = err.downcast_ref::<UsageError>() {
                eprintln!("error: {usage}");
                eprintln!("(run `cargo xtask help` for usage)");
                ExitCode::from(2)
            } else {
                eprintln!("\nerror: {err:#}");
                ExitCode::from(1)
            }
        }
    }
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Setup => setup::run(&Repo::locate()?),
        Command::Build(args) => {
            let repo = Repo::locate()?;
            setup::run(&repo)?;
            build::run(&repo, &args)
        }
        Command::Serve(args) => serve::run(&Repo::locate()?, &args),
        Command::Test => test::run(&Repo::locate()?),
        Command::Bench(args) => bench::run(&Repo::locate()?, args),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("cargo xtask").chain(args.iter().copied()))
            .map(|cli| cli.command)
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn build_args() {
        let Ok(Command::Build(b)) = parse(&["build"]) else {
            panic!("build")
        };
        assert_eq!(b, build::Args::default());
        let Ok(Command::Build(b)) = parse(&["build", "--features", "a,b", "--release"]) else {
            panic!("build --features")
        };
        assert_eq!(b.feature_list(), Some(vec!["a".into(), "b".into()]));
        assert!(b.release);
        let Ok(Command::Build(b)) = parse(&["build", "--features="]) else {
            panic!("build --features=")
        };
        assert_eq!(b.feature_list(), Some(vec![]));
        let Ok(Command::Build(b)) = parse(&["build", "--features", "a", "--features", "c"]) else {
            panic!("repeated flag")
        };
        assert_eq!(
            b.feature_list(),
            Some(vec!["c".into()]),
            "the last one wins"
        );
        assert!(parse(&["build", "--features"]).is_err());
        assert!(parse(&["build", "--bogus"]).is_err());
        let help = parse(&["build", "--help"]).unwrap_err();
        assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
    }

    #[test]
    fn serve_args() {
        let Ok(Command::Serve(s)) = parse(&["serve"]) else {
            panic!("serve")
        };
        assert_eq!((s.example.as_str(), s.extra.len()), ("hello", 0));
        let Ok(Command::Serve(s)) = parse(&["serve", "--example", "x", "--", "--bind", "0:1"])
        else {
            panic!("serve --example x -- ...")
        };
        assert_eq!(s.example, "x");
        assert_eq!(s.extra, ["--bind", "0:1"]);
        assert!(parse(&["serve", "--bind"]).is_err());
        assert!(
            parse(&["serve", "extra"]).is_err(),
            "runserver arguments go after --"
        );
    }

    #[test]
    fn usage_errors_exit_2() {
        let err = parse(&["frobnicate"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert_eq!(parse(&["setup", "x"]).unwrap_err().exit_code(), 2);
        assert_eq!(parse(&[]).unwrap_err().exit_code(), 2);
        assert!(matches!(parse(&["test"]), Ok(Command::Test)));
        assert!(matches!(parse(&["setup"]), Ok(Command::Setup)));
    }
}
