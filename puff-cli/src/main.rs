//! `puff-cli`: run Python apps on Puff from a `puff.toml`, without writing Rust.
//!
//! Reads the configuration (`--config PATH`, else `$PUFF_CONFIG`, else `./puff.toml`),
//! turns it into a `RuntimeConfig` and a `Program` with the stock subcommands, and runs it.
//! Owns only that translation; everything else lives in `puff-core` and below.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

#[cfg(feature = "graphql")]
use puff_core::graphql::GraphqlSettings;
use puff_core::program::Program;
use puff_core::program::commands::{
    CommandContext, CommandFuture, DjangoManagementCommand, ExampleConfigCommand, PytestCommand,
    PythonCommand, RunnableCommand, WaitForever,
};
use puff_core::{RuntimeConfig, clap};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Subcommand names reserved by puff-cli itself.
const RESERVED: &[&str] = &[
    "runserver",
    "serve",
    "pytest",
    "wait-forever",
    "example-config",
    "django",
    "tasks",
    "help",
];

/// Where the config comes from, and whether it was asked for explicitly.
fn config_path(args: &[OsString]) -> (Option<PathBuf>, bool) {
    let mut iter = args.iter().skip(1);
    while let Some(arg) = iter.next() {
        let Some(arg) = arg.to_str() else { continue };
        if arg == "--config" {
            return (iter.next().map(PathBuf::from), true);
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return (Some(PathBuf::from(path)), true);
        }
        if !arg.starts_with('-') {
            break; // options after the subcommand belong to it
        }
    }
    if let Some(path) = std::env::var_os("PUFF_CONFIG").filter(|p| !p.is_empty()) {
        return (Some(PathBuf::from(path)), true);
    }
    let default = PathBuf::from("puff.toml");
    (default.exists().then_some(default), false)
}

fn subcommand_name(args: &[OsString]) -> Option<String> {
    let mut iter = args.iter().skip(1);
    while let Some(arg) = iter.next() {
        let arg = arg.to_str()?;
        if arg == "--config" {
            iter.next();
        } else if !arg.starts_with('-') {
            return Some(arg.to_owned());
        }
    }
    None
}

/// `runserver` when no `wsgi` app is configured: explain what to add.
struct MissingWsgiApp;

impl RunnableCommand for MissingWsgiApp {
    fn cli(&self) -> clap::Command {
        clap::Command::new("runserver")
            .visible_alias("serve")
            .about("Serve the `wsgi` app from puff.toml (none configured)")
            .arg(clap::Arg::new("bind").long("bind").value_name("HOST:PORT"))
    }

    fn needs_runtime(&self) -> bool {
        false
    }

    fn run_without_runtime(&self, _args: &clap::ArgMatches) -> ExitCode {
        eprintln!(
            "error: no app to serve: add `wsgi = \"module.app\"` or `asgi = \"module.app\"` \
             to puff.toml (see `puff-cli example-config`)"
        );
        ExitCode::from(2)
    }

    fn run(&self, _ctx: CommandContext, _args: clap::ArgMatches) -> CommandFuture {
        Box::pin(async { Ok(ExitCode::from(2)) })
    }
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let (path, explicit) = config_path(&args);
    let config = match &path {
        Some(path) if explicit && !path.exists() => {
            eprintln!("error: config file {} does not exist", path.display());
            return ExitCode::from(2);
        }
        Some(path) => match RuntimeConfig::from_toml_file(path) {
            Ok(config) => config,
            Err(e) if subcommand_name(&args).as_deref() == Some("example-config") => {
                eprintln!("warning: {e}");
                RuntimeConfig::default()
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        None => RuntimeConfig::default().add_python_path("."),
    };

    let mut program = Program::new("puff-cli")
        .about("Puff: Python on Rust's Tokio. Serves WSGI apps and runs Python as greenlets.")
        .global_arg(
            clap::Arg::new("config")
                .long("config")
                .value_name("PATH")
                .help("puff.toml to use (default: $PUFF_CONFIG, else ./puff.toml)"),
        );
    program = match (config.wsgi(), config.asgi()) {
        (Some(app), _) => {
            program.command(puff_core::program::commands::WSGIServerCommand::new(app))
        }
        (None, Some(app)) => {
            program.command(puff_core::program::commands::ASGIServerCommand::new(app))
        }
        #[cfg(feature = "graphql")]
        (None, None) if !config.graphql_configs().is_empty() => program.command(
            puff_core::program::commands::ServerCommand::new(puff_core::Router::new()),
        ),
        (None, None) => program.command(MissingWsgiApp),
    };
    for entry in config.commands() {
        if RESERVED.contains(&entry.command_name.as_str()) {
            eprintln!(
                "error: {}: [[commands]] command_name `{}` is reserved by puff-cli",
                path.as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                entry.command_name
            );
            return ExitCode::from(2);
        }
        let mut command = PythonCommand::new(entry.command_name.clone(), entry.function.clone());
        if let Some(about) = &entry.about {
            command = command.about(about.clone());
        }
        program = program.command(command);
    }
    #[cfg(feature = "tasks")]
    {
        program = program.command(puff_core::program::commands::TasksCommand::from_config(
            &config,
        ));
    }
    program
        .command(PytestCommand::discover())
        .command(DjangoManagementCommand::new())
        .command(WaitForever)
        .command(ExampleConfigCommand)
        .runtime_config(config)
        .run_with_args(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn config_flag_before_subcommand() {
        let (p, explicit) = config_path(&os(&["puff-cli", "--config", "x.toml", "runserver"]));
        assert_eq!(p, Some(PathBuf::from("x.toml")));
        assert!(explicit);
        let (p, _) = config_path(&os(&["puff-cli", "--config=y.toml", "pytest"]));
        assert_eq!(p, Some(PathBuf::from("y.toml")));
        assert_eq!(
            subcommand_name(&os(&["puff-cli", "--config", "x.toml", "runserver"])).as_deref(),
            Some("runserver")
        );
    }
}
