//! `cargo xtask bench http`: WSGI servers under wrk. Puff (puff-cli) vs granian vs
//! gunicorn+gevent on a raw 1 KB app and on a 20 ms sleep per request, and Puff's Rust
//! routes (the Rust example app) vs bare axum; each server pinned to CPU 0, wrk to CPU 1.
//! With `--workers N` every server runs N worker processes on every CPU, gunicorn's gthread
//! worker joins, and a CPU-bound view compares Puff's N workers with one. Case (f), run when
//! `--cases` names it, is Puff's hello with the access log off, `text`, `json` and with
//! metrics on, each as a ratio to off.

use std::process::Command;

use super::harness::report::Check;
use super::harness::server::{GEVENT_WORKER_CONNECTIONS, Launch, Server, apps_dir};
use super::harness::server_bench::{
    Case, Env, RunResult, ServerBench, ServerSetup, WorkerServerArgs, insert_p99_check,
    paired_ratio_check, ratio_checks,
};

/// The servers, in the order they run in a round.
pub const SERVERS: [Server; 10] = [
    Server::Puff,
    Server::Granian,
    Server::Gthread,
    Server::Gevent,
    Server::PuffRust,
    Server::Axum,
    Server::PuffOneWorker,
    Server::PuffLogText,
    Server::PuffLogJson,
    Server::PuffMetrics,
];

/// Case (f)'s variants of Puff; [`Server::Puff`] (everything off) is their reference.
const LOGGING: &[Server] = &[
    Server::Puff,
    Server::PuffLogText,
    Server::PuffLogJson,
    Server::PuffMetrics,
];

const WSGI: &[Server] = &[
    Server::Puff,
    Server::Granian,
    Server::Gthread,
    Server::Gevent,
];

/// The wait cases: the WSGI servers, and bare axum waiting on Tokio's timer, the reference of
/// a server with no Python (what this machine and wrk allow at all).
const WAIT: &[Server] = &[
    Server::Puff,
    Server::Granian,
    Server::Gthread,
    Server::Gevent,
    Server::Axum,
];

/// The wait cases' sleep, in every server's app.
const WAIT_MS: u64 = 20;

pub const CASES: [Case; 6] = [
    Case {
        id: 'a',
        title: "hello: raw 1 KB WSGI app",
        connections: 64,
        path: "/",
        wait: false,
        post_body: None,
        servers: WSGI,
    },
    Case {
        id: 'b',
        title: "wait: 20 ms sleep per request",
        connections: 256,
        path: "/",
        wait: true,
        post_body: None,
        servers: WAIT,
    },
    Case {
        id: 'c',
        title: "wait: 20 ms sleep per request",
        connections: 1024,
        path: "/",
        wait: true,
        post_body: None,
        servers: WAIT,
    },
    Case {
        id: 'd',
        title: "Rust axum route GET /rust/hello",
        connections: 64,
        path: "/rust/hello",
        wait: false,
        post_body: None,
        servers: &[Server::PuffRust, Server::Axum],
    },
    Case::cpu('e'),
    Case {
        id: 'f',
        title: "hello with the access log or metrics: raw 1 KB WSGI app",
        connections: 64,
        path: "/",
        wait: false,
        post_body: None,
        servers: LOGGING,
    },
];

/// bench/apps config of case (f)'s metrics variant.
const METRICS_CONFIG: &str = "puff_hello_metrics.toml";

/// What `cargo xtask bench help http` says.
pub const ABOUT: &str = "\
WSGI servers; the server pinned to CPU 0 (taskset -c 0), wrk pinned to CPU 1.
  (a) hello: raw 1 KB WSGI app, 64 connections      puff vs granian vs gunicorn+gevent
  (b) wait:  20 ms sleep per request, 256 conns     puff vs granian vs gunicorn+gevent
  (c) wait:  20 ms sleep per request, 1024 conns    puff vs granian vs gunicorn+gevent
  (d) rust:  GET /rust/hello, 64 connections        puff-example-rust-app vs bare axum
Each round runs every server on every case once; the median req/s counts.

With --workers N every server runs N worker processes, pinned to every CPU (wrk shares the
last one), gunicorn's gthread worker (as many threads as granian's) joins (a) to (c), and
by default the cases are (a), (c) and
  (e) cpu:   2 ms of pure-Python CPU per request,   puff --workers N vs puff --workers 1
             64 connections

Run only when --cases names it (with or without --workers):
  (f) hello, 64 connections, Puff with the access log off (puff), `text` (puff-log-text),
      `json` (puff-log-json), and the log off with metrics on (puff-metrics, skipped when
      puff-cli does not know `metrics_bind`); --servers picks the variants";

/// `cargo xtask bench [http] [OPTIONS]`.
pub type Args = WorkerServerArgs<Http>;

/// `bench http`.
#[derive(Debug, Clone)]
pub struct Http;

/// granian's default WSGI blocking threads per worker: its backpressure (backlog 1024 /
/// workers) halved.
fn granian_default_threads(workers: u32) -> u32 {
    (1024 / workers / 2).max(1)
}

/// The Python threads per worker of granian and gthread in `case`: one on hello (granian with
/// `--blocking-threads 1`), granian's default on the wait cases.
fn python_threads(case: &Case, workers: u32) -> u32 {
    if case.wait {
        granian_default_threads(workers)
    } else {
        1
    }
}

impl ServerBench for Http {
    const NAME: &'static str = "http";
    const TITLE: &'static str = "Puff HTTP benchmark";
    const CASES: &'static [Case] = &CASES;
    const SERVERS: &'static [Server] = &SERVERS;
    const PACKAGES: &'static [&'static str] = &["granian", "gunicorn", "gevent"];
    const WORKER_CASES: &'static [char] = &['a', 'c', 'e'];
    const WORKER_SERVERS: &'static [Server] = &[Server::Gthread, Server::PuffOneWorker];
    const OPTIONAL_CASES: &'static [char] = &['f'];

    fn label(server: Server) -> &'static str {
        match server {
            Server::Puff => "puff (puff-cli)",
            Server::PuffOneWorker => "puff (puff-cli), 1 worker",
            Server::PuffLogText => "puff (puff-cli), access log text",
            Server::PuffLogJson => "puff (puff-cli), access log json",
            Server::PuffMetrics => "puff (puff-cli), metrics on",
            Server::Granian => "granian (WSGI)",
            Server::Gthread => "gunicorn gthread",
            Server::Gevent => "gunicorn+gevent",
            Server::PuffRust => "puff-example-rust-app",
            Server::Axum => "bare axum",
            other => other.name(),
        }
    }

    fn launch(env: &Env, case: &Case, server: Server, port: u16) -> Launch {
        let (repo, peers) = (env.repo, env.peers_venv.as_path());
        let bind = format!("127.0.0.1:{port}");
        let workers = server.workers(env.workers);
        // granian and gthread sleep with time.sleep on their threads, gevent with gevent.sleep.
        let (threaded_app, gevent_app) = if case.wait {
            ("granian_wait:app", "gevent_wait:app")
        } else {
            ("hello_wsgi:app", "hello_wsgi:app")
        };
        match server {
            Server::Puff
            | Server::PuffOneWorker
            | Server::PuffLogText
            | Server::PuffLogJson
            | Server::PuffMetrics => {
                let config = match (case.id, server) {
                    ('e', _) => "puff_cpu.toml",
                    _ if case.wait => "puff_wait.toml",
                    (_, Server::PuffLogText) => "puff_hello_log_text.toml",
                    (_, Server::PuffLogJson) => "puff_hello_log_json.toml",
                    (_, Server::PuffMetrics) => METRICS_CONFIG,
                    _ => "puff_hello.toml",
                };
                Launch::puff_cli(repo, config, env.pg_url.as_deref(), bind, workers)
            }
            Server::PuffRust => Launch::puff_rust_app(repo, bind),
            // The wait cases' reference: as many Tokio threads as the others have workers.
            Server::Axum => Launch::axum(repo, bind, case.wait.then_some(WAIT_MS), env.workers),
            // On the wait cases granian keeps its default threads (`python_threads`).
            Server::Granian => {
                let threads = (!case.wait).then_some(1);
                Launch::granian(repo, peers, "wsgi", port, workers, threads, threaded_app)
            }
            Server::Gthread => {
                let options = [
                    "--threads".into(),
                    python_threads(case, workers).to_string(),
                    "--worker-connections".into(),
                    GEVENT_WORKER_CONNECTIONS.to_string(),
                ];
                let class = ("gthread", workers);
                Launch::gunicorn(repo, peers, bind, class, &options, threaded_app)
            }
            Server::Gevent => {
                let connections = (workers, GEVENT_WORKER_CONNECTIONS);
                Launch::gunicorn_gevent(repo, peers, bind, connections, gevent_app)
            }
            other => unreachable!("{} is not a server of bench http", other.name()),
        }
    }

    fn setup(server: Server, case: &Case, workers: u32) -> Option<ServerSetup> {
        let requested = workers;
        let workers = server.workers(requested);
        let threads = match server {
            Server::Puff
            | Server::PuffOneWorker
            | Server::PuffLogText
            | Server::PuffLogJson
            | Server::PuffMetrics => "1, greenlets (I/O on Tokio threads)".into(),
            Server::PuffRust => "1 (unused: the route is Rust), Tokio threads".into(),
            Server::Axum if case.wait => format!(
                "none: {requested} Tokio thread(s), each request waits {WAIT_MS} ms on Tokio's timer"
            ),
            Server::Axum => "none, Tokio threads".into(),
            Server::Granian if case.wait => format!(
                "{} blocking threads (granian's default: backlog 1024 / workers / 2)",
                python_threads(case, workers)
            ),
            Server::Granian => "1 blocking thread (`--blocking-threads 1`)".into(),
            Server::Gthread => format!(
                "{} (`--threads`, as granian), up to {GEVENT_WORKER_CONNECTIONS} connections",
                python_threads(case, workers)
            ),
            Server::Gevent => {
                format!("1, gevent greenlets (`--worker-connections {GEVENT_WORKER_CONNECTIONS}`)")
            }
            other => other.name().into(),
        };
        Some(ServerSetup {
            workers,
            threads,
            logging: server.logging(),
        })
    }

    /// The metrics variant needs a `puff-cli` that knows `metrics_bind`: it is asked to read
    /// the variant's config (it reads it before printing its help).
    fn unavailable(env: &Env, server: Server) -> Option<String> {
        if server != Server::PuffMetrics {
            return None;
        }
        let config = apps_dir(env.repo).join(METRICS_CONFIG);
        let mut cmd = Command::new(env.repo.root.join("target/release/puff-cli"));
        cmd.arg("--config").arg(&config).arg("--help");
        crate::repo::apply_venv_env(&mut cmd, &env.repo.venv);
        match cmd.output() {
            Ok(out) if out.status.success() => None,
            Ok(out) => {
                let stderr = String::from_utf8_lossy(&out.stderr);
                let first = stderr.lines().next().unwrap_or_default().trim();
                // Not the list of the keys it does know.
                let first = first.split(" (known keys").next().unwrap_or(first);
                Some(if stderr.contains("metrics_bind") {
                    format!("this puff-cli does not know `metrics_bind` (no metrics yet): {first}")
                } else {
                    format!("puff-cli rejects {METRICS_CONFIG}: {first}")
                })
            }
            Err(e) => Some(format!("cannot run puff-cli: {e}")),
        }
    }

    /// Targets: Puff >= granian in (a), 1.1x granian and 2x gunicorn+gevent with a p99 of at
    /// most 30 ms in (b), 2x granian in (c); the Rust route >= 0.9x bare axum in (d). Bare
    /// axum / granian in (b) and (c) shows what a server without Python reaches there. With
    /// several workers (a)'s target is 1.1x granian; (e) is for information. In (f) the access
    /// log in either format keeps >= 0.9x of the req/s without it, metrics >= 0.97x (paired
    /// round by round: the variants differ by a few percent, less than a shared machine's
    /// swings between rounds).
    fn checks(results: &[RunResult], workers: u32) -> Vec<Check> {
        use Server::{Axum, Gevent, Granian, Gthread, Puff, PuffOneWorker, PuffRust};
        use Server::{PuffLogJson, PuffLogText, PuffMetrics};
        let hello = if workers > 1 { 1.1 } else { 1.0 };
        let mut out = ratio_checks(
            results,
            &[
                ('a', Puff, Granian, Some(hello)),
                ('a', Puff, Gthread, None),
                ('a', Puff, Gevent, None),
                ('b', Puff, Granian, Some(1.1)),
                ('b', Puff, Gthread, None),
                ('b', Puff, Gevent, Some(2.0)),
                ('c', Puff, Granian, Some(2.0)),
                ('c', Puff, Gthread, None),
                ('c', Puff, Gevent, None),
                ('b', Axum, Granian, None),
                ('c', Axum, Granian, None),
                ('d', PuffRust, Axum, Some(0.9)),
                ('e', Puff, PuffOneWorker, None),
            ],
        );
        let variants = [
            (PuffLogText, Some(0.9)),
            (PuffLogJson, Some(0.9)),
            (PuffMetrics, Some(0.97)),
        ];
        out.extend(variants.into_iter().filter_map(|(variant, target)| {
            paired_ratio_check(results, 'f', (variant, Puff), target)
        }));
        insert_p99_check(&mut out, results, ('b', Puff), Some(30.0));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::harness::list::parse_flags;
    use super::super::harness::report::fixtures::assert_matches;
    use super::super::harness::server_bench::RunOpts;
    use super::super::harness::server_report::fixtures::reports;
    use super::super::harness::wrk::Measurement;
    use super::*;

    fn opts(args: &[&str]) -> RunOpts {
        parse_flags::<Args>(args).unwrap().opts()
    }

    #[test]
    fn parses_args() {
        let o = opts(&[]);
        assert_eq!(
            (o.duration, o.warmup, o.wrk_threads, o.rounds),
            (10, 2, 1, 3)
        );
        assert_eq!(o.cases, vec!['a', 'b', 'c', 'd']);
        use Server::{Axum, Gevent, Granian, Gthread, Puff, PuffOneWorker, PuffRust};
        use Server::{PuffLogJson, PuffLogText, PuffMetrics};
        assert_eq!(
            o.servers,
            [
                Puff,
                Granian,
                Gevent,
                PuffRust,
                Axum,
                PuffLogText,
                PuffLogJson,
                PuffMetrics
            ]
        );
        assert!(!o.skip_build);
        assert_eq!(o.workers, None);
        let o = opts(&["--workers", "2"]);
        assert_eq!(
            (o.workers, o.cases.as_slice()),
            (Some(2), &['a', 'c', 'e'][..])
        );
        assert_eq!(o.servers, SERVERS.to_vec());
        assert!(o.servers.contains(&Gthread) && o.servers.contains(&PuffOneWorker));
        let o = opts(&["--workers", "0", "--cases", "b", "--servers", "puff"]);
        assert_eq!(
            (o.workers, o.cases, o.servers),
            (Some(1), vec!['b'], vec![Puff])
        );
        let o = opts(&["--duration", "3", "--cases", "a,d", "--servers", "axum"]);
        assert_eq!(o.duration, 3);
        assert_eq!(o.cases, vec!['a', 'd']);
        assert_eq!(o.servers, vec![Server::Axum]);
        let o = opts(&["--wrk-threads", "500", "--rounds", "0", "--skip-build"]);
        assert_eq!((o.wrk_threads, o.rounds, o.skip_build), (64, 1, true));
        for bad in [
            &["--cases", "z"][..],
            &["--servers", "uvicorn"],
            &["--duration", "0"],
            &["--requests", "3"],
            &["--instructions"],
            &["--clients", "puff"],
            &["--workers", "x"],
        ] {
            assert!(parse_flags::<Args>(bad).is_err(), "{bad:?}");
        }
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
        let cs = Http::checks(&results, 1);
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
            RunResult {
                case: case('c'),
                server: Server::Gevent,
                outcome: ok(5.0, 1.0),
            },
        ];
        let cs = Http::checks(&slow, 1);
        assert_eq!(cs.len(), 2, "gthread did not run: no puff / gthread row");
        assert_eq!(cs[0].verdict(), "MISS"); // 1x < 2x
        assert_eq!(cs[1].verdict(), "info"); // puff/gevent has no target
        assert_eq!(cs[1].target_str(), "-");
        let hello = |server, rps| RunResult {
            case: case('a'),
            server,
            outcome: ok(rps, 1.0),
        };
        let results = [hello(Server::Puff, 10.5), hello(Server::Granian, 10.0)];
        assert_eq!(Http::checks(&results, 1)[0].verdict(), "PASS");
        let cs = Http::checks(&results, 2);
        assert_eq!(
            (cs[0].target_str(), cs[0].verdict()),
            (">= 1.1x".into(), "MISS")
        );
    }

    #[test]
    fn reports_match_the_fixtures() {
        let (md, json) = reports::<Http>(&opts(&[]), &CASES, false);
        assert_matches("http", &md, Some(&json));
        let quick = opts(&[
            "--skip-build",
            "--rounds",
            "1",
            "--duration",
            "3",
            "--warmup",
            "0",
            "--wrk-threads",
            "2",
            "--cases",
            "d",
        ]);
        let (md, json) = reports::<Http>(&quick, &CASES[3..], false);
        assert_matches("http-skip", &md, Some(&json));
        let (md, json) = reports::<Http>(&opts(&["--workers", "2"]), &CASES, false);
        assert_matches("http-workers", &md, Some(&json));
        let (md, json) = reports::<Http>(&opts(&["--cases", "f"]), &CASES, false);
        assert_matches("http-logging", &md, Some(&json));
    }

    #[test]
    fn the_logging_case_runs_only_when_named() {
        use Server::{Puff, PuffLogJson, PuffLogText, PuffMetrics};
        assert!(!opts(&[]).cases.contains(&'f'));
        assert!(!opts(&["--workers", "2"]).cases.contains(&'f'));
        let o = opts(&[
            "--cases",
            "f",
            "--servers",
            "puff,puff-log-text,puff-log-json",
        ]);
        assert_eq!(o.cases, vec!['f']);
        assert_eq!(o.servers, vec![Puff, PuffLogText, PuffLogJson]);
        let case = CASES.iter().find(|c| c.id == 'f').unwrap();
        assert_eq!(case.servers, [Puff, PuffLogText, PuffLogJson, PuffMetrics]);
    }
}
