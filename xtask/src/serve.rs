//! `cargo xtask serve`: set up, build, then replace this process with
//! `puff-cli --config examples/NAME/puff.toml runserver ARGS` run from the example's folder.

use std::os::unix::process::CommandExt;

use anyhow::{Result, bail};

use crate::command;
use crate::repo::Repo;
use crate::usage::usage_err;
use crate::{build, setup};

/// `cargo xtask serve [--example NAME] [-- ARGS...]`.
#[derive(clap::Args, Debug, PartialEq)]
pub struct Args {
    /// The example to serve: a folder of examples/ with a puff.toml
    #[arg(long, value_name = "NAME", default_value = "hello")]
    pub example: String,
    /// Extra puff-cli runserver arguments, after `--` (e.g. `-- --bind 0.0.0.0:8000`)
    #[arg(last = true, value_name = "ARGS")]
    pub extra: Vec<String>,
}

pub fn run(repo: &Repo, args: &Args) -> Result<()> {
    let example = args.example.as_str();
    if example.is_empty() || example.contains(['/', '\\']) || example.starts_with('.') {
        return usage_err(format!("bad example name `{example}`"));
    }
    let dir = repo.root.join("examples").join(example);
    let config = dir.join("puff.toml");
    if !config.is_file() {
        let mut names: Vec<String> = std::fs::read_dir(repo.root.join("examples"))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter(|e| e.path().join("puff.toml").is_file())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        return usage_err(format!(
            "{} not found; examples with a puff.toml: {}",
            repo.rel(&config),
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        ));
    }
    setup::run(repo)?;
    build::run(repo, &build::Args::default())?;

    let binary = repo.root.join("target/debug/puff-cli");
    let mut cmd = repo.command(&binary);
    cmd.current_dir(&dir)
        .arg("--config")
        .arg(&config)
        .arg("runserver")
        .args(&args.extra);
    println!(
        "[serve] (in {}) {}",
        repo.rel(&dir),
        command::display_cmd(&cmd)
    );
    // Replace this process with puff-cli (cargo run already exec'd us), so Ctrl-C reaches
    // puff-cli directly and its graceful shutdown and exit code are what the shell sees.
    let err = cmd.exec();
    bail!("cannot run {}: {err}", binary.display())
}
