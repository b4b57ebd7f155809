//! `ASGIServerCommand`: serve a Python ASGI app (and optional Rust routes) on Puff's loop.

use std::process::ExitCode;
use std::sync::Arc;

use clap::ArgMatches;
use puff_greenlet::{CommandContext, CommandFuture, PuffError, RunnableCommand, shutdown_signal};

use super::{http_settings, mounted_routes, runserver_cli};
use crate::{Lifespan, Router};

/// `runserver` (alias `serve`): the ASGI app at `module.attr` as tasks on the event loop,
/// behind any Rust routes given with [`ASGIServerCommand::new_with_router`]. Runs the
/// lifespan protocol around serving. Needs `asyncio` (enabled automatically by puff-cli;
/// use `RuntimeConfig::set_asyncio(true)` in your own binary).
pub struct ASGIServerCommand {
    app_path: String,
    router: Router,
}

impl ASGIServerCommand {
    pub fn new(app_path: impl Into<String>) -> Self {
        Self::new_with_router(app_path, Router::new())
    }

    /// Rust routes are tried first; unmatched requests go to the ASGI app.
    pub fn new_with_router(app_path: impl Into<String>, router: Router) -> Self {
        ASGIServerCommand {
            app_path: app_path.into(),
            router,
        }
    }
}

impl RunnableCommand for ASGIServerCommand {
    fn cli(&self) -> clap::Command {
        runserver_cli(&format!("Serve the ASGI app {} over HTTP", self.app_path))
    }

    super::serves_in_workers!();

    fn run(&self, ctx: CommandContext, args: ArgMatches) -> CommandFuture {
        let router = self.router.clone();
        let app_path = self.app_path.clone();
        Box::pin(async move {
            if ctx.python.event_loop().is_none() {
                return Err(PuffError::Config(
                    "serving an ASGI app needs the asyncio event loop: set `asyncio = true` \
                     (RuntimeConfig::set_asyncio(true))"
                        .into(),
                ));
            }
            let (config, addr) = http_settings(&ctx, &args)?;
            let router = mounted_routes(router, &ctx)?;
            let app = match ctx.python.import_object(&app_path).await {
                Ok(app) => Arc::new(app),
                Err(PuffError::Python(e)) => {
                    return Err(PuffError::Config(format!(
                        "cannot load the ASGI app `{app_path}`:\n{}",
                        e.traceback().trim_end()
                    )));
                }
                Err(e) => return Err(e),
            };
            let (lifespan, state) = Lifespan::startup(&ctx.python, app.clone()).await?;
            let router =
                crate::with_asgi_fallback(router, app, state, ctx.python.clone(), &config, addr);
            let app = crate::apply_middleware(router, &config);
            ctx.freeze_gc().await?;
            let served = crate::serve(app, addr, &config, shutdown_signal()).await;
            if let Err(e) = lifespan.shutdown().await {
                tracing::error!("ASGI lifespan shutdown failed: {e}");
            }
            served?;
            Ok(ExitCode::SUCCESS)
        })
    }
}
