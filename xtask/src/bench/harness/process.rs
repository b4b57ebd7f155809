//! The processes of a benchmark: CPUs to pin them to, commands pinned with a raised
//! open-files limit (puff-cli, the peers' Python), free ports, servers that are stopped when
//! dropped, waiting for a server to accept, and the lines of their logs that reports quote.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::command;
use crate::repo::{self, Repo};

const NOFILE: u32 = 65_536;

/// Where the CPUs for the process under test and the load come from.
pub fn pick_cpus() -> (&'static str, &'static str) {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus >= 2 {
        ("0", "1")
    } else {
        println!("    WARNING: only one CPU available: both sides share CPU 0");
        ("0", "0")
    }
}

/// The CPUs for servers of `workers` worker processes and for the load: with several
/// workers the servers get every CPU (on one they would share it), the load the last one,
/// which it then shares with them.
pub fn pick_cpus_for_workers(workers: u32) -> (&'static str, &'static str) {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if workers <= 1 || cpus < 2 {
        return pick_cpus();
    }
    static CPUS: OnceLock<(String, String)> = OnceLock::new();
    let (all, last) = CPUS.get_or_init(|| (format!("0-{}", cpus - 1), (cpus - 1).to_string()));
    (all, last)
}

/// An error unless taskset is installed; `what` says what it pins.
pub fn require_taskset(what: &str) -> Result<()> {
    if !command::on_path("taskset") {
        bail!("taskset is missing (Debian package util-linux); it pins {what} to CPUs");
    }
    Ok(())
}

/// A free TCP port on 127.0.0.1 (the OS picks; we release it right away).
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind a local port")?;
    Ok(listener.local_addr()?.port())
}

/// Wraps `program args` so it runs with a raised open-files limit, pinned to `cpu`.
pub fn pinned(cpu: &str, program: &Path, args: &[String]) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!(
            "ulimit -n {NOFILE} 2>/dev/null || ulimit -n \"$(ulimit -Hn)\" 2>/dev/null; exec \"$@\""
        ))
        .arg("sh")
        .args(["taskset", "-c", cpu])
        .arg(program)
        .args(args);
    cmd
}

/// `puff-cli args`, pinned to `cpu`, run against the project venv.
pub fn puff_cli_command(repo: &Repo, cpu: &str, args: &[String]) -> Command {
    let mut cmd = pinned(cpu, &repo.root.join("target/release/puff-cli"), args);
    cmd.env("PYO3_PYTHON", repo.venv_python());
    repo::apply_venv_env(&mut cmd, &repo.venv);
    cmd
}

/// `python args` from the peers venv, pinned to `cpu`.
pub fn peer_command(peers_venv: &Path, cpu: &str, args: &[String]) -> Command {
    let mut cmd = pinned(cpu, &peers_venv.join("bin/python"), args);
    cmd.env_remove("PYO3_PYTHON");
    repo::apply_venv_env(&mut cmd, peers_venv);
    cmd
}

/// A running server that is stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Running {
    pub child: Child,
    pub name: &'static str,
}

impl Running {
    pub fn stop(&mut self) -> Result<()> {
        if self.child.try_wait()?.is_some() {
            return Ok(());
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        println!(
            "    {} did not stop within 15 s of SIGTERM: killing it",
            self.name
        );
        let _ = self.child.kill();
        let _ = self.child.wait();
        Ok(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Waits up to 60 s until `running` accepts connections on `addr` (fails if it exits first).
pub fn wait_accepting(running: &mut Running, addr: SocketAddr, log_path: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = running.child.try_wait()? {
            bail!(
                "{} exited before accepting connections ({}): {}\n{}",
                running.name,
                command::describe_status(status),
                last_line(log_path),
                log_excerpt(log_path)
            );
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "{} did not accept on {addr} within 60 s: {}\n{}",
                running.name,
                last_line(log_path),
                log_excerpt(log_path)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The last non-empty line of a server log (usually the error), for one-line reports.
pub fn last_line(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let line = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty() && *l != "]");
    line.unwrap_or("(empty log)").to_string()
}

/// Where the log is and its last lines, for the console.
pub fn log_excerpt(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let tail = all[all.len().saturating_sub(12)..].join("\n      ");
    format!("    log {}:\n      {tail}", path.display())
}

/// The first line of `s`, trimmed.
pub fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().trim().to_string()
}
