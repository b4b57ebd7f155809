//! `cargo xtask bench http`: Puff vs granian vs gunicorn+gevent (and Puff's Rust routes vs bare
//! axum) under the same load generator, server pinned to CPU 0 and wrk to CPU 1.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::setup;
use crate::util::{self, Fnv64, Repo, usage_err};

const PEERS_VENV: &str = "bench/.venv-peers";
const PEERS_REQUIREMENTS: &str = "bench/requirements-peers.txt";
const PEERS_STAMP: &str = ".peers-stamp";
const BODY_LEN: usize = 1024;
const NOFILE: u32 = 65_536;

pub const USAGE: &str = "\
Usage: cargo xtask bench [http] [OPTIONS]

Runs the HTTP benchmark: the server pinned to CPU 0 (taskset -c 0), wrk pinned to CPU 1.
  (a) hello: raw 1 KB WSGI app, 64 connections      puff vs granian vs gunicorn+gevent
  (b) wait:  20 ms sleep per request, 256 conns     puff vs granian vs gunicorn+gevent
  (c) wait:  20 ms sleep per request, 1024 conns    puff vs granian vs gunicorn+gevent
  (d) rust:  GET /rust/hello, 64 connections        puff-example-rust-app vs bare axum
Installs wrk (apt-get) and bench/.venv-peers (granian, gunicorn, gevent) when missing and builds
puff-cli, puff-example-rust-app and axum-hello in release mode. Results are printed and saved as
bench/results/http-<UTC timestamp>.md and .json.

Options:
  --duration SECS     measured seconds per run (default 10)
  --warmup SECS       warm-up seconds per run, not measured (default 2; 0 = none)
  --cases LIST        comma-separated subset of a,b,c,d (default all)
  --servers LIST      comma-separated subset of puff,granian,gevent,puff-rust,axum (default all)
  --wrk-threads N     wrk threads (default 1)
  --skip-build        use the existing release binaries instead of running cargo build
  -h, --help          this text";

pub struct Options {
    duration: u64,
    warmup: u64,
    cases: Vec<char>,
    servers: Vec<Server>,
    wrk_threads: u32,
    skip_build: bool,
}

pub fn parse(args: &[String]) -> Result<Option<Options>> {
    let mut opts = Options {
        duration: 10,
        warmup: 2,
        cases: vec!['a', 'b', 'c', 'd'],
        servers: Server::ALL.to_vec(),
        wrk_threads: 1,
        skip_build: false,
    };
    let mut it = args.iter().peekable();
    if let Some(first) = it.peek()
        && !first.starts_with('-')
    {
        if first.as_str() != "http" {
            return usage_err(format!(
                "unknown benchmark `{first}` (known: `http`, `bridge`)"
            ));
        }
        it.next();
    }
    let num = |flag: &str, v: Option<&String>| -> Result<u64> {
        let v = v.ok_or_else(|| util::UsageError(format!("{flag} needs a value")))?;
        v.parse::<u64>()
            .map_err(|_| util::UsageError(format!("{flag}: `{v}` is not a whole number")).into())
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--duration" => {
                opts.duration = num("--duration", it.next())?;
                if opts.duration == 0 {
                    return usage_err("--duration must be at least 1");
                }
            }
            "--warmup" => opts.warmup = num("--warmup", it.next())?,
            "--wrk-threads" => {
                opts.wrk_threads = num("--wrk-threads", it.next())?.clamp(1, 64) as u32;
            }
            "--skip-build" => opts.skip_build = true,
            "--cases" => {
                let v = it
                    .next()
                    .ok_or_else(|| util::UsageError("--cases needs a value".into()))?;
                let mut cases = Vec::new();
                for c in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    match c {
                        "a" | "b" | "c" | "d" => cases.push(c.chars().next().unwrap_or('a')),
                        _ => return usage_err(format!("--cases: unknown case `{c}` (a,b,c,d)")),
                    }
                }
                if cases.is_empty() {
                    return usage_err("--cases: empty list");
                }
                opts.cases = cases;
            }
            "--servers" => {
                let v = it
                    .next()
                    .ok_or_else(|| util::UsageError("--servers needs a value".into()))?;
                let mut servers = Vec::new();
                for s in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    match Server::ALL.iter().find(|k| k.name() == s) {
                        Some(k) => servers.push(*k),
                        None => {
                            return usage_err(format!(
                                "--servers: unknown server `{s}` (puff,granian,gevent,puff-rust,axum)"
                            ));
                        }
                    }
                }
                if servers.is_empty() {
                    return usage_err("--servers: empty list");
                }
                opts.servers = servers;
            }
            other => {
                return usage_err(format!(
                    "unknown bench option `{other}` (see `cargo xtask bench --help`)"
                ));
            }
        }
    }
    Ok(Some(opts))
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Server {
    Puff,
    Granian,
    Gevent,
    PuffRust,
    Axum,
}

impl Server {
    const ALL: [Server; 5] = [
        Server::Puff,
        Server::Granian,
        Server::Gevent,
        Server::PuffRust,
        Server::Axum,
    ];

    fn name(self) -> &'static str {
        match self {
            Server::Puff => "puff",
            Server::Granian => "granian",
            Server::Gevent => "gevent",
            Server::PuffRust => "puff-rust",
            Server::Axum => "axum",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Server::Puff => "puff (puff-cli)",
            Server::Granian => "granian (WSGI)",
            Server::Gevent => "gunicorn+gevent",
            Server::PuffRust => "puff-example-rust-app",
            Server::Axum => "bare axum",
        }
    }
}

#[derive(Clone, Copy)]
struct Case {
    id: char,
    title: &'static str,
    connections: u32,
    path: &'static str,
    wait: bool,
    servers: &'static [Server],
}

const CASES: [Case; 4] = [
    Case {
        id: 'a',
        title: "hello: raw 1 KB WSGI app",
        connections: 64,
        path: "/",
        wait: false,
        servers: &[Server::Puff, Server::Granian, Server::Gevent],
    },
    Case {
        id: 'b',
        title: "wait: 20 ms sleep per request",
        connections: 256,
        path: "/",
        wait: true,
        servers: &[Server::Puff, Server::Granian, Server::Gevent],
    },
    Case {
        id: 'c',
        title: "wait: 20 ms sleep per request",
        connections: 1024,
        path: "/",
        wait: true,
        servers: &[Server::Puff, Server::Granian, Server::Gevent],
    },
    Case {
        id: 'd',
        title: "Rust axum route GET /rust/hello",
        connections: 64,
        path: "/rust/hello",
        wait: false,
        servers: &[Server::PuffRust, Server::Axum],
    },
];

#[derive(Clone, Debug, Default)]
struct Measurement {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    requests: u64,
    socket_errors: u64,
    non_2xx: u64,
}

struct RunResult {
    case: Case,
    server: Server,
    outcome: Result<Measurement, String>,
}

struct Check {
    case: char,
    what: String,
    value: Option<f64>,
    /// `None`: reported for information, no target.
    target: Option<f64>,
    /// true: value must be >= target; false: value must be <= target.
    at_least: bool,
    unit: &'static str,
}

impl Check {
    fn verdict(&self) -> &'static str {
        match (self.value, self.target) {
            (_, None) => "info",
            (None, _) => "n/a",
            (Some(v), Some(t)) if (self.at_least && v >= t) || (!self.at_least && v <= t) => "PASS",
            (Some(_), Some(_)) => "MISS",
        }
    }

    fn target_str(&self) -> String {
        let op = if self.at_least { ">=" } else { "<=" };
        match self.target {
            Some(t) => format!("{op} {}{}", trim_num(t), self.unit),
            None => "-".into(),
        }
    }

    fn value_str(&self) -> String {
        match self.value {
            Some(v) if self.unit == "x" => format!("{v:.2}x"),
            Some(v) => format!("{v:.1}{}", self.unit),
            None => "-".into(),
        }
    }
}

fn trim_num(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// Everything a run needs to know about the machine and tools.
struct Env<'a> {
    repo: &'a Repo,
    peers_venv: PathBuf,
    log_dir: PathBuf,
    server_cpu: &'static str,
    load_cpu: &'static str,
    /// Binaries that failed to build (server -> reason).
    unavailable: Vec<(Server, String)>,
}

pub fn run(repo: &Repo, opts: &Options) -> Result<()> {
    let (y, mo, d, h, mi, s) = util::utc_now();
    let stamp = format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z");
    let iso = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z");

    let cases: Vec<Case> = CASES
        .iter()
        .filter(|c| opts.cases.contains(&c.id))
        .copied()
        .collect();
    let wanted =
        |s: Server| opts.servers.contains(&s) && cases.iter().any(|c| c.servers.contains(&s));
    let need_peers = wanted(Server::Granian) || wanted(Server::Gevent);
    let need_puff = wanted(Server::Puff) || wanted(Server::PuffRust);

    const STEPS: usize = 5;
    println!("[bench 1/{STEPS}] checking the load generator (wrk) and taskset");
    ensure_wrk()?;
    if !util::on_path("taskset") {
        bail!("taskset is missing (Debian package util-linux); it pins servers and wrk to CPUs");
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (server_cpu, load_cpu) = if cpus >= 2 {
        ("0", "1")
    } else {
        println!("    WARNING: only one CPU available: server and wrk share CPU 0");
        ("0", "0")
    };

    let peers_venv = repo.root.join(PEERS_VENV);
    if need_peers {
        println!("[bench 2/{STEPS}] peer servers venv {PEERS_VENV} (granian, gunicorn, gevent)");
        ensure_peers(repo, &peers_venv)?;
    } else {
        println!("[bench 2/{STEPS}] peer servers not selected -- skipped {PEERS_VENV}");
    }

    if need_puff {
        println!("[bench 3/{STEPS}] project virtualenv .venv (needed to build and run Puff)");
        setup::run(repo)?;
    } else {
        println!("[bench 3/{STEPS}] project virtualenv .venv -- skipped (no Puff server selected)");
    }

    let mut env = Env {
        repo,
        peers_venv,
        log_dir: repo.root.join(format!("target/bench-logs/http-{stamp}")),
        server_cpu,
        load_cpu,
        unavailable: Vec::new(),
    };
    std::fs::create_dir_all(&env.log_dir)
        .with_context(|| format!("cannot create {}", env.log_dir.display()))?;

    let mut packages: Vec<(&str, Vec<Server>)> = Vec::new();
    if wanted(Server::Puff) {
        packages.push(("puff-cli", vec![Server::Puff]));
    }
    if wanted(Server::PuffRust) {
        packages.push(("puff-example-rust-app", vec![Server::PuffRust]));
    }
    if wanted(Server::Axum) {
        packages.push(("axum-hello", vec![Server::Axum]));
    }
    if opts.skip_build || packages.is_empty() {
        println!("[bench 4/{STEPS}] cargo build --release -- skipped");
    } else {
        let names: Vec<&str> = packages.iter().map(|p| p.0).collect();
        println!(
            "[bench 4/{STEPS}] cargo build --release -p {}",
            names.join(" -p ")
        );
        build_release(&mut env, &packages)?;
    }
    for (server, bin) in [
        (Server::Puff, "puff-cli"),
        (Server::PuffRust, "puff-example-rust-app"),
        (Server::Axum, "axum-hello"),
    ] {
        let path = repo.root.join("target/release").join(bin);
        if wanted(server) && !path.is_file() && !env.unavailable.iter().any(|u| u.0 == server) {
            env.unavailable
                .push((server, format!("{} does not exist", repo.rel(&path))));
        }
    }

    let runs: Vec<(Case, Server)> = cases
        .iter()
        .flat_map(|c| c.servers.iter().map(move |s| (*c, *s)))
        .filter(|(_, s)| opts.servers.contains(s))
        .collect();
    println!(
        "[bench 5/{STEPS}] {} runs, {} s each after a {} s warm-up; server on CPU {}, wrk -t{} on CPU {}",
        runs.len(),
        opts.duration,
        opts.warmup,
        env.server_cpu,
        opts.wrk_threads,
        env.load_cpu
    );
    println!("    server logs: {}", repo.rel(&env.log_dir));

    let mut results = Vec::new();
    for (i, (case, server)) in runs.iter().enumerate() {
        let tag = format!(
            "[run {}/{}] ({}) {} @{} conns -- {}",
            i + 1,
            runs.len(),
            case.id,
            case.title,
            case.connections,
            server.label()
        );
        let outcome = match env.unavailable.iter().find(|u| u.0 == *server) {
            Some((_, why)) => {
                println!("{tag}: skipped, {why}");
                Err(why.clone())
            }
            None => {
                println!("{tag}");
                match run_one(&env, case, *server, opts) {
                    Ok(m) => {
                        println!(
                            "    {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} requests, {} socket errors, {} non-2xx",
                            m.rps, m.p50_ms, m.p99_ms, m.requests, m.socket_errors, m.non_2xx
                        );
                        Ok(m)
                    }
                    Err(e) => {
                        println!("    FAILED: {e:#}");
                        let summary = format!("{e:#}");
                        Err(summary.lines().next().unwrap_or_default().to_string())
                    }
                }
            }
        };
        results.push(RunResult {
            case: *case,
            server: *server,
            outcome,
        });
    }

    let checks = checks(&results);
    let machine = machine_info(&env);
    let md = render_markdown(&iso, opts, &env, &machine, &results, &checks);
    let json = render_json(&iso, opts, &env, &machine, &results, &checks);
    println!("\n{md}");

    let out_dir = repo.root.join("bench/results");
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let md_path = out_dir.join(format!("http-{stamp}.md"));
    let json_path = out_dir.join(format!("http-{stamp}.json"));
    std::fs::write(&md_path, &md).with_context(|| format!("cannot write {}", md_path.display()))?;
    std::fs::write(&json_path, &json)
        .with_context(|| format!("cannot write {}", json_path.display()))?;
    println!(
        "[bench] saved {} and {}",
        repo.rel(&md_path),
        repo.rel(&json_path)
    );

    let failed = results.iter().filter(|r| r.outcome.is_err()).count();
    if failed > 0 {
        bail!(
            "{failed} of {} runs could not be measured (see the table above)",
            results.len()
        );
    }
    Ok(())
}

/// Installs wrk with apt-get when it is not on PATH.
fn ensure_wrk() -> Result<()> {
    if util::on_path("wrk") {
        println!("    wrk found");
        return Ok(());
    }
    println!("    wrk not found: installing the Debian package `wrk` with apt-get");
    if !util::on_path("apt-get") {
        bail!("wrk is missing and apt-get is not available: install wrk by hand");
    }
    let root = util::capture(Command::new("id").arg("-u"))
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
    util::run(&mut apt(&["update", "-qq"])).context("apt-get update failed")?;
    util::run(&mut apt(&[
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
        "wrk",
    ]))
    .context("apt-get install wrk failed")?;
    if !util::on_path("wrk") {
        bail!("apt-get installed wrk but it is still not on PATH");
    }
    Ok(())
}

/// Creates bench/.venv-peers and installs the pinned peer servers (skipped while the stamp
/// matches bench/requirements-peers.txt).
fn ensure_peers(repo: &Repo, venv: &Path) -> Result<()> {
    let info = setup::ensure_venv(repo, venv, "   ")?;
    let requirements = repo.root.join(PEERS_REQUIREMENTS);
    let stamp_path = venv.join(PEERS_STAMP);
    let mut hash = Fnv64::new();
    hash.update(b"puff-peers-v1\0")
        .update(info.version_str().as_bytes());
    hash.update(
        &std::fs::read(&requirements)
            .with_context(|| format!("cannot read {}", requirements.display()))?,
    );
    let hash = hash.hex();
    if std::fs::read_to_string(&stamp_path)
        .unwrap_or_default()
        .trim()
        == hash
    {
        println!("    {PEERS_REQUIREMENTS} unchanged (stamp matches) -- skipped pip install");
        return Ok(());
    }
    let _ = std::fs::remove_file(&stamp_path);
    println!("    installing {PEERS_REQUIREMENTS} into {PEERS_VENV}");
    let mut cmd = Command::new(venv.join("bin/python"));
    util::apply_venv_env(&mut cmd, venv);
    cmd.current_dir(&repo.root)
        .args(["-m", "pip", "install"])
        .args(setup::pip_flags())
        .args(["-r", PEERS_REQUIREMENTS]);
    util::run(&mut cmd).context("installing the peer servers failed")?;
    std::fs::write(&stamp_path, format!("{hash}\n"))
        .with_context(|| format!("cannot write {}", stamp_path.display()))?;
    Ok(())
}

/// Builds the release binaries in one cargo call; if that fails, builds each package alone so
/// that one broken package only takes its own runs out.
fn build_release(env: &mut Env, packages: &[(&str, Vec<Server>)]) -> Result<()> {
    let mut cmd = env.repo.cargo();
    cmd.args(["build", "--release"]);
    for (p, _) in packages {
        cmd.args(["-p", p]);
    }
    if util::run(&mut cmd).is_ok() {
        return Ok(());
    }
    if packages.len() == 1 {
        for s in &packages[0].1 {
            env.unavailable.push((
                *s,
                format!("cargo build --release -p {} failed", packages[0].0),
            ));
        }
        return Ok(());
    }
    println!("    the combined build failed: building each package on its own");
    for (p, servers) in packages {
        let mut cmd = env.repo.cargo();
        cmd.args(["build", "--release", "-p", p]);
        if util::run(&mut cmd).is_err() {
            println!("    WARNING: {p} did not build; its runs will be skipped");
            for s in servers {
                env.unavailable
                    .push((*s, format!("cargo build --release -p {p} failed")));
            }
        }
    }
    Ok(())
}

/// A free TCP port on 127.0.0.1 (the OS picks; we release it right away).
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind a local port")?;
    Ok(listener.local_addr()?.port())
}

/// Wraps `program args` so it runs with a raised open-files limit, pinned to `cpu`.
fn pinned(cpu: &str, program: &Path, args: &[String]) -> Command {
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

/// The command line for `server` in `case`, listening on `port`.
fn server_command(env: &Env, case: &Case, server: Server, port: u16) -> Command {
    let repo = env.repo;
    let apps = repo.root.join("bench/apps");
    let bind = format!("127.0.0.1:{port}");
    let peers_bin = env.peers_venv.join("bin");
    let (program, args, dir): (PathBuf, Vec<String>, PathBuf) = match server {
        Server::Puff => {
            let config = if case.wait {
                "puff_wait.toml"
            } else {
                "puff_hello.toml"
            };
            (
                repo.root.join("target/release/puff-cli"),
                vec![
                    "--config".into(),
                    apps.join(config).to_string_lossy().into_owned(),
                    "runserver".into(),
                    "--bind".into(),
                    bind,
                ],
                apps.clone(),
            )
        }
        Server::PuffRust => (
            repo.root.join("target/release/puff-example-rust-app"),
            vec!["runserver".into(), "--bind".into(), bind],
            repo.root.join("examples/rust_app"),
        ),
        Server::Axum => (
            repo.root.join("target/release/axum-hello"),
            vec!["--bind".into(), bind],
            repo.root.clone(),
        ),
        Server::Granian => {
            let mut args: Vec<String> = vec![
                "--interface".into(),
                "wsgi".into(),
                "--workers".into(),
                "1".into(),
                "--host".into(),
                "127.0.0.1".into(),
                "--port".into(),
                port.to_string(),
                "--log-level".into(),
                "warning".into(),
            ];
            if !case.wait {
                args.extend(["--blocking-threads".into(), "1".into()]);
            }
            let app = if case.wait {
                "granian_wait:app"
            } else {
                "hello_wsgi:app"
            };
            args.push(app.into());
            (peers_bin.join("granian"), args, apps.clone())
        }
        Server::Gevent => {
            let app = if case.wait {
                "gevent_wait:app"
            } else {
                "hello_wsgi:app"
            };
            (
                peers_bin.join("gunicorn"),
                vec![
                    "-k".into(),
                    "gevent".into(),
                    "-w".into(),
                    "1".into(),
                    "--worker-connections".into(),
                    "2000".into(),
                    "--backlog".into(),
                    "4096".into(),
                    "-b".into(),
                    bind,
                    "--log-level".into(),
                    "warning".into(),
                    app.into(),
                ],
                apps.clone(),
            )
        }
    };
    let mut cmd = pinned(env.server_cpu, &program, &args);
    cmd.current_dir(dir);
    match server {
        Server::Puff | Server::PuffRust | Server::Axum => {
            cmd.env("PYO3_PYTHON", repo.venv_python());
            util::apply_venv_env(&mut cmd, &repo.venv);
            if server == Server::PuffRust {
                // The Rust example reads no puff.toml, so its access log is turned off through
                // the log filter (PUFF_LOG) instead of `access_log = false`.
                cmd.env("PUFF_LOG", "info,puff::access=off");
            }
        }
        Server::Granian | Server::Gevent => {
            cmd.env_remove("PYO3_PYTHON");
            util::apply_venv_env(&mut cmd, &env.peers_venv);
        }
    }
    cmd.env_remove("PYTHONPATH");
    cmd.stdin(Stdio::null());
    cmd
}

/// A running server that is stopped (SIGTERM, then SIGKILL) when dropped.
struct Running {
    child: Child,
    name: &'static str,
}

impl Running {
    fn stop(&mut self) -> Result<()> {
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

/// The last non-empty line of a server log (usually the error), for one-line reports.
fn last_line(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let line = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty() && *l != "]");
    line.unwrap_or("(empty log)").to_string()
}

/// Where the log is and its last lines, for the console.
fn log_excerpt(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let tail = all[all.len().saturating_sub(12)..].join("\n      ");
    format!("    log {}:\n      {tail}", path.display())
}

/// Starts the server, waits for it to accept and answer correctly, warms up, measures.
fn run_one(env: &Env, case: &Case, server: Server, opts: &Options) -> Result<Measurement> {
    let port = free_port()?;
    let log_path = env
        .log_dir
        .join(format!("{}-{}.log", case.id, server.name()));
    let log =
        File::create(&log_path).with_context(|| format!("cannot create {}", log_path.display()))?;
    let mut cmd = server_command(env, case, server, port);
    cmd.stdout(log.try_clone()?).stderr(log);
    println!("    $ {}", util::display_cmd(&cmd));
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot start {}", server.label()))?;
    let mut running = Running {
        child,
        name: server.label(),
    };

    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = running.child.try_wait()? {
            bail!(
                "{} exited before accepting connections ({}): {}\n{}",
                server.label(),
                util::describe_status(status),
                last_line(&log_path),
                log_excerpt(&log_path)
            );
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "{} did not accept on {addr} within 60 s: {}\n{}",
                server.label(),
                last_line(&log_path),
                log_excerpt(&log_path)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    check_response(addr, case.path)
        .with_context(|| format!("{} answered {} wrongly", server.label(), case.path))?;

    let url = format!("http://127.0.0.1:{port}{}", case.path);
    if opts.warmup > 0 {
        wrk(env, opts, case.connections, opts.warmup, &url).context("warm-up run of wrk failed")?;
    }
    let out = wrk(env, opts, case.connections, opts.duration, &url)?;
    let m = parse_wrk(&out).with_context(|| format!("cannot parse wrk output:\n{out}"))?;
    if let Some(status) = running.child.try_wait()? {
        bail!(
            "{} exited during the run ({})",
            server.label(),
            util::describe_status(status)
        );
    }
    running.stop()?;
    if m.requests == 0 {
        bail!("no request completed");
    }
    Ok(m)
}

fn wrk(env: &Env, opts: &Options, connections: u32, secs: u64, url: &str) -> Result<String> {
    let threads = opts.wrk_threads.min(connections);
    let args: Vec<String> = vec![
        format!("-t{threads}"),
        format!("-c{connections}"),
        format!("-d{secs}s"),
        "--timeout".into(),
        "10s".into(),
        "--latency".into(),
        url.into(),
    ];
    let mut cmd = pinned(env.load_cpu, Path::new("wrk"), &args);
    cmd.stdin(Stdio::null());
    util::capture(&mut cmd)
}

/// One plain HTTP/1.1 GET: status must be 200 and the body must be the 1 KB of `x`.
fn check_response(addr: SocketAddr, path: &str) -> Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let status = text.lines().next().unwrap_or_default();
    if !status.contains(" 200") {
        bail!("status line `{status}`, expected 200");
    }
    let Some((_, body)) = text.split_once("\r\n\r\n") else {
        bail!("no end of headers in the response");
    };
    let body = body.trim_end();
    let expected = "x".repeat(BODY_LEN);
    // Accept a plain body or a single chunk ("400\r\n<body>\r\n0").
    if body != expected && !body.contains(&format!("\r\n{expected}\r\n")) {
        bail!(
            "body of {} bytes is not {BODY_LEN} x's: {:?}",
            body.len(),
            &body[..body.len().min(80)]
        );
    }
    Ok(())
}

/// Parses a wrk latency value like `812.00us`, `2.31ms`, `1.02s`, `1.5m` into milliseconds.
fn parse_duration_ms(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().ok()?;
    let factor = match unit {
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        _ => return None,
    };
    Some(v * factor)
}

fn parse_wrk(out: &str) -> Result<Measurement> {
    let mut m = Measurement::default();
    let (mut got_rps, mut got_p99) = (false, false);
    for line in out.lines() {
        let t = line.trim();
        if let Some(v) = t.strip_prefix("Requests/sec:") {
            m.rps = v.trim().parse().context("Requests/sec")?;
            got_rps = true;
        } else if let Some(v) = t.strip_prefix("50%") {
            m.p50_ms = parse_duration_ms(v).context("50% latency")?;
        } else if let Some(v) = t.strip_prefix("99%") {
            m.p99_ms = parse_duration_ms(v).context("99% latency")?;
            got_p99 = true;
        } else if t.contains(" requests in ") {
            m.requests = t
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
        } else if let Some(v) = t.strip_prefix("Socket errors:") {
            m.socket_errors = v
                .split(',')
                .filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok())
                .sum();
        } else if let Some(v) = t.strip_prefix("Non-2xx or 3xx responses:") {
            m.non_2xx = v.trim().parse().unwrap_or(0);
        }
    }
    if !got_rps || !got_p99 {
        bail!("missing Requests/sec or the 99% latency line");
    }
    Ok(m)
}

fn find(results: &[RunResult], case: char, server: Server) -> Option<&Measurement> {
    results
        .iter()
        .find(|r| r.case.id == case && r.server == server)
        .and_then(|r| r.outcome.as_ref().ok())
}

fn checks(results: &[RunResult]) -> Vec<Check> {
    let ratio = |case: char, a: Server, b: Server| -> Option<f64> {
        let (x, y) = (find(results, case, a)?, find(results, case, b)?);
        (y.rps > 0.0).then(|| x.rps / y.rps)
    };
    let has_case = |case: char| results.iter().any(|r| r.case.id == case);
    let mut out = Vec::new();
    let mut ratio_check = |case: char, a: Server, b: Server, target: Option<f64>| {
        if has_case(case) {
            out.push(Check {
                case,
                what: format!("{} / {} req/s", a.name(), b.name()),
                value: ratio(case, a, b),
                target,
                at_least: true,
                unit: "x",
            });
        }
    };
    ratio_check('a', Server::Puff, Server::Granian, Some(1.0));
    ratio_check('a', Server::Puff, Server::Gevent, None);
    ratio_check('b', Server::Puff, Server::Granian, Some(1.1));
    ratio_check('b', Server::Puff, Server::Gevent, Some(2.0));
    ratio_check('c', Server::Puff, Server::Granian, Some(2.0));
    ratio_check('c', Server::Puff, Server::Gevent, None);
    ratio_check('d', Server::PuffRust, Server::Axum, Some(0.9));
    if has_case('b') {
        let p99 = find(results, 'b', Server::Puff).map(|m| m.p99_ms);
        let check = Check {
            case: 'b',
            what: "puff p99 latency".into(),
            value: p99,
            target: Some(30.0),
            at_least: false,
            unit: " ms",
        };
        let pos = out
            .iter()
            .rposition(|c| c.case == 'b')
            .map_or(out.len(), |p| p + 1);
        out.insert(pos, check);
    }
    out
}

struct Machine {
    cpu: String,
    /// /proc/loadavg when the runs were over: other work on the machine skews the figures.
    loadavg: String,
    cpus: usize,
    kernel: String,
    python: String,
    tools: Vec<(String, String)>,
    git: String,
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().trim().to_string()
}

fn machine_info(env: &Env) -> Machine {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let kernel = util::capture(Command::new("uname").arg("-sr"))
        .map(|s| first_line(&s))
        .unwrap_or_default();
    let python = util::capture(Command::new(env.repo.venv_python()).arg("--version"))
        .or_else(|_| util::capture(Command::new(setup::base_python()).arg("--version")))
        .map(|s| first_line(&s))
        .unwrap_or_default();
    let mut tools = Vec::new();
    // wrk -v prints its version and exits 1, so read the output whatever the status.
    if let Ok(out) = Command::new("wrk").arg("-v").output() {
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        let v = first_line(&text);
        tools.push(("wrk".into(), v.split(" [").next().unwrap_or(&v).to_string()));
    }
    for tool in ["granian", "gunicorn"] {
        let bin = env.peers_venv.join("bin").join(tool);
        if let Ok(out) = util::capture(Command::new(&bin).arg("--version")) {
            tools.push((tool.into(), first_line(&out)));
        }
    }
    let gevent = env.peers_venv.join("bin/python");
    if let Ok(out) = util::capture(
        Command::new(&gevent).args(["-c", "import gevent; print(gevent.__version__)"]),
    ) {
        tools.push(("gevent".into(), first_line(&out)));
    }
    let git = util::capture(
        Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .current_dir(&env.repo.root),
    )
    .map(|s| first_line(&s))
    .unwrap_or_else(|_| "unknown".into());
    let loadavg = std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    Machine {
        cpu,
        loadavg,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        kernel,
        python,
        tools,
        git,
    }
}

fn render_markdown(
    iso: &str,
    opts: &Options,
    env: &Env,
    machine: &Machine,
    results: &[RunResult],
    checks: &[Check],
) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Puff HTTP benchmark, {iso}\n");
    let _ = writeln!(
        md,
        "- machine: {} x {}, {}; {}; load average after the runs: {}",
        machine.cpus, machine.cpu, machine.kernel, machine.python, machine.loadavg
    );
    let tools: Vec<String> = machine
        .tools
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    let _ = writeln!(md, "- tools: {}; git {}", tools.join(", "), machine.git);
    let _ = writeln!(
        md,
        "- method: server pinned to CPU {}, `wrk -t{} --latency --timeout 10s` pinned to CPU {}; \
         {} s warm-up, then {} s measured per run; 1 KB response body everywhere; {}",
        env.server_cpu,
        opts.wrk_threads,
        env.load_cpu,
        opts.warmup,
        opts.duration,
        if opts.skip_build {
            "existing release binaries (--skip-build)"
        } else {
            "release binaries built by this run"
        }
    );
    if results.iter().any(|r| r.case.wait) {
        let _ = writeln!(
            md,
            "- the wait cases are closed loops: at most connections / 20 ms = 12,800 req/s for (b) \
         and 51,200 req/s for (c), whatever the server"
        );
    }
    let _ = writeln!(md, "\n## Results\n");
    let _ = writeln!(
        md,
        "| case | server | conns | req/s | p50 ms | p99 ms | errors | note |"
    );
    let _ = writeln!(md, "|---|---|---:|---:|---:|---:|---:|---|");
    for r in results {
        let case = format!("({}) {}", r.case.id, r.case.title);
        match &r.outcome {
            Ok(m) => {
                let _ = writeln!(
                    md,
                    "| {case} | {} | {} | {:.0} | {:.2} | {:.2} | {} | |",
                    r.server.label(),
                    r.case.connections,
                    m.rps,
                    m.p50_ms,
                    m.p99_ms,
                    m.socket_errors + m.non_2xx
                );
            }
            Err(e) => {
                let note = e.lines().next().unwrap_or_default().replace('|', "\\|");
                let _ = writeln!(
                    md,
                    "| {case} | {} | {} | - | - | - | - | not measured: {note} |",
                    r.server.label(),
                    r.case.connections
                );
            }
        }
    }
    let _ = writeln!(md, "\n## Targets\n");
    let _ = writeln!(md, "| case | check | value | target | result |");
    let _ = writeln!(md, "|---|---|---:|---|---|");
    for c in checks {
        let _ = writeln!(
            md,
            "| ({}) | {} | {} | {} | {} |",
            c.case,
            c.what,
            c.value_str(),
            c.target_str(),
            c.verdict()
        );
    }
    let _ = writeln!(
        md,
        "\nErrors = wrk socket errors (connect/read/write/timeout) + non-2xx responses."
    );
    md
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "null".into()
    }
}

fn render_json(
    iso: &str,
    opts: &Options,
    env: &Env,
    machine: &Machine,
    results: &[RunResult],
    checks: &[Check],
) -> String {
    let mut j = String::new();
    let _ = writeln!(j, "{{");
    let _ = writeln!(j, "  \"benchmark\": \"http\",");
    let _ = writeln!(j, "  \"timestamp\": {},", json_str(iso));
    let _ = writeln!(j, "  \"git\": {},", json_str(&machine.git));
    let _ = writeln!(
        j,
        "  \"settings\": {{\"duration_secs\": {}, \"warmup_secs\": {}, \"wrk_threads\": {}, \
         \"server_cpu\": {}, \"load_cpu\": {}, \"body_bytes\": {BODY_LEN}, \"skip_build\": {}}},",
        opts.duration,
        opts.warmup,
        opts.wrk_threads,
        json_str(env.server_cpu),
        json_str(env.load_cpu),
        opts.skip_build
    );
    let tools: Vec<String> = machine
        .tools
        .iter()
        .map(|(k, v)| format!("{}: {}", json_str(k), json_str(v)))
        .collect();
    let _ = writeln!(
        j,
        "  \"machine\": {{\"cpu\": {}, \"cpus\": {}, \"loadavg\": {}, \"kernel\": {}, \"python\": {}, \"tools\": {{{}}}}},",
        json_str(&machine.cpu),
        machine.cpus,
        json_str(&machine.loadavg),
        json_str(&machine.kernel),
        json_str(&machine.python),
        tools.join(", ")
    );
    let _ = writeln!(j, "  \"results\": [");
    for (i, r) in results.iter().enumerate() {
        let head = format!(
            "\"case\": {}, \"title\": {}, \"server\": {}, \"connections\": {}, \"path\": {}",
            json_str(&r.case.id.to_string()),
            json_str(r.case.title),
            json_str(r.server.name()),
            r.case.connections,
            json_str(r.case.path)
        );
        let body = match &r.outcome {
            Ok(m) => format!(
                "\"ok\": true, \"requests_per_sec\": {}, \"p50_ms\": {}, \"p99_ms\": {}, \
                 \"requests\": {}, \"socket_errors\": {}, \"non_2xx\": {}",
                json_num(m.rps),
                json_num(m.p50_ms),
                json_num(m.p99_ms),
                m.requests,
                m.socket_errors,
                m.non_2xx
            ),
            Err(e) => format!("\"ok\": false, \"error\": {}", json_str(e)),
        };
        let comma = if i + 1 < results.len() { "," } else { "" };
        let _ = writeln!(j, "    {{{head}, {body}}}{comma}");
    }
    let _ = writeln!(j, "  ],");
    let _ = writeln!(j, "  \"checks\": [");
    for (i, c) in checks.iter().enumerate() {
        let comma = if i + 1 < checks.len() { "," } else { "" };
        let _ = writeln!(
            j,
            "    {{\"case\": {}, \"check\": {}, \"value\": {}, \"target\": {}, \"result\": {}}}{comma}",
            json_str(&c.case.to_string()),
            json_str(&c.what),
            c.value.map_or("null".into(), json_num),
            json_str(&c.target_str()),
            json_str(c.verdict())
        );
    }
    let _ = writeln!(j, "  ]");
    let _ = writeln!(j, "}}");
    j
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRK: &str = "Running 10s test @ http://127.0.0.1:8000/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.11ms  301.12us   9.66ms   93.75%
    Req/Sec    30.41k     1.12k   32.03k    81.00%
  Latency Distribution
     50%  812.00us
     75%    2.15ms
     90%    2.28ms
     99%    1.02s
  302577 requests in 10.00s, 330.96MB read
  Socket errors: connect 0, read 2, write 1, timeout 4
  Non-2xx or 3xx responses: 5
Requests/sec:  30256.44
Transfer/sec:     33.09MB
";

    #[test]
    fn parses_wrk_output() {
        let m = parse_wrk(WRK).unwrap();
        assert!((m.rps - 30256.44).abs() < 1e-6);
        assert!((m.p50_ms - 0.812).abs() < 1e-9);
        assert!((m.p99_ms - 1020.0).abs() < 1e-9);
        assert_eq!(m.requests, 302_577);
        assert_eq!(m.socket_errors, 7);
        assert_eq!(m.non_2xx, 5);
    }

    #[test]
    fn rejects_incomplete_wrk_output() {
        assert!(parse_wrk("Running 10s test\n").is_err());
    }

    #[test]
    fn checks_compute_ratios_and_verdicts() {
        let case = |id| *CASES.iter().find(|c| c.id == id).unwrap();
        let ok = |rps: f64, p99_ms: f64| {
            Ok(Measurement {
                rps,
                p99_ms,
                requests: 1,
                ..Default::default()
            })
        };
        let results = vec![
            RunResult {
                case: case('b'),
                server: Server::Puff,
                outcome: ok(12000.0, 25.0),
            },
            RunResult {
                case: case('b'),
                server: Server::Granian,
                outcome: ok(10000.0, 40.0),
            },
            RunResult {
                case: case('b'),
                server: Server::Gevent,
                outcome: Err("x".into()),
            },
        ];
        let cs = checks(&results);
        assert_eq!(cs.len(), 3);
        assert_eq!(cs[0].verdict(), "PASS"); // 1.2x >= 1.1x
        assert_eq!(cs[1].verdict(), "n/a"); // gevent missing
        assert_eq!(cs[2].what, "puff p99 latency");
        assert_eq!(cs[2].verdict(), "PASS");
        assert_eq!(cs[2].target_str(), "<= 30 ms");
        assert_eq!(cs[0].value_str(), "1.20x");
        let slow = vec![
            RunResult {
                case: case('c'),
                server: Server::Puff,
                outcome: ok(10.0, 1.0),
            },
            RunResult {
                case: case('c'),
                server: Server::Granian,
                outcome: ok(10.0, 1.0),
            },
        ];
        let cs = checks(&slow);
        assert_eq!(cs[0].verdict(), "MISS"); // 1x < 2x
        assert_eq!(cs[1].verdict(), "info"); // puff/gevent has no target
        assert_eq!(cs[1].target_str(), "-");
    }

    #[test]
    fn parses_args() {
        let args: Vec<String> = [
            "http",
            "--duration",
            "3",
            "--cases",
            "a,d",
            "--servers",
            "axum",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let o = parse(&args).unwrap().unwrap();
        assert_eq!(o.duration, 3);
        assert_eq!(o.cases, vec!['a', 'd']);
        assert_eq!(o.servers, vec![Server::Axum]);
        assert!(parse(&["tcp".to_string()]).is_err());
        assert!(parse(&["--cases".to_string(), "z".to_string()]).is_err());
    }

    #[test]
    fn json_escapes() {
        assert_eq!(json_str("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
    }
}
