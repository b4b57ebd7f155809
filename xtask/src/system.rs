//! The Debian packages xtask installs when they are missing: the Postgres and Redis servers
//! the tests start (`cargo xtask setup`, as root only, else the command to run) and the
//! benchmarks' tools (wrk, valgrind; through sudo when not root).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::command;

/// The folder holding the Postgres server binaries `initdb` and `pg_ctl`, if installed.
pub fn postgres_bindir() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("PG_BINDIR") {
        candidates.push(dir.into());
    }
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<(u32, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
                Some((v, e.path().join("bin")))
            })
            .collect();
        versions.sort_by_key(|v| std::cmp::Reverse(v.0));
        candidates.extend(versions.into_iter().map(|(_, p)| p));
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    candidates
        .into_iter()
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
}

/// Install the Debian package `package` with apt-get when we are root on a Debian-like
/// machine; otherwise fail with `why` and the command to run.
fn apt_install(package: &str, why: &str) -> Result<()> {
    let is_root = command::capture(Command::new("id").arg("-u"))
        .map(|out| out.trim() == "0")
        .unwrap_or(false);
    if !(is_root && command::on_path("apt-get")) {
        bail!("{why}; install it with `sudo apt-get install -y {package}` (Debian/Ubuntu)");
    }
    println!("[setup] {why}: apt-get install -y {package}");
    let mut update = Command::new("apt-get");
    update.args(["update", "-qq"]);
    command::run(&mut update).context("apt-get update failed")?;
    let mut install = Command::new("apt-get");
    install.env("DEBIAN_FRONTEND", "noninteractive").args([
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
        package,
    ]);
    command::run(&mut install)
        .with_context(|| format!("installing the Debian package `{package}` failed"))
}

/// The Postgres tests start private servers from the installed binaries: install them with
/// apt-get when we are root on a Debian-like machine, else fail with the command to run.
pub fn ensure_postgres_binaries() -> Result<()> {
    if let Some(dir) = postgres_bindir() {
        println!("[setup] Postgres server binaries: {}", dir.display());
        return Ok(());
    }
    apt_install(
        "postgresql",
        "the Postgres tests need the Postgres server binaries (initdb, pg_ctl; or set \
         PG_BINDIR to their folder)",
    )?;
    if postgres_bindir().is_none() {
        bail!("installed `postgresql` but still cannot find initdb and pg_ctl");
    }
    Ok(())
}

/// The Redis tests start private servers from the installed `redis-server` (or
/// `$REDIS_SERVER`): install it with apt-get when we are root on a Debian-like machine, else
/// fail with the command to run.
pub fn ensure_redis_binaries() -> Result<()> {
    if let Some(path) = std::env::var_os("REDIS_SERVER") {
        let path = PathBuf::from(path);
        if path.is_file() {
            println!(
                "[setup] Redis server binary: {} ($REDIS_SERVER)",
                path.display()
            );
            return Ok(());
        }
        bail!(
            "REDIS_SERVER is set to {}, which is not a file",
            path.display()
        );
    }
    if command::on_path("redis-server") {
        println!("[setup] Redis server binary: redis-server (on PATH)");
        return Ok(());
    }
    apt_install(
        "redis-server",
        "the Redis tests need `redis-server` (or set REDIS_SERVER to its path)",
    )?;
    if !command::on_path("redis-server") {
        bail!("installed `redis-server` but still cannot find it on PATH");
    }
    Ok(())
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
