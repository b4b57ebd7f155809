//! Whether a command runs under the supervisor: `--workers N` (else `PUFF_WORKERS`, else
//! `workers` in puff.toml) and `--reload`, and what the supervisor then needs.

use std::ffi::OsString;

use clap::{Arg, ArgAction, ArgMatches};

use crate::config::RuntimeConfig;
use crate::config::workers::parse_worker_count;
use crate::program::commands::RunnableCommand;
use crate::supervisor::SupervisorSettings;

/// `--workers` and `--reload` for a command that [runs in
/// workers](RunnableCommand::runs_in_workers).
pub(super) fn with_worker_args(command: clap::Command) -> clap::Command {
    command
        .arg(Arg::new("workers").long("workers").value_name("N").help(
            "Worker processes under a supervisor (0: one per CPU; default: \
                     $PUFF_WORKERS, else `workers` in the config, else 1 = this process)",
        ))
        .arg(
            Arg::new("reload")
                .long("reload")
                .action(ArgAction::SetTrue)
                .help("Restart the workers when a file under python_path or the config changes"),
        )
        .arg(super::metrics::metrics_arg())
}

/// The supervisor's settings when the command should run supervised, `None` when it runs
/// in this process (one worker, no `--reload`).
pub(super) fn supervised(
    config: &RuntimeConfig,
    command: &dyn RunnableCommand,
    args: &[OsString],
    matches: &ArgMatches,
    metrics_bind: Option<String>,
) -> Result<Option<SupervisorSettings>, String> {
    let mut workers = config.workers.clone();
    let mut count_from_file = true;
    if let Some(value) = std::env::var("PUFF_WORKERS").ok().filter(|v| !v.is_empty()) {
        workers.workers = parse_worker_count(&value, "PUFF_WORKERS")?;
        count_from_file = false;
    }
    if let Some(value) = matches.get_one::<String>("workers") {
        workers.workers = parse_worker_count(value, "--workers")?;
        count_from_file = false;
    }
    let reload = matches.get_flag("reload");
    if workers.worker_count() == 1 && !reload {
        return Ok(None);
    }
    let spec = command
        .worker_spec(&config.subsystems, matches)
        .map_err(|e| e.to_string())?;
    let mut watch = Vec::new();
    if reload {
        watch.extend(config.python_paths.iter().cloned());
        watch.extend(config.source.iter().cloned());
    }
    let program = std::env::current_exe()
        .map_err(|e| format!("cannot find this program's path to start workers: {e}"))?;
    Ok(Some(SupervisorSettings {
        workers,
        spec,
        watch,
        program,
        args: args.iter().skip(1).cloned().collect(),
        config_file: config.source.clone(),
        count_from_file,
        metrics_bind,
    }))
}
