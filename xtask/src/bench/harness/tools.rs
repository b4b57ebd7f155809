//! The tools a benchmark needs besides the peers: wrk (installed with apt-get when missing)
//! and the release puff-cli.

use anyhow::{Context, Result, bail};

use crate::command;
use crate::repo::Repo;
use crate::system::ensure_debian_tool;

/// Installs wrk with apt-get when it is not on PATH.
pub fn ensure_wrk() -> Result<()> {
    ensure_debian_tool("wrk", "wrk")
}

/// Step `step` of `bench postgres` / `bench redis`: builds the release puff-cli unless
/// Puff is not selected or --skip-build; an error when the binary is missing afterwards.
pub fn ensure_puff_cli(repo: &Repo, skip_build: bool, with_puff: bool, step: &str) -> Result<()> {
    if !with_puff {
        println!("[bench {step}] puff not selected -- no build");
        return Ok(());
    }
    if skip_build {
        println!("[bench {step}] cargo build --release -p puff-cli -- skipped");
    } else {
        println!("[bench {step}] cargo build --release -p puff-cli");
        command::run(repo.cargo().args(["build", "--release", "-p", "puff-cli"]))
            .context("building puff-cli failed")?;
    }
    let puff_cli = repo.root.join("target/release/puff-cli");
    if !puff_cli.is_file() {
        bail!("{} does not exist", repo.rel(&puff_cli));
    }
    Ok(())
}
