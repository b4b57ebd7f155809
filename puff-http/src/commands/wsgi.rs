//! `WSGIServerCommand`: serve a Python WSGI app (and optional Rust routes).

use std::process::ExitCode;

use clap::ArgMatches;
use puff_greenlet::{CommandContext, CommandFuture, PuffError, RunnableCommand, shutdown_signal};

use super::{http_settings, mounted_routes, runserver_cli};
use crate::Router;

/// `runserver` (alias `serve`): the WSGI app at `module.attr`, one greenlet per request,
/// behind any Rust routes given with [`WSGIServerCommand::new_with_router`].
pub struct WSGIServerCommand {
    app_path: String,
    router: Router,
}

impl WSGIServerCommand {
    pub fn new(app_path: impl Into<String>) -> Self {
        Self::new_with_router(app_path, Router::new())
    }

    /// Rust routes are tried first; unmatched requests go to the WSGI app.
    pub fn new_with_router(app_path: impl Into<String>, router: Router) -> Self {
        WSGIServerCommand {
            app_path: app_path.into(),
            router,
        }
    }
}

impl RunnableCommand for WSGIServerCommand {
    fn cli(&self) -> clap::Command {
        runserver_cli(&format!("Serve the WSGI app {} over HTTP", self.app_path))
    }

    super::serves_in_workers!();

    fn run(&self, ctx: CommandContext, args: ArgMatches) -> CommandFuture {
        let router = self.router.clone();
        let app_path = self.app_path.clone();
        Box::pin(async move {
            let (config, addr) = http_settings(&ctx, &args)?;
            let router = mounted_routes(router, &ctx)?;
            let app = match ctx.python.import_object(&app_path).await {
                Ok(app) => app,
                Err(PuffError::Python(e)) => {
                    return Err(PuffError::Config(format!(
                        "cannot load the WSGI app `{app_path}`:\n{}",
                        e.traceback().trim_end()
                    )));
                }
                Err(e) => return Err(e),
            };
            let router = crate::with_wsgi_fallback(router, app, ctx.python.clone(), &config, addr);
            let app = crate::apply_middleware(router, &config);
            ctx.freeze_gc().await?;
            crate::serve(app, addr, &config, shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        })
    }
}
