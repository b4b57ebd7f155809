//! `cargo xtask bench django`: the polls example's `GET /polls/bench/` (three ORM queries, a
//! JSON answer; `examples/django_polls/polls/views.py`) served by Puff (`django = true`: the
//! stock postgresql engine on Puff's pool through its psycopg2 shim), gunicorn+gevent (the real
//! psycopg2, made cooperative by psycogreen) and granian (WSGI, blocking threads, the real
//! psycopg2), with the same Django settings (`bench/apps/django_bench_settings.py`) on the
//! same private Postgres database. The machinery is `bench http`'s and `bench graphql`'s
//! (`run_servers`); this module holds what differs.

use std::process::Command;

use super::{Case, Check, Env, RunResult, Server, find};
use crate::util::Repo;

/// The servers, in the order they run in a round.
pub(super) const SERVERS: [Server; 3] = [Server::Puff, Server::Gevent, Server::Granian];

pub(super) const CASES: [Case; 1] = [Case {
    id: 'a',
    title: "polls bench view: 3 ORM queries, JSON",
    connections: 64,
    path: "/polls/bench/",
    wait: false,
    asgi: false,
    graphql: None,
    django: true,
    servers: &SERVERS,
}];

/// Granian's `--blocking-threads`: the threads that run the WSGI app, each with its own
/// persistent psycopg2 connection. On one CPU more threads overlap more Postgres round trips
/// but contend for the GIL; 8 had the best median in trials here, within the noise (see
/// bench/README.md).
pub(super) const GRANIAN_THREADS: u32 = 8;
/// The report's label for granian; says [`GRANIAN_THREADS`].
pub(super) const GRANIAN_LABEL: &str = "granian (WSGI, 8 blocking threads)";

/// The WSGI apps of the peers (modules found from bench/apps and examples/django_polls).
pub(super) const WSGI_APP: &str = "polls_site.wsgi:application";
pub(super) const GEVENT_APP: &str = "django_gevent_wsgi:application";

/// The Postgres helper (bench/apps, peers venv) and the prefix of its `_URL=` / `_VERSION=`
/// lines: the URL is that of the migrated and seeded database.
pub(super) const HELPER: &str = "django_pg_server.py";
pub(super) const HELPER_PREFIX: &str = "BENCH_DJANGO";
/// What the helper makes, for the progress line.
pub(super) const DATA: &str = "database puff_bench_django migrated by Django (polls example), \
    50 questions x 4 choices";

/// The versions the report gives (peers venv).
pub(super) const PACKAGES: [&str; 6] = [
    "django",
    "psycopg2-binary",
    "psycogreen",
    "granian",
    "gunicorn",
    "gevent",
];

/// The report's notes on the load and on the answer checks (`render_markdown`).
pub(super) const LOAD_NOTE: &str = " (with the Postgres server), every request `GET /polls/bench/`";
pub(super) const ANSWERS_NOTE: &str = "every server's answer checked (status 200, JSON, exactly \
    the 5 latest questions with their 4 choices each and the count of 50, \
    `bench/apps/django_check.py`) before and after the warm-up and after the measured run";

/// The report's lines on the app, the data and each server's configuration.
pub(super) const SETUP_NOTES: &str = "\
- app: `examples/django_polls` unchanged (Django 5.2, its middleware and apps), view \
`polls.views.bench`: the 5 latest questions, their choices, the question count (3 ORM \
queries); settings `bench/apps/django_bench_settings.py` for all three servers (the example's, \
plus DEBUG off, DATABASES from the bench database with CONN_MAX_AGE = 60, a local-memory \
cache); database `puff_bench_django` migrated by Django and seeded with 50 questions x 4 \
choices (`bench/apps/django_pg_server.py`)
- servers: puff `bench/apps/puff_django.toml` (`django = true`, the stock postgresql engine \
on Puff's `default` pool of 10 connections through its psycopg2 shim, Django connections local \
to each request's greenlet); gunicorn `-k gevent -w 1 --worker-connections 2000` on the real \
psycopg2 made cooperative by psycogreen (`bench/apps/django_gevent_wsgi.py`; one persistent \
Postgres connection per open HTTP connection, 64); granian `--interface wsgi --workers 1 \
--blocking-threads 8` on the real psycopg2 (one persistent connection per thread)
";

/// `bench/apps/django_check.py`'s arguments: a GET of `url` checked against the seeded data;
/// it also counts the server connections to the bench database (`env.pg_url`).
pub(super) fn check_args(env: &Env, url: &str) -> Vec<String> {
    vec![
        "django_check.py".to_string(),
        url.to_string(),
        env.pg_url.clone().unwrap_or_default(),
    ]
}

/// Every server runs the same example code with the same settings: the peers find
/// `polls_site` and `polls` on PYTHONPATH (Puff through `python_path` in its toml).
pub(super) fn apply_env(cmd: &mut Command, repo: &Repo, server: Server) {
    cmd.env("DJANGO_SETTINGS_MODULE", "django_bench_settings");
    if server != Server::Puff {
        cmd.env("PYTHONPATH", repo.root.join("examples/django_polls"));
    }
}

/// Puff against the faster of the two peers in this run: the target is 1.5x.
pub(super) fn best_peer_check(results: &[RunResult]) -> Option<Check> {
    if !results.iter().any(|r| r.case.id == 'a') {
        return None;
    }
    let best = SERVERS
        .iter()
        .filter(|s| **s != Server::Puff)
        .filter_map(|s| Some((*s, find(results, 'a', *s)?.rps)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let puff = find(results, 'a', Server::Puff).map(|m| m.rps);
    let value = match (puff, best) {
        (Some(p), Some((_, b))) if b > 0.0 => Some(p / b),
        _ => None,
    };
    let name = best.map_or("best peer", |(s, _)| s.name());
    Some(Check {
        case: 'a',
        what: format!("puff / best peer ({name}) req/s"),
        value,
        target: Some(1.5),
        at_least: true,
        unit: "x",
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Kind, Measurement, checks, parse};
    use super::*;

    #[test]
    fn parses_django_args() {
        let o = parse(&["django".to_string()]).unwrap().unwrap();
        assert_eq!(o.kind, Kind::Django);
        assert_eq!(
            (o.cases, o.servers, o.rounds),
            (vec!['a'], SERVERS.to_vec(), 5)
        );
        let o =
            parse(&["django", "--servers", "gevent,granian", "--duration", "3"].map(String::from))
                .unwrap()
                .unwrap();
        assert_eq!(
            (o.servers, o.duration),
            (vec![Server::Gevent, Server::Granian], 3)
        );
        for bad in [
            ["django", "--servers", "uvicorn"],
            ["django", "--cases", "b"],
        ] {
            assert!(parse(&bad.map(String::from)).is_err());
        }
        assert!(parse(&["django", "--clients", "puff"].map(String::from)).is_err());
    }

    #[test]
    fn the_granian_label_names_its_threads() {
        assert!(GRANIAN_LABEL.contains(&format!(" {GRANIAN_THREADS} blocking threads")));
        assert!(SETUP_NOTES.contains(&format!("--blocking-threads {GRANIAN_THREADS}")));
    }

    #[test]
    fn checks_compare_puff_with_the_best_peer() {
        let run = |server, rps| RunResult {
            case: CASES[0],
            server,
            outcome: Ok(Measurement {
                rps,
                requests: 1,
                ..Default::default()
            }),
        };
        let results = vec![
            run(Server::Puff, 900.0),
            run(Server::Gevent, 400.0),
            run(Server::Granian, 500.0),
        ];
        let cs = checks(Kind::Django, &results);
        let got: Vec<(String, String, &str)> = cs
            .iter()
            .map(|c| (c.what.clone(), c.value_str(), c.verdict()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("puff / gevent req/s".into(), "2.25x".into(), "info"),
                ("puff / granian req/s".into(), "1.80x".into(), "info"),
                (
                    "puff / best peer (granian) req/s".into(),
                    "1.80x".into(),
                    "PASS"
                ),
            ]
        );
        let slow = vec![run(Server::Puff, 500.0), run(Server::Gevent, 400.0)];
        let c = best_peer_check(&slow).unwrap();
        assert_eq!((c.value_str().as_str(), c.verdict()), ("1.25x", "MISS"));
        let down = vec![run(Server::Gevent, 400.0)];
        assert_eq!(best_peer_check(&down).unwrap().verdict(), "n/a");
    }
}
