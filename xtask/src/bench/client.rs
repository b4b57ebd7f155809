//! `cargo xtask bench client`: HTTP clients. Puff's `puff.http` from greenlets and from
//! coroutines vs httpx and aiohttp (under uvloop), each a fresh program doing the same GETs
//! against the Rust example app's `GET /rust/hello`; programs pinned to CPU 0, the target to
//! CPU 1. Runs, checks and reports.

use std::fmt::Write as _;
use std::fs::File;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::harness::answers::{BODY_LEN, check_response};
use super::harness::list::{List, ListParser, clamped};
use super::harness::machine::{Machine, machine_info};
use super::harness::peers::{PEERS_REQUIREMENTS, PEERS_VENV, ensure_peers};
use super::harness::process::{
    Running, first_line, free_port, last_line, log_excerpt, peer_command, pick_cpus, pinned,
    puff_cli_command, require_taskset, wait_accepting,
};
use super::harness::programs::{ClientRound, median, run_client_once};
use super::harness::report::{
    self, Check, Fixed3, Outcome, Report, build_note, checks_markdown, stamps,
};
use crate::command;
use crate::repo::{self, Repo};
use crate::setup;

/// What `cargo xtask bench help client` says.
pub const ABOUT: &str = "\
HTTP clients; the target (puff-example-rust-app, GET /rust/hello) pinned to CPU 1, each client
program pinned to CPU 0 doing --requests GETs from --concurrency callers: puff-greenlets,
puff-coroutines (puff.http), httpx (AsyncClient), aiohttp (ClientSession), the last two under
uvloop. Each round runs every client once; the median round counts.";

/// `cargo xtask bench client [OPTIONS]`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Clients to run, comma-separated (default: all)
    #[arg(long, value_name = "LIST", value_parser = ListParser::new(&Client::ALL, Client::list_name))]
    pub clients: Option<List<Client>>,
    /// Timed GETs per client run
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clamped(1, u64::MAX))]
    pub requests: u64,
    /// Concurrent callers (1-10000)
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clamped(1, 10_000))]
    pub concurrency: u64,
    /// Untimed GETs before the timed ones, same callers
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    pub warmup_requests: u64,
    /// Runs of every client, interleaved; the median is reported (1-100)
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clamped(1, 100))]
    pub rounds: u64,
    /// Use the existing release binaries instead of running cargo build
    #[arg(long)]
    pub skip_build: bool,
}

impl Args {
    /// The selected clients.
    pub fn clients(&self) -> &[Client] {
        self.clients.as_ref().map_or(&Client::ALL, |l| &l.0)
    }
}

/// A program of `bench client`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Client {
    PuffGreenlets,
    PuffCoroutines,
    Httpx,
    Aiohttp,
}

impl Client {
    pub const ALL: [Client; 4] = [
        Client::PuffGreenlets,
        Client::PuffCoroutines,
        Client::Httpx,
        Client::Aiohttp,
    ];

    fn name(self) -> &'static str {
        match self {
            Client::PuffGreenlets => "puff-greenlets",
            Client::PuffCoroutines => "puff-coroutines",
            Client::Httpx => "httpx",
            Client::Aiohttp => "aiohttp",
        }
    }

    fn list_name(&self) -> String {
        self.name().to_string()
    }

    fn label(self) -> &'static str {
        match self {
            Client::PuffGreenlets => "puff.http, greenlets (puff.spawn)",
            Client::PuffCoroutines => "puff.http, coroutines (asyncio = true)",
            Client::Httpx => "httpx.AsyncClient + uvloop",
            Client::Aiohttp => "aiohttp.ClientSession + uvloop",
        }
    }

    fn is_puff(self) -> bool {
        matches!(self, Client::PuffGreenlets | Client::PuffCoroutines)
    }
}

struct ClientResult {
    client: Client,
    rounds: Vec<Result<ClientRound, String>>,
}

impl ClientResult {
    fn rps_values(&self) -> Vec<f64> {
        self.rounds
            .iter()
            .filter_map(|r| r.as_ref().ok().map(|r| r.rps))
            .collect()
    }

    /// The median of the measured rounds (the mean of the middle two for an even count).
    fn median_rps(&self) -> Option<f64> {
        median(self.rps_values())
    }

    fn errors(&self) -> u64 {
        self.rounds
            .iter()
            .filter_map(|r| r.as_ref().ok().map(|r| r.errors))
            .sum()
    }

    fn first_failure(&self) -> Option<&str> {
        self.rounds
            .iter()
            .find_map(|r| r.as_ref().err().map(String::as_str))
    }
}

/// The command line of one client program.
fn client_command(
    repo: &Repo,
    peers_venv: &Path,
    cpu: &str,
    client: Client,
    url: &str,
    opts: &Args,
) -> Command {
    let apps = repo.root.join("bench/apps");
    let mut cmd = match client {
        Client::PuffGreenlets | Client::PuffCoroutines => {
            let (config, command) = if client == Client::PuffGreenlets {
                ("puff_client.toml", "client_greenlets")
            } else {
                ("puff_client_asyncio.toml", "client_coroutines")
            };
            let args = vec![
                "--config".to_string(),
                apps.join(config).to_string_lossy().into_owned(),
                command.to_string(),
            ];
            puff_cli_command(repo, cpu, &args)
        }
        Client::Httpx | Client::Aiohttp => {
            let args = vec!["peer_client.py".to_string(), client.name().to_string()];
            peer_command(peers_venv, cpu, &args)
        }
    };
    cmd.current_dir(apps)
        .env_remove("PYTHONPATH")
        .env("BENCH_URL", url)
        .env("BENCH_REQUESTS", opts.requests.to_string())
        .env("BENCH_CONCURRENCY", opts.concurrency.to_string())
        .env("BENCH_WARMUP", opts.warmup_requests.to_string())
        .stdin(Stdio::null());
    cmd
}

/// `cargo xtask bench client`.
pub fn run(repo: &Repo, opts: &Args) -> Result<()> {
    let (stamp, iso) = stamps();
    const STEPS: usize = 5;
    println!("[bench 1/{STEPS}] checking taskset");
    require_taskset("the programs")?;
    let (client_cpu, target_cpu) = pick_cpus();

    let peers_venv = repo.root.join(PEERS_VENV);
    if opts.clients().iter().any(|c| !c.is_puff()) {
        println!("[bench 2/{STEPS}] peer clients venv {PEERS_VENV} ({PEERS_REQUIREMENTS})");
        ensure_peers(repo, &peers_venv)?;
    } else {
        println!("[bench 2/{STEPS}] peer clients not selected -- skipped {PEERS_VENV}");
    }
    println!("[bench 3/{STEPS}] project virtualenv .venv (needed to build and run Puff)");
    setup::run(repo)?;

    let mut packages = vec!["puff-example-rust-app"];
    if opts.clients().iter().any(|c| c.is_puff()) {
        packages.push("puff-cli");
    }
    if opts.skip_build {
        println!("[bench 4/{STEPS}] cargo build --release -- skipped");
    } else {
        println!(
            "[bench 4/{STEPS}] cargo build --release -p {}",
            packages.join(" -p ")
        );
        let mut cmd = repo.cargo();
        cmd.args(["build", "--release"]);
        for p in &packages {
            cmd.args(["-p", p]);
        }
        command::run(&mut cmd).context("building the release binaries failed")?;
    }
    for p in &packages {
        let path = repo.root.join("target/release").join(p);
        if !path.is_file() {
            bail!("{} does not exist", repo.rel(&path));
        }
    }

    let log_dir = repo.root.join(format!("target/bench-logs/client-{stamp}"));
    std::fs::create_dir_all(&log_dir)
        .with_context(|| format!("cannot create {}", log_dir.display()))?;
    println!(
        "[bench 5/{STEPS}] target puff-example-rust-app on CPU {target_cpu}; {} rounds of {} \
         client(s) on CPU {client_cpu}, each {} GETs ({} untimed first) from {} callers",
        opts.rounds,
        opts.clients().len(),
        opts.requests,
        opts.warmup_requests,
        opts.concurrency
    );
    println!("    logs: {}", repo.rel(&log_dir));

    // The target: Puff's Rust route GET /rust/hello (1 KB), pinned to the other CPU.
    let port = free_port()?;
    let target_log = log_dir.join("target.log");
    let log = File::create(&target_log)
        .with_context(|| format!("cannot create {}", target_log.display()))?;
    let args = vec![
        "runserver".to_string(),
        "--bind".to_string(),
        format!("127.0.0.1:{port}"),
    ];
    let mut cmd = pinned(
        target_cpu,
        &repo.root.join("target/release/puff-example-rust-app"),
        &args,
    );
    cmd.current_dir(repo.root.join("examples/rust_app"))
        .env("PYO3_PYTHON", repo.venv_python())
        .env("PUFF_LOG", "info,puff::access=off")
        .env_remove("PYTHONPATH")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    repo::apply_venv_env(&mut cmd, &repo.venv);
    println!("    $ {}", command::display_cmd(&cmd));
    let child = cmd.spawn().context("cannot start puff-example-rust-app")?;
    let mut target = Running {
        child,
        name: "puff-example-rust-app (target)",
    };
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    wait_accepting(&mut target, addr, &target_log)?;
    check_response(addr, "/rust/hello").context("the target answered /rust/hello wrongly")?;
    let url = format!("http://127.0.0.1:{port}/rust/hello");

    let mut results: Vec<ClientResult> = opts
        .clients()
        .iter()
        .map(|c| ClientResult {
            client: *c,
            rounds: Vec::new(),
        })
        .collect();
    for round in 1..=opts.rounds {
        for result in results.iter_mut() {
            let client = result.client;
            println!(
                "[round {round}/{}] {} ({})",
                opts.rounds,
                client.name(),
                client.label()
            );
            let cmd = client_command(repo, &peers_venv, client_cpu, client, &url, opts);
            let log_path = log_dir.join(format!("{}-round{round}.log", client.name()));
            let outcome = run_client_once(cmd, &log_path);
            match &outcome {
                Ok(r) => println!(
                    "    {:.0} req/s ({:.3} s), {} errors",
                    r.rps, r.seconds, r.errors
                ),
                Err(e) => println!("    FAILED: {e:#}"),
            }
            result
                .rounds
                .push(outcome.map_err(|e| first_line(&format!("{e:#}"))));
            if let Some(status) = target.child.try_wait()? {
                bail!(
                    "the target server exited ({}): {}\n{}",
                    command::describe_status(status),
                    last_line(&target_log),
                    log_excerpt(&target_log)
                );
            }
        }
    }
    target.stop()?;

    let checks = client_checks(&results);
    let machine = machine_info(repo, &peers_venv, false, &["httpx", "aiohttp", "uvloop"]);
    let md = render_client_markdown(
        &iso, opts, client_cpu, target_cpu, &machine, &results, &checks,
    );
    let json = render_client_json(
        &iso, opts, client_cpu, target_cpu, &machine, &results, &checks,
    );
    println!("\n{md}");
    report::save(repo, "client", &stamp, &md, &json)?;

    let unmeasured = results.iter().filter(|r| r.median_rps().is_none()).count();
    if unmeasured > 0 {
        bail!(
            "{unmeasured} of {} clients could not be measured (see the table above)",
            results.len()
        );
    }
    Ok(())
}

fn client_checks(results: &[ClientResult]) -> Vec<Check> {
    let median = |c: Client| {
        results
            .iter()
            .find(|r| r.client == c)
            .and_then(ClientResult::median_rps)
    };
    let has = |c: Client| results.iter().any(|r| r.client == c);
    let mut out = Vec::new();
    for (a, b, target) in [
        (Client::PuffGreenlets, Client::Aiohttp, Some(1.5)),
        (Client::PuffCoroutines, Client::Aiohttp, Some(1.5)),
        (Client::Httpx, Client::Aiohttp, None),
        (Client::PuffGreenlets, Client::Httpx, None),
    ] {
        if !has(a) || !has(b) {
            continue;
        }
        let value = match (median(a), median(b)) {
            (Some(x), Some(y)) if y > 0.0 => Some(x / y),
            _ => None,
        };
        out.push(Check {
            case: '-',
            what: format!("{} / {} req/s", a.name(), b.name()),
            value,
            target,
            at_least: true,
            unit: "x",
        });
    }
    out
}

fn render_client_markdown(
    iso: &str,
    opts: &Args,
    client_cpu: &str,
    target_cpu: &str,
    machine: &Machine,
    results: &[ClientResult],
    checks: &[Check],
) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Puff HTTP client benchmark, {iso}\n");
    md.push_str(&machine.markdown_lines());
    let _ = writeln!(
        md,
        "- method: target `puff-example-rust-app runserver` (`GET /rust/hello`, a 1 KB body from a \
         Rust route, access log off) pinned to CPU {target_cpu}; each client program pinned to CPU \
         {client_cpu} (all of its threads), a fresh process per run; {} untimed GETs, then {} \
         timed GETs from {} concurrent callers sharing one client (connection pool); every \
         response is checked (200, 1024 bytes); {} rounds with the clients interleaved, the median \
         round counts; {}",
        opts.warmup_requests,
        opts.requests,
        opts.concurrency,
        opts.rounds,
        build_note(opts.skip_build)
    );
    let _ = writeln!(md, "\n## Results\n");
    let _ = writeln!(
        md,
        "| client | median req/s | req/s per round | errors | note |"
    );
    let _ = writeln!(md, "|---|---:|---|---:|---|");
    for r in results {
        let rounds: Vec<String> = r
            .rounds
            .iter()
            .map(|x| match x {
                Ok(x) => format!("{:.0}", x.rps),
                Err(_) => "failed".into(),
            })
            .collect();
        let note = r
            .first_failure()
            .map(|e| format!("not measured: {}", e.replace('|', "\\|")))
            .unwrap_or_default();
        let median = r.median_rps().map_or("-".into(), |v| format!("{v:.0}"));
        let _ = writeln!(
            md,
            "| {} ({}) | {median} | {} | {} | {note} |",
            r.client.name(),
            r.client.label(),
            rounds.join(", "),
            r.errors()
        );
    }
    checks_markdown(&mut md, checks);
    let _ = writeln!(
        md,
        "\nErrors = requests that raised or did not answer 200 with 1024 bytes (all rounds)."
    );
    md
}

/// The JSON report's `settings`.
#[derive(Serialize)]
struct Settings<'a> {
    requests: u64,
    concurrency: u64,
    warmup_requests: u64,
    rounds: u64,
    client_cpu: &'a str,
    target_cpu: &'a str,
    target: &'static str,
    body_bytes: usize,
    skip_build: bool,
}

/// One client in the JSON report.
#[derive(Serialize)]
struct ClientJson {
    client: &'static str,
    label: &'static str,
    median_requests_per_sec: Option<Fixed3>,
    errors: u64,
    rounds: Vec<Outcome<RoundJson>>,
}

#[derive(Serialize)]
struct RoundJson {
    requests_per_sec: Fixed3,
    seconds: Fixed3,
    errors: u64,
}

fn render_client_json(
    iso: &str,
    opts: &Args,
    client_cpu: &str,
    target_cpu: &str,
    machine: &Machine,
    results: &[ClientResult],
    checks: &[Check],
) -> String {
    let results = results
        .iter()
        .map(|r| ClientJson {
            client: r.client.name(),
            label: r.client.label(),
            median_requests_per_sec: r.median_rps().map(Fixed3),
            errors: r.errors(),
            rounds: r
                .rounds
                .iter()
                .map(|x| {
                    Outcome(
                        x.as_ref()
                            .map(|x| RoundJson {
                                requests_per_sec: Fixed3(x.rps),
                                seconds: Fixed3(x.seconds),
                                errors: x.errors,
                            })
                            .map_err(Clone::clone),
                    )
                })
                .collect(),
        })
        .collect();
    Report {
        benchmark: "client",
        timestamp: iso,
        git: &machine.git,
        settings: Settings {
            requests: opts.requests,
            concurrency: opts.concurrency,
            warmup_requests: opts.warmup_requests,
            rounds: opts.rounds,
            client_cpu,
            target_cpu,
            target: "puff-example-rust-app GET /rust/hello",
            body_bytes: BODY_LEN,
            skip_build: opts.skip_build,
        },
        machine,
        results,
        checks: checks.iter().map(|c| c.json(false)).collect(),
    }
    .to_json()
}

#[cfg(test)]
mod tests {
    use super::super::harness::list::parse_flags;
    use super::super::harness::report::fixtures::{ISO, assert_matches, machine};
    use super::*;

    #[test]
    fn parses_args() {
        let o: Args = parse_flags(&[]).unwrap();
        assert_eq!(
            (o.requests, o.concurrency, o.warmup_requests, o.rounds),
            (10_000, 64, 1_000, 3)
        );
        assert_eq!(o.clients(), Client::ALL);
        let o: Args = parse_flags(&[
            "--requests",
            "500",
            "--rounds",
            "1",
            "--clients",
            "aiohttp,puff-greenlets",
        ])
        .unwrap();
        assert_eq!((o.requests, o.rounds, o.concurrency), (500, 1, 64));
        assert_eq!(o.clients(), [Client::Aiohttp, Client::PuffGreenlets]);
        let o: Args = parse_flags(&["--requests", "0", "--concurrency", "100000"]).unwrap();
        assert_eq!((o.requests, o.concurrency), (1, 10_000));
        for bad in [
            &["--duration", "3"][..],
            &["--clients", "curl"],
            &["--clients", "asyncpg"],
            &["--rows", "3"],
            &["--cases", "a"],
        ] {
            assert!(parse_flags::<Args>(bad).is_err(), "{bad:?}");
        }
    }

    fn round(rps: f64, errors: u64) -> Result<ClientRound, String> {
        Ok(ClientRound {
            rps,
            seconds: 10000.0 / rps,
            errors,
            ..Default::default()
        })
    }

    #[test]
    fn medians_and_checks() {
        let puff = ClientResult {
            client: Client::PuffGreenlets,
            rounds: vec![
                round(9000.0, 1),
                Err("x".into()),
                round(15000.0, 1),
                round(12000.0, 1),
            ],
        };
        assert_eq!(puff.median_rps(), Some(12000.0));
        assert_eq!(puff.errors(), 3);
        assert_eq!(puff.first_failure(), Some("x"));
        let aio = ClientResult {
            client: Client::Aiohttp,
            rounds: vec![round(7000.0, 1), round(9000.0, 1)],
        };
        assert_eq!(aio.median_rps(), Some(8000.0));
        let cs = client_checks(&[puff, aio]);
        assert_eq!(cs.len(), 1);
        assert_eq!(cs[0].value_str(), "1.50x");
        assert_eq!(cs[0].verdict(), "PASS");
    }

    #[test]
    fn reports_match_the_fixtures() {
        let opts: Args = parse_flags(&[]).unwrap();
        let results = vec![
            ClientResult {
                client: Client::PuffGreenlets,
                rounds: vec![round(19955.78, 0), round(20100.1234, 1), round(18000.0, 0)],
            },
            ClientResult {
                client: Client::PuffCoroutines,
                rounds: vec![
                    round(15000.0, 0),
                    Err("exit code 1 (no BENCH_RESULT): \"x\"".into()),
                    round(16000.0, 0),
                ],
            },
            ClientResult {
                client: Client::Httpx,
                rounds: vec![Err("boom | pipe".into())],
            },
            ClientResult {
                client: Client::Aiohttp,
                rounds: vec![round(9000.0, 0), round(9500.5, 0)],
            },
        ];
        let checks = client_checks(&results);
        let m = machine();
        let md = render_client_markdown(ISO, &opts, "0", "1", &m, &results, &checks);
        let json = render_client_json(ISO, &opts, "0", "1", &m, &results, &checks);
        assert_matches("client", &md, Some(&json));
    }
}
