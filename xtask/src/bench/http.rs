//! `cargo xtask bench http`: WSGI servers under wrk. Puff (puff-cli) vs granian vs
//! gunicorn+gevent on a raw 1 KB app and on a 20 ms sleep per request, and Puff's Rust
//! routes (the Rust example app) vs bare axum; each server pinned to CPU 0, wrk to CPU 1.

use super::harness::report::Check;
use super::harness::server::{GEVENT_WORKER_CONNECTIONS, Launch, Server};
use super::harness::server_bench::{
    Case, Env, RunResult, ServerArgs, ServerBench, p99_check, ratio_check,
};

/// The servers, in the order they run in a round.
pub const SERVERS: [Server; 5] = [
    Server::Puff,
    Server::Granian,
    Server::Gevent,
    Server::PuffRust,
    Server::Axum,
];

const WSGI: &[Server] = &[Server::Puff, Server::Granian, Server::Gevent];

pub const CASES: [Case; 4] = [
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
        servers: WSGI,
    },
    Case {
        id: 'c',
        title: "wait: 20 ms sleep per request",
        connections: 1024,
        path: "/",
        wait: true,
        post_body: None,
        servers: WSGI,
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
];

/// What `cargo xtask bench help http` says.
pub const ABOUT: &str = "\
WSGI servers; the server pinned to CPU 0 (taskset -c 0), wrk pinned to CPU 1.
  (a) hello: raw 1 KB WSGI app, 64 connections      puff vs granian vs gunicorn+gevent
  (b) wait:  20 ms sleep per request, 256 conns     puff vs granian vs gunicorn+gevent
  (c) wait:  20 ms sleep per request, 1024 conns    puff vs granian vs gunicorn+gevent
  (d) rust:  GET /rust/hello, 64 connections        puff-example-rust-app vs bare axum
Each round runs every server on every case once; the median req/s counts.";

/// `cargo xtask bench [http] [OPTIONS]`.
pub type Args = ServerArgs<Http>;

/// `bench http`.
#[derive(Debug, Clone)]
pub struct Http;

impl ServerBench for Http {
    const NAME: &'static str = "http";
    const TITLE: &'static str = "Puff HTTP benchmark";
    const CASES: &'static [Case] = &CASES;
    const SERVERS: &'static [Server] = &SERVERS;
    const PACKAGES: &'static [&'static str] = &["granian", "gunicorn", "gevent"];

    fn label(server: Server) -> &'static str {
        match server {
            Server::Puff => "puff (puff-cli)",
            Server::Granian => "granian (WSGI)",
            Server::Gevent => "gunicorn+gevent",
            Server::PuffRust => "puff-example-rust-app",
            Server::Axum => "bare axum",
            other => other.name(),
        }
    }

    fn launch(env: &Env, case: &Case, server: Server, port: u16) -> Launch {
        let (repo, peers) = (env.repo, env.peers_venv.as_path());
        let bind = format!("127.0.0.1:{port}");
        match server {
            Server::Puff => {
                let config = if case.wait {
                    "puff_wait.toml"
                } else {
                    "puff_hello.toml"
                };
                Launch::puff_cli(repo, config, env.pg_url.as_deref(), bind)
            }
            Server::PuffRust => Launch::puff_rust_app(repo, bind),
            Server::Axum => Launch::axum(repo, bind),
            Server::Granian if case.wait => {
                Launch::granian(repo, peers, "wsgi", port, None, "granian_wait:app")
            }
            Server::Granian => {
                Launch::granian(repo, peers, "wsgi", port, Some(1), "hello_wsgi:app")
            }
            Server::Gevent => {
                let app = if case.wait {
                    "gevent_wait:app"
                } else {
                    "hello_wsgi:app"
                };
                Launch::gunicorn_gevent(repo, peers, bind, GEVENT_WORKER_CONNECTIONS, app)
            }
            other => unreachable!("{} is not a server of bench http", other.name()),
        }
    }

    /// Targets: Puff >= granian in (a), 1.1x granian and 2x gunicorn+gevent with a p99 of at
    /// most 30 ms in (b), 2x granian in (c); the Rust route >= 0.9x bare axum in (d).
    fn checks(results: &[RunResult]) -> Vec<Check> {
        use Server::{Axum, Gevent, Granian, Puff, PuffRust};
        let mut out: Vec<Check> = [
            ('a', Puff, Granian, Some(1.0)),
            ('a', Puff, Gevent, None),
            ('b', Puff, Granian, Some(1.1)),
            ('b', Puff, Gevent, Some(2.0)),
            ('c', Puff, Granian, Some(2.0)),
            ('c', Puff, Gevent, None),
            ('d', PuffRust, Axum, Some(0.9)),
        ]
        .into_iter()
        .filter_map(|(case, a, b, target)| ratio_check(results, case, a, b, target))
        .collect();
        if let Some(check) = p99_check(results, 'b', Puff, Some(30.0)) {
            let pos = out
                .iter()
                .rposition(|c| c.case == 'b')
                .map_or(out.len(), |p| p + 1);
            out.insert(pos, check);
        }
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
        assert_eq!(o.servers, SERVERS.to_vec());
        assert!(!o.skip_build);
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
        let cs = Http::checks(&results);
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
        let cs = Http::checks(&slow);
        assert_eq!(cs[0].verdict(), "MISS"); // 1x < 2x
        assert_eq!(cs[1].verdict(), "info"); // puff/gevent has no target
        assert_eq!(cs[1].target_str(), "-");
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
    }
}
