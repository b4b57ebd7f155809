//! Database servers for a benchmark: a helper script from the peers venv
//! (`bench/apps/pg_bench_server.py`, `redis_bench_server.py`, ...) starts a private server
//! (or uses the one an environment variable names), prints its URL and version, and owns it
//! until its standard input is closed.

use std::fs::File;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::process::{log_excerpt, peer_command};
use crate::command;
use crate::repo::Repo;

/// The variables naming an existing Postgres server instead of a private one (read by the
/// helpers).
pub const POSTGRES_URL_VARS: [&str; 2] = ["PUFF_BENCH_POSTGRES_URL", "PUFF_TEST_POSTGRES_URL"];
/// The same for Redis.
pub const REDIS_URL_VARS: [&str; 2] = ["PUFF_BENCH_REDIS_URL", "PUFF_TEST_REDIS_URL"];

/// The first of `vars` that is set and not empty.
pub fn external_server(vars: [&'static str; 2]) -> Option<&'static str> {
    vars.into_iter()
        .find(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
}

/// The progress line of a Redis server: from `external` (the variable naming it) or private.
pub fn redis_server_line(external: Option<&str>, server_cpu: &str) -> String {
    match external {
        Some(var) => format!("Redis from ${var}"),
        None => format!("private redis-server (--save \"\" --appendonly no) on CPU {server_cpu}"),
    }
}

/// A server helper script run from the peers venv (`bench/apps/pg_bench_server.py`,
/// `bench/apps/redis_bench_server.py`): owns the database server (and the bench's data)
/// until its standard input is closed.
pub struct HelperProc {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    /// "Postgres", "Redis": for messages.
    what: &'static str,
}

impl HelperProc {
    pub fn stop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if Instant::now() > deadline => {
                    println!(
                        "    WARNING: the {} helper did not stop within 60 s: killed",
                        self.what
                    );
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// An error when the helper (and so the server) has gone away.
    pub fn check_alive(&mut self, log_path: &Path) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            self.stdin = None;
            bail!(
                "the {} server helper exited ({}):\n{}",
                self.what,
                command::describe_status(status),
                log_excerpt(log_path)
            );
        }
        Ok(())
    }
}

impl Drop for HelperProc {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            self.stop();
        }
    }
}

/// Starts the server helper `args` (script first) pinned to `cpu` and waits for its
/// `{prefix}_URL=` line; returns the helper, the URL and the server version (the
/// `{prefix}_VERSION=` line).
pub fn start_helper(
    repo: &Repo,
    peers_venv: &Path,
    cpu: &str,
    args: &[String],
    (prefix, what): (&str, &'static str),
    log_path: &Path,
) -> Result<(HelperProc, String, String)> {
    let log =
        File::create(log_path).with_context(|| format!("cannot create {}", log_path.display()))?;
    let mut cmd = peer_command(peers_venv, cpu, args);
    cmd.env_remove("PYTHONPATH")
        .current_dir(repo.root.join("bench/apps"))
        .stdin(Stdio::piped())
        .stdout(log.try_clone()?)
        .stderr(log);
    println!("    $ {}", command::display_cmd(&cmd));
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start bench/apps/{}", args[0]))?;
    let stdin = child.stdin.take();
    let mut server = HelperProc { child, stdin, what };
    let (url_key, version_key) = (format!("{prefix}_URL="), format!("{prefix}_VERSION="));
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let out = std::fs::read_to_string(log_path).unwrap_or_default();
        if let Some(url) = out
            .lines()
            .find_map(|l| l.trim().strip_prefix(url_key.as_str()))
        {
            let version = out
                .lines()
                .find_map(|l| l.trim().strip_prefix(version_key.as_str()))
                .unwrap_or("unknown")
                .to_string();
            return Ok((server, url.to_string(), version));
        }
        server.check_alive(log_path)?;
        if Instant::now() > deadline {
            server.stop();
            bail!(
                "the {what} server was not ready within 180 s:\n{}",
                log_excerpt(log_path)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
