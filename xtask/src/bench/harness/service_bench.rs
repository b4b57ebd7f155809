//! What a benchmark of client programs against one database server is (`bench postgres`,
//! `redis`, `tasks`): its cases, its client programs and their environment, its targets and
//! report sections ([`ServiceBench`]); the results of the programs ([`CaseResult`]) and the
//! figures taken from them. The runs are `service_runs`'s, the reports `service_report`'s.

use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use super::list::{List, ListParser, char_name, clamped};
use super::peers::{PEERS_VENV, SideVenv};
use super::programs::{ClientRound, median};
use super::report::Check;
use crate::repo::Repo;

/// A client program of `bench postgres`, `redis` or `tasks`.
pub trait CaseClient: Copy + PartialEq + std::fmt::Debug + Send + Sync + 'static {
    /// Every client, in the order `--clients` lists them by default.
    const ALL: &'static [Self];

    fn name(self) -> &'static str;
    fn label(self) -> &'static str;
    /// A Puff program's config (in bench/apps) and puff-cli command; `None` for a peer.
    fn puff_app(self) -> Option<(&'static str, &'static str)>;

    /// The venv a peer's program runs from.
    fn venv(self) -> &'static str {
        PEERS_VENV
    }

    /// Whether this is a Puff program (which needs the release puff-cli).
    fn is_puff(self) -> bool {
        self.puff_app().is_some()
    }
}

/// For lists of clients on the command line.
pub fn client_name<C: CaseClient>(c: &C) -> String {
    c.name().to_string()
}

/// Every round of one client on one case (`bench postgres`, `bench redis`).
pub struct CaseResult<C> {
    pub case: char,
    pub client: C,
    /// `seconds` of a round: the time of the case's work (one fetch in postgres (a)).
    pub rounds: Vec<Result<ClientRound, String>>,
}

impl<C: CaseClient> CaseResult<C> {
    /// The median of `f` over the measured rounds that have it.
    pub fn median_of(&self, f: impl Fn(&ClientRound) -> Option<f64>) -> Option<f64> {
        median(
            self.rounds
                .iter()
                .filter_map(|r| r.as_ref().ok().and_then(&f))
                .collect(),
        )
    }

    pub fn median_seconds(&self) -> Option<f64> {
        self.median_of(seconds_of)
    }

    pub fn errors(&self) -> u64 {
        self.rounds
            .iter()
            .filter_map(|r| r.as_ref().ok().map(|r| r.errors))
            .sum()
    }

    pub fn first_failure(&self) -> Option<&str> {
        self.rounds
            .iter()
            .find_map(|r| r.as_ref().err().map(String::as_str))
    }

    /// A table's `... per round` cell: `show` of each round, `failed` for a failed one.
    pub fn rounds_cell(&self, show: impl Fn(&ClientRound) -> String) -> String {
        let rounds: Vec<String> = self
            .rounds
            .iter()
            .map(|x| match x {
                Ok(x) => show(x),
                Err(_) => "failed".into(),
            })
            .collect();
        rounds.join(", ")
    }

    /// A table's `note` cell: the first failure, if any.
    pub fn note_cell(&self) -> String {
        self.first_failure()
            .map(|e| format!("not measured: {}", e.replace('|', "\\|")))
            .unwrap_or_default()
    }
}

pub fn seconds_of(r: &ClientRound) -> Option<f64> {
    Some(r.seconds)
}

pub fn rate_of(r: &ClientRound) -> Option<f64> {
    Some(r.rps)
}

pub fn p50_of(r: &ClientRound) -> Option<f64> {
    r.p50_ms
}

pub fn p99_of(r: &ClientRound) -> Option<f64> {
    r.p99_ms
}

pub fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) if y > 0.0 => Some(x / y),
        _ => None,
    }
}

/// A ratio for a report's table: `1.23x`, or `-`.
pub fn ratio_cell(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.2}x"))
}

/// Whether `results` has `client` on `case`.
pub fn has_result<C: CaseClient>(results: &[CaseResult<C>], case: char, client: C) -> bool {
    results.iter().any(|r| r.case == case && r.client == client)
}

/// The median of `f` over the rounds of `client` on `case`.
pub fn case_median<C: CaseClient>(
    results: &[CaseResult<C>],
    case: char,
    client: C,
    f: fn(&ClientRound) -> Option<f64>,
) -> Option<f64> {
    results
        .iter()
        .find(|r| r.case == case && r.client == client)
        .and_then(|r| r.median_of(f))
}

/// The options every client benchmark `B` has: which cases and clients, how many rounds,
/// whether to build.
#[derive(clap::Args, Debug, Clone)]
pub struct ServiceArgs<B: ServiceBench> {
    /// Cases to run, comma-separated (default: all)
    #[arg(long, value_name = "LIST", value_parser = ListParser::new(B::CASE_IDS, char_name))]
    pub cases: Option<List<char>>,
    /// Clients to run, comma-separated (default: all)
    #[arg(long, value_name = "LIST",
          value_parser = ListParser::new(B::Client::ALL, client_name::<B::Client>))]
    pub clients: Option<List<B::Client>>,
    /// Runs of every client on every case, interleaved; the median is reported (1-100)
    #[arg(long, value_name = "N", default_value = B::ROUNDS, value_parser = clamped(1, 100))]
    pub rounds: u64,
    /// Use the existing release puff-cli instead of running cargo build
    #[arg(long)]
    pub skip_build: bool,
}

/// What `bench postgres`, `redis` and `tasks` do differently; `self` is the benchmark's command
/// line. The rest is `service_runs::run`'s: a helper script from the peers venv runs the
/// server, every selected client program runs every selected case `--rounds` times
/// (interleaved), and the reports share one layout.
pub trait ServiceBench: std::fmt::Debug + Clone + Send + Sync + 'static {
    type Client: CaseClient;
    /// The JSON report's settings of this benchmark (those before `rounds`).
    type Settings: Serialize;
    /// A JSON result's figures (the fields between `label` and `errors`).
    type Figures: Serialize;
    /// The report files' and the log folder's name (`postgres`).
    const NAME: &'static str;
    /// "Postgres", "Redis": for messages and the report's title.
    const WHAT: &'static str;
    /// The case ids and titles.
    const CASES: &'static [(char, &'static str)];
    /// The case ids, in the order `--cases` lists them by default.
    const CASE_IDS: &'static [char];
    /// `--rounds` by default. Text, not a number: clap keeps a `default_value_t` in a
    /// static, which every benchmark's generic arguments would share.
    const ROUNDS: &'static str = "3";
    /// The helper prints `{HELPER_PREFIX}_URL=` and `{HELPER_PREFIX}_VERSION=` lines; the
    /// client programs find the URL in `${HELPER_PREFIX}_URL`.
    const HELPER_PREFIX: &'static str;
    /// The variables naming an external server instead of a private one (read by the helper).
    const EXTERNAL_VARS: [&'static str; 2];
    /// The puff-cli flag that hands the server's URL to the Puff programs.
    const PUFF_URL_FLAG: &'static str;
    /// The peers' client program (in bench/apps; its argument: the client's name).
    const PEER_SCRIPT: &'static str;
    /// The server's name among the report's tools.
    const SERVER_TOOL: &'static str;
    /// The peer packages whose versions the report gives.
    const PACKAGES: &'static [&'static str];
    /// Peers with a venv of their own.
    const SIDE_VENVS: &'static [SideVenv] = &[];
    /// What the Markdown report says under `## Results` before the cases.
    const RESULTS_INTRO: &'static str;
    /// The last paragraph of the Markdown report.
    const NOTES: &'static str;

    /// The options every client benchmark has.
    fn common(&self) -> &ServiceArgs<Self>;

    /// Runs of every client on every case (`--rounds`).
    fn rounds(&self) -> u64 {
        self.common().rounds
    }

    /// The selected cases (`--cases`), in the order given.
    fn cases(&self) -> &[char] {
        self.common()
            .cases
            .as_ref()
            .map_or(Self::CASE_IDS, |l| &l.0)
    }

    /// The selected clients (`--clients`).
    fn clients(&self) -> &[Self::Client] {
        self.common()
            .clients
            .as_ref()
            .map_or(Self::Client::ALL, |l| &l.0)
    }

    /// `--skip-build`.
    fn skip_build(&self) -> bool {
        self.common().skip_build
    }

    /// The helper script (in bench/apps) and its arguments.
    fn helper_args(&self) -> Vec<String>;

    /// Environment for every program taken from the helper's output (`helper_output`, its
    /// log once it printed the server's URL), besides that URL: e.g. a second server's.
    fn helper_env(&self, _helper_output: &str) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// Step 5's progress line: where the server comes from (`external`: the variable naming
    /// it, if set).
    fn server_line(&self, external: Option<&str>, server_cpu: &str) -> String;

    /// The environment of a client program running `case`, but for the URL.
    fn client_env(&self, case: char) -> Vec<(&'static str, String)>;

    /// A measured round, for the progress lines.
    fn show(r: &ClientRound) -> String;

    /// The report's targets.
    fn checks(results: &[CaseResult<Self::Client>]) -> Vec<Check>;

    /// What one client program does in `case`, for the reports.
    fn case_work(&self, case: char) -> String;

    /// The report's `- method:` line, up to the build note.
    fn method(&self, cpus: (&str, &str)) -> String;

    /// The Markdown section of `case`: its heading and its table.
    fn case_markdown(&self, md: &mut String, case: char, results: &[CaseResult<Self::Client>]);

    /// The JSON report's settings of this benchmark.
    fn settings(&self) -> Self::Settings;

    /// A JSON result's figures.
    fn figures(r: &CaseResult<Self::Client>) -> Self::Figures;

    /// A last verdict on the results, once the reports are saved.
    fn verdict(_repo: &Repo, _log_dir: &Path, _results: &[CaseResult<Self::Client>]) -> Result<()> {
        Ok(())
    }

    fn case_title(id: char) -> &'static str {
        Self::CASES.iter().find(|c| c.0 == id).map_or("?", |c| c.1)
    }
}
