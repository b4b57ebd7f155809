//! `cargo xtask bench asgi`: ASGI servers under wrk, the method of `bench http`. Puff
//! (puff-cli) vs granian (ASGI) vs uvicorn (httptools, uvloop) on a raw 1 KB app and on an
//! awaited 20 ms sleep per request.

use super::harness::report::Check;
use super::harness::server::{Launch, Server};
use super::harness::server_bench::{
    Case, Env, RunResult, ServerArgs, ServerBench, p99_check, ratio_check,
};

/// The servers, in the order they run in a round.
pub const SERVERS: [Server; 3] = [Server::Puff, Server::Granian, Server::Uvicorn];

pub const CASES: [Case; 2] = [
    Case {
        id: 'a',
        title: "hello: raw 1 KB ASGI app",
        connections: 256,
        path: "/",
        wait: false,
        post_body: None,
        servers: &SERVERS,
    },
    Case {
        id: 'b',
        title: "wait: await a 20 ms sleep per request",
        connections: 256,
        path: "/",
        wait: true,
        post_body: None,
        servers: &SERVERS,
    },
];

/// What `cargo xtask bench help asgi` says.
pub const ABOUT: &str = "\
ASGI servers, the method of `bench http`.
  (a) hello: raw 1 KB ASGI app, 256 connections     puff vs granian (ASGI) vs uvicorn
  (b) wait:  await a 20 ms sleep, 256 connections   puff vs granian (ASGI) vs uvicorn";

/// `cargo xtask bench asgi [OPTIONS]`.
pub type Args = ServerArgs<Asgi>;

/// `bench asgi`.
#[derive(Debug, Clone)]
pub struct Asgi;

impl ServerBench for Asgi {
    const NAME: &'static str = "asgi";
    const TITLE: &'static str = "Puff ASGI benchmark";
    const CASES: &'static [Case] = &CASES;
    const SERVERS: &'static [Server] = &SERVERS;
    const PACKAGES: &'static [&'static str] = &["granian", "uvicorn", "httptools", "uvloop"];

    fn label(server: Server) -> &'static str {
        match server {
            Server::Puff => "puff (puff-cli, ASGI)",
            Server::Granian => "granian (ASGI)",
            Server::Uvicorn => "uvicorn (httptools, uvloop)",
            other => other.name(),
        }
    }

    fn launch(env: &Env, case: &Case, server: Server, port: u16) -> Launch {
        let (repo, peers) = (env.repo, env.peers_venv.as_path());
        let app = if case.wait {
            "asgi_wait:app"
        } else {
            "hello_asgi:app"
        };
        match server {
            Server::Puff => {
                let config = if case.wait {
                    "puff_wait_asgi.toml"
                } else {
                    "puff_hello_asgi.toml"
                };
                let bind = format!("127.0.0.1:{port}");
                Launch::puff_cli(repo, config, env.pg_url.as_deref(), bind)
            }
            Server::Granian => Launch::granian(repo, peers, "asgi", port, None, app),
            Server::Uvicorn => Launch::uvicorn(repo, peers, port, app),
            other => unreachable!("{} is not a server of bench asgi", other.name()),
        }
    }

    /// Targets: Puff >= granian in (a) and (b), >= uvicorn in (b); the rest for information.
    fn checks(results: &[RunResult]) -> Vec<Check> {
        use Server::{Granian, Puff, Uvicorn};
        let mut out: Vec<Check> = [
            ('a', Puff, Granian, Some(1.0)),
            ('a', Puff, Uvicorn, None),
            ('a', Granian, Uvicorn, None),
            ('b', Puff, Granian, Some(1.0)),
            ('b', Puff, Uvicorn, Some(1.0)),
        ]
        .into_iter()
        .filter_map(|(case, a, b, target)| ratio_check(results, case, a, b, target))
        .collect();
        out.extend(p99_check(results, 'b', Puff, None));
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
        assert_eq!(o.cases, vec!['a', 'b']);
        assert_eq!(o.servers, SERVERS.to_vec());
        for bad in [
            &["--cases", "c"][..],
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
        let cs = Asgi::checks(&results);
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
    }
}
