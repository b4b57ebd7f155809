//! `WaitForever`: keep the runtime (and its background workers) alive until a signal.

use std::process::ExitCode;

use clap::ArgMatches;

use super::{CommandContext, CommandFuture, RunnableCommand};

/// `wait-forever`: run background work (e.g. task queue workers) until SIGINT/SIGTERM.
pub struct WaitForever;

impl RunnableCommand for WaitForever {
    fn cli(&self) -> clap::Command {
        clap::Command::new("wait-forever")
            .about("Keep the runtime running (background workers only) until SIGINT/SIGTERM")
    }

    fn runs_in_workers(&self) -> bool {
        true
    }

    fn run(&self, _ctx: CommandContext, _args: ArgMatches) -> CommandFuture {
        Box::pin(async {
            tracing::info!("waiting for SIGINT/SIGTERM");
            puff_greenlet::supervision::notify(&puff_greenlet::supervision::WorkerMessage::Ready);
            puff_greenlet::watchdog::arm();
            crate::program::commands::shutdown_signal().await;
            Ok(ExitCode::SUCCESS)
        })
    }
}
