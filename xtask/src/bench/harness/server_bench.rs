//! What a server benchmark is (`bench http`, `asgi`, `graphql`, `django`): its cases, its
//! servers and how each starts, its answer checks and targets ([`ServerBench`]); the options
//! they share ([`ServerArgs`], [`LoadArgs`], [`RunOpts`]) and the results of their runs. The runs are
//! `server_runs`'s, the reports `server_report`'s.

use std::fmt::Debug;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};
use serde::Serialize;

use super::answers::{self, BODY_LEN};
use super::helper::{HelperProc, start_helper};
use super::list::{List, ListParser, clamped};
use super::report::Check;
use super::server::{Launch, Server};
use super::wrk::Measurement;
use crate::repo::Repo;
use crate::usage::usage_err;

/// One load: `connections` wrk connections on `path`, served by `servers`.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    pub id: char,
    pub title: &'static str,
    pub connections: u32,
    pub path: &'static str,
    /// Every answer waits 20 ms (a closed loop: connections / 20 ms at most).
    pub wait: bool,
    /// The JSON body POSTed to `path` (`bench graphql`); `None`: a plain GET.
    pub post_body: Option<&'static str>,
    pub servers: &'static [Server],
}

impl Case {
    /// For lists of cases on the command line.
    pub fn list_name(&self) -> String {
        self.id.to_string()
    }

    /// Case `id` of `--workers N`: a view that spends 2 ms of pure-Python CPU per request
    /// (`bench/apps/cpu_wsgi.py`, `cpu_asgi.py`), Puff with N workers and with one, 64
    /// connections.
    pub const fn cpu(id: char) -> Case {
        Case {
            id,
            title: "cpu: 2 ms of pure-Python CPU per request",
            connections: 64,
            path: "/",
            wait: false,
            post_body: None,
            servers: &[Server::Puff, Server::PuffOneWorker],
        }
    }

    /// A case that compares Puff's `--workers N` with one worker (it lists
    /// [`Server::PuffOneWorker`]): it only means something with `--workers`.
    pub fn compares_workers(&self) -> bool {
        self.servers.contains(&Server::PuffOneWorker)
    }
}

/// What a server runs with in a case, for the report's table of servers.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct ServerSetup {
    /// Worker processes.
    pub workers: u32,
    /// The Python threads of each worker and what serves the requests on them.
    pub threads: String,
    /// The access log and the log level.
    pub logging: &'static str,
}

/// A postgres database for the whole run, made by a helper script.
pub struct PgData {
    /// The helper (bench/apps, peers venv).
    pub helper: &'static str,
    /// The prefix of its `_URL=` / `_VERSION=` lines.
    pub prefix: &'static str,
    /// What it makes, for the progress line.
    pub data: &'static str,
}

impl PgData {
    /// The helper's log, in the run's log folder.
    pub const LOG: &'static str = "postgres-server.log";

    /// Starts the helper on `cpu` (its output in [`PgData::LOG`]), which makes
    /// the database, and points `env` at it; returns the helper and the server's version.
    pub fn start(&self, env: &mut Env, cpu: &str) -> Result<(HelperProc, String)> {
        let (helper, url, version) = start_helper(
            env.repo,
            &env.peers_venv,
            cpu,
            &[self.helper.to_string()],
            (self.prefix, "Postgres"),
            &env.log_dir.join(Self::LOG),
        )?;
        println!("    server ready: {url} ({version})");
        env.pg_url = Some(url);
        Ok((helper, version))
    }
}

/// The settings a server benchmark's JSON report gives after the CPUs.
#[derive(Serialize)]
#[serde(untagged)]
pub enum ExtraSettings {
    /// Every answer is the same body (the 1 KB apps).
    Body { body_bytes: usize },
    /// Answers of their own (GraphQL, Django): wrk's timeout and the rounds.
    Timing {
        wrk_timeout: &'static str,
        rounds: u64,
    },
}

/// A benchmark of HTTP servers under wrk: what differs between `http`, `asgi`, `graphql` and
/// `django`. The rest is `server_runs::run`'s: every selected server on every selected case,
/// pinned to its CPU, `--rounds` times interleaved, the median round reported.
pub trait ServerBench {
    /// The report files' and the log folder's name (`http`).
    const NAME: &'static str;
    /// The Markdown report's title.
    const TITLE: &'static str;
    const CASES: &'static [Case];
    /// Every server of the cases, in the order `--servers` lists them by default.
    const SERVERS: &'static [Server];
    /// `--rounds` by default. Text, not a number: clap keeps a `default_value_t` in a
    /// static, which every benchmark's generic arguments would share.
    const ROUNDS: &'static str = "3";
    /// wrk's `--timeout`: slower answers count as timeouts, not in the latencies.
    const WRK_TIMEOUT: &'static str = "10s";
    /// The peer packages whose versions the report gives.
    const PACKAGES: &'static [&'static str];
    /// The cases `--workers N` runs when `--cases` is not given (benchmarks with the flag).
    const WORKER_CASES: &'static [char] = &[];
    /// The servers that run only when `--workers N` is given and `--servers` is not.
    const WORKER_SERVERS: &'static [Server] = &[];
    /// The cases that run only when `--cases` names them.
    const OPTIONAL_CASES: &'static [char] = &[];
    /// The Postgres database the servers read, if any.
    const POSTGRES: Option<PgData> = None;
    /// Whether the answers are checked again after the warm-up and after the run.
    const RECHECK: bool = false;
    /// The report's note on the load (after wrk's CPU) and on the answers.
    const LOAD_NOTE: &'static str = "";
    const ANSWERS_NOTE: &'static str = "1 KB response body everywhere";

    /// `server`'s label in reports and progress lines.
    fn label(server: Server) -> &'static str;

    /// The command line of `server` in `case`, listening on 127.0.0.1:`port`, with
    /// `env.workers` worker processes where it takes them.
    fn launch(env: &Env, case: &Case, server: Server, port: u16) -> Launch;

    /// What `server` runs with in `case` with `workers` worker processes; `None`: the report
    /// has no table of servers.
    fn setup(_server: Server, _case: &Case, _workers: u32) -> Option<ServerSetup> {
        None
    }

    /// Why `server` cannot run with the binaries built (a setting the build does not know),
    /// checked once before the runs; `None`: it can.
    fn unavailable(_env: &Env, _server: Server) -> Option<String> {
        None
    }

    /// The environment a server needs beyond the common one.
    fn apply_env(_cmd: &mut Command, _repo: &Repo, _server: Server) {}

    /// Checks a server's answer to `case` at `url`.
    fn check(_env: &Env, case: &Case, _url: &str, addr: SocketAddr) -> Result<()> {
        answers::check_response(addr, case.path)
    }

    /// The report's targets, for a run of `workers` worker processes per server.
    fn checks(results: &[RunResult], workers: u32) -> Vec<Check>;

    /// Lines of the report after the method line (bodies, setup).
    fn setup_lines(_results: &[RunResult]) -> String {
        String::new()
    }

    /// The JSON report's settings after the CPUs.
    fn extra_settings(_rounds: u64) -> ExtraSettings {
        ExtraSettings::Body {
            body_bytes: BODY_LEN,
        }
    }
}

/// Everything a run needs to know about the machine and tools.
pub struct Env<'a> {
    pub repo: &'a Repo,
    pub peers_venv: PathBuf,
    pub log_dir: PathBuf,
    pub server_cpu: &'static str,
    pub load_cpu: &'static str,
    /// Binaries that failed to build (server -> reason).
    pub unavailable: Vec<(Server, String)>,
    /// `bench graphql`, `bench django`: the URL of the Postgres database the servers read.
    pub pg_url: Option<String>,
    /// Worker processes per server (`--workers`; 1 without it).
    pub workers: u32,
}

impl<'a> Env<'a> {
    /// The environment of a run whose logs go to `target/bench-logs/{logs}` (created here),
    /// with the server and the load on `cpus`.
    pub fn new(
        repo: &'a Repo,
        peers_venv: PathBuf,
        logs: &str,
        (server_cpu, load_cpu): (&'static str, &'static str),
    ) -> Result<Env<'a>> {
        let log_dir = repo.root.join("target/bench-logs").join(logs);
        std::fs::create_dir_all(&log_dir)
            .with_context(|| format!("cannot create {}", log_dir.display()))?;
        Ok(Env {
            repo,
            peers_venv,
            log_dir,
            server_cpu,
            load_cpu,
            unavailable: Vec::new(),
            pg_url: None,
            workers: 1,
        })
    }
}

/// The options every server benchmark has.
#[derive(clap::Args, Debug, Clone)]
pub struct LoadArgs {
    /// Measured seconds per run
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub duration: u64,
    /// Warm-up seconds per run, not measured (0: none)
    #[arg(long, value_name = "SECS", default_value_t = 2)]
    pub warmup: u64,
    /// wrk threads (1-64)
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clamped(1, 64))]
    pub wrk_threads: u64,
    /// Use the existing release binaries instead of running cargo build
    #[arg(long)]
    pub skip_build: bool,
}

/// The command line of server benchmark `B`: which cases and servers, how many rounds, the
/// load.
#[derive(clap::Args, Debug, Clone)]
pub struct ServerArgs<B: ServerBench + Debug + Clone + Send + Sync + 'static> {
    /// Cases to run, comma-separated (default: all but those that need --workers; with
    /// --workers, the ones it names)
    #[arg(long, value_name = "LIST", value_parser = ListParser::new(B::CASES, Case::list_name))]
    pub cases: Option<List<Case>>,
    /// Servers to run, comma-separated (default: all but those that need --workers)
    #[arg(long, value_name = "LIST",
          value_parser = ListParser::new(B::SERVERS, Server::list_name))]
    pub servers: Option<List<Server>>,
    /// Runs of every server on every case, interleaved; the median req/s is reported (1-100)
    #[arg(long, value_name = "N", default_value = B::ROUNDS, value_parser = clamped(1, 100))]
    pub rounds: u64,
    #[command(flatten)]
    pub load: LoadArgs,
    #[arg(skip)]
    bench: PhantomData<B>,
}

impl<B: ServerBench + Debug + Clone + Send + Sync + 'static> ServerArgs<B> {
    /// What to run with one process per server; no `cases` or `servers` list means all of
    /// them but the ones that need `--workers`.
    pub fn opts(&self) -> RunOpts {
        self.opts_with(None)
    }

    /// What to run with `workers` processes per server (`None`: one, `--workers` not given).
    /// With `workers`, no `cases` list means `B::WORKER_CASES`.
    fn opts_with(&self, workers: Option<u32>) -> RunOpts {
        let default_cases = || -> Vec<char> {
            match workers {
                Some(_) => B::WORKER_CASES.to_vec(),
                None => B::CASES
                    .iter()
                    .filter(|c| !c.compares_workers() && !B::OPTIONAL_CASES.contains(&c.id))
                    .map(|c| c.id)
                    .collect(),
            }
        };
        let default_servers = || -> Vec<Server> {
            B::SERVERS
                .iter()
                .copied()
                .filter(|s| workers.is_some() || !B::WORKER_SERVERS.contains(s))
                .collect()
        };
        RunOpts {
            duration: self.load.duration,
            warmup: self.load.warmup,
            wrk_threads: self.load.wrk_threads as u32,
            rounds: self.rounds,
            skip_build: self.load.skip_build,
            cases: self
                .cases
                .as_ref()
                .map_or_else(default_cases, |list| list.0.iter().map(|c| c.id).collect()),
            servers: self
                .servers
                .as_ref()
                .map_or_else(default_servers, |list| list.0.clone()),
            workers,
        }
    }
}

/// [`ServerArgs`] and `--workers`: the command line of a benchmark whose servers can all run
/// several worker processes (`bench http`, `bench asgi`).
#[derive(clap::Args, Debug, Clone)]
pub struct WorkerServerArgs<B: ServerBench + Debug + Clone + Send + Sync + 'static> {
    #[command(flatten)]
    pub server: ServerArgs<B>,
    /// Worker processes for every server (Puff and granian `--workers N`, uvicorn `--workers
    /// N`, gunicorn `-w N`), on every CPU; by default the cases the description names, with
    /// the servers and the case that need it (1-64)
    #[arg(long, value_name = "N", value_parser = clamped(1, 64))]
    pub workers: Option<u64>,
}

impl<B: ServerBench + Debug + Clone + Send + Sync + 'static> WorkerServerArgs<B> {
    /// What to run: see [`ServerArgs::opts`] and [`B::WORKER_CASES`](ServerBench::WORKER_CASES).
    pub fn opts(&self) -> RunOpts {
        self.server.opts_with(self.workers.map(|n| n as u32))
    }
}

/// A usage error unless every selected server of every selected case can run as `opts` says:
/// with `--workers`, servers that take it; without it, no case that compares worker counts.
pub fn check_workers(opts: &RunOpts, cases: &[Case]) -> Result<()> {
    for case in cases.iter().filter(|c| opts.cases.contains(&c.id)) {
        if opts.workers.is_none() && case.compares_workers() {
            return usage_err(format!(
                "case ({}) compares Puff's --workers N with one worker: give --workers N",
                case.id
            ));
        }
        // Bare axum waits on Tokio's timer in the wait cases and takes --workers as its
        // number of Tokio threads.
        let one_process = case.servers.iter().find(|s| {
            opts.servers.contains(s) && !s.takes_workers() && !(case.wait && **s == Server::Axum)
        });
        if let (Some(_), Some(server)) = (opts.workers, one_process) {
            return usage_err(format!(
                "case ({}): {} runs as one process, not with --workers (leave the case out \
                 with --cases)",
                case.id,
                server.name()
            ));
        }
    }
    Ok(())
}

/// What a server benchmark runs, from its command line.
#[derive(Clone, Debug, PartialEq)]
pub struct RunOpts {
    pub duration: u64,
    pub warmup: u64,
    pub wrk_threads: u32,
    pub rounds: u64,
    pub skip_build: bool,
    /// Case ids.
    pub cases: Vec<char>,
    pub servers: Vec<Server>,
    /// `--workers`: worker processes per server; `None`: one, the flag not given.
    pub workers: Option<u32>,
}

/// The median round of one server on one case, or why it was not measured.
pub struct RunResult {
    pub case: Case,
    pub server: Server,
    pub outcome: Result<Measurement, String>,
}

/// The measurement of `server` on `case`, if it was measured.
pub fn find(results: &[RunResult], case: char, server: Server) -> Option<&Measurement> {
    results
        .iter()
        .find(|r| r.case.id == case && r.server == server)
        .and_then(|r| r.outcome.as_ref().ok())
}

/// Whether `case` ran.
pub fn has_case(results: &[RunResult], case: char) -> bool {
    results.iter().any(|r| r.case.id == case)
}

/// `a / b req/s` on `case` (when it ran) against `target` (`None`: for information).
pub fn ratio_check(
    results: &[RunResult],
    case: char,
    a: Server,
    b: Server,
    target: Option<f64>,
) -> Option<Check> {
    if !has_case(results, case) {
        return None;
    }
    let value = match (find(results, case, a), find(results, case, b)) {
        (Some(x), Some(y)) if y.rps > 0.0 => Some(x.rps / y.rps),
        _ => None,
    };
    Some(Check {
        case,
        what: format!("{} / {} req/s", a.name(), b.name()),
        value,
        target,
        at_least: true,
        unit: "x",
    })
}

/// [`ratio_check`] of each `(case, a, b, target)` whose two servers ran in the case (a run
/// without, say, `--workers` leaves the servers that need it out).
pub fn ratio_checks(
    results: &[RunResult],
    pairs: &[(char, Server, Server, Option<f64>)],
) -> Vec<Check> {
    let ran = |case: char, server: Server| {
        results
            .iter()
            .any(|r| r.case.id == case && r.server == server)
    };
    pairs
        .iter()
        .filter(|(case, a, b, _)| ran(*case, *a) && ran(*case, *b))
        .filter_map(|&(case, a, b, target)| ratio_check(results, case, a, b, target))
        .collect()
}

/// `a / b req/s` on `case` as the median of the ratios round by round: `a` and `b` ran back
/// to back in each round, so a slow spell of a shared machine hits both sides of a ratio
/// and drops out of it, where it moves each side's median round on its own. For variants of
/// one server; `None` unless both ran in the case.
pub fn paired_ratio_check(
    results: &[RunResult],
    case: char,
    (a, b): (Server, Server),
    target: Option<f64>,
) -> Option<Check> {
    let ran = |server: Server| {
        results
            .iter()
            .any(|r| r.case.id == case && r.server == server)
    };
    if !(ran(a) && ran(b)) {
        return None;
    }
    let value = match (find(results, case, a), find(results, case, b)) {
        (Some(x), Some(y)) if x.round_rps.len() == y.round_rps.len() => {
            let mut ratios: Vec<f64> = (x.round_rps.iter().zip(&y.round_rps))
                .filter(|(_, y)| **y > 0.0)
                .map(|(x, y)| x / y)
                .collect();
            ratios.sort_by(f64::total_cmp);
            ratios.get((ratios.len().max(1) - 1) / 2).copied()
        }
        _ => None,
    };
    Some(Check {
        case,
        what: format!(
            "{} / {} req/s, median of the rounds' ratios",
            a.name(),
            b.name()
        ),
        value,
        target,
        at_least: true,
        unit: "x",
    })
}

/// Adds [`p99_check`] of `server` on `case` (when it ran) after the other checks of `case`.
pub fn insert_p99_check(
    out: &mut Vec<Check>,
    results: &[RunResult],
    (case, server): (char, Server),
    target: Option<f64>,
) {
    if let Some(check) = p99_check(results, case, server, target) {
        let pos = out
            .iter()
            .rposition(|c| c.case == case)
            .map_or(out.len(), |p| p + 1);
        out.insert(pos, check);
    }
}

/// A check of `server`'s p99 latency on `case`, when it ran.
pub fn p99_check(
    results: &[RunResult],
    case: char,
    server: Server,
    target: Option<f64>,
) -> Option<Check> {
    has_case(results, case).then(|| Check {
        case,
        what: format!("{} p99 latency", server.name()),
        value: find(results, case, server).map(|m| m.p99_ms),
        target,
        at_least: false,
        unit: " ms",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CASES: [Case; 3] = [
        Case {
            id: 'a',
            title: "hello",
            connections: 1,
            path: "/",
            wait: false,
            post_body: None,
            servers: &[Server::Puff, Server::Granian],
        },
        Case {
            id: 'b',
            title: "rust",
            connections: 1,
            path: "/",
            wait: false,
            post_body: None,
            servers: &[Server::PuffRust, Server::Axum],
        },
        Case {
            id: 'c',
            title: "cpu",
            connections: 1,
            path: "/",
            wait: false,
            post_body: None,
            servers: &[Server::Puff, Server::PuffOneWorker],
        },
    ];

    fn opts(cases: &[char], servers: &[Server], workers: Option<u32>) -> RunOpts {
        RunOpts {
            duration: 1,
            warmup: 0,
            wrk_threads: 1,
            rounds: 1,
            skip_build: true,
            cases: cases.to_vec(),
            servers: servers.to_vec(),
            workers,
        }
    }

    #[test]
    fn paired_ratios_are_taken_round_by_round() {
        let measured = |server, rounds: &[f64]| RunResult {
            case: CASES[0],
            server,
            outcome: Ok(Measurement {
                rps: rounds[1],
                round_rps: rounds.to_vec(),
                ..Default::default()
            }),
        };
        // Round 2 was slow for both: the medians alone would give 0.5, each round says 0.8
        // or 0.9.
        let results = [
            measured(Server::Granian, &[80.0, 20.0, 90.0]),
            measured(Server::Puff, &[100.0, 25.0, 100.0]),
        ];
        let check =
            paired_ratio_check(&results, 'a', (Server::Granian, Server::Puff), Some(0.85)).unwrap();
        assert_eq!(check.value, Some(0.8));
        assert_eq!(check.verdict(), "MISS");
        assert!(paired_ratio_check(&results, 'a', (Server::Gevent, Server::Puff), None).is_none());
    }

    #[test]
    fn workers_need_servers_that_take_them_and_worker_cases_need_workers() {
        use Server::{Axum, Granian, Puff, PuffOneWorker, PuffRust};
        let all = [Puff, Granian, PuffRust, Axum, PuffOneWorker];
        assert!(check_workers(&opts(&['a', 'b'], &all, None), &CASES).is_ok());
        assert!(check_workers(&opts(&['a', 'c'], &all, Some(2)), &CASES).is_ok());
        let err = check_workers(&opts(&['a', 'b'], &all, Some(2)), &CASES).unwrap_err();
        assert!(err.to_string().contains("case (b): puff-rust"), "{err}");
        assert!(err.downcast_ref::<crate::usage::UsageError>().is_some());
        // The one-process servers not selected: the case runs with the others.
        assert!(check_workers(&opts(&['b'], &[Puff], Some(2)), &CASES).is_ok());
        let err = check_workers(&opts(&['c'], &all, None), &CASES).unwrap_err();
        assert!(err.to_string().contains("give --workers N"), "{err}");
        assert!(CASES[2].compares_workers() && !CASES[0].compares_workers());
    }
}
