//! `cargo xtask bench asgi`: ASGI servers under wrk, the method of `bench http`. Puff
//! (puff-cli) vs granian (ASGI) vs uvicorn (httptools, uvloop) on a raw 1 KB app and on an
//! awaited 20 ms sleep per request. With `--workers N` every server runs N worker processes,
//! gunicorn with uvicorn's worker class joins, and a CPU-bound view compares Puff's N workers
//! with one.

use super::harness::report::Check;
use super::harness::server::{Launch, Server};
use super::harness::server_bench::{
    Case, Env, RunResult, ServerBench, ServerSetup, WorkerServerArgs, insert_p99_check,
    ratio_checks,
};

/// The servers, in the order they run in a round.
pub const SERVERS: [Server; 5] = [
    Server::Puff,
    Server::Granian,
    Server::Uvicorn,
    Server::GunicornUvicorn,
    Server::PuffOneWorker,
];

const ASGI: &[Server] = &[
    Server::Puff,
    Server::Granian,
    Server::Uvicorn,
    Server::GunicornUvicorn,
];

pub const CASES: [Case; 4] = [
    Case {
        id: 'a',
        title: "hello: raw 1 KB ASGI app",
        connections: 256,
        path: "/",
        wait: false,
        post_body: None,
        servers: ASGI,
    },
    Case {
        id: 'b',
        title: "wait: await a 20 ms sleep per request",
        connections: 256,
        path: "/",
        wait: true,
        post_body: None,
        servers: ASGI,
    },
    Case {
        id: 'c',
        title: "wait: await a 20 ms sleep per request",
        connections: 1024,
        path: "/",
        wait: true,
        post_body: None,
        servers: ASGI,
    },
    Case::cpu('d'),
];

/// What `cargo xtask bench help asgi` says.
pub const ABOUT: &str = "\
ASGI servers, the method of `bench http`.
  (a) hello: raw 1 KB ASGI app, 256 connections     puff vs granian (ASGI) vs uvicorn
  (b) wait:  await a 20 ms sleep, 256 conns         puff vs granian (ASGI) vs uvicorn
  (c) wait:  await a 20 ms sleep, 1024 conns        puff vs granian (ASGI) vs uvicorn

With --workers N every server runs N worker processes, pinned to every CPU (wrk shares the
last one), gunicorn with uvicorn's worker class joins (a) to (c), and by default the cases are
(a), (c) and
  (d) cpu:   2 ms of pure-Python CPU per request,   puff --workers N vs puff --workers 1
             64 connections";

/// `cargo xtask bench asgi [OPTIONS]`.
pub type Args = WorkerServerArgs<Asgi>;

/// `bench asgi`.
#[derive(Debug, Clone)]
pub struct Asgi;

impl ServerBench for Asgi {
    const NAME: &'static str = "asgi";
    const TITLE: &'static str = "Puff ASGI benchmark";
    const CASES: &'static [Case] = &CASES;
    const SERVERS: &'static [Server] = &SERVERS;
    const PACKAGES: &'static [&'static str] =
        &["granian", "uvicorn", "httptools", "uvloop", "gunicorn"];
    const WORKER_CASES: &'static [char] = &['a', 'c', 'd'];
    const WORKER_SERVERS: &'static [Server] = &[Server::GunicornUvicorn, Server::PuffOneWorker];

    fn label(server: Server) -> &'static str {
        match server {
            Server::Puff => "puff (puff-cli, ASGI)",
            Server::PuffOneWorker => "puff (puff-cli, ASGI), 1 worker",
            Server::Granian => "granian (ASGI)",
            Server::Uvicorn => "uvicorn (httptools, uvloop)",
            Server::GunicornUvicorn => "gunicorn + UvicornWorker",
            other => other.name(),
        }
    }

    fn launch(env: &Env, case: &Case, server: Server, port: u16) -> Launch {
        let (repo, peers) = (env.repo, env.peers_venv.as_path());
        let workers = server.workers(env.workers);
        let app = if case.wait {
            "asgi_wait:app"
        } else {
            "hello_asgi:app"
        };
        match server {
            Server::Puff | Server::PuffOneWorker => {
                let config = match case.id {
                    'd' => "puff_cpu_asgi.toml",
                    _ if case.wait => "puff_wait_asgi.toml",
                    _ => "puff_hello_asgi.toml",
                };
                let bind = format!("127.0.0.1:{port}");
                Launch::puff_cli(repo, config, env.pg_url.as_deref(), bind, workers)
            }
            Server::Granian => Launch::granian(repo, peers, "asgi", port, workers, None, app),
            Server::Uvicorn => Launch::uvicorn(repo, peers, port, workers, app),
            // The worker class picks httptools and uvloop when installed, as they are here.
            Server::GunicornUvicorn => {
                let bind = format!("127.0.0.1:{port}");
                let class = ("uvicorn.workers.UvicornWorker", workers);
                Launch::gunicorn(repo, peers, bind, class, &[], app)
            }
            other => unreachable!("{} is not a server of bench asgi", other.name()),
        }
    }

    fn setup(server: Server, _case: &Case, workers: u32) -> Option<ServerSetup> {
        let threads = match server {
            Server::Puff | Server::PuffOneWorker => {
                "1: asyncio loop and greenlets (I/O on Tokio threads)"
            }
            Server::Granian => "1: asyncio loop (1 runtime thread)",
            _ => "1: uvloop event loop",
        };
        Some(ServerSetup {
            workers: server.workers(workers),
            threads: threads.into(),
            logging: server.logging(),
        })
    }

    /// Targets: Puff >= granian in (a) and (b), >= uvicorn in (b); with several workers Puff
    /// >= 1.1x granian in (a) and 2x in (c); the rest for information.
    fn checks(results: &[RunResult], workers: u32) -> Vec<Check> {
        use Server::{Granian, GunicornUvicorn, Puff, PuffOneWorker, Uvicorn};
        let several = workers > 1;
        let mut out = ratio_checks(
            results,
            &[
                ('a', Puff, Granian, Some(if several { 1.1 } else { 1.0 })),
                ('a', Puff, Uvicorn, None),
                ('a', Puff, GunicornUvicorn, None),
                ('a', Granian, Uvicorn, None),
                ('b', Puff, Granian, Some(1.0)),
                ('b', Puff, Uvicorn, Some(1.0)),
                ('b', Puff, GunicornUvicorn, None),
                ('c', Puff, Granian, several.then_some(2.0)),
                ('c', Puff, Uvicorn, None),
                ('c', Puff, GunicornUvicorn, None),
                ('d', Puff, PuffOneWorker, None),
            ],
        );
        insert_p99_check(&mut out, results, ('b', Puff), None);
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
        let o = opts(&["--duration", "3"]);
        assert_eq!((o.duration, o.rounds), (3, 3));
        assert_eq!(opts(&["--rounds", "1"]).rounds, 1);
        assert_eq!(o.cases, vec!['a', 'b', 'c']);
        assert_eq!(o.servers, [Server::Puff, Server::Granian, Server::Uvicorn]);
        let o = opts(&["--workers", "2"]);
        assert_eq!((o.workers, o.cases), (Some(2), vec!['a', 'c', 'd']));
        assert_eq!(o.servers, SERVERS.to_vec());
        for bad in [
            &["--cases", "e"][..],
            &["--servers", "gevent"],
            &["--servers", "strawberry"],
        ] {
            assert!(parse_flags::<Args>(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn checks() {
        let ok = |rps: f64| {
            Ok(Measurement {
                rps,
                p99_ms: 21.0,
                requests: 1,
                ..Default::default()
            })
        };
        let run = |server, rps| RunResult {
            case: CASES[1],
            server,
            outcome: ok(rps),
        };
        let results = vec![
            run(Server::Puff, 12000.0),
            run(Server::Granian, 11000.0),
            run(Server::Uvicorn, 12500.0),
        ];
        let cs = Asgi::checks(&results, 1);
        let what: Vec<&str> = cs.iter().map(|c| c.what.as_str()).collect();
        assert_eq!(
            what,
            [
                "puff / granian req/s",
                "puff / uvicorn req/s",
                "puff p99 latency"
            ]
        );
        assert_eq!(cs[0].verdict(), "PASS");
        assert_eq!(cs[1].verdict(), "MISS");
        assert_eq!(cs[2].verdict(), "info");
        assert_eq!(Asgi::label(Server::Puff), "puff (puff-cli, ASGI)");
    }

    #[test]
    fn reports_match_the_fixtures() {
        let (md, json) = reports::<Asgi>(&opts(&[]), &CASES, false);
        assert_matches("asgi", &md, Some(&json));
        let (md, json) = reports::<Asgi>(&opts(&["--workers", "2"]), &CASES, false);
        assert_matches("asgi-workers", &md, Some(&json));
    }
}
