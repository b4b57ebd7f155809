//! `ServerCommand`: serve Rust routes only.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Arg, ArgMatches};
use puff_greenlet::PuffError;
use puff_http::{HttpConfig, HttpSettings, Router};

use super::{CommandContext, CommandFuture, RunnableCommand};

/// `runserver` (alias `serve`) for a Rust [`Router`].
pub struct ServerCommand {
    router: Router,
}

impl ServerCommand {
    pub fn new(router: Router) -> Self {
        ServerCommand { router }
    }
}

/// The `runserver` subcommand definition shared by the server commands.
pub(crate) fn runserver_cli(about: &str) -> clap::Command {
    clap::Command::new("runserver")
        .visible_alias("serve")
        .about(about.to_owned())
        .arg(
            Arg::new("bind").long("bind").value_name("HOST:PORT").help(
                "Address to listen on (default: `bind` from the config, else 127.0.0.1:7777)",
            ),
        )
}

/// The HTTP settings and bind address for this run (`--bind` wins over the config).
pub(crate) fn http_settings(
    ctx: &CommandContext,
    args: &ArgMatches,
) -> Result<(HttpConfig, SocketAddr), PuffError> {
    let config = ctx
        .resources
        .get::<HttpConfig>("default")
        .map(|c| (*c).clone())
        .unwrap_or_else(|| ctx.config.http_config().clone());
    let bind = args
        .get_one::<String>("bind")
        .cloned()
        .unwrap_or_else(|| config.bind.clone());
    let addr: SocketAddr = bind.parse().map_err(|_| {
        PuffError::Config(format!(
            "--bind `{bind}` is not a `host:port` socket address (e.g. 127.0.0.1:7777)"
        ))
    })?;
    Ok((config, addr))
}

/// Just before serving: move everything loaded so far (the app, its imports) out of the
/// garbage collector's sight with `gc.freeze()`, so collections only look at objects made
/// while serving. Skipped when `gc_threshold = 0` leaves Python's collector alone.
pub(crate) async fn freeze_gc(ctx: &CommandContext) -> Result<(), PuffError> {
    if ctx.config.gc_threshold().is_none() {
        return Ok(());
    }
    ctx.python
        .run(|py| {
            use puff_greenlet::pyo3::prelude::PyAnyMethods;
            py.import("gc")?.call_method0("freeze").map(|_| ())
        })
        .await
}

/// The command's Rust routes plus those subsystems mount (GraphQL endpoints).
pub(crate) fn mounted_routes(router: Router, ctx: &CommandContext) -> Result<Router, PuffError> {
    router
        .with_mounted(&ctx.resources)
        .map_err(|e| PuffError::Config(e.to_string()))
}

impl RunnableCommand for ServerCommand {
    fn cli(&self) -> clap::Command {
        runserver_cli("Serve the program's Rust routes over HTTP")
    }

    fn run(&self, ctx: CommandContext, args: ArgMatches) -> CommandFuture {
        let router = self.router.clone();
        Box::pin(async move {
            let (config, addr) = http_settings(&ctx, &args)?;
            let router = mounted_routes(router, &ctx)?;
            let app = puff_http::apply_middleware(router, &config);
            freeze_gc(&ctx).await?;
            puff_http::serve(app, addr, &config, super::shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        })
    }
}
