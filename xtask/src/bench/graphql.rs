//! `cargo xtask bench graphql`: GraphQL servers under wrk, the method of `bench http`. Puff's
//! GraphQL engine (puff-cli, `[[graphql]]`) vs Strawberry on uvicorn (DataLoaders + asyncpg)
//! on a Python resolver and on a nested query from a private Postgres; every answer checked.

use std::fmt::Write as _;
use std::net::SocketAddr;

use anyhow::Result;

use super::harness::answers::check_script;
use super::harness::report::Check;
use super::harness::server::{Launch, Server};
use super::harness::server_bench::{
    Case, Env, ExtraSettings, PgData, RunResult, ServerArgs, ServerBench, ratio_check,
};

/// The servers, in the order they run in a round.
pub const SERVERS: [Server; 2] = [Server::Puff, Server::Strawberry];

/// The servers answer the same two queries (`bench/apps/graphql_common.py`).
pub const CASES: [Case; 2] = [
    Case {
        id: 'a',
        title: "hello: `{ hello }` from a Python resolver",
        connections: 64,
        path: "/graphql",
        wait: false,
        post_body: Some(r#"{"query": "{ hello }"}"#),
        servers: &SERVERS,
    },
    // 8 connections: the run is a closed loop and Strawberry takes ~100 ms per answer on one
    // core, so at 64 connections every answer takes ~6 s and a 10 s run counts one or two
    // batches of 64; 8 keep either server busy (the Postgres work runs on the other CPU).
    Case {
        id: 'b',
        title: "nested: 100 parents x 100 children from Postgres",
        connections: 8,
        path: "/graphql",
        wait: false,
        post_body: Some(r#"{"query": "{ parents { id name children { id name } } }"}"#),
        servers: &SERVERS,
    },
];

/// What `cargo xtask bench help graphql` says.
pub const ABOUT: &str = "\
GraphQL servers, the method of `bench http` (POST /graphql, JSON body, wrk --timeout 60s),
on one private Postgres (as `bench postgres`; pinned to CPU 1 with wrk): puff (puff-cli,
[[graphql]]) vs strawberry (on uvicorn, httptools + uvloop; DataLoader + asyncpg).
  (a) hello:  `{ hello }` from a Python resolver, 64 connections
  (b) nested: 100 parents x 100 children from Postgres, 8 connections";

/// `cargo xtask bench graphql [OPTIONS]`.
pub type Args = ServerArgs<Graphql>;

/// `bench/apps/graphql_check.py`'s arguments: one POST of `body` to `url`, checked for status
/// 200, JSON, no errors and exactly the expected data of `case` (all 100 x 100 rows in (b)).
fn check_args(case: &Case, url: &str, body: &str) -> Vec<String> {
    vec![
        "graphql_check.py".to_string(),
        url.to_string(),
        case.id.to_string(),
        body.to_string(),
    ]
}

/// `bench graphql`.
#[derive(Debug, Clone)]
pub struct Graphql;

impl ServerBench for Graphql {
    const NAME: &'static str = "graphql";
    const TITLE: &'static str = "Puff GraphQL benchmark";
    const CASES: &'static [Case] = &CASES;
    const SERVERS: &'static [Server] = &SERVERS;
    /// A slow server takes about a second per answer in (b) (more on a loaded machine): a
    /// wide margin.
    const WRK_TIMEOUT: &'static str = "60s";
    const PACKAGES: &'static [&'static str] = &[
        "strawberry-graphql",
        "graphql-core",
        "uvicorn",
        "httptools",
        "uvloop",
        "asyncpg",
    ];
    const POSTGRES: Option<PgData> = Some(PgData {
        helper: "graphql_pg_server.py",
        prefix: "BENCH_PG",
        data: "bench_parent (100 rows) and bench_child (10,000 rows)",
    });
    const RECHECK: bool = true;
    const LOAD_NOTE: &'static str = " (with the Postgres server), every request `POST /graphql` \
        with a JSON body (`-s` script)";
    const ANSWERS_NOTE: &'static str = "every server's answer to every case checked (status \
        200, JSON, no errors, all the data: 100 parents x 100 children in (b)) before and after \
        the warm-up and after the measured run";

    fn label(server: Server) -> &'static str {
        match server {
            Server::Puff => "puff (puff-cli, GraphQL)",
            Server::Strawberry => "strawberry (uvicorn, httptools, uvloop)",
            other => other.name(),
        }
    }

    fn launch(env: &Env, _case: &Case, server: Server, port: u16) -> Launch {
        let repo = env.repo;
        match server {
            Server::Puff => {
                let bind = format!("127.0.0.1:{port}");
                Launch::puff_cli(
                    repo,
                    "puff_graphql.toml",
                    env.pg_url.as_deref(),
                    bind,
                    env.workers,
                )
            }
            Server::Strawberry => Launch::uvicorn(
                repo,
                &env.peers_venv,
                port,
                env.workers,
                "strawberry_graphql:app",
            ),
            other => unreachable!("{} is not a server of bench graphql", other.name()),
        }
    }

    fn check(env: &Env, case: &Case, url: &str, _addr: SocketAddr) -> Result<()> {
        let body = case.post_body.unwrap_or_default();
        check_script(
            env.repo,
            &env.peers_venv,
            env.load_cpu,
            &check_args(case, url, body),
        )
    }

    /// Targets: Puff >= 20x Strawberry's req/s in both cases.
    fn checks(results: &[RunResult], _workers: u32) -> Vec<Check> {
        ['a', 'b']
            .into_iter()
            .filter_map(|case| {
                ratio_check(results, case, Server::Puff, Server::Strawberry, Some(20.0))
            })
            .collect()
    }

    fn setup_lines(results: &[RunResult]) -> String {
        let queries: Vec<String> = results
            .iter()
            .filter_map(|r| Some((r.case.id, r.case.post_body?)))
            .fold(Vec::new(), |mut v, (id, body)| {
                let q = format!("({id}) `{body}`");
                if !v.contains(&q) {
                    v.push(q);
                }
                v
            });
        let mut md = String::new();
        let _ = writeln!(
            md,
            "- bodies: {}; tables `bench_parent` (100 rows) and `bench_child` (100 per parent, \
             indexed on parent_id); schemas `bench/apps/puff_graphql.py`, \
             `bench/apps/strawberry_graphql.py`",
            queries.join(", ")
        );
        md
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
    use super::super::harness::server_bench::RunOpts;
    use super::super::harness::server_report::fixtures::reports;
    use super::super::harness::wrk::Measurement;
    use super::*;

    fn opts(args: &[&str]) -> RunOpts {
        parse_flags::<Args>(args).unwrap().opts()
    }

    #[test]
    fn parses_args_and_checks() {
        let o = opts(&[]);
        assert_eq!(o.cases, vec!['a', 'b']);
        assert_eq!(o.servers, vec![Server::Puff, Server::Strawberry]);
        assert_eq!((o.rounds, o.duration, o.warmup), (3, 10, 2));
        let o = opts(&[
            "--servers",
            "strawberry",
            "--cases",
            "b",
            "--rounds",
            "1",
            "--duration",
            "3",
            "--warmup",
            "1",
        ]);
        assert_eq!(o.servers, vec![Server::Strawberry]);
        assert_eq!(o.cases, vec!['b']);
        assert_eq!((o.rounds, o.duration, o.warmup), (1, 3, 1));
        for bad in [
            &["--servers", "uvicorn"][..],
            &["--cases", "c"],
            &["--clients", "puff"],
        ] {
            assert!(parse_flags::<Args>(bad).is_err(), "{bad:?}");
        }

        assert_eq!(Graphql::label(Server::Puff), "puff (puff-cli, GraphQL)");
        let ok = |rps: f64| {
            Ok(Measurement {
                rps,
                requests: 1,
                ..Default::default()
            })
        };
        let run = |case: usize, server, outcome| RunResult {
            case: CASES[case],
            server,
            outcome,
        };
        let results = vec![
            run(0, Server::Puff, ok(12_000.0)),
            run(0, Server::Strawberry, ok(600.0)),
            run(
                1,
                Server::Puff,
                Err("target/release/puff-cli does not exist".into()),
            ),
            run(1, Server::Strawberry, ok(30.0)),
        ];
        let got: Vec<(char, String, String, &str)> = Graphql::checks(&results, 1)
            .iter()
            .map(|c| (c.case, c.what.clone(), c.value_str(), c.verdict()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    'a',
                    "puff / strawberry req/s".into(),
                    "20.00x".into(),
                    "PASS"
                ),
                ('b', "puff / strawberry req/s".into(), "-".into(), "n/a"),
            ]
        );
        assert_eq!(Graphql::WRK_TIMEOUT, "60s");
    }

    #[test]
    fn reports_match_the_fixtures() {
        let (md, json) = reports::<Graphql>(&opts(&[]), &CASES, true);
        assert_matches("graphql", &md, Some(&json));
    }
}
