//! `cargo xtask bench`: Puff against its peers under the same load, on this machine, in one
//! run. This module is the `bench` command line and its dispatch; each benchmark has a file of
//! its own (`http.rs`, `asgi.rs`, `client.rs`, `postgres.rs`, `redis.rs`, `tasks.rs`,
//! `graphql.rs`, `django.rs` with `django_instructions.rs`) over the shared machinery in
//! `harness/`. Results are printed and saved as `bench/results/<benchmark>-<UTC stamp>.md`
//! and `.json`.

mod asgi;
mod client;
mod django;
mod django_instructions;
mod graphql;
mod harness;
mod http;
mod postgres;
mod redis;
mod tasks;

use anyhow::Result;
use clap::Subcommand;

use harness::{server_runs, service_runs};

use crate::command;
use crate::repo::Repo;
use crate::setup;

const AFTER_HELP: &str = "\
Installs wrk (apt-get) and bench/.venv-peers (pinned peers) when missing and builds the Rust
binaries in release mode. Results are printed and saved as
bench/results/<benchmark>-<UTC timestamp>.md and .json; logs go to target/bench-logs/.
`cargo xtask bench help <BENCHMARK>` describes each one and its options.";

/// `cargo xtask bench [BENCHMARK] [OPTIONS]`: without a benchmark, `http` with these options.
#[derive(clap::Args, Debug)]
#[group(skip)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_value_name = "BENCHMARK",
    subcommand_help_heading = "Benchmarks",
    after_help = AFTER_HELP
)]
pub struct Args {
    #[command(subcommand)]
    which: Option<Which>,
    /// `bench http`'s options, for `cargo xtask bench [OPTIONS]`.
    #[command(flatten)]
    http: http::Args,
}

#[derive(Subcommand, Debug)]
enum Which {
    /// WSGI servers: puff vs granian vs gunicorn+gevent, Rust routes vs bare axum (default)
    #[command(long_about = http::ABOUT)]
    Http(http::Args),
    /// ASGI servers: puff vs granian and uvicorn
    #[command(long_about = asgi::ABOUT)]
    Asgi(asgi::Args),
    /// HTTP clients: puff.http vs httpx and aiohttp
    #[command(long_about = client::ABOUT)]
    Client(client::Args),
    /// Postgres clients: puff.postgres vs asyncpg and psycopg2 on one private server
    #[command(long_about = postgres::ABOUT)]
    Postgres(postgres::Postgres),
    /// Redis clients: puff.redis and puff.pubsub vs redis-py asyncio on one private server
    #[command(long_about = redis::ABOUT)]
    Redis(redis::Redis),
    /// Task queues: puff.task_queue vs arq and Celery on one private redis-server
    #[command(long_about = tasks::ABOUT)]
    Tasks(tasks::Tasks),
    /// GraphQL servers: puff-cli [[graphql]] vs Strawberry on uvicorn, on a private Postgres
    #[command(long_about = graphql::ABOUT)]
    Graphql(graphql::Args),
    /// Django: the polls example on puff-cli vs gunicorn+gevent and granian, one Postgres
    #[command(long_about = django::ABOUT)]
    Django(django::Args),
    /// Criterion benchmark of the greenlet <-> Tokio bridge (cargo bench -p puff-greenlet)
    Bridge {
        /// Arguments for criterion, passed as given (`-- --help` shows criterion's help)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        criterion: Vec<String>,
    },
}

/// Runs the benchmark `args` names.
pub fn run(repo: &Repo, args: Args) -> Result<()> {
    match args.which.unwrap_or(Which::Http(args.http)) {
        Which::Http(a) => server_runs::run::<http::Http>(repo, &a.opts()),
        Which::Asgi(a) => server_runs::run::<asgi::Asgi>(repo, &a.opts()),
        Which::Graphql(a) => server_runs::run::<graphql::Graphql>(repo, &a.opts()),
        Which::Django(a) if a.instructions => django_instructions::run(repo, &a.opts()),
        Which::Django(a) => server_runs::run::<django::Django>(repo, &a.opts()),
        Which::Client(a) => client::run(repo, &a),
        Which::Postgres(a) => service_runs::run(repo, &a),
        Which::Redis(a) => service_runs::run(repo, &a),
        Which::Tasks(a) => service_runs::run(repo, &a),
        Which::Bridge { criterion } => {
            setup::run(repo)?;
            println!("[bench] cargo bench -p puff-greenlet --bench bridge");
            command::run(
                repo.cargo()
                    .args(["bench", "-p", "puff-greenlet", "--bench", "bridge", "--"])
                    .args(&criterion),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::harness::server_bench::ServerBench;
    use super::*;

    #[derive(Parser, Debug)]
    struct Bench {
        #[command(flatten)]
        args: Args,
    }

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Bench::try_parse_from(std::iter::once("bench").chain(args.iter().copied())).map(|b| b.args)
    }

    #[test]
    fn the_command_line_is_consistent() {
        Bench::command().debug_assert();
    }

    #[test]
    fn no_benchmark_means_http_with_its_options() {
        let a = parse(&["--duration", "3", "--cases", "a,d"]).unwrap();
        assert!(a.which.is_none());
        let o = a.http.opts();
        assert_eq!((o.duration, o.cases), (3, vec!['a', 'd']));
        let Ok(Args {
            which: Some(Which::Http(h)),
            ..
        }) = parse(&["http", "--duration", "4"])
        else {
            panic!("bench http")
        };
        assert_eq!(h.opts().duration, 4);
        assert_eq!(<http::Http as ServerBench>::NAME, "http");
    }

    #[test]
    fn each_benchmark_has_its_own_flags() {
        assert!(matches!(
            parse(&["django", "--instructions"]).unwrap().which,
            Some(Which::Django(d)) if d.instructions
        ));
        assert!(matches!(
            parse(&["postgres", "--rows", "5"]).unwrap().which,
            Some(Which::Postgres(p)) if p.rows == 5
        ));
        for bad in [
            &["tcp"][..],
            &["http", "--instructions"],
            &["http", "--requests", "3"],
            &["client", "--duration", "3"],
            &["client", "--rows", "3"],
            &["postgres", "--burst", "3"],
            &["redis", "--tasks", "3"],
            &["--duration", "3", "http"],
        ] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn bridge_passes_its_arguments_to_criterion() {
        let Ok(Args {
            which: Some(Which::Bridge { criterion }),
            ..
        }) = parse(&["bridge", "--save-baseline", "main", "round_trip"])
        else {
            panic!("bench bridge")
        };
        assert_eq!(criterion, ["--save-baseline", "main", "round_trip"]);
        let Ok(Args {
            which: Some(Which::Bridge { criterion }),
            ..
        }) = parse(&["bridge", "--", "--help"])
        else {
            panic!("bench bridge -- --help")
        };
        assert_eq!(criterion, ["--help"]);
    }
}
