//! `ServerCommand`: serve Rust routes only.

use std::process::ExitCode;

use clap::ArgMatches;
use puff_greenlet::{CommandContext, CommandFuture, RunnableCommand, shutdown_signal};

use super::{http_settings, mounted_routes, runserver_cli};
use crate::Router;

/// `runserver` (alias `serve`) for a Rust [`Router`].
pub struct ServerCommand {
    router: Router,
}

impl ServerCommand {
    pub fn new(router: Router) -> Self {
        ServerCommand { router }
    }
}

impl RunnableCommand for ServerCommand {
    fn cli(&self) -> clap::Command {
        runserver_cli("Serve the program's Rust routes over HTTP")
    }

    super::serves_in_workers!();

    fn run(&self, ctx: CommandContext, args: ArgMatches) -> CommandFuture {
        let router = self.router.clone();
        Box::pin(async move {
            let (config, addr) = http_settings(&ctx, &args)?;
            let router = mounted_routes(router, &ctx)?;
            let app = crate::apply_middleware(router, &config);
            ctx.freeze_gc().await?;
            crate::serve(app, addr, &config, shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        })
    }
}
