//! `cargo xtask bench django`: the polls example's `GET /polls/bench/` (case a: three ORM
//! queries, a JSON answer) and `GET /polls/bench-wait/` (case b: 20 ms in Postgres, then two
//! ORM queries, at 256 connections against a server of `max_connections = 100`;
//! `examples/django_polls/polls/views.py`) served by Puff (`django = true`: the
//! stock postgresql engine on Puff's pool through its psycopg2 shim), gunicorn+gevent (the real
//! psycopg2, made cooperative by psycogreen) and granian (WSGI, blocking threads, the real
//! psycopg2), with the same Django settings (`bench/apps/django_bench_settings.py`) on the
//! same private Postgres database, under wrk with the method of `bench http`. The
//! `--instructions` mode is `django_instructions`'s.

use std::net::SocketAddr;
use std::process::Command;

use anyhow::Result;

use super::harness::answers::check_script;
use super::harness::report::Check;
use super::harness::server::{GEVENT_WORKER_CONNECTIONS, Launch, Server};
use super::harness::server_bench::{
    Case, Env, ExtraSettings, PgData, RunOpts, RunResult, ServerArgs, ServerBench, find,
    ratio_check,
};
use crate::repo::Repo;

/// The servers, in the order they run in a round.
pub const SERVERS: [Server; 3] = [Server::Puff, Server::Gevent, Server::Granian];

pub const CASES: [Case; 2] = [
    Case {
        id: 'a',
        title: "polls bench view: 3 ORM queries, JSON",
        connections: 64,
        path: "/polls/bench/",
        wait: false,
        post_body: None,
        servers: &SERVERS,
    },
    Case {
        id: 'b',
        title: "waiting view: pg_sleep(0.02) + 2 ORM queries, 256 connections",
        connections: 256,
        path: "/polls/bench-wait/",
        wait: true,
        post_body: None,
        servers: &SERVERS,
    },
];

/// Case (b): the Postgres connections each server may hold, the same budget for all three
/// and below the bench server's `max_connections` of 100 (`django_pg_server.py`), with room
/// for the bench's own checks. Puff: its pool (`puff_django_wait.toml`); granian: one
/// persistent connection per blocking thread; gunicorn+gevent: its django-db-geventpool pool
/// (`django_gevent_settings.py`).
const WAIT_PG_CONNECTIONS: u32 = 90;

/// Case (a): the size of Puff's pool (`puff_django.toml`) and of gevent's.
const PG_POOL: u32 = 10;

/// Granian's `--blocking-threads`: the threads that run the WSGI app, each with its own
/// persistent psycopg2 connection. On one CPU more threads overlap more Postgres round trips
/// but contend for the GIL; 8 had the best median in trials here, within the noise (see
/// bench/README.md).
const GRANIAN_THREADS: u32 = 8;
/// The report's label for granian; says [`GRANIAN_THREADS`] and, for case (b),
/// [`WAIT_PG_CONNECTIONS`].
const GRANIAN_LABEL: &str = "granian (WSGI, 8 blocking threads, 90 in b)";

/// The WSGI apps of the peers (modules found from bench/apps and examples/django_polls).
const WSGI_APP: &str = "polls_site.wsgi:application";
const GEVENT_APP: &str = "django_gevent_wsgi:application";

/// The Postgres helper (bench/apps, peers venv): the URL it prints is that of the migrated
/// and seeded database.
pub const DATABASE: PgData = PgData {
    helper: "django_pg_server.py",
    prefix: "BENCH_DJANGO",
    data: "database puff_bench_django migrated by Django (polls example), 50 questions x 4 \
           choices, max_connections = 100",
};

/// The versions the report gives (peers venv).
pub const PACKAGES: [&str; 7] = [
    "django",
    "psycopg2-binary",
    "psycogreen",
    "django-db-geventpool",
    "granian",
    "gunicorn",
    "gevent",
];

/// The report's lines on the app, the data and each server's configuration.
const SETUP_NOTES: &str = "\
- app: `examples/django_polls` unchanged (Django 5.2, its middleware and apps), view \
`polls.views.bench`: the 5 latest questions, their choices, the question count (3 ORM \
queries); settings `bench/apps/django_bench_settings.py` for all three servers (the example's, \
plus DEBUG off, DATABASES from the bench database with CONN_MAX_AGE = 60 (gevent: 0, see \
below), a local-memory cache, errors logged to the server's log); database \
`puff_bench_django` migrated by Django and seeded with 50 questions x 4 choices \
(`bench/apps/django_pg_server.py`)
- servers: puff `bench/apps/puff_django.toml` (`django = true`, the stock postgresql engine \
on Puff's `default` pool of 10 connections through its psycopg2 shim, Django connections local \
to each request's greenlet); gunicorn `-k gevent -w 1 --worker-connections 2000` on the real \
psycopg2 made cooperative by psycogreen (`bench/apps/django_gevent_wsgi.py`), its Django \
connections from a django-db-geventpool pool of 10 (`bench/apps/django_gevent_settings.py`; \
CONN_MAX_AGE = 0, as that package requires); granian `--interface wsgi --workers 1 \
--blocking-threads 8` on the real psycopg2 (one persistent connection per thread)
- case (b): the Postgres server runs with `max_connections = 100`, and every server gets the \
same budget of 90 Postgres connections: puff `bench/apps/puff_django_wait.toml` (pool of 90), \
granian `--blocking-threads 90`, gunicorn+gevent a pool of 90
";

/// What `cargo xtask bench help django` says.
pub const ABOUT: &str = "\
The polls example (examples/django_polls), the method of `bench http`, the same Django
settings (bench/apps/django_bench_settings.py) and one private Postgres database (migrated,
50 questions x 4 choices, max_connections = 100; pinned to CPU 1 with wrk): puff (puff-cli,
django = true) vs gevent (gunicorn+gevent, psycopg2 + psycogreen) vs granian (WSGI, blocking
threads, psycopg2); 5 rounds by default.
(a) GET /polls/bench/: 3 ORM queries, JSON; 64 connections; granian 8 threads, Puff's pool 10.
(b) GET /polls/bench-wait/: pg_sleep(0.02) + 2 ORM queries; 256 connections; every server
    90 Postgres connections (Puff's pool, granian's threads, gevent's pool).
--instructions: instead, user-space instructions per request under valgrind's callgrind
(installed with apt-get when missing), for each case --cases names: Django alone (the WSGI
app in a loop on the case's view, no server), then each server on 600 counted requests of
the case's load; steadier than req/s on a shared machine.";

/// `cargo xtask bench django [OPTIONS]`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    #[command(flatten)]
    pub run: ServerArgs<Django>,
    /// Count user-space instructions per request under valgrind's callgrind instead (Django
    /// alone, then each server)
    #[arg(long)]
    pub instructions: bool,
}

impl Args {
    pub fn opts(&self) -> RunOpts {
        self.run.opts()
    }
}

/// `bench/apps/django_check.py`'s arguments: a GET of `url` checked against the seeded data;
/// it also counts the server connections to the bench database (`env.pg_url`).
pub fn check_args(env: &Env, url: &str) -> Vec<String> {
    vec![
        "django_check.py".to_string(),
        url.to_string(),
        env.pg_url.clone().unwrap_or_default(),
    ]
}

/// Puff against the faster of the two peers on `case` in this run, with its target.
fn best_peer_check(results: &[RunResult], case: char, target: f64) -> Option<Check> {
    if !results.iter().any(|r| r.case.id == case) {
        return None;
    }
    let best = SERVERS
        .iter()
        .filter(|s| **s != Server::Puff)
        .filter_map(|s| Some((*s, find(results, case, *s)?.rps)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let puff = find(results, case, Server::Puff).map(|m| m.rps);
    let value = match (puff, best) {
        (Some(p), Some((_, b))) if b > 0.0 => Some(p / b),
        _ => None,
    };
    let name = best.map_or("best peer", |(s, _)| s.name());
    Some(Check {
        case,
        what: format!("puff / best peer ({name}) req/s"),
        value,
        target: Some(target),
        at_least: true,
        unit: "x",
    })
}

/// `bench django`.
#[derive(Debug, Clone)]
pub struct Django;

impl ServerBench for Django {
    const NAME: &'static str = "django";
    const TITLE: &'static str = "Puff Django benchmark";
    const CASES: &'static [Case] = &CASES;
    const SERVERS: &'static [Server] = &SERVERS;
    const ROUNDS: &'static str = "5";
    const PACKAGES: &'static [&'static str] = &PACKAGES;
    const POSTGRES: Option<PgData> = Some(DATABASE);
    const RECHECK: bool = true;
    const LOAD_NOTE: &'static str = " (with the Postgres server), every request `GET /polls/bench/` (a) or \
        `GET /polls/bench-wait/` (b)";
    const ANSWERS_NOTE: &'static str = "every server's answer checked (status 200, JSON, \
        exactly the 5 latest questions with their 4 choices each (without choices in b) and \
        the count of 50, `bench/apps/django_check.py`) before and after the warm-up and after the measured run";

    fn label(server: Server) -> &'static str {
        match server {
            Server::Puff => "puff (puff-cli, Django)",
            Server::Granian => GRANIAN_LABEL,
            Server::Gevent => "gunicorn+gevent (psycogreen)",
            other => other.name(),
        }
    }

    fn launch(env: &Env, case: &Case, server: Server, port: u16) -> Launch {
        let (repo, peers) = (env.repo, env.peers_venv.as_path());
        let bind = format!("127.0.0.1:{port}");
        let (config, threads, gevent_pool) = if case.wait {
            (
                "puff_django_wait.toml",
                WAIT_PG_CONNECTIONS,
                WAIT_PG_CONNECTIONS,
            )
        } else {
            ("puff_django.toml", GRANIAN_THREADS, PG_POOL)
        };
        match server {
            Server::Puff => {
                Launch::puff_cli(repo, config, env.pg_url.as_deref(), bind, env.workers)
            }
            Server::Granian => Launch::granian(
                repo,
                peers,
                "wsgi",
                port,
                env.workers,
                Some(threads),
                WSGI_APP,
            ),
            Server::Gevent => {
                // `--env`: the pool size django_gevent_settings.py reads.
                let options = [
                    "--worker-connections".into(),
                    GEVENT_WORKER_CONNECTIONS.to_string(),
                    "--env".into(),
                    format!("BENCH_GEVENT_PG_CONNECTIONS={gevent_pool}"),
                ];
                let class = ("gevent", env.workers);
                Launch::gunicorn(repo, peers, bind, class, &options, GEVENT_APP)
            }
            other => unreachable!("{} is not a server of bench django", other.name()),
        }
    }

    /// Every server runs the same example code with the same settings: the peers find
    /// `polls_site` and `polls` on PYTHONPATH (Puff through `python_path` in its toml).
    fn apply_env(cmd: &mut Command, repo: &Repo, server: Server) {
        cmd.env("DJANGO_SETTINGS_MODULE", "django_bench_settings");
        if server != Server::Puff {
            cmd.env("PYTHONPATH", repo.root.join("examples/django_polls"));
        }
    }

    fn check(env: &Env, _case: &Case, url: &str, _addr: SocketAddr) -> Result<()> {
        check_script(
            env.repo,
            &env.peers_venv,
            env.load_cpu,
            &check_args(env, url),
        )
    }

    /// Puff / each peer for information; on the waiting view (b), Puff >= 2x the best peer.
    /// Case (a) has no target: on a CPU-bound view every server spends about what Django
    /// alone spends (`--instructions` counts it).
    fn checks(results: &[RunResult], _workers: u32) -> Vec<Check> {
        let mut out = Vec::new();
        for case in ['a', 'b'] {
            out.extend(
                [Server::Gevent, Server::Granian]
                    .into_iter()
                    .filter_map(|peer| ratio_check(results, case, Server::Puff, peer, None)),
            );
        }
        out.extend(best_peer_check(results, 'b', 2.0));
        out
    }

    fn setup_lines(_results: &[RunResult]) -> String {
        SETUP_NOTES.to_string()
    }

    fn extra_settings(rounds: u64) -> ExtraSettings {
        ExtraSettings::Timing {
            wrk_timeout: Self::WRK_TIMEOUT,
            rounds,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::harness::list::parse_flags;
    use super::super::harness::report::fixtures::assert_matches;
    use super::super::harness::server_report::fixtures::reports;
    use super::super::harness::wrk::Measurement;
    use super::*;

    #[test]
    fn parses_django_args() {
        let a: Args = parse_flags(&[]).unwrap();
        let o = a.opts();
        assert_eq!(
            (o.cases, o.servers, o.rounds, a.instructions),
            (vec!['a', 'b'], SERVERS.to_vec(), 5, false)
        );
        let o = parse_flags::<Args>(&["--servers", "gevent,granian", "--duration", "3"])
            .unwrap()
            .opts();
        assert_eq!(
            (o.servers, o.duration),
            (vec![Server::Gevent, Server::Granian], 3)
        );
        assert!(
            parse_flags::<Args>(&["--instructions"])
                .unwrap()
                .instructions
        );
        for bad in [
            &["--servers", "uvicorn"][..],
            &["--cases", "c"],
            &["--clients", "puff"],
        ] {
            assert!(parse_flags::<Args>(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_granian_label_names_its_threads() {
        assert!(GRANIAN_LABEL.contains(&format!(" {GRANIAN_THREADS} blocking threads")));
        assert!(GRANIAN_LABEL.contains(&format!(" {WAIT_PG_CONNECTIONS} in b")));
        assert!(SETUP_NOTES.contains(&format!("--blocking-threads {GRANIAN_THREADS}")));
        for setting in ["pool of", "--blocking-threads", "a pool of", "budget of"] {
            assert!(
                SETUP_NOTES.contains(&format!("{setting} {WAIT_PG_CONNECTIONS}")),
                "{setting}"
            );
        }
    }

    #[test]
    fn checks_compare_puff_with_the_best_peer() {
        let run = |server, rps| RunResult {
            case: CASES[1],
            server,
            outcome: Ok(Measurement {
                rps,
                requests: 1,
                ..Default::default()
            }),
        };
        let results = vec![
            run(Server::Puff, 1100.0),
            run(Server::Gevent, 400.0),
            run(Server::Granian, 500.0),
        ];
        let cs = Django::checks(&results, 1);
        let got: Vec<(String, String, &str)> = cs
            .iter()
            .map(|c| (c.what.clone(), c.value_str(), c.verdict()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("puff / gevent req/s".into(), "2.75x".into(), "info"),
                ("puff / granian req/s".into(), "2.20x".into(), "info"),
                (
                    "puff / best peer (granian) req/s".into(),
                    "2.20x".into(),
                    "PASS"
                ),
            ]
        );
        let slow = vec![run(Server::Puff, 700.0), run(Server::Gevent, 400.0)];
        let c = best_peer_check(&slow, 'b', 2.0).unwrap();
        assert_eq!((c.value_str().as_str(), c.verdict()), ("1.75x", "MISS"));
        let down = vec![run(Server::Gevent, 400.0)];
        assert_eq!(best_peer_check(&down, 'b', 2.0).unwrap().verdict(), "n/a");
        assert!(best_peer_check(&down, 'a', 2.0).is_none());
    }

    #[test]
    fn reports_match_the_fixtures() {
        let opts = parse_flags::<Args>(&[]).unwrap().opts();
        let (md, json) = reports::<Django>(&opts, &CASES, true);
        assert_matches("django", &md, Some(&json));
    }
}
