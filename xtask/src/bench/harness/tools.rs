//! The tools a benchmark needs besides the peers: Debian packages (wrk, valgrind; installed
//! with apt-get when missing) and the release puff-cli.

use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::command;
use crate::repo::Repo;

/// Installs wrk with apt-get when it is not on PATH.
pub fn ensure_wrk() -> Result<()> {
    ensure_debian_tool("wrk", "wrk")
}

/// Installs Debian's `package` with apt-get when `binary` is not on PATH.
pub fn ensure_debian_tool(binary: &str, package: &str) -> Result<()> {
    if command::on_path(binary) {
        println!("    {binary} found");
        return Ok(());
    }
    println!("    {binary} not found: installing the Debian package `{package}` with apt-get");
    if !command::on_path("apt-get") {
        bail!("{binary} is missing and apt-get is not available: install {package} by hand");
    }
    let root = command::capture(Command::new("id").arg("-u"))
        .map(|s| s.trim() == "0")
        .unwrap_or(false);
    let apt = |args: &[&str]| -> Command {
        let mut cmd = if root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd.stdin(Stdio::null());
        cmd
    };
    command::run(&mut apt(&["update", "-qq"])).context("apt-get update failed")?;
    command::run(&mut apt(&[
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
        package,
    ]))
    .with_context(|| format!("apt-get install {package} failed"))?;
    if !command::on_path(binary) {
        bail!("apt-get installed {package} but {binary} is still not on PATH");
    }
    Ok(())
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
