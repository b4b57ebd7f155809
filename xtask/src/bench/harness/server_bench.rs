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
    /// The Postgres database the servers read, if any.
    const POSTGRES: Option<PgData> = None;
    /// Whether the answers are checked again after the warm-up and after the run.
    const RECHECK: bool = false;
    /// The report's note on the load (after wrk's CPU) and on the answers.
    const LOAD_NOTE: &'static str = "";
    const ANSWERS_NOTE: &'static str = "1 KB response body everywhere";

    /// `server`'s label in reports and progress lines.
    fn label(server: Server) -> &'static str;

    /// The command line of `server` in `case`, listening on 127.0.0.1:`port`.
    fn launch(env: &Env, case: &Case, server: Server, port: u16) -> Launch;

    /// The environment a server needs beyond the common one.
    fn apply_env(_cmd: &mut Command, _repo: &Repo, _server: Server) {}

    /// Checks a server's answer to `case` at `url`.
    fn check(_env: &Env, case: &Case, _url: &str, addr: SocketAddr) -> Result<()> {
        answers::check_response(addr, case.path)
    }

    /// The report's targets.
    fn checks(results: &[RunResult]) -> Vec<Check>;

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
    /// Cases to run, comma-separated (default: all)
    #[arg(long, value_name = "LIST", value_parser = ListParser::new(B::CASES, Case::list_name))]
    pub cases: Option<List<Case>>,
    /// Servers to run, comma-separated (default: all)
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
    /// What to run; no `cases` or `servers` list means all of them.
    pub fn opts(&self) -> RunOpts {
        RunOpts {
            duration: self.load.duration,
            warmup: self.load.warmup,
            wrk_threads: self.load.wrk_threads as u32,
            rounds: self.rounds,
            skip_build: self.load.skip_build,
            cases: match &self.cases {
                Some(list) => list.0.iter().map(|c| c.id).collect(),
                None => B::CASES.iter().map(|c| c.id).collect(),
            },
            servers: self
                .servers
                .as_ref()
                .map_or_else(|| B::SERVERS.to_vec(), |list| list.0.clone()),
        }
    }
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
