//! `cargo xtask bench tasks`: task queues on one private redis-server. Puff's
//! `puff.task_queue` (Redis backend; callers from greenlets or coroutines and the worker in
//! one puff-cli process) vs arq (one worker process, uvloop) and Celery (one worker process,
//! solo pool): no-op tasks end to end on one node, every program pinned to CPU 0. Puff's
//! transactional enqueue (puff-outbox: each task scheduled in a Postgres transaction of
//! its own, relayed from the outbox by the same process) runs the same work against the
//! plain greenlet enqueue, on a private Postgres the server helper starts as well.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Result, bail};
use serde::Serialize;

use super::harness::helper::{REDIS_URL_VARS, redis_server_line};
use super::harness::list::clamped;
use super::harness::peers::{PEERS_VENV, SideVenv};
use super::harness::programs::ClientRound;
use super::harness::report::{Check, Fixed3, thousands};
use super::harness::service_bench::{
    CaseClient, CaseResult, ServiceArgs, ServiceBench, case_median, has_result, rate_of, ratio,
    ratio_cell,
};
use crate::repo::Repo;

/// What `cargo xtask bench help tasks` says.
pub const ABOUT: &str = "\
The same private redis-server as `bench redis`, each program (client and worker on one node)
pinned to CPU 0: puff-greenlets, puff-coroutines (puff.task_queue, worker in the same puff-cli
process), puff-outbox (the greenlet callers, each task enqueued in a Postgres transaction of
its own and relayed from the outbox; a private Postgres too), arq (one worker process,
uvloop), celery (one worker process, solo pool; Redis broker and result backend).
  (a) no-op tasks: --tasks tasks from --concurrency callers, schedule to result (tasks/s)
Each round runs every program once; the median round counts.";

/// `bench tasks` cases: id and title.
pub const CASES: [(char, &str); 1] = [(
    'a',
    "no-op tasks end to end on one node: schedule to result",
)];

const CASE_IDS: [char; 1] = ['a'];

/// arq requires redis<6: its own venv (see bench/requirements-arq.txt).
const ARQ_VENV: SideVenv = SideVenv {
    dir: "bench/.venv-peers/arq-venv",
    requirements: "bench/requirements-arq.txt",
    packages: &["arq", "redis", "hiredis", "uvloop"],
    label: "arq venv",
};

/// A program of `bench tasks`: a client and a worker on one node.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TasksClient {
    PuffGreenlets,
    PuffCoroutines,
    /// Transactional enqueue through the Postgres outbox.
    PuffOutbox,
    Arq,
    Celery,
}

impl TasksClient {
    const PUFF: [TasksClient; 2] = [TasksClient::PuffGreenlets, TasksClient::PuffCoroutines];
}

impl CaseClient for TasksClient {
    const ALL: &'static [Self] = &[
        TasksClient::PuffGreenlets,
        TasksClient::PuffCoroutines,
        TasksClient::PuffOutbox,
        TasksClient::Arq,
        TasksClient::Celery,
    ];

    fn name(self) -> &'static str {
        match self {
            TasksClient::PuffGreenlets => "puff-greenlets",
            TasksClient::PuffCoroutines => "puff-coroutines",
            TasksClient::PuffOutbox => "puff-outbox",
            TasksClient::Arq => "arq",
            TasksClient::Celery => "celery",
        }
    }

    fn label(self) -> &'static str {
        match self {
            TasksClient::PuffGreenlets => {
                "puff.task_queue from greenlets (puff.spawn), worker in the same puff-cli process"
            }
            TasksClient::PuffCoroutines => {
                "puff.task_queue from coroutines (asyncio = true), worker in the same puff-cli \
                 process"
            }
            TasksClient::PuffOutbox => {
                "puff.task_queue from greenlets, each task enqueued in a Postgres transaction \
                 (transaction=conn, commit) and relayed from the outbox by the same process"
            }
            TasksClient::Arq => {
                "arq client + one arq worker process (max_jobs 100), both uvloop, redis-py 5.3"
            }
            TasksClient::Celery => {
                "Celery client (threads) + one worker process (--pool=solo), Redis broker and \
                 result backend"
            }
        }
    }

    fn puff_app(self) -> Option<(&'static str, &'static str)> {
        match self {
            TasksClient::PuffGreenlets => Some(("puff_tasks.toml", "tasks_greenlets")),
            TasksClient::PuffCoroutines => Some(("puff_tasks_asyncio.toml", "tasks_coroutines")),
            TasksClient::PuffOutbox => Some(("puff_tasks_outbox.toml", "tasks_outbox")),
            TasksClient::Arq | TasksClient::Celery => None,
        }
    }

    fn venv(self) -> &'static str {
        if self == TasksClient::Arq {
            ARQ_VENV.dir
        } else {
            PEERS_VENV
        }
    }
}

type TasksResult = CaseResult<TasksClient>;

/// `cargo xtask bench tasks [OPTIONS]`.
#[derive(clap::Args, Debug, Clone)]
pub struct Tasks {
    #[command(flatten)]
    pub common: ServiceArgs<Tasks>,
    /// Timed tasks per run (1-10000000)
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clamped(1, 10_000_000))]
    pub tasks: u64,
    /// Concurrent callers scheduling and waiting (1-10000)
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clamped(1, 10_000))]
    pub concurrency: u64,
    /// Untimed tasks before the timed ones, same callers
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    pub warmup_requests: u64,
}

impl Tasks {
    /// Whether puff-outbox runs (it needs a Postgres besides Redis).
    fn with_outbox(&self) -> bool {
        self.clients().contains(&TasksClient::PuffOutbox)
    }
}

/// The JSON report's settings of `bench tasks`.
#[derive(Serialize)]
pub struct Settings {
    tasks: u64,
    concurrency: u64,
    warmup_tasks: u64,
}

/// A result's figures in the JSON report.
#[derive(Serialize)]
pub struct Figures {
    median_per_second: Option<Fixed3>,
    median_seconds: Option<Fixed3>,
}

impl ServiceBench for Tasks {
    type Client = TasksClient;
    type Settings = Settings;
    type Figures = Figures;
    const NAME: &'static str = "tasks";
    const WHAT: &'static str = "task queue";
    const CASES: &'static [(char, &'static str)] = &CASES;
    const CASE_IDS: &'static [char] = &CASE_IDS;
    const EXTERNAL_VARS: [&'static str; 2] = REDIS_URL_VARS;
    const HELPER_PREFIX: &'static str = "BENCH_REDIS";
    const PUFF_URL_FLAG: &'static str = "--default-redis-url";
    const PEER_SCRIPT: &'static str = "peer_tasks.py";
    const SERVER_TOOL: &'static str = "redis-server";
    const PACKAGES: &'static [&'static str] =
        &["celery", "kombu", "billiard", "redis", "hiredis", "uvloop"];
    const SIDE_VENVS: &'static [SideVenv] = &[ARQ_VENV];
    const RESULTS_INTRO: &'static str = "";
    const NOTES: &'static str = "Errors = tasks that raised, returned a wrong value or gave no \
        result within 30 s (all rounds). Ratios are Puff / peer tasks/s. One node: Puff runs \
        the callers and the worker (`[[task_queue]] max_concurrent_tasks = 64`, Redis backend) \
        in one puff-cli process and waits with `wait_for_task_result(poll_interval_ms=5)`; arq \
        and Celery run their client process and one worker child process, both on the client \
        CPU. arq (own venv: arq 0.28 requires redis-py < 6): `arq.worker.Worker(max_jobs=100, \
        poll_delay=5 ms)` with uvloop as the event loop policy, client under `uvloop.run` waiting with `job.result(poll_delay=5 ms)`. \
        Celery: `worker --pool=solo --concurrency=1` (tasks run in the worker's own process; \
        prefork with one child was slower), prefetch multiplier 64, without gossip, mingle and \
        heartbeat, JSON serializer, `ignore_result=False`; its client is synchronous, so the \
        callers are threads sending with `apply_async` and waiting with `AsyncResult.get`. \
        puff-outbox: puff-greenlets' work with each task enqueued by \
        `schedule_function(..., transaction=conn)` and `conn.commit()` on one connection per \
        caller (`[[postgres]] outbox`, pool_size 32; a private Postgres, fsync off, started by \
        the server helper on the server CPU) and moved into the queue by the same process's \
        outbox relay (woken by NOTIFY); puff-outbox / puff-greenlets is the cost of \
        transactional enqueue. \
        Programs and settings: `bench/apps/puff_tasks.py`, `bench/apps/peer_tasks.py`, \
        `bench/apps/tasks_common.py`.";
    fn common(&self) -> &ServiceArgs<Self> {
        &self.common
    }

    fn helper_args(&self) -> Vec<String> {
        let mut args = vec!["redis_bench_server.py".to_string()];
        if self.with_outbox() {
            args.push("--postgres".to_string());
        }
        args
    }

    /// The outbox's Postgres (puff-outbox), as the helper printed it.
    fn helper_env(&self, helper_output: &str) -> Vec<(&'static str, String)> {
        helper_output
            .lines()
            .find_map(|l| l.trim().strip_prefix("BENCH_OUTBOX_POSTGRES_URL="))
            .map(|url| vec![("PUFF_OUTBOX_POSTGRES_URL", url.to_string())])
            .unwrap_or_default()
    }

    fn server_line(&self, external: Option<&str>, server_cpu: &str) -> String {
        let line = redis_server_line(external, server_cpu);
        if self.with_outbox() {
            format!(
                "{line}, and a Postgres for puff-outbox (private unless $PUFF_BENCH_POSTGRES_URL or $PUFF_TEST_POSTGRES_URL)"
            )
        } else {
            line
        }
    }

    fn client_env(&self, _case: char) -> Vec<(&'static str, String)> {
        vec![
            ("BENCH_TASKS", self.tasks.to_string()),
            ("BENCH_CONCURRENCY", self.concurrency.to_string()),
            ("BENCH_WARMUP", self.warmup_requests.to_string()),
        ]
    }

    fn show(r: &ClientRound) -> String {
        format!(
            "{:.0} tasks/s ({:.3} s), {} errors",
            r.rps, r.seconds, r.errors
        )
    }

    /// Targets, for both Puff variants: >= 3x arq's tasks/s; Puff / Celery for information,
    /// and transactional enqueue / plain enqueue (puff-outbox / puff-greenlets).
    fn checks(results: &[TasksResult]) -> Vec<Check> {
        let mut out = Vec::new();
        for (case, _) in CASES {
            for puff in TasksClient::PUFF {
                for (peer, target) in [(TasksClient::Arq, Some(3.0)), (TasksClient::Celery, None)] {
                    if !has_result(results, case, puff) || !has_result(results, case, peer) {
                        continue;
                    }
                    out.push(Check {
                        case,
                        what: format!("({case}) {} / {} tasks/s", puff.name(), peer.name()),
                        value: ratio(
                            case_median(results, case, puff, rate_of),
                            case_median(results, case, peer, rate_of),
                        ),
                        target,
                        at_least: true,
                        unit: "x",
                    });
                }
            }
            let (outbox, plain) = (TasksClient::PuffOutbox, TasksClient::PuffGreenlets);
            if has_result(results, case, outbox) && has_result(results, case, plain) {
                out.push(Check {
                    case,
                    what: format!(
                        "({case}) {} / {} tasks/s (transactional / plain enqueue)",
                        outbox.name(),
                        plain.name()
                    ),
                    value: ratio(
                        case_median(results, case, outbox, rate_of),
                        case_median(results, case, plain, rate_of),
                    ),
                    target: None,
                    at_least: true,
                    unit: "x",
                });
            }
        }
        out
    }

    fn case_work(&self, _case: char) -> String {
        format!(
            "{} no-op tasks (`noop({{\"i\": i}})` returns i; every result checked) from {} \
             concurrent callers, each scheduling its share and then waiting for each of its \
             results; time from the first schedule to the last result; after {} untimed tasks \
             with the same callers",
            self.tasks, self.concurrency, self.warmup_requests
        )
    }

    fn method(&self, (client_cpu, server_cpu): (&str, &str)) -> String {
        format!(
            "one redis-server for the whole run (no persistence, loopback TCP) pinned to CPU \
             {server_cpu}, the broker and result store of every program; each program, client \
             and worker (one node: one puff-cli process for Puff, a client process and one \
             worker child process for arq and Celery), pinned to CPU {client_cpu} (all of their \
             threads), a fresh program per run that times itself; {} rounds with the programs \
             interleaved, the median round counts",
            self.rounds()
        )
    }

    fn case_markdown(&self, md: &mut String, case: char, results: &[TasksResult]) {
        let _ = writeln!(
            md,
            "### ({case}) {}\n\n{}\n",
            Self::case_title(case),
            self.case_work(case)
        );
        let _ = writeln!(
            md,
            "| client | median tasks/s | tasks/s per round | median s | vs arq | vs celery | \
             errors | note |"
        );
        let _ = writeln!(md, "|---|---:|---|---:|---:|---:|---:|---|");
        for r in results.iter().filter(|r| r.case == case) {
            let rate = r.median_of(rate_of);
            let vs = |peer| ratio_cell(ratio(rate, case_median(results, case, peer, rate_of)));
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                r.client.name(),
                rate.map_or("-".into(), |v| thousands(v.round() as u64)),
                r.rounds_cell(|x| thousands(x.rps.round() as u64)),
                r.median_seconds().map_or("-".into(), |v| format!("{v:.3}")),
                vs(TasksClient::Arq),
                vs(TasksClient::Celery),
                r.errors(),
                r.note_cell()
            );
        }
        md.push('\n');
    }
    fn settings(&self) -> Settings {
        Settings {
            tasks: self.tasks,
            concurrency: self.concurrency,
            warmup_tasks: self.warmup_requests,
        }
    }
    fn figures(r: &TasksResult) -> Figures {
        Figures {
            median_per_second: r.median_of(rate_of).map(Fixed3),
            median_seconds: r.median_seconds().map(Fixed3),
        }
    }

    /// A wrong or missing result makes the figures meaningless: fail the command.
    fn verdict(repo: &Repo, log_dir: &Path, results: &[TasksResult]) -> Result<()> {
        let wrong = results.iter().filter(|r| r.errors() > 0).count();
        if wrong > 0 {
            bail!(
                "{wrong} of {} programs reported failed, wrong or missing results (the errors \
                 column above; details in {})",
                results.len(),
                repo.rel(log_dir)
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::harness::list::parse_flags;
    use super::super::harness::report::fixtures::assert_matches;
    use super::super::harness::service_report::fixtures::{reports, round};
    use super::*;

    #[test]
    fn parses_tasks_args_and_checks() {
        let o: Tasks = parse_flags(&[]).unwrap();
        assert_eq!(o.cases(), ['a']);
        assert_eq!(o.clients(), TasksClient::ALL);
        assert_eq!((o.rounds(), o.concurrency, o.tasks), (3, 64, 10_000));
        assert_eq!(o.warmup_requests, 1_000);
        let o: Tasks = parse_flags(&[
            "--clients",
            "celery,puff-greenlets",
            "--tasks",
            "500",
            "--rounds",
            "1",
            "--warmup-requests",
            "0",
        ])
        .unwrap();
        assert_eq!(
            o.clients(),
            [TasksClient::Celery, TasksClient::PuffGreenlets]
        );
        assert_eq!((o.tasks, o.rounds(), o.warmup_requests), (500, 1, 0));
        for bad in [
            &["--cases", "b"][..],
            &["--clients", "redis-py"],
            &["--ops", "3"],
            &["--duration", "3"],
        ] {
            assert!(parse_flags::<Tasks>(bad).is_err(), "{bad:?}");
        }
        assert_eq!(o.helper_args(), ["redis_bench_server.py"]);
        let outbox: Tasks = parse_flags(&["--clients", "puff-outbox"]).unwrap();
        assert_eq!(
            outbox.helper_args(),
            ["redis_bench_server.py", "--postgres"]
        );
        assert_eq!(
            outbox.helper_env("x\nBENCH_OUTBOX_POSTGRES_URL=postgres://h/db\nBENCH_REDIS_URL=r\n"),
            [("PUFF_OUTBOX_POSTGRES_URL", "postgres://h/db".to_string())]
        );
        assert!(o.helper_env("BENCH_REDIS_URL=r\n").is_empty());
        assert_eq!(TasksClient::Arq.venv(), "bench/.venv-peers/arq-venv");
        assert_eq!(TasksClient::Celery.venv(), PEERS_VENV);

        let round = |rps: f64| -> Result<ClientRound, String> {
            Ok(ClientRound {
                rps,
                seconds: 10_000.0 / rps,
                ..Default::default()
            })
        };
        let r = |client, rounds| TasksResult {
            case: 'a',
            client,
            rounds,
        };
        let results = vec![
            r(
                TasksClient::PuffGreenlets,
                vec![round(9_000.0), round(12_000.0), Err("x".into())],
            ),
            r(TasksClient::Arq, vec![round(3_000.0)]),
            r(TasksClient::Celery, vec![round(1_500.0)]),
            r(TasksClient::PuffOutbox, vec![round(5_250.0)]),
        ];
        let checks = Tasks::checks(&results);
        let got: Vec<(&str, String, &str)> = checks
            .iter()
            .map(|c| (c.what.as_str(), c.value_str(), c.verdict()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("(a) puff-greenlets / arq tasks/s", "3.50x".into(), "PASS"),
                (
                    "(a) puff-greenlets / celery tasks/s",
                    "7.00x".into(),
                    "info"
                ),
                (
                    "(a) puff-outbox / puff-greenlets tasks/s (transactional / plain enqueue)",
                    "0.50x".into(),
                    "info"
                ),
            ]
        );
    }

    #[test]
    fn reports_match_the_fixtures() {
        let opts: Tasks = parse_flags(&["--tasks", "500"]).unwrap();
        let results: Vec<TasksResult> = TasksClient::ALL
            .iter()
            .enumerate()
            .map(|(i, client)| CaseResult {
                case: 'a',
                client: *client,
                rounds: vec![
                    round(0.5 * (i + 1) as f64, i as u64, None),
                    round(0.7, 0, None),
                ],
            })
            .collect();
        let (md, json) = reports(&opts, &results);
        assert_matches("tasks", &md, Some(&json));
    }
}
