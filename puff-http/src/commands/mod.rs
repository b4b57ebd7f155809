//! The commands the http subsystem contributes to a program: `runserver` for Rust routes
//! ([`ServerCommand`]), a WSGI app ([`WSGIServerCommand`]) or an ASGI app
//! ([`ASGIServerCommand`]), and what they share (the subcommand definition, the bind
//! address, the mounted routes).

mod asgi;
mod server;
mod wsgi;

use std::net::SocketAddr;

use clap::{Arg, ArgMatches};
use puff_greenlet::{CommandContext, ListenSpec, PuffError, PuffResult, Subsystem, WorkerSpec};

use crate::{HttpConfig, Router};

pub use asgi::ASGIServerCommand;
pub use server::ServerCommand;
pub use wsgi::WSGIServerCommand;

/// The `runserver` subcommand definition shared by the server commands.
fn runserver_cli(about: &str) -> clap::Command {
    clap::Command::new("runserver")
        .visible_alias("serve")
        .about(about.to_owned())
        .arg(
            Arg::new("bind").long("bind").value_name("HOST:PORT").help(
                "Address to listen on (default: `bind` from the config, else 127.0.0.1:7777)",
            ),
        )
}

/// `RunnableCommand`'s worker-process methods, the same for every server command.
macro_rules! serves_in_workers {
    () => {
        fn runs_in_workers(&self) -> bool {
            true
        }

        fn worker_spec(
            &self,
            subsystems: &[Box<dyn puff_greenlet::Subsystem>],
            args: &clap::ArgMatches,
        ) -> puff_greenlet::PuffResult<puff_greenlet::WorkerSpec> {
            super::worker_spec(subsystems, args)
        }
    };
}
use serves_in_workers;

/// The HTTP settings and bind address for this run (`--bind` wins over the config).
fn http_settings(
    ctx: &CommandContext,
    args: &ArgMatches,
) -> Result<(HttpConfig, SocketAddr), PuffError> {
    // The http subsystem registers its settings when it starts, which a program always
    // does before running a command; the defaults are only a fallback.
    let config = ctx
        .resources
        .get::<HttpConfig>("default")
        .map(|c| (*c).clone())
        .unwrap_or_default();
    let addr = bind_address(&config, args)?;
    Ok((config, addr))
}

/// What a supervisor needs for `runserver --workers N`: the same address and backlog the
/// single process would listen on, read from the (not yet started) http subsystem, and
/// how long a worker may take to finish its requests.
fn worker_spec(subsystems: &[Box<dyn Subsystem>], args: &ArgMatches) -> PuffResult<WorkerSpec> {
    let config = subsystems
        .iter()
        .find_map(|s| s.as_any().downcast_ref::<crate::HttpSubsystem>())
        .map(|http| http.config.clone())
        .unwrap_or_default();
    Ok(WorkerSpec {
        listen: Some(ListenSpec {
            addr: bind_address(&config, args)?,
            backlog: config.backlog,
        }),
        stop_timeout: config.shutdown_timeout(),
    })
}

fn bind_address(config: &HttpConfig, args: &ArgMatches) -> Result<SocketAddr, PuffError> {
    let bind = args
        .get_one::<String>("bind")
        .cloned()
        .unwrap_or_else(|| config.bind.clone());
    bind.parse().map_err(|_| {
        PuffError::Config(format!(
            "--bind `{bind}` is not a `host:port` socket address (e.g. 127.0.0.1:7777)"
        ))
    })
}

/// The command's Rust routes plus those subsystems mount (GraphQL endpoints).
fn mounted_routes(router: Router, ctx: &CommandContext) -> Result<Router, PuffError> {
    router
        .with_mounted(&ctx.resources)
        .map_err(|e| PuffError::Config(e.to_string()))
}
