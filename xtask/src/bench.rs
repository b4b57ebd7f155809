//! `cargo xtask bench http|asgi|client|postgres|redis|tasks|graphql`: Puff against its peers
//! under the same load, on this machine, in one run.
//!
//! - `http`: Puff vs granian vs gunicorn+gevent on WSGI apps (and Puff's Rust routes vs bare
//!   axum), server pinned to CPU 0 and wrk to CPU 1.
//! - `asgi`: Puff vs granian vs uvicorn (httptools + uvloop) on raw ASGI apps, same method.
//! - `client`: Puff's HTTP client (`puff.http`) vs httpx and aiohttp (under uvloop), each doing
//!   the same GETs against a local server; clients pinned to CPU 0, the server to CPU 1.
//! - `postgres`: Puff's `puff.postgres` vs asyncpg (uvloop) and psycopg2 on the same private
//!   Postgres server (pinned to CPU 1), each client program pinned to CPU 0.
//! - `redis`: Puff's `puff.redis` and `puff.pubsub` (Redis backend) vs redis-py's asyncio
//!   client (hiredis, uvloop) on the same private redis-server, pinned the same way.
//! - `tasks`: Puff's task queue (`puff.task_queue` on Redis) vs arq (uvloop) and Celery (Redis
//!   broker and result backend): no-op tasks end to end on one node, same server and pinning.
//! - `graphql`: Puff's GraphQL engine vs Strawberry (on uvicorn; DataLoaders + asyncpg) on a
//!   Python resolver and on a nested query from a private Postgres; the method of `http`.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::setup;
use crate::util::{self, Fnv64, Repo, usage_err};

// `bench django`: what differs from the other server benches (cases, commands, checks).
#[path = "bench_django.rs"]
mod django;

const PEERS_VENV: &str = "bench/.venv-peers";
const PEERS_REQUIREMENTS: &str = "bench/requirements-peers.txt";
const PEERS_STAMP: &str = ".peers-stamp";
const BODY_LEN: usize = 1024;
const NOFILE: u32 = 65_536;

const USAGE: &str = "\
Usage: cargo xtask bench [http|asgi|client|postgres|redis|tasks|graphql|django] [OPTIONS]
       (default: http)

http: WSGI servers; the server pinned to CPU 0 (taskset -c 0), wrk pinned to CPU 1.
  (a) hello: raw 1 KB WSGI app, 64 connections      puff vs granian vs gunicorn+gevent
  (b) wait:  20 ms sleep per request, 256 conns     puff vs granian vs gunicorn+gevent
  (c) wait:  20 ms sleep per request, 1024 conns    puff vs granian vs gunicorn+gevent
  (d) rust:  GET /rust/hello, 64 connections        puff-example-rust-app vs bare axum
asgi: ASGI servers, same method as http.
  (a) hello: raw 1 KB ASGI app, 256 connections     puff vs granian (ASGI) vs uvicorn
  (b) wait:  await a 20 ms sleep, 256 connections   puff vs granian (ASGI) vs uvicorn
client: HTTP clients; the target (puff-example-rust-app, GET /rust/hello) pinned to CPU 1,
  each client program pinned to CPU 0 doing --requests GETs from --concurrency callers:
  puff-greenlets, puff-coroutines (puff.http), httpx (AsyncClient), aiohttp (ClientSession),
  the last two under uvloop. Each round runs every client once; the median round counts.
postgres: one private Postgres (or $PUFF_BENCH_POSTGRES_URL / $PUFF_TEST_POSTGRES_URL) pinned
  to CPU 1, each client program pinned to CPU 0: puff (puff.postgres, greenlets), asyncpg
  (uvloop, a pool), psycopg2 (one connection; one per thread in (c)); same SQL everywhere.
  (a) fetch:  --rows rows x 6 mixed-type columns into Python (mean of 5 fetches)
  (b) insert: --inserts single-row INSERTs with one executemany (table truncated first)
  (c) small:  --queries primary-key SELECTs from --concurrency (50) concurrent callers
  Each round runs every client on every case once; the median time counts.
redis: one private redis-server (or $PUFF_BENCH_REDIS_URL / $PUFF_TEST_REDIS_URL) pinned to
  CPU 1, each client program pinned to CPU 0: puff-greenlets, puff-coroutines (puff.redis,
  puff.pubsub on Redis), redis-py (redis.asyncio + hiredis under uvloop).
  (a) GET/SET: --ops commands (SET k v / GET k, 100-byte values) from --concurrency callers
  (b) pub/sub: 1 publisher, --subscribers subscribers, --messages messages one at a time
      (the next once all subscribers have the last): deliveries/s, p50/p99 latency
  (c) pub/sub: as (b) in bursts of --burst messages
  Each round runs every client on every case once; the median round counts.
tasks: the same private redis-server as redis, each program (client and worker on one node)
  pinned to CPU 0: puff-greenlets, puff-coroutines (puff.task_queue, worker in the same
  puff-cli process), arq (one worker process, uvloop), celery (one worker process, solo pool;
  Redis broker and result backend).
  (a) no-op tasks: --tasks tasks from --concurrency callers, schedule to result (tasks/s)
  Each round runs every program once; the median round counts.
graphql: GraphQL servers, same method as http (POST /graphql, JSON body, wrk --timeout 60s),
  on one private Postgres (as postgres; pinned to CPU 1 with wrk): puff (puff-cli, [[graphql]])
  vs strawberry (on uvicorn, httptools + uvloop; DataLoader + asyncpg).
  (a) hello:  `{ hello }` from a Python resolver, 64 connections
  (b) nested: 100 parents x 100 children from Postgres, 8 connections
django: the polls example (examples/django_polls, GET /polls/bench/: 3 ORM queries, JSON),
  same method as http, same Django settings (bench/apps/django_bench_settings.py) and one
  private Postgres database (migrated, 50 questions x 4 choices; pinned to CPU 1 with wrk):
  puff (puff-cli, django = true) vs gevent (gunicorn+gevent, psycopg2 + psycogreen) vs
  granian (WSGI, 8 blocking threads, psycopg2); 64 connections, 5 rounds by default.
  --instructions: instead, user-space instructions per request under valgrind's callgrind
  (installed with apt-get when missing): Django alone (the WSGI app in a loop, no server),
  then each server on 600 counted requests; steadier than req/s on a shared machine.
Installs wrk (apt-get) and bench/.venv-peers (pinned peers) when missing and builds the Rust
binaries in release mode. Results are printed and saved as
bench/results/<http|asgi|client|postgres|redis|tasks|graphql|django>-<UTC timestamp>.md and
.json.

Options (http, asgi, graphql, django):
  --duration SECS     measured seconds per run (default 10)
  --warmup SECS       warm-up seconds per run, not measured (default 2; 0 = none)
  --cases LIST        comma-separated subset of the cases above (default all)
  --servers LIST      http: puff,granian,gevent,puff-rust,axum; asgi: puff,granian,uvicorn;
                      graphql: puff,strawberry; django: puff,gevent,granian
  --wrk-threads N     wrk threads (default 1)
  --rounds N          runs of every server on every case, interleaved (default 3, django 5;
                      the median req/s is reported)
Options (client):
  --requests N        timed GETs per client run (default 10000)
  --concurrency N     concurrent callers (default 64)
  --warmup-requests N untimed GETs before the timed ones, same callers (default 1000)
  --rounds N          runs of every client (default 3; the median is reported)
  --clients LIST      subset of puff-greenlets,puff-coroutines,httpx,aiohttp (default all)
Options (postgres):
  --cases LIST        subset of a,b,c (default all)
  --clients LIST      subset of puff,asyncpg,psycopg2 (default all)
  --rounds N          runs of every client on every case (default 5; the median is reported)
  --concurrency N     concurrent callers in (c) (default 50; Puff's pool has 50 connections)
  --rows N            rows in the fetched table (default 10000)
  --inserts N         rows inserted in (b) (default 10000)
  --queries N         queries in (c) (default 5000)
Options (redis):
  --cases LIST        subset of a,b,c (default all)
  --clients LIST      subset of puff-greenlets,puff-coroutines,redis-py (default all)
  --rounds N          runs of every client on every case (default 3; the median is reported)
  --ops N             commands in (a) (default 100000)
  --concurrency N     concurrent callers in (a) (default 100)
  --warmup-requests N untimed commands before (a), same callers (default 1000)
  --messages N        timed messages in (b) and (c) (default 2000)
  --subscribers N     subscribers in (b) and (c) (default 100)
  --burst N           messages per burst in (c) (default 20)
Options (tasks):
  --clients LIST      subset of puff-greenlets,puff-coroutines,arq,celery (default all)
  --rounds N          runs of every program (default 3; the median is reported)
  --tasks N           timed tasks per run (default 10000)
  --concurrency N     concurrent callers scheduling and waiting (default 64)
  --warmup-requests N untimed tasks before the timed ones, same callers (default 1000)
Options (all):
  --skip-build        use the existing release binaries instead of running cargo build
  -h, --help          this text";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Http,
    Asgi,
    Client,
    Postgres,
    Redis,
    Tasks,
    Graphql,
    Django,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Http => "http",
            Kind::Asgi => "asgi",
            Kind::Client => "client",
            Kind::Postgres => "postgres",
            Kind::Redis => "redis",
            Kind::Tasks => "tasks",
            Kind::Graphql => "graphql",
            Kind::Django => "django",
        }
    }

    /// The case ids and titles of the kinds that run client programs per case.
    fn client_cases(self) -> &'static [(char, &'static str)] {
        match self {
            Kind::Postgres => &PG_CASES,
            Kind::Redis => &REDIS_CASES,
            Kind::Tasks => &TASKS_CASES,
            _ => &[],
        }
    }

    /// The kinds that load servers with wrk (`run_servers`).
    fn is_server_bench(self) -> bool {
        matches!(self, Kind::Http | Kind::Asgi | Kind::Graphql | Kind::Django)
    }

    fn cases(self) -> &'static [Case] {
        match self {
            Kind::Http => &HTTP_CASES,
            Kind::Asgi => &ASGI_CASES,
            Kind::Graphql => &GRAPHQL_CASES,
            Kind::Django => &django::CASES,
            Kind::Client | Kind::Postgres | Kind::Redis | Kind::Tasks => &[],
        }
    }

    fn servers(self) -> &'static [Server] {
        match self {
            Kind::Http => &[
                Server::Puff,
                Server::Granian,
                Server::Gevent,
                Server::PuffRust,
                Server::Axum,
            ],
            Kind::Asgi => &[Server::Puff, Server::Granian, Server::Uvicorn],
            Kind::Graphql => &[Server::Puff, Server::Strawberry],
            Kind::Django => &django::SERVERS,
            Kind::Client | Kind::Postgres | Kind::Redis | Kind::Tasks => &[],
        }
    }
}

pub struct Options {
    kind: Kind,
    duration: u64,
    warmup: u64,
    cases: Vec<char>,
    servers: Vec<Server>,
    wrk_threads: u32,
    skip_build: bool,
    requests: u64,
    concurrency: u64,
    warmup_requests: u64,
    rounds: u64,
    clients: Vec<Client>,
    pg_clients: Vec<PgClient>,
    rows: u64,
    inserts: u64,
    queries: u64,
    redis_clients: Vec<RedisClient>,
    ops: u64,
    messages: u64,
    subscribers: u64,
    burst: u64,
    tasks_clients: Vec<TasksClient>,
    tasks: u64,
    /// `bench django --instructions`: count instructions per request under callgrind.
    instructions: bool,
}

fn list<'a>(flag: &str, v: Option<&'a String>) -> Result<Vec<&'a str>> {
    let v = v.ok_or_else(|| util::UsageError(format!("{flag} needs a value")))?;
    let items: Vec<&str> = v
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items.is_empty() {
        return usage_err(format!("{flag}: empty list"));
    }
    Ok(items)
}

/// The items of `all` named in `flag`'s comma-separated value, in that order.
fn pick<T: Copy>(
    flag: &str,
    v: Option<&String>,
    all: &[T],
    name: impl Fn(T) -> &'static str,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for item in list(flag, v)? {
        match all.iter().find(|k| name(**k) == item) {
            Some(k) => out.push(*k),
            None => {
                let known: Vec<&str> = all.iter().map(|k| name(*k)).collect();
                return usage_err(format!(
                    "{flag}: unknown value `{item}` ({})",
                    known.join(",")
                ));
            }
        }
    }
    Ok(out)
}

fn parse(args: &[String]) -> Result<Option<Options>> {
    let mut it = args.iter().peekable();
    let mut kind = Kind::Http;
    if let Some(first) = it.peek()
        && !first.starts_with('-')
    {
        kind = match first.as_str() {
            "http" => Kind::Http,
            "asgi" => Kind::Asgi,
            "client" => Kind::Client,
            "postgres" => Kind::Postgres,
            "redis" => Kind::Redis,
            "tasks" => Kind::Tasks,
            "graphql" => Kind::Graphql,
            "django" => Kind::Django,
            _ => {
                return usage_err(format!(
                    "unknown benchmark `{first}` (known: `http`, `asgi`, `client`, `postgres`, \
                     `redis`, `tasks`, `graphql`, `django`, `bridge`)"
                ));
            }
        };
        it.next();
    }
    let mut opts = Options {
        kind,
        duration: 10,
        warmup: 2,
        cases: if kind.client_cases().is_empty() {
            kind.cases().iter().map(|c| c.id).collect()
        } else {
            kind.client_cases().iter().map(|c| c.0).collect()
        },
        servers: kind.servers().to_vec(),
        wrk_threads: 1,
        skip_build: false,
        requests: 10_000,
        concurrency: match kind {
            Kind::Postgres => 50,
            Kind::Redis => 100,
            _ => 64,
        },
        warmup_requests: 1_000,
        rounds: if matches!(kind, Kind::Postgres | Kind::Django) {
            5
        } else {
            3
        },
        clients: Client::ALL.to_vec(),
        pg_clients: PgClient::ALL.to_vec(),
        rows: 10_000,
        inserts: 10_000,
        queries: 5_000,
        redis_clients: RedisClient::ALL.to_vec(),
        ops: 100_000,
        messages: 2_000,
        subscribers: 100,
        burst: 20,
        tasks_clients: TasksClient::ALL.to_vec(),
        tasks: 10_000,
        instructions: false,
    };
    let num = |flag: &str, v: Option<&String>| -> Result<u64> {
        let v = v.ok_or_else(|| util::UsageError(format!("{flag} needs a value")))?;
        v.parse::<u64>()
            .map_err(|_| util::UsageError(format!("{flag}: `{v}` is not a whole number")).into())
    };
    let server_flag = |flag: &str| -> Result<()> {
        if !kind.is_server_bench() {
            return usage_err(format!(
                "{flag} is for `bench http`, `bench asgi`, `bench graphql` and `bench django`"
            ));
        }
        Ok(())
    };
    let client_flag = |flag: &str| -> Result<()> {
        let postgres_too = matches!(flag, "--rounds" | "--concurrency" | "--clients");
        let redis_too = postgres_too || flag == "--warmup-requests";
        let servers_too = flag == "--rounds" && kind.is_server_bench();
        if servers_too {
            return Ok(());
        }
        if kind != Kind::Client
            && !(postgres_too && kind == Kind::Postgres)
            && !(redis_too && matches!(kind, Kind::Redis | Kind::Tasks))
        {
            return usage_err(format!("{flag} is for `bench client`"));
        }
        Ok(())
    };
    let postgres_flag = |flag: &str| -> Result<()> {
        if kind != Kind::Postgres {
            return usage_err(format!("{flag} is for `bench postgres`"));
        }
        Ok(())
    };
    let redis_flag = |flag: &str| -> Result<()> {
        if kind != Kind::Redis {
            return usage_err(format!("{flag} is for `bench redis`"));
        }
        Ok(())
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--duration" => {
                server_flag(arg)?;
                opts.duration = num("--duration", it.next())?;
                if opts.duration == 0 {
                    return usage_err("--duration must be at least 1");
                }
            }
            "--warmup" => {
                server_flag(arg)?;
                opts.warmup = num("--warmup", it.next())?;
            }
            "--wrk-threads" => {
                server_flag(arg)?;
                opts.wrk_threads = num("--wrk-threads", it.next())?.clamp(1, 64) as u32;
            }
            "--skip-build" => opts.skip_build = true,
            "--instructions" => {
                if kind != Kind::Django {
                    return usage_err("--instructions is for `bench django`");
                }
                opts.instructions = true;
            }
            "--cases" if !kind.client_cases().is_empty() => {
                let ids: Vec<&'static str> = ["a", "b", "c"]
                    .into_iter()
                    .take(kind.client_cases().len())
                    .collect();
                opts.cases = pick("--cases", it.next(), &ids, |c| c)?
                    .iter()
                    .filter_map(|c| c.chars().next())
                    .collect();
            }
            "--ops" | "--messages" | "--subscribers" | "--burst" => {
                redis_flag(arg)?;
                let v = num(arg, it.next())?.clamp(1, 10_000_000);
                match arg.as_str() {
                    "--ops" => opts.ops = v.max(2),
                    "--messages" => opts.messages = v,
                    "--subscribers" => opts.subscribers = v.min(10_000),
                    _ => opts.burst = v,
                }
            }
            "--tasks" => {
                if kind != Kind::Tasks {
                    return usage_err("--tasks is for `bench tasks`");
                }
                opts.tasks = num(arg, it.next())?.clamp(1, 10_000_000);
            }
            "--clients" if kind == Kind::Tasks => {
                opts.tasks_clients =
                    pick("--clients", it.next(), &TasksClient::ALL, TasksClient::name)?;
            }
            "--clients" if kind == Kind::Redis => {
                opts.redis_clients =
                    pick("--clients", it.next(), &RedisClient::ALL, RedisClient::name)?;
            }
            "--rows" | "--inserts" | "--queries" => {
                postgres_flag(arg)?;
                let v = num(arg, it.next())?.clamp(1, 10_000_000);
                match arg.as_str() {
                    "--rows" => opts.rows = v,
                    "--inserts" => opts.inserts = v,
                    _ => opts.queries = v,
                }
            }
            "--clients" if kind == Kind::Postgres => {
                opts.pg_clients = pick("--clients", it.next(), &PgClient::ALL, PgClient::name)?;
            }
            "--cases" => {
                server_flag(arg)?;
                let known: Vec<String> = kind.cases().iter().map(|c| c.id.to_string()).collect();
                let mut cases = Vec::new();
                for c in list("--cases", it.next())? {
                    match kind.cases().iter().find(|k| k.id.to_string() == c) {
                        Some(k) => cases.push(k.id),
                        None => {
                            return usage_err(format!(
                                "--cases: unknown case `{c}` ({})",
                                known.join(",")
                            ));
                        }
                    }
                }
                opts.cases = cases;
            }
            "--servers" => {
                server_flag(arg)?;
                let known: Vec<&str> = kind.servers().iter().map(|s| s.name()).collect();
                let mut servers = Vec::new();
                for s in list("--servers", it.next())? {
                    match kind.servers().iter().find(|k| k.name() == s) {
                        Some(k) => servers.push(*k),
                        None => {
                            return usage_err(format!(
                                "--servers: unknown server `{s}` ({})",
                                known.join(",")
                            ));
                        }
                    }
                }
                opts.servers = servers;
            }
            "--requests" | "--concurrency" | "--warmup-requests" | "--rounds" => {
                client_flag(arg)?;
                let v = num(arg, it.next())?;
                match arg.as_str() {
                    "--requests" => opts.requests = v.max(1),
                    "--concurrency" => opts.concurrency = v.clamp(1, 10_000),
                    "--warmup-requests" => opts.warmup_requests = v,
                    _ => opts.rounds = v.clamp(1, 100),
                }
            }
            "--clients" => {
                client_flag(arg)?;
                opts.clients = pick("--clients", it.next(), &Client::ALL, Client::name)?;
            }
            other => {
                return usage_err(format!(
                    "unknown bench option `{other}` (see `cargo xtask bench --help`)"
                ));
            }
        }
    }
    Ok(Some(opts))
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Server {
    Puff,
    Granian,
    Gevent,
    PuffRust,
    Axum,
    Uvicorn,
    Strawberry,
}

impl Server {
    fn name(self) -> &'static str {
        match self {
            Server::Puff => "puff",
            Server::Granian => "granian",
            Server::Gevent => "gevent",
            Server::PuffRust => "puff-rust",
            Server::Axum => "axum",
            Server::Uvicorn => "uvicorn",
            Server::Strawberry => "strawberry",
        }
    }

    /// The label in reports; `case` tells which interface Puff and granian serve.
    fn label(self, case: &Case) -> &'static str {
        match (self, case.asgi) {
            (Server::Puff, _) if case.graphql.is_some() => "puff (puff-cli, GraphQL)",
            (Server::Puff, _) if case.django => "puff (puff-cli, Django)",
            (Server::Granian, _) if case.django => django::GRANIAN_LABEL,
            (Server::Gevent, _) if case.django => "gunicorn+gevent (psycogreen)",
            (Server::Puff, false) => "puff (puff-cli)",
            (Server::Puff, true) => "puff (puff-cli, ASGI)",
            (Server::Granian, false) => "granian (WSGI)",
            (Server::Granian, true) => "granian (ASGI)",
            (Server::Gevent, _) => "gunicorn+gevent",
            (Server::PuffRust, _) => "puff-example-rust-app",
            (Server::Axum, _) => "bare axum",
            (Server::Uvicorn, _) => "uvicorn (httptools, uvloop)",
            (Server::Strawberry, _) => "strawberry (uvicorn, httptools, uvloop)",
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Case {
    id: char,
    title: &'static str,
    connections: u32,
    path: &'static str,
    wait: bool,
    /// ASGI apps (`bench asgi`) instead of WSGI apps (`bench http`).
    asgi: bool,
    /// `bench graphql`: the JSON body POSTed to `path`; `None`: a plain GET.
    graphql: Option<&'static str>,
    /// `bench django`: the polls example's `bench` view (answers checked by
    /// `bench/apps/django_check.py`).
    django: bool,
    servers: &'static [Server],
}

const HTTP_CASES: [Case; 4] = [
    Case {
        id: 'a',
        title: "hello: raw 1 KB WSGI app",
        connections: 64,
        path: "/",
        wait: false,
        asgi: false,
        graphql: None,
        django: false,
        servers: &[Server::Puff, Server::Granian, Server::Gevent],
    },
    Case {
        id: 'b',
        title: "wait: 20 ms sleep per request",
        connections: 256,
        path: "/",
        wait: true,
        asgi: false,
        graphql: None,
        django: false,
        servers: &[Server::Puff, Server::Granian, Server::Gevent],
    },
    Case {
        id: 'c',
        title: "wait: 20 ms sleep per request",
        connections: 1024,
        path: "/",
        wait: true,
        asgi: false,
        graphql: None,
        django: false,
        servers: &[Server::Puff, Server::Granian, Server::Gevent],
    },
    Case {
        id: 'd',
        title: "Rust axum route GET /rust/hello",
        connections: 64,
        path: "/rust/hello",
        wait: false,
        asgi: false,
        graphql: None,
        django: false,
        servers: &[Server::PuffRust, Server::Axum],
    },
];

const ASGI_CASES: [Case; 2] = [
    Case {
        id: 'a',
        title: "hello: raw 1 KB ASGI app",
        connections: 256,
        path: "/",
        wait: false,
        asgi: true,
        graphql: None,
        django: false,
        servers: &[Server::Puff, Server::Granian, Server::Uvicorn],
    },
    Case {
        id: 'b',
        title: "wait: await a 20 ms sleep per request",
        connections: 256,
        path: "/",
        wait: true,
        asgi: true,
        graphql: None,
        django: false,
        servers: &[Server::Puff, Server::Granian, Server::Uvicorn],
    },
];

/// `bench graphql`: the servers answer the same two queries (`bench/apps/graphql_common.py`).
const GRAPHQL_CASES: [Case; 2] = [
    Case {
        id: 'a',
        title: "hello: `{ hello }` from a Python resolver",
        connections: 64,
        path: "/graphql",
        wait: false,
        asgi: false,
        graphql: Some(r#"{"query": "{ hello }"}"#),
        django: false,
        servers: &[Server::Puff, Server::Strawberry],
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
        asgi: false,
        graphql: Some(r#"{"query": "{ parents { id name children { id name } } }"}"#),
        django: false,
        servers: &[Server::Puff, Server::Strawberry],
    },
];

/// A program of `bench client`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Client {
    PuffGreenlets,
    PuffCoroutines,
    Httpx,
    Aiohttp,
}

impl Client {
    const ALL: [Client; 4] = [
        Client::PuffGreenlets,
        Client::PuffCoroutines,
        Client::Httpx,
        Client::Aiohttp,
    ];

    fn name(self) -> &'static str {
        match self {
            Client::PuffGreenlets => "puff-greenlets",
            Client::PuffCoroutines => "puff-coroutines",
            Client::Httpx => "httpx",
            Client::Aiohttp => "aiohttp",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Client::PuffGreenlets => "puff.http, greenlets (puff.spawn)",
            Client::PuffCoroutines => "puff.http, coroutines (asyncio = true)",
            Client::Httpx => "httpx.AsyncClient + uvloop",
            Client::Aiohttp => "aiohttp.ClientSession + uvloop",
        }
    }

    fn is_puff(self) -> bool {
        matches!(self, Client::PuffGreenlets | Client::PuffCoroutines)
    }
}

#[derive(Clone, Debug, Default)]
struct Measurement {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    requests: u64,
    socket_errors: u64,
    non_2xx: u64,
    /// req/s of every round, in order, when the run was repeated (this is the median one).
    round_rps: Vec<f64>,
}

struct RunResult {
    case: Case,
    server: Server,
    outcome: Result<Measurement, String>,
}

struct Check {
    case: char,
    what: String,
    value: Option<f64>,
    /// `None`: reported for information, no target.
    target: Option<f64>,
    /// true: value must be >= target; false: value must be <= target.
    at_least: bool,
    unit: &'static str,
}

impl Check {
    fn verdict(&self) -> &'static str {
        match (self.value, self.target) {
            (_, None) => "info",
            (None, _) => "n/a",
            (Some(v), Some(t)) if (self.at_least && v >= t) || (!self.at_least && v <= t) => "PASS",
            (Some(_), Some(_)) => "MISS",
        }
    }

    fn target_str(&self) -> String {
        let op = if self.at_least { ">=" } else { "<=" };
        match self.target {
            Some(t) => format!("{op} {}{}", trim_num(t), self.unit),
            None => "-".into(),
        }
    }

    fn value_str(&self) -> String {
        match self.value {
            Some(v) if self.unit == "x" => format!("{v:.2}x"),
            Some(v) => format!("{v:.1}{}", self.unit),
            None => "-".into(),
        }
    }
}

fn trim_num(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// Everything a run needs to know about the machine and tools.
struct Env<'a> {
    repo: &'a Repo,
    peers_venv: PathBuf,
    log_dir: PathBuf,
    server_cpu: &'static str,
    load_cpu: &'static str,
    /// Binaries that failed to build (server -> reason).
    unavailable: Vec<(Server, String)>,
    /// `bench graphql`: the URL of the Postgres server the GraphQL servers read.
    pg_url: Option<String>,
}

/// The UTC timestamp for file names (`20261122T051548Z`) and for reports (ISO 8601).
fn stamps() -> (String, String) {
    let (y, mo, d, h, mi, s) = util::utc_now();
    (
        format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z"),
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"),
    )
}

/// Where the CPUs for the process under test and the load come from.
fn pick_cpus() -> (&'static str, &'static str) {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus >= 2 {
        ("0", "1")
    } else {
        println!("    WARNING: only one CPU available: both sides share CPU 0");
        ("0", "0")
    }
}

/// Writes `bench/results/<kind>-<stamp>.md` and `.json`.
fn save_results(repo: &Repo, kind: Kind, stamp: &str, md: &str, json: &str) -> Result<()> {
    let out_dir = repo.root.join("bench/results");
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let md_path = out_dir.join(format!("{}-{stamp}.md", kind.name()));
    let json_path = out_dir.join(format!("{}-{stamp}.json", kind.name()));
    std::fs::write(&md_path, md).with_context(|| format!("cannot write {}", md_path.display()))?;
    std::fs::write(&json_path, json)
        .with_context(|| format!("cannot write {}", json_path.display()))?;
    println!(
        "[bench] saved {} and {}",
        repo.rel(&md_path),
        repo.rel(&json_path)
    );
    Ok(())
}

/// `cargo xtask bench ...`: the arguments, handed to [`parse`] as they are for now.
#[derive(clap::Args, Debug)]
#[command(disable_help_flag = true)]
pub struct Args {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// `cargo xtask bench ...`.
pub fn run(repo: &Repo, args: Args) -> Result<()> {
    let args = args.args;
    if args.first().map(String::as_str) == Some("bridge") {
        // Criterion benchmark of the greenlet <-> Tokio bridge (puff-greenlet/benches).
        setup::run(repo)?;
        println!("[bench] cargo bench -p puff-greenlet --bench bridge");
        return util::run(
            repo.cargo()
                .args(["bench", "-p", "puff-greenlet", "--bench", "bridge", "--"])
                .args(&args[1..]),
        );
    }
    match parse(&args)? {
        None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(opts) => run_opts(repo, &opts),
    }
}

fn run_opts(repo: &Repo, opts: &Options) -> Result<()> {
    match opts.kind {
        Kind::Django if opts.instructions => django::run_instructions(repo, opts),
        Kind::Http | Kind::Asgi | Kind::Graphql | Kind::Django => run_servers(repo, opts),
        Kind::Client => run_clients(repo, opts),
        Kind::Postgres => run_service::<PgBench>(repo, opts),
        Kind::Redis => run_service::<RedisBench>(repo, opts),
        Kind::Tasks => run_service::<TasksBench>(repo, opts),
    }
}

fn run_servers(repo: &Repo, opts: &Options) -> Result<()> {
    let (stamp, iso) = stamps();
    let kind = opts.kind;

    let cases: Vec<Case> = kind
        .cases()
        .iter()
        .filter(|c| opts.cases.contains(&c.id))
        .copied()
        .collect();
    let wanted =
        |s: Server| opts.servers.contains(&s) && cases.iter().any(|c| c.servers.contains(&s));
    // `bench graphql` and `bench django` run on a Postgres server (step 5) and always need the
    // peers venv: it runs the Postgres helper and the checks.
    let with_pg = matches!(kind, Kind::Graphql | Kind::Django);
    let need_peers =
        with_pg || wanted(Server::Granian) || wanted(Server::Gevent) || wanted(Server::Uvicorn);
    let need_puff = wanted(Server::Puff) || wanted(Server::PuffRust);

    let steps: usize = if with_pg { 6 } else { 5 };
    println!("[bench 1/{steps}] checking the load generator (wrk) and taskset");
    ensure_wrk()?;
    if !util::on_path("taskset") {
        bail!("taskset is missing (Debian package util-linux); it pins servers and wrk to CPUs");
    }
    let (server_cpu, load_cpu) = pick_cpus();

    let peers_venv = repo.root.join(PEERS_VENV);
    if need_peers {
        println!("[bench 2/{steps}] peer servers venv {PEERS_VENV} ({PEERS_REQUIREMENTS})");
        ensure_peers(repo, &peers_venv)?;
    } else {
        println!("[bench 2/{steps}] peer servers not selected -- skipped {PEERS_VENV}");
    }

    if need_puff {
        println!("[bench 3/{steps}] project virtualenv .venv (needed to build and run Puff)");
        setup::run(repo)?;
    } else {
        println!("[bench 3/{steps}] project virtualenv .venv -- skipped (no Puff server selected)");
    }

    let mut env = Env {
        repo,
        peers_venv,
        log_dir: repo
            .root
            .join(format!("target/bench-logs/{}-{stamp}", kind.name())),
        server_cpu,
        load_cpu,
        unavailable: Vec::new(),
        pg_url: None,
    };
    std::fs::create_dir_all(&env.log_dir)
        .with_context(|| format!("cannot create {}", env.log_dir.display()))?;

    let mut packages: Vec<(&str, Vec<Server>)> = Vec::new();
    if wanted(Server::Puff) {
        packages.push(("puff-cli", vec![Server::Puff]));
    }
    if wanted(Server::PuffRust) {
        packages.push(("puff-example-rust-app", vec![Server::PuffRust]));
    }
    if wanted(Server::Axum) {
        packages.push(("axum-hello", vec![Server::Axum]));
    }
    if opts.skip_build || packages.is_empty() {
        println!("[bench 4/{steps}] cargo build --release -- skipped");
    } else {
        let names: Vec<&str> = packages.iter().map(|p| p.0).collect();
        println!(
            "[bench 4/{steps}] cargo build --release -p {}",
            names.join(" -p ")
        );
        build_release(&mut env, &packages)?;
    }
    for (server, bin) in [
        (Server::Puff, "puff-cli"),
        (Server::PuffRust, "puff-example-rust-app"),
        (Server::Axum, "axum-hello"),
    ] {
        let path = repo.root.join("target/release").join(bin);
        if wanted(server) && !path.is_file() && !env.unavailable.iter().any(|u| u.0 == server) {
            env.unavailable
                .push((server, format!("{} does not exist", repo.rel(&path))));
        }
    }

    // `bench graphql`, `bench django`: one Postgres server for the whole run, the one of
    // `bench postgres`, pinned with wrk (the server under test has its CPU to itself).
    let pg_log = env.log_dir.join("postgres-server.log");
    let mut pg: Option<(HelperProc, String)> = None;
    if with_pg {
        let external = PgBench::EXTERNAL_VARS
            .into_iter()
            .find(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
        let (helper_script, prefix, data) = if kind == Kind::Django {
            (django::HELPER, django::HELPER_PREFIX, django::DATA)
        } else {
            (
                "graphql_pg_server.py",
                "BENCH_PG",
                "bench_parent (100 rows) and bench_child (10,000 rows)",
            )
        };
        match external {
            Some(var) => println!("[bench 5/{steps}] Postgres from ${var}: creating {data}"),
            None => println!(
                "[bench 5/{steps}] private Postgres server (initdb/pg_ctl) on CPU {load_cpu}, \
                 {data}"
            ),
        }
        let (helper, url, version) = start_helper(
            repo,
            &env.peers_venv,
            load_cpu,
            &[helper_script.to_string()],
            (prefix, "Postgres"),
            &pg_log,
        )?;
        println!("    server ready: {url} ({version})");
        env.pg_url = Some(url);
        pg = Some((helper, version));
    }

    let runs: Vec<(Case, Server)> = cases
        .iter()
        .flat_map(|c| c.servers.iter().map(move |s| (*c, *s)))
        .filter(|(_, s)| opts.servers.contains(s))
        .collect();
    println!(
        "[bench {steps}/{steps}] {} rounds of {} runs, {} s each after a {} s warm-up; server on CPU {}, wrk -t{} on CPU {}",
        opts.rounds,
        runs.len(),
        opts.duration,
        opts.warmup,
        env.server_cpu,
        opts.wrk_threads,
        env.load_cpu
    );
    println!("    server logs: {}", repo.rel(&env.log_dir));

    // Rounds interleave the servers, so a slow spell of a shared machine hits them all.
    let mut rounds: Vec<Vec<Result<Measurement, String>>> = vec![Vec::new(); runs.len()];
    for round in 1..=opts.rounds {
        for (i, (case, server)) in runs.iter().enumerate() {
            let tag = format!(
                "[round {round}/{}, run {}/{}] ({}) {} @{} conns -- {}",
                opts.rounds,
                i + 1,
                runs.len(),
                case.id,
                case.title,
                case.connections,
                server.label(case)
            );
            let outcome = match env.unavailable.iter().find(|u| u.0 == *server) {
                Some((_, why)) => {
                    println!("{tag}: skipped, {why}");
                    Err(why.clone())
                }
                None => {
                    println!("{tag}");
                    match run_one(&env, case, *server, opts) {
                        Ok(m) => {
                            println!(
                                "    {} req/s, p50 {:.2} ms, p99 {:.2} ms, {} requests, {} socket errors, {} non-2xx",
                                rps_str(m.rps),
                                m.p50_ms,
                                m.p99_ms,
                                m.requests,
                                m.socket_errors,
                                m.non_2xx
                            );
                            Ok(m)
                        }
                        Err(e) => {
                            println!("    FAILED: {e:#}");
                            let summary = format!("{e:#}");
                            Err(summary.lines().next().unwrap_or_default().to_string())
                        }
                    }
                }
            };
            rounds[i].push(outcome);
            if let Some((helper, _)) = pg.as_mut() {
                helper.check_alive(&pg_log)?;
            }
        }
    }
    let pg_version = pg.map(|(mut helper, version)| {
        helper.stop();
        version
    });
    let results: Vec<RunResult> = runs
        .iter()
        .zip(rounds)
        .map(|((case, server), outcomes)| RunResult {
            case: *case,
            server: *server,
            outcome: median_round(outcomes),
        })
        .collect();

    let checks = checks(kind, &results);
    let packages: &[&str] = match kind {
        Kind::Asgi => &["granian", "uvicorn", "httptools", "uvloop"],
        Kind::Django => &django::PACKAGES,
        Kind::Graphql => &[
            "strawberry-graphql",
            "graphql-core",
            "uvicorn",
            "httptools",
            "uvloop",
            "asyncpg",
        ],
        _ => &["granian", "gunicorn", "gevent"],
    };
    let mut machine = machine_info(repo, &env.peers_venv, true, packages);
    if let Some(version) = pg_version {
        let at = machine.tools.len().min(1); // after wrk
        machine.tools.insert(at, ("postgres".into(), version));
    }
    let md = render_markdown(&iso, opts, &env, &machine, &results, &checks);
    let json = render_json(&iso, opts, &env, &machine, &results, &checks);
    println!("\n{md}");
    save_results(repo, kind, &stamp, &md, &json)?;

    let failed = results.iter().filter(|r| r.outcome.is_err()).count();
    if failed > 0 {
        bail!(
            "{failed} of {} runs could not be measured (see the table above)",
            results.len()
        );
    }
    Ok(())
}

/// The round with the median req/s (the lower middle one for an even count), carrying every
/// round's req/s; an error if any round failed.
fn median_round(outcomes: Vec<Result<Measurement, String>>) -> Result<Measurement, String> {
    let mut measured = outcomes.into_iter().collect::<Result<Vec<_>, _>>()?;
    let round_rps: Vec<f64> = measured.iter().map(|m| m.rps).collect();
    measured.sort_by(|a, b| a.rps.total_cmp(&b.rps));
    let mut median = measured
        .get((measured.len().max(1) - 1) / 2)
        .cloned()
        .ok_or_else(|| "no rounds ran".to_string())?;
    median.round_rps = round_rps;
    Ok(median)
}

/// Installs wrk with apt-get when it is not on PATH.
fn ensure_wrk() -> Result<()> {
    ensure_debian_tool("wrk", "wrk")
}

/// Installs Debian's `package` with apt-get when `binary` is not on PATH.
fn ensure_debian_tool(binary: &str, package: &str) -> Result<()> {
    if util::on_path(binary) {
        println!("    {binary} found");
        return Ok(());
    }
    println!("    {binary} not found: installing the Debian package `{package}` with apt-get");
    if !util::on_path("apt-get") {
        bail!("{binary} is missing and apt-get is not available: install {package} by hand");
    }
    let root = util::capture(Command::new("id").arg("-u"))
        .map(|s| s.trim() == "0")
        .unwrap_or(false);
    let apt = |args: &[&str]| -> Command {
        let mut cmd = if root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd.stdin(Stdio::null());
        cmd
    };
    util::run(&mut apt(&["update", "-qq"])).context("apt-get update failed")?;
    util::run(&mut apt(&[
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
        package,
    ]))
    .with_context(|| format!("apt-get install {package} failed"))?;
    if !util::on_path(binary) {
        bail!("apt-get installed {package} but {binary} is still not on PATH");
    }
    Ok(())
}

/// Creates bench/.venv-peers and installs the pinned peer servers (skipped while the stamp
/// matches bench/requirements-peers.txt).
fn ensure_peers(repo: &Repo, venv: &Path) -> Result<()> {
    let info = setup::ensure_venv(repo, venv, "   ")?;
    let requirements = repo.root.join(PEERS_REQUIREMENTS);
    let stamp_path = venv.join(PEERS_STAMP);
    let mut hash = Fnv64::new();
    hash.update(b"puff-peers-v1\0")
        .update(info.version_str().as_bytes());
    hash.update(
        &std::fs::read(&requirements)
            .with_context(|| format!("cannot read {}", requirements.display()))?,
    );
    let hash = hash.hex();
    if std::fs::read_to_string(&stamp_path)
        .unwrap_or_default()
        .trim()
        == hash
    {
        println!("    {PEERS_REQUIREMENTS} unchanged (stamp matches) -- skipped pip install");
        return Ok(());
    }
    let _ = std::fs::remove_file(&stamp_path);
    println!("    installing {PEERS_REQUIREMENTS} into {PEERS_VENV}");
    let mut cmd = Command::new(venv.join("bin/python"));
    util::apply_venv_env(&mut cmd, venv);
    cmd.current_dir(&repo.root)
        .args(["-m", "pip", "install"])
        .args(setup::pip_flags())
        .args(["-r", PEERS_REQUIREMENTS]);
    util::run(&mut cmd).context("installing the peer servers failed")?;
    std::fs::write(&stamp_path, format!("{hash}\n"))
        .with_context(|| format!("cannot write {}", stamp_path.display()))?;
    Ok(())
}

/// A peer that cannot share bench/.venv-peers (its declared dependencies conflict with
/// the pins there) and gets a venv of its own, pinned in its own requirements file.
struct SideVenv {
    /// The venv, inside the (git-ignored) peers venv.
    dir: &'static str,
    requirements: &'static str,
    /// The packages whose versions the report gives, shown as `NAME (label)`.
    packages: &'static [&'static str],
    label: &'static str,
}

/// arq requires redis<6: its own venv (see bench/requirements-arq.txt).
const ARQ_VENV: SideVenv = SideVenv {
    dir: "bench/.venv-peers/arq-venv",
    requirements: "bench/requirements-arq.txt",
    packages: &["arq", "redis", "hiredis", "uvloop"],
    label: "arq venv",
};

/// Creates `side`'s venv and installs its requirements (skipped while its stamp matches).
fn ensure_side_venv(repo: &Repo, side: &SideVenv) -> Result<()> {
    let venv = repo.root.join(side.dir);
    let info = setup::ensure_venv(repo, &venv, "   ")?;
    let requirements = repo.root.join(side.requirements);
    let text = std::fs::read_to_string(&requirements)
        .with_context(|| format!("cannot read {}", requirements.display()))?;
    let stamp_path = venv.join(PEERS_STAMP);
    let mut hash = Fnv64::new();
    hash.update(b"puff-side-peers-v2\0")
        .update(info.version_str().as_bytes())
        .update(text.as_bytes());
    let hash = hash.hex();
    if std::fs::read_to_string(&stamp_path)
        .unwrap_or_default()
        .trim()
        == hash
    {
        println!(
            "    {} unchanged (stamp matches) -- skipped pip install",
            side.requirements
        );
        return Ok(());
    }
    let _ = std::fs::remove_file(&stamp_path);
    println!("    installing {} into {}", side.requirements, side.dir);
    let mut cmd = Command::new(venv.join("bin/python"));
    util::apply_venv_env(&mut cmd, &venv);
    cmd.current_dir(&repo.root)
        .args(["-m", "pip", "install"])
        .args(setup::pip_flags())
        .args(["-r", side.requirements]);
    util::run(&mut cmd).with_context(|| format!("installing {} failed", side.dir))?;
    std::fs::write(&stamp_path, format!("{hash}\n"))
        .with_context(|| format!("cannot write {}", stamp_path.display()))?;
    Ok(())
}

/// The versions of `packages` installed in `venv` (those that are).
fn venv_versions(venv: &Path, packages: &[&str]) -> Vec<(String, String)> {
    let script = format!(
        "import importlib.metadata as m\nfor n in {:?}:\n    try:\n        print(n, m.version(n))\n    except Exception:\n        pass\n",
        packages
    );
    let mut out = Vec::new();
    if !packages.is_empty()
        && let Ok(text) = util::capture(Command::new(venv.join("bin/python")).args(["-c", &script]))
    {
        for line in text.lines() {
            if let Some((k, v)) = line.split_once(' ') {
                out.push((k.to_string(), v.trim().to_string()));
            }
        }
    }
    out
}

/// Builds the release binaries in one cargo call; if that fails, builds each package alone so
/// that one broken package only takes its own runs out.
fn build_release(env: &mut Env, packages: &[(&str, Vec<Server>)]) -> Result<()> {
    let mut cmd = env.repo.cargo();
    cmd.args(["build", "--release"]);
    for (p, _) in packages {
        cmd.args(["-p", p]);
    }
    if util::run(&mut cmd).is_ok() {
        return Ok(());
    }
    if packages.len() == 1 {
        for s in &packages[0].1 {
            env.unavailable.push((
                *s,
                format!("cargo build --release -p {} failed", packages[0].0),
            ));
        }
        return Ok(());
    }
    println!("    the combined build failed: building each package on its own");
    for (p, servers) in packages {
        let mut cmd = env.repo.cargo();
        cmd.args(["build", "--release", "-p", p]);
        if util::run(&mut cmd).is_err() {
            println!("    WARNING: {p} did not build; its runs will be skipped");
            for s in servers {
                env.unavailable
                    .push((*s, format!("cargo build --release -p {p} failed")));
            }
        }
    }
    Ok(())
}

/// A free TCP port on 127.0.0.1 (the OS picks; we release it right away).
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind a local port")?;
    Ok(listener.local_addr()?.port())
}

/// Wraps `program args` so it runs with a raised open-files limit, pinned to `cpu`.
fn pinned(cpu: &str, program: &Path, args: &[String]) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!(
            "ulimit -n {NOFILE} 2>/dev/null || ulimit -n \"$(ulimit -Hn)\" 2>/dev/null; exec \"$@\""
        ))
        .arg("sh")
        .args(["taskset", "-c", cpu])
        .arg(program)
        .args(args);
    cmd
}

/// The command line for `server` in `case`, listening on `port`; `wrapper` (a program and
/// its arguments, such as valgrind's) runs the server when it is not empty.
fn server_command(
    env: &Env,
    case: &Case,
    server: Server,
    port: u16,
    wrapper: &[String],
) -> Command {
    let repo = env.repo;
    let apps = repo.root.join("bench/apps");
    let bind = format!("127.0.0.1:{port}");
    let peers_bin = env.peers_venv.join("bin");
    let (program, args, dir): (PathBuf, Vec<String>, PathBuf) = match server {
        Server::Puff => {
            let config = match (case.asgi, case.wait) {
                _ if case.graphql.is_some() => "puff_graphql.toml",
                _ if case.django => "puff_django.toml",
                (false, false) => "puff_hello.toml",
                (false, true) => "puff_wait.toml",
                (true, false) => "puff_hello_asgi.toml",
                (true, true) => "puff_wait_asgi.toml",
            };
            let mut args: Vec<String> = vec![
                "--config".into(),
                apps.join(config).to_string_lossy().into_owned(),
            ];
            if let Some(url) = &env.pg_url {
                // The `default` pool of puff_graphql.toml / puff_django.toml.
                args.extend(["--default-postgres-url".into(), url.clone()]);
            }
            args.extend(["runserver".into(), "--bind".into(), bind]);
            (
                repo.root.join("target/release/puff-cli"),
                args,
                apps.clone(),
            )
        }
        Server::PuffRust => (
            repo.root.join("target/release/puff-example-rust-app"),
            vec!["runserver".into(), "--bind".into(), bind],
            repo.root.join("examples/rust_app"),
        ),
        Server::Axum => (
            repo.root.join("target/release/axum-hello"),
            vec!["--bind".into(), bind],
            repo.root.clone(),
        ),
        Server::Granian => {
            let mut args: Vec<String> = vec![
                "--interface".into(),
                if case.asgi { "asgi" } else { "wsgi" }.into(),
                "--workers".into(),
                "1".into(),
                "--host".into(),
                "127.0.0.1".into(),
                "--port".into(),
                port.to_string(),
                "--log-level".into(),
                "warning".into(),
            ];
            if case.django {
                let threads = django::GRANIAN_THREADS.to_string();
                args.extend(["--blocking-threads".into(), threads]);
            } else if !case.wait && !case.asgi {
                args.extend(["--blocking-threads".into(), "1".into()]);
            }
            let app = match (case.asgi, case.wait) {
                _ if case.django => django::WSGI_APP,
                (false, false) => "hello_wsgi:app",
                (false, true) => "granian_wait:app",
                (true, false) => "hello_asgi:app",
                (true, true) => "asgi_wait:app",
            };
            args.push(app.into());
            (peers_bin.join("granian"), args, apps.clone())
        }
        Server::Uvicorn | Server::Strawberry => {
            let app = if server == Server::Strawberry {
                "strawberry_graphql:app"
            } else if case.wait {
                "asgi_wait:app"
            } else {
                "hello_asgi:app"
            };
            (
                peers_bin.join("uvicorn"),
                vec![
                    "--http".into(),
                    "httptools".into(),
                    "--loop".into(),
                    "uvloop".into(),
                    "--workers".into(),
                    "1".into(),
                    "--no-access-log".into(),
                    "--backlog".into(),
                    "4096".into(),
                    "--host".into(),
                    "127.0.0.1".into(),
                    "--port".into(),
                    port.to_string(),
                    "--log-level".into(),
                    "warning".into(),
                    app.into(),
                ],
                apps.clone(),
            )
        }
        Server::Gevent => {
            let app = if case.django {
                django::GEVENT_APP
            } else if case.wait {
                "gevent_wait:app"
            } else {
                "hello_wsgi:app"
            };
            (
                peers_bin.join("gunicorn"),
                vec![
                    "-k".into(),
                    "gevent".into(),
                    "-w".into(),
                    "1".into(),
                    "--worker-connections".into(),
                    "2000".into(),
                    "--backlog".into(),
                    "4096".into(),
                    "-b".into(),
                    bind,
                    "--log-level".into(),
                    "warning".into(),
                    app.into(),
                ],
                apps.clone(),
            )
        }
    };
    let mut cmd = match wrapper.split_first() {
        None => pinned(env.server_cpu, &program, &args),
        Some((wrap, wrap_args)) => {
            let mut all = wrap_args.to_vec();
            all.push(program.to_string_lossy().into_owned());
            all.extend(args);
            pinned(env.server_cpu, Path::new(wrap), &all)
        }
    };
    cmd.current_dir(dir);
    match server {
        Server::Puff | Server::PuffRust | Server::Axum => {
            cmd.env("PYO3_PYTHON", repo.venv_python());
            util::apply_venv_env(&mut cmd, &repo.venv);
            if server == Server::PuffRust {
                // The Rust example reads no puff.toml, so its access log is turned off through
                // the log filter (PUFF_LOG) instead of `access_log = false`.
                cmd.env("PUFF_LOG", "info,puff::access=off");
            }
        }
        Server::Granian | Server::Gevent | Server::Uvicorn | Server::Strawberry => {
            cmd.env_remove("PYO3_PYTHON");
            util::apply_venv_env(&mut cmd, &env.peers_venv);
        }
    }
    if let Some(url) = &env.pg_url {
        // strawberry_graphql.py's asyncpg pool, django_bench_settings.py's DATABASES (Puff gets
        // the URL as --default-postgres-url).
        cmd.env("BENCH_PG_URL", url);
    }
    cmd.env_remove("PYTHONPATH");
    if case.django {
        django::apply_env(&mut cmd, repo, server);
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// A running server that is stopped (SIGTERM, then SIGKILL) when dropped.
struct Running {
    child: Child,
    name: &'static str,
}

impl Running {
    fn stop(&mut self) -> Result<()> {
        if self.child.try_wait()?.is_some() {
            return Ok(());
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        println!(
            "    {} did not stop within 15 s of SIGTERM: killing it",
            self.name
        );
        let _ = self.child.kill();
        let _ = self.child.wait();
        Ok(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// The last non-empty line of a server log (usually the error), for one-line reports.
fn last_line(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let line = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty() && *l != "]");
    line.unwrap_or("(empty log)").to_string()
}

/// Where the log is and its last lines, for the console.
fn log_excerpt(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let tail = all[all.len().saturating_sub(12)..].join("\n      ");
    format!("    log {}:\n      {tail}", path.display())
}

/// Waits up to 60 s until `running` accepts connections on `addr` (fails if it exits first).
fn wait_accepting(running: &mut Running, addr: SocketAddr, log_path: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = running.child.try_wait()? {
            bail!(
                "{} exited before accepting connections ({}): {}\n{}",
                running.name,
                util::describe_status(status),
                last_line(log_path),
                log_excerpt(log_path)
            );
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "{} did not accept on {addr} within 60 s: {}\n{}",
                running.name,
                last_line(log_path),
                log_excerpt(log_path)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Starts the server, waits for it to accept and answer correctly, warms up, measures.
fn run_one(env: &Env, case: &Case, server: Server, opts: &Options) -> Result<Measurement> {
    let port = free_port()?;
    let log_path = env
        .log_dir
        .join(format!("{}-{}.log", case.id, server.name()));
    let log =
        File::create(&log_path).with_context(|| format!("cannot create {}", log_path.display()))?;
    let mut cmd = server_command(env, case, server, port, &[]);
    cmd.stdout(log.try_clone()?).stderr(log);
    println!("    $ {}", util::display_cmd(&cmd));
    let label = server.label(case);
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot start {label}"))?;
    let mut running = Running { child, name: label };

    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    wait_accepting(&mut running, addr, &log_path)?;
    let url = format!("http://127.0.0.1:{port}{}", case.path);
    let method = if case.graphql.is_some() { "POST " } else { "" };
    let check = |when: &str| -> Result<()> {
        match case.graphql {
            Some(body) => check_script(env, &graphql_check_args(case, &url, body)),
            None if case.django => check_script(env, &django::check_args(env, &url)),
            None => check_response(addr, case.path),
        }
        .with_context(|| format!("{label} answered {method}{} wrongly{when}", case.path))
    };
    // The GraphQL and Django answers are checked again after the warm-up and after the run.
    let recheck = case.graphql.is_some() || case.django;
    check("")?;
    let script = match case.graphql {
        Some(body) => {
            let path = env.log_dir.join(format!("graphql-{}.lua", case.id));
            std::fs::write(&path, wrk_post_script(case.path, body))
                .with_context(|| format!("cannot write {}", path.display()))?;
            Some(path)
        }
        None => None,
    };

    let load = WrkLoad {
        connections: case.connections,
        url: &url,
        script: script.as_deref(),
    };
    if opts.warmup > 0 {
        wrk(env, opts, &load, opts.warmup).context("warm-up run of wrk failed")?;
        if recheck {
            // Also waits out the requests the warm-up left unanswered (seconds of work for a
            // slow server in graphql (b)), which would otherwise eat into the measured run.
            check(" after the warm-up")?;
        }
    }
    let out = wrk(env, opts, &load, opts.duration)?;
    let m = parse_wrk(&out).with_context(|| format!("cannot parse wrk output:\n{out}"))?;
    if let Some(status) = running.child.try_wait()? {
        bail!(
            "{label} exited during the run ({})",
            util::describe_status(status)
        );
    }
    if recheck {
        // A server that went wrong under load (pool exhausted, say) is not measured either;
        // wrk does not read the bodies.
        check(" after the run")?;
    }
    running.stop()?;
    if m.requests == 0 {
        bail!("no request completed");
    }
    Ok(m)
}

/// What wrk sends: `connections` connections to `url`, GETs unless a Lua `script` says.
struct WrkLoad<'a> {
    connections: u32,
    url: &'a str,
    script: Option<&'a Path>,
}

/// wrk's `--timeout`: answers slower than that count as timeouts, not in the latencies. A
/// slow server takes about a second per answer in the nested GraphQL case (more on a loaded
/// machine), so `bench graphql` leaves a wide margin.
fn wrk_timeout(kind: Kind) -> &'static str {
    if kind == Kind::Graphql { "60s" } else { "10s" }
}

fn wrk(env: &Env, opts: &Options, load: &WrkLoad, secs: u64) -> Result<String> {
    let threads = opts.wrk_threads.min(load.connections);
    let mut args: Vec<String> = vec![
        format!("-t{threads}"),
        format!("-c{}", load.connections),
        format!("-d{secs}s"),
        "--timeout".into(),
        wrk_timeout(opts.kind).into(),
        "--latency".into(),
    ];
    if let Some(script) = load.script {
        args.extend(["-s".into(), script.to_string_lossy().into_owned()]);
    }
    args.push(load.url.into());
    let mut cmd = pinned(env.load_cpu, Path::new("wrk"), &args);
    cmd.stdin(Stdio::null());
    util::capture(&mut cmd)
}

/// The wrk script of a `bench graphql` case: every request a POST of `body` (JSON).
fn wrk_post_script(path: &str, body: &str) -> String {
    format!(
        "-- cargo xtask bench graphql: POST {path} with a GraphQL query\n\
         wrk.method = \"POST\"\n\
         wrk.headers[\"Content-Type\"] = \"application/json\"\n\
         wrk.body = [==[{body}]==]\n"
    )
}

/// `bench/apps/graphql_check.py`'s arguments: one POST of `body` to `url`, checked for status
/// 200, JSON, no errors and exactly the expected data of `case` (all 100 x 100 rows in (b)).
fn graphql_check_args(case: &Case, url: &str, body: &str) -> Vec<String> {
    vec![
        "graphql_check.py".to_string(),
        url.to_string(),
        case.id.to_string(),
        body.to_string(),
    ]
}

/// Runs the check script `args` (script first, from bench/apps, peers venv, on the load CPU);
/// an error with its last line unless it exits 0.
fn check_script(env: &Env, args: &[String]) -> Result<()> {
    let mut cmd = peer_command(&env.peers_venv, env.load_cpu, args);
    cmd.current_dir(env.repo.root.join("bench/apps"))
        .env_remove("PYTHONPATH")
        .stdin(Stdio::null());
    let out = cmd
        .output()
        .with_context(|| format!("cannot run bench/apps/{}", args[0]))?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let last = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("(no output)");
    if !out.status.success() {
        bail!("{last} ({})", util::describe_status(out.status));
    }
    println!("    check: {last}");
    Ok(())
}

/// One plain HTTP/1.1 GET: status must be 200 and the body must be the 1 KB of `x`.
fn check_response(addr: SocketAddr, path: &str) -> Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let status = text.lines().next().unwrap_or_default();
    if !status.contains(" 200") {
        bail!("status line `{status}`, expected 200");
    }
    let Some((_, body)) = text.split_once("\r\n\r\n") else {
        bail!("no end of headers in the response");
    };
    let body = body.trim_end();
    let expected = "x".repeat(BODY_LEN);
    // Accept a plain body or a single chunk ("400\r\n<body>\r\n0").
    if body != expected && !body.contains(&format!("\r\n{expected}\r\n")) {
        bail!(
            "body of {} bytes is not {BODY_LEN} x's: {:?}",
            body.len(),
            &body[..body.len().min(80)]
        );
    }
    Ok(())
}

/// Parses a wrk latency value like `812.00us`, `2.31ms`, `1.02s`, `1.5m` into milliseconds.
fn parse_duration_ms(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().ok()?;
    let factor = match unit {
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        _ => return None,
    };
    Some(v * factor)
}

fn parse_wrk(out: &str) -> Result<Measurement> {
    let mut m = Measurement::default();
    let (mut got_rps, mut got_p99) = (false, false);
    for line in out.lines() {
        let t = line.trim();
        if let Some(v) = t.strip_prefix("Requests/sec:") {
            m.rps = v.trim().parse().context("Requests/sec")?;
            got_rps = true;
        } else if let Some(v) = t.strip_prefix("50%") {
            m.p50_ms = parse_duration_ms(v).context("50% latency")?;
        } else if let Some(v) = t.strip_prefix("99%") {
            m.p99_ms = parse_duration_ms(v).context("99% latency")?;
            got_p99 = true;
        } else if t.contains(" requests in ") {
            m.requests = t
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
        } else if let Some(v) = t.strip_prefix("Socket errors:") {
            m.socket_errors = v
                .split(',')
                .filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok())
                .sum();
        } else if let Some(v) = t.strip_prefix("Non-2xx or 3xx responses:") {
            m.non_2xx = v.trim().parse().unwrap_or(0);
        }
    }
    if !got_rps || !got_p99 {
        bail!("missing Requests/sec or the 99% latency line");
    }
    Ok(m)
}

fn find(results: &[RunResult], case: char, server: Server) -> Option<&Measurement> {
    results
        .iter()
        .find(|r| r.case.id == case && r.server == server)
        .and_then(|r| r.outcome.as_ref().ok())
}

fn checks(kind: Kind, results: &[RunResult]) -> Vec<Check> {
    let ratio = |case: char, a: Server, b: Server| -> Option<f64> {
        let (x, y) = (find(results, case, a)?, find(results, case, b)?);
        (y.rps > 0.0).then(|| x.rps / y.rps)
    };
    let has_case = |case: char| results.iter().any(|r| r.case.id == case);
    let mut out = Vec::new();
    let mut ratio_check = |case: char, a: Server, b: Server, target: Option<f64>| {
        if has_case(case) {
            out.push(Check {
                case,
                what: format!("{} / {} req/s", a.name(), b.name()),
                value: ratio(case, a, b),
                target,
                at_least: true,
                unit: "x",
            });
        }
    };
    if kind == Kind::Django {
        ratio_check('a', Server::Puff, Server::Gevent, None);
        ratio_check('a', Server::Puff, Server::Granian, None);
        out.extend(django::best_peer_check(results));
        return out;
    }
    if kind == Kind::Graphql {
        ratio_check('a', Server::Puff, Server::Strawberry, Some(20.0));
        ratio_check('b', Server::Puff, Server::Strawberry, Some(20.0));
        return out;
    }
    if kind == Kind::Asgi {
        ratio_check('a', Server::Puff, Server::Granian, Some(1.0));
        ratio_check('a', Server::Puff, Server::Uvicorn, None);
        ratio_check('a', Server::Granian, Server::Uvicorn, None);
        ratio_check('b', Server::Puff, Server::Granian, Some(1.0));
        ratio_check('b', Server::Puff, Server::Uvicorn, Some(1.0));
        if has_case('b') {
            out.push(Check {
                case: 'b',
                what: "puff p99 latency".into(),
                value: find(results, 'b', Server::Puff).map(|m| m.p99_ms),
                target: None,
                at_least: false,
                unit: " ms",
            });
        }
        return out;
    }
    ratio_check('a', Server::Puff, Server::Granian, Some(1.0));
    ratio_check('a', Server::Puff, Server::Gevent, None);
    ratio_check('b', Server::Puff, Server::Granian, Some(1.1));
    ratio_check('b', Server::Puff, Server::Gevent, Some(2.0));
    ratio_check('c', Server::Puff, Server::Granian, Some(2.0));
    ratio_check('c', Server::Puff, Server::Gevent, None);
    ratio_check('d', Server::PuffRust, Server::Axum, Some(0.9));
    if has_case('b') {
        let p99 = find(results, 'b', Server::Puff).map(|m| m.p99_ms);
        let check = Check {
            case: 'b',
            what: "puff p99 latency".into(),
            value: p99,
            target: Some(30.0),
            at_least: false,
            unit: " ms",
        };
        let pos = out
            .iter()
            .rposition(|c| c.case == 'b')
            .map_or(out.len(), |p| p + 1);
        out.insert(pos, check);
    }
    out
}

struct Machine {
    cpu: String,
    /// /proc/loadavg when the runs were over: other work on the machine skews the figures.
    loadavg: String,
    cpus: usize,
    kernel: String,
    python: String,
    tools: Vec<(String, String)>,
    git: String,
}

impl Machine {
    /// The `- machine:` and `- tools:` lines every report starts with.
    fn markdown_lines(&self) -> String {
        format!(
            "- machine: {} x {}, {}; {}; load average after the runs: {}\n- tools: {}; git {}\n",
            self.cpus,
            self.cpu,
            self.kernel,
            self.python,
            self.loadavg,
            tools_line(self),
            self.git
        )
    }

    /// The `machine` object of every JSON report.
    fn json(&self) -> String {
        let tools: Vec<String> = self
            .tools
            .iter()
            .map(|(k, v)| format!("{}: {}", json_str(k), json_str(v)))
            .collect();
        format!(
            "{{\"cpu\": {}, \"cpus\": {}, \"loadavg\": {}, \"kernel\": {}, \"python\": {}, \"tools\": {{{}}}}}",
            json_str(&self.cpu),
            self.cpus,
            json_str(&self.loadavg),
            json_str(&self.kernel),
            json_str(&self.python),
            tools.join(", ")
        )
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().trim().to_string()
}

/// The machine, wrk's version (`with_wrk`) and the versions of `packages` in the peers venv.
fn machine_info(repo: &Repo, peers_venv: &Path, with_wrk: bool, packages: &[&str]) -> Machine {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let kernel = util::capture(Command::new("uname").arg("-sr"))
        .map(|s| first_line(&s))
        .unwrap_or_default();
    let python = util::capture(Command::new(repo.venv_python()).arg("--version"))
        .or_else(|_| util::capture(Command::new(setup::base_python()).arg("--version")))
        .map(|s| first_line(&s))
        .unwrap_or_default();
    let mut tools = Vec::new();
    // wrk -v prints its version and exits 1, so read the output whatever the status.
    if with_wrk && let Ok(out) = Command::new("wrk").arg("-v").output() {
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        let v = first_line(&text);
        tools.push(("wrk".into(), v.split(" [").next().unwrap_or(&v).to_string()));
    }
    tools.extend(venv_versions(peers_venv, packages));
    let git = util::capture(
        Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .current_dir(&repo.root),
    )
    .map(|s| first_line(&s))
    .unwrap_or_else(|_| "unknown".into());
    let loadavg = std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    Machine {
        cpu,
        loadavg,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        kernel,
        python,
        tools,
        git,
    }
}

fn render_markdown(
    iso: &str,
    opts: &Options,
    env: &Env,
    machine: &Machine,
    results: &[RunResult],
    checks: &[Check],
) -> String {
    let mut md = String::new();
    let title = match opts.kind {
        Kind::Asgi => "Puff ASGI benchmark",
        Kind::Graphql => "Puff GraphQL benchmark",
        Kind::Django => "Puff Django benchmark",
        _ => "Puff HTTP benchmark",
    };
    let _ = writeln!(md, "# {title}, {iso}\n");
    md.push_str(&machine.markdown_lines());
    let (load, answers) = if opts.kind == Kind::Django {
        (django::LOAD_NOTE, django::ANSWERS_NOTE)
    } else if opts.kind == Kind::Graphql {
        (
            " (with the Postgres server), every request `POST /graphql` with a JSON body \
             (`-s` script)",
            "every server's answer to every case checked (status 200, JSON, no errors, all the \
             data: 100 parents x 100 children in (b)) before and after the warm-up and after the \
             measured run",
        )
    } else {
        ("", "1 KB response body everywhere")
    };
    let _ = writeln!(
        md,
        "- method: server pinned to CPU {}, `wrk -t{} --latency --timeout {}` pinned to CPU {}{load}; \
         {} s warm-up, then {} s measured per run; {} rounds with the servers interleaved, the \
         median req/s counts; {answers}; {}",
        env.server_cpu,
        opts.wrk_threads,
        wrk_timeout(opts.kind),
        env.load_cpu,
        opts.warmup,
        opts.duration,
        opts.rounds,
        build_note(opts)
    );
    if opts.kind == Kind::Graphql {
        let queries: Vec<String> = results
            .iter()
            .filter_map(|r| Some((r.case.id, r.case.graphql?)))
            .fold(Vec::new(), |mut v, (id, body)| {
                let q = format!("({id}) `{body}`");
                if !v.contains(&q) {
                    v.push(q);
                }
                v
            });
        let _ = writeln!(
            md,
            "- bodies: {}; tables `bench_parent` (100 rows) and `bench_child` (100 per parent, \
             indexed on parent_id); schemas `bench/apps/puff_graphql.py`, \
             `bench/apps/strawberry_graphql.py`",
            queries.join(", ")
        );
    }
    if opts.kind == Kind::Django {
        md.push_str(django::SETUP_NOTES);
    }
    let mut ceilings: Vec<String> = Vec::new();
    for r in results.iter().filter(|r| r.case.wait) {
        let c = format!(
            "{} req/s for ({})",
            thousands(u64::from(r.case.connections) * 50),
            r.case.id
        );
        if !ceilings.contains(&c) {
            ceilings.push(c);
        }
    }
    if !ceilings.is_empty() {
        let _ = writeln!(
            md,
            "- the wait cases are closed loops: at most connections / 20 ms = {}, whatever the server",
            ceilings.join(" and ")
        );
    }
    let _ = writeln!(md, "\n## Results\n");
    let _ = writeln!(
        md,
        "| case | server | conns | req/s | p50 ms | p99 ms | errors | note |"
    );
    let _ = writeln!(md, "|---|---|---:|---:|---:|---:|---:|---|");
    for r in results {
        let case = format!("({}) {}", r.case.id, r.case.title);
        match &r.outcome {
            Ok(m) => {
                let note = if m.round_rps.len() > 1 {
                    let each: Vec<String> = m.round_rps.iter().map(|v| rps_str(*v)).collect();
                    format!("rounds: {}", each.join(", "))
                } else {
                    String::new()
                };
                let _ = writeln!(
                    md,
                    "| {case} | {} | {} | {} | {:.2} | {:.2} | {} | {note} |",
                    r.server.label(&r.case),
                    r.case.connections,
                    rps_str(m.rps),
                    m.p50_ms,
                    m.p99_ms,
                    m.socket_errors + m.non_2xx
                );
            }
            Err(e) => {
                let note = e.lines().next().unwrap_or_default().replace('|', "\\|");
                let _ = writeln!(
                    md,
                    "| {case} | {} | {} | - | - | - | - | not measured: {note} |",
                    r.server.label(&r.case),
                    r.case.connections
                );
            }
        }
    }
    let _ = writeln!(md, "\n## Targets\n");
    let _ = writeln!(md, "| case | check | value | target | result |");
    let _ = writeln!(md, "|---|---|---:|---|---|");
    for c in checks {
        let _ = writeln!(
            md,
            "| ({}) | {} | {} | {} | {} |",
            c.case,
            c.what,
            c.value_str(),
            c.target_str(),
            c.verdict()
        );
    }
    let _ = writeln!(
        md,
        "\nErrors = wrk socket errors (connect/read/write/timeout) + non-2xx responses."
    );
    md
}

/// req/s for a report: whole numbers, with one decimal below 100 (the slow GraphQL case).
fn rps_str(v: f64) -> String {
    if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// `12800` -> `12,800`.
fn thousands(v: u64) -> String {
    let digits = v.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The opening of every JSON report: `{`, the benchmark's name, the time and the commit.
fn json_head(kind: Kind, iso: &str, machine: &Machine) -> String {
    format!(
        "{{\n  \"benchmark\": {},\n  \"timestamp\": {},\n  \"git\": {},\n",
        json_str(kind.name()),
        json_str(iso),
        json_str(&machine.git)
    )
}

fn json_num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "null".into()
    }
}

/// A figure for a JSON report, or `null`.
fn json_opt(v: Option<f64>) -> String {
    v.map_or("null".into(), json_num)
}

fn render_json(
    iso: &str,
    opts: &Options,
    env: &Env,
    machine: &Machine,
    results: &[RunResult],
    checks: &[Check],
) -> String {
    let mut j = json_head(opts.kind, iso, machine);
    let body = if matches!(opts.kind, Kind::Graphql | Kind::Django) {
        format!(
            "\"wrk_timeout\": {}, \"rounds\": {}",
            json_str(wrk_timeout(opts.kind)),
            opts.rounds
        )
    } else {
        format!("\"body_bytes\": {BODY_LEN}")
    };
    let _ = writeln!(
        j,
        "  \"settings\": {{\"duration_secs\": {}, \"warmup_secs\": {}, \"wrk_threads\": {}, \
         \"server_cpu\": {}, \"load_cpu\": {}, {body}, \"skip_build\": {}}},",
        opts.duration,
        opts.warmup,
        opts.wrk_threads,
        json_str(env.server_cpu),
        json_str(env.load_cpu),
        opts.skip_build
    );
    let _ = writeln!(j, "  \"machine\": {},", machine.json());
    let _ = writeln!(j, "  \"results\": [");
    for (i, r) in results.iter().enumerate() {
        let mut head = format!(
            "\"case\": {}, \"title\": {}, \"server\": {}, \"connections\": {}, \"path\": {}",
            json_str(&r.case.id.to_string()),
            json_str(r.case.title),
            json_str(r.server.name()),
            r.case.connections,
            json_str(r.case.path)
        );
        if let Some(body) = r.case.graphql {
            let _ = write!(head, ", \"method\": \"POST\", \"body\": {}", json_str(body));
        }
        let body = match &r.outcome {
            Ok(m) => format!(
                "\"ok\": true, \"requests_per_sec\": {}, \"p50_ms\": {}, \"p99_ms\": {}, \
                 \"requests\": {}, \"socket_errors\": {}, \"non_2xx\": {}, \
                 \"rounds_requests_per_sec\": [{}]",
                json_num(m.rps),
                json_num(m.p50_ms),
                json_num(m.p99_ms),
                m.requests,
                m.socket_errors,
                m.non_2xx,
                m.round_rps
                    .iter()
                    .map(|v| json_num(*v))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Err(e) => format!("\"ok\": false, \"error\": {}", json_str(e)),
        };
        let comma = if i + 1 < results.len() { "," } else { "" };
        let _ = writeln!(j, "    {{{head}, {body}}}{comma}");
    }
    let _ = writeln!(j, "  ],");
    let _ = writeln!(j, "  \"checks\": [");
    for (i, c) in checks.iter().enumerate() {
        let comma = if i + 1 < checks.len() { "," } else { "" };
        let _ = writeln!(
            j,
            "    {{\"case\": {}, \"check\": {}, \"value\": {}, \"target\": {}, \"result\": {}}}{comma}",
            json_str(&c.case.to_string()),
            json_str(&c.what),
            json_opt(c.value),
            json_str(&c.target_str()),
            json_str(c.verdict())
        );
    }
    let _ = writeln!(j, "  ]");
    let _ = writeln!(j, "}}");
    j
}

// ---------------------------------------------------------------------------------------------
// `bench client`
// ---------------------------------------------------------------------------------------------

/// One timed run of one client program.
#[derive(Clone, Debug, Default)]
struct ClientRound {
    rps: f64,
    seconds: f64,
    errors: u64,
    /// Latency percentiles, from the programs that measure them (`bench redis` (b)).
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
}

struct ClientResult {
    client: Client,
    rounds: Vec<Result<ClientRound, String>>,
}

impl ClientResult {
    fn rps_values(&self) -> Vec<f64> {
        self.rounds
            .iter()
            .filter_map(|r| r.as_ref().ok().map(|r| r.rps))
            .collect()
    }

    /// The median of the measured rounds (the mean of the middle two for an even count).
    fn median_rps(&self) -> Option<f64> {
        let mut v = self.rps_values();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        Some(if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        })
    }

    fn errors(&self) -> u64 {
        self.rounds
            .iter()
            .filter_map(|r| r.as_ref().ok().map(|r| r.errors))
            .sum()
    }

    fn first_failure(&self) -> Option<&str> {
        self.rounds
            .iter()
            .find_map(|r| r.as_ref().err().map(String::as_str))
    }
}

/// Parses the `BENCH_RESULT requests=N errors=N seconds=F rps=F` line a client program prints.
fn parse_client_output(out: &str) -> Result<ClientRound> {
    let line = out
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("BENCH_RESULT "))
        .context("no BENCH_RESULT line in the output")?;
    let mut round = ClientRound::default();
    let (mut got_rps, mut got_secs) = (false, false);
    for field in line.split_whitespace() {
        let Some((k, v)) = field.split_once('=') else {
            continue;
        };
        match k {
            "rps" => {
                round.rps = v.parse().context("rps")?;
                got_rps = true;
            }
            "seconds" => {
                round.seconds = v.parse().context("seconds")?;
                got_secs = true;
            }
            "errors" => round.errors = v.parse().context("errors")?,
            "p50_ms" => round.p50_ms = Some(v.parse().context("p50_ms")?),
            "p99_ms" => round.p99_ms = Some(v.parse().context("p99_ms")?),
            _ => {}
        }
    }
    if !got_rps || !got_secs {
        bail!("incomplete BENCH_RESULT line `{line}`");
    }
    Ok(round)
}

/// The command line of one client program.
fn client_command(
    repo: &Repo,
    peers_venv: &Path,
    cpu: &str,
    client: Client,
    url: &str,
    opts: &Options,
) -> Command {
    let apps = repo.root.join("bench/apps");
    let mut cmd = match client {
        Client::PuffGreenlets | Client::PuffCoroutines => {
            let (config, command) = if client == Client::PuffGreenlets {
                ("puff_client.toml", "client_greenlets")
            } else {
                ("puff_client_asyncio.toml", "client_coroutines")
            };
            let args = vec![
                "--config".to_string(),
                apps.join(config).to_string_lossy().into_owned(),
                command.to_string(),
            ];
            puff_cli_command(repo, cpu, &args)
        }
        Client::Httpx | Client::Aiohttp => {
            let args = vec!["peer_client.py".to_string(), client.name().to_string()];
            peer_command(peers_venv, cpu, &args)
        }
    };
    cmd.current_dir(apps)
        .env_remove("PYTHONPATH")
        .env("BENCH_URL", url)
        .env("BENCH_REQUESTS", opts.requests.to_string())
        .env("BENCH_CONCURRENCY", opts.concurrency.to_string())
        .env("BENCH_WARMUP", opts.warmup_requests.to_string())
        .stdin(Stdio::null());
    cmd
}

/// Runs one client program to the end (10 minutes at most) and reads its result line.
fn run_client_once(mut cmd: Command, log_path: &Path) -> Result<ClientRound> {
    let log =
        File::create(log_path).with_context(|| format!("cannot create {}", log_path.display()))?;
    cmd.stdout(log.try_clone()?).stderr(log);
    println!("    $ {}", util::display_cmd(&cmd));
    let mut child = cmd.spawn().context("cannot start the client program")?;
    let deadline = Instant::now() + Duration::from_secs(600);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("did not finish within 600 s\n{}", log_excerpt(log_path));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = std::fs::read_to_string(log_path).unwrap_or_default();
    match parse_client_output(&out) {
        Ok(round) => Ok(round),
        Err(e) => bail!(
            "{} ({e}): {}\n{}",
            util::describe_status(status),
            last_line(log_path),
            log_excerpt(log_path)
        ),
    }
}

fn run_clients(repo: &Repo, opts: &Options) -> Result<()> {
    let (stamp, iso) = stamps();
    const STEPS: usize = 5;
    println!("[bench 1/{STEPS}] checking taskset");
    if !util::on_path("taskset") {
        bail!("taskset is missing (Debian package util-linux); it pins the programs to CPUs");
    }
    let (client_cpu, target_cpu) = pick_cpus();

    let peers_venv = repo.root.join(PEERS_VENV);
    if opts.clients.iter().any(|c| !c.is_puff()) {
        println!("[bench 2/{STEPS}] peer clients venv {PEERS_VENV} ({PEERS_REQUIREMENTS})");
        ensure_peers(repo, &peers_venv)?;
    } else {
        println!("[bench 2/{STEPS}] peer clients not selected -- skipped {PEERS_VENV}");
    }
    println!("[bench 3/{STEPS}] project virtualenv .venv (needed to build and run Puff)");
    setup::run(repo)?;

    let mut packages = vec!["puff-example-rust-app"];
    if opts.clients.iter().any(|c| c.is_puff()) {
        packages.push("puff-cli");
    }
    if opts.skip_build {
        println!("[bench 4/{STEPS}] cargo build --release -- skipped");
    } else {
        println!(
            "[bench 4/{STEPS}] cargo build --release -p {}",
            packages.join(" -p ")
        );
        let mut cmd = repo.cargo();
        cmd.args(["build", "--release"]);
        for p in &packages {
            cmd.args(["-p", p]);
        }
        util::run(&mut cmd).context("building the release binaries failed")?;
    }
    for p in &packages {
        let path = repo.root.join("target/release").join(p);
        if !path.is_file() {
            bail!("{} does not exist", repo.rel(&path));
        }
    }

    let log_dir = repo.root.join(format!("target/bench-logs/client-{stamp}"));
    std::fs::create_dir_all(&log_dir)
        .with_context(|| format!("cannot create {}", log_dir.display()))?;
    println!(
        "[bench 5/{STEPS}] target puff-example-rust-app on CPU {target_cpu}; {} rounds of {} \
         client(s) on CPU {client_cpu}, each {} GETs ({} untimed first) from {} callers",
        opts.rounds,
        opts.clients.len(),
        opts.requests,
        opts.warmup_requests,
        opts.concurrency
    );
    println!("    logs: {}", repo.rel(&log_dir));

    // The target: Puff's Rust route GET /rust/hello (1 KB), pinned to the other CPU.
    let port = free_port()?;
    let target_log = log_dir.join("target.log");
    let log = File::create(&target_log)
        .with_context(|| format!("cannot create {}", target_log.display()))?;
    let args = vec![
        "runserver".to_string(),
        "--bind".to_string(),
        format!("127.0.0.1:{port}"),
    ];
    let mut cmd = pinned(
        target_cpu,
        &repo.root.join("target/release/puff-example-rust-app"),
        &args,
    );
    cmd.current_dir(repo.root.join("examples/rust_app"))
        .env("PYO3_PYTHON", repo.venv_python())
        .env("PUFF_LOG", "info,puff::access=off")
        .env_remove("PYTHONPATH")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    util::apply_venv_env(&mut cmd, &repo.venv);
    println!("    $ {}", util::display_cmd(&cmd));
    let child = cmd.spawn().context("cannot start puff-example-rust-app")?;
    let mut target = Running {
        child,
        name: "puff-example-rust-app (target)",
    };
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    wait_accepting(&mut target, addr, &target_log)?;
    check_response(addr, "/rust/hello").context("the target answered /rust/hello wrongly")?;
    let url = format!("http://127.0.0.1:{port}/rust/hello");

    let mut results: Vec<ClientResult> = opts
        .clients
        .iter()
        .map(|c| ClientResult {
            client: *c,
            rounds: Vec::new(),
        })
        .collect();
    for round in 1..=opts.rounds {
        for result in results.iter_mut() {
            let client = result.client;
            println!(
                "[round {round}/{}] {} ({})",
                opts.rounds,
                client.name(),
                client.label()
            );
            let cmd = client_command(repo, &peers_venv, client_cpu, client, &url, opts);
            let log_path = log_dir.join(format!("{}-round{round}.log", client.name()));
            let outcome = run_client_once(cmd, &log_path);
            match &outcome {
                Ok(r) => println!(
                    "    {:.0} req/s ({:.3} s), {} errors",
                    r.rps, r.seconds, r.errors
                ),
                Err(e) => println!("    FAILED: {e:#}"),
            }
            result
                .rounds
                .push(outcome.map_err(|e| first_line(&format!("{e:#}"))));
            if let Some(status) = target.child.try_wait()? {
                bail!(
                    "the target server exited ({}): {}\n{}",
                    util::describe_status(status),
                    last_line(&target_log),
                    log_excerpt(&target_log)
                );
            }
        }
    }
    target.stop()?;

    let checks = client_checks(&results);
    let machine = machine_info(repo, &peers_venv, false, &["httpx", "aiohttp", "uvloop"]);
    let md = render_client_markdown(
        &iso, opts, client_cpu, target_cpu, &machine, &results, &checks,
    );
    let json = render_client_json(
        &iso, opts, client_cpu, target_cpu, &machine, &results, &checks,
    );
    println!("\n{md}");
    save_results(repo, Kind::Client, &stamp, &md, &json)?;

    let unmeasured = results.iter().filter(|r| r.median_rps().is_none()).count();
    if unmeasured > 0 {
        bail!(
            "{unmeasured} of {} clients could not be measured (see the table above)",
            results.len()
        );
    }
    Ok(())
}

fn client_checks(results: &[ClientResult]) -> Vec<Check> {
    let median = |c: Client| {
        results
            .iter()
            .find(|r| r.client == c)
            .and_then(ClientResult::median_rps)
    };
    let has = |c: Client| results.iter().any(|r| r.client == c);
    let mut out = Vec::new();
    for (a, b, target) in [
        (Client::PuffGreenlets, Client::Aiohttp, Some(1.5)),
        (Client::PuffCoroutines, Client::Aiohttp, Some(1.5)),
        (Client::Httpx, Client::Aiohttp, None),
        (Client::PuffGreenlets, Client::Httpx, None),
    ] {
        if !has(a) || !has(b) {
            continue;
        }
        let value = match (median(a), median(b)) {
            (Some(x), Some(y)) if y > 0.0 => Some(x / y),
            _ => None,
        };
        out.push(Check {
            case: '-',
            what: format!("{} / {} req/s", a.name(), b.name()),
            value,
            target,
            at_least: true,
            unit: "x",
        });
    }
    out
}

fn tools_line(machine: &Machine) -> String {
    let tools: Vec<String> = machine
        .tools
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    tools.join(", ")
}

fn render_client_markdown(
    iso: &str,
    opts: &Options,
    client_cpu: &str,
    target_cpu: &str,
    machine: &Machine,
    results: &[ClientResult],
    checks: &[Check],
) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Puff HTTP client benchmark, {iso}\n");
    md.push_str(&machine.markdown_lines());
    let _ = writeln!(
        md,
        "- method: target `puff-example-rust-app runserver` (`GET /rust/hello`, a 1 KB body from a \
         Rust route, access log off) pinned to CPU {target_cpu}; each client program pinned to CPU \
         {client_cpu} (all of its threads), a fresh process per run; {} untimed GETs, then {} \
         timed GETs from {} concurrent callers sharing one client (connection pool); every \
         response is checked (200, 1024 bytes); {} rounds with the clients interleaved, the median \
         round counts; {}",
        opts.warmup_requests,
        opts.requests,
        opts.concurrency,
        opts.rounds,
        build_note(opts)
    );
    let _ = writeln!(md, "\n## Results\n");
    let _ = writeln!(
        md,
        "| client | median req/s | req/s per round | errors | note |"
    );
    let _ = writeln!(md, "|---|---:|---|---:|---|");
    for r in results {
        let rounds: Vec<String> = r
            .rounds
            .iter()
            .map(|x| match x {
                Ok(x) => format!("{:.0}", x.rps),
                Err(_) => "failed".into(),
            })
            .collect();
        let note = r
            .first_failure()
            .map(|e| format!("not measured: {}", e.replace('|', "\\|")))
            .unwrap_or_default();
        let median = r.median_rps().map_or("-".into(), |v| format!("{v:.0}"));
        let _ = writeln!(
            md,
            "| {} ({}) | {median} | {} | {} | {note} |",
            r.client.name(),
            r.client.label(),
            rounds.join(", "),
            r.errors()
        );
    }
    checks_markdown(&mut md, checks);
    let _ = writeln!(
        md,
        "\nErrors = requests that raised or did not answer 200 with 1024 bytes (all rounds)."
    );
    md
}

fn render_client_json(
    iso: &str,
    opts: &Options,
    client_cpu: &str,
    target_cpu: &str,
    machine: &Machine,
    results: &[ClientResult],
    checks: &[Check],
) -> String {
    let mut j = json_head(Kind::Client, iso, machine);
    let _ = writeln!(
        j,
        "  \"settings\": {{\"requests\": {}, \"concurrency\": {}, \"warmup_requests\": {}, \
         \"rounds\": {}, \"client_cpu\": {}, \"target_cpu\": {}, \"target\": \
         \"puff-example-rust-app GET /rust/hello\", \"body_bytes\": {BODY_LEN}, \"skip_build\": {}}},",
        opts.requests,
        opts.concurrency,
        opts.warmup_requests,
        opts.rounds,
        json_str(client_cpu),
        json_str(target_cpu),
        opts.skip_build
    );
    let _ = writeln!(j, "  \"machine\": {},", machine.json());
    let _ = writeln!(j, "  \"results\": [");
    for (i, r) in results.iter().enumerate() {
        let rounds: Vec<String> = r
            .rounds
            .iter()
            .map(|x| match x {
                Ok(x) => format!(
                    "{{\"ok\": true, \"requests_per_sec\": {}, \"seconds\": {}, \"errors\": {}}}",
                    json_num(x.rps),
                    json_num(x.seconds),
                    x.errors
                ),
                Err(e) => format!("{{\"ok\": false, \"error\": {}}}", json_str(e)),
            })
            .collect();
        let comma = if i + 1 < results.len() { "," } else { "" };
        let _ = writeln!(
            j,
            "    {{\"client\": {}, \"label\": {}, \"median_requests_per_sec\": {}, \"errors\": {}, \"rounds\": [{}]}}{comma}",
            json_str(r.client.name()),
            json_str(r.client.label()),
            r.median_rps().map_or("null".into(), json_num),
            r.errors(),
            rounds.join(", ")
        );
    }
    let _ = writeln!(j, "  ],");
    checks_json(&mut j, checks, false);
    j
}

// ------------------------------------------------------------------------ bench postgres

/// `bench postgres` cases: id and title.
const PG_CASES: [(char, &str); 3] = [
    (
        'a',
        "fetch: the whole table (6 mixed-type columns) into Python",
    ),
    ('b', "insert: single-row INSERTs with one executemany"),
    (
        'c',
        "small queries: primary-key SELECTs from concurrent callers",
    ),
];

/// Fetches per client run in (a) (after one untimed fetch); the figure is their mean.
const PG_FETCH_REPEAT: u64 = 5;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum PgClient {
    Puff,
    Asyncpg,
    Psycopg2,
}

impl PgClient {
    const ALL: [PgClient; 3] = [PgClient::Puff, PgClient::Asyncpg, PgClient::Psycopg2];
}

impl CaseClient for PgClient {
    fn name(self) -> &'static str {
        match self {
            PgClient::Puff => "puff",
            PgClient::Asyncpg => "asyncpg",
            PgClient::Psycopg2 => "psycopg2",
        }
    }

    fn label(self) -> &'static str {
        match self {
            PgClient::Puff => "puff.postgres, greenlets (puff.spawn) in (c)",
            PgClient::Asyncpg => "asyncpg pool + uvloop, tasks in (c)",
            PgClient::Psycopg2 => "psycopg2, one connection per thread in (c)",
        }
    }

    fn puff_app(self) -> Option<(&'static str, &'static str)> {
        (self == PgClient::Puff).then_some(("puff_pg.toml", "pg"))
    }
}

/// The median of `v` (the mean of the middle two for an even count).
fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// A client program of `bench postgres` / `bench redis`.
trait CaseClient: Copy + PartialEq {
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

/// Every round of one client on one case (`bench postgres`, `bench redis`).
struct CaseResult<C> {
    case: char,
    client: C,
    /// `seconds` of a round: the time of the case's work (one fetch in postgres (a)).
    rounds: Vec<Result<ClientRound, String>>,
}

type PgResult = CaseResult<PgClient>;

impl<C: CaseClient> CaseResult<C> {
    /// The median of `f` over the measured rounds that have it.
    fn median_of(&self, f: impl Fn(&ClientRound) -> Option<f64>) -> Option<f64> {
        median(
            self.rounds
                .iter()
                .filter_map(|r| r.as_ref().ok().and_then(&f))
                .collect(),
        )
    }

    fn median_seconds(&self) -> Option<f64> {
        self.median_of(seconds_of)
    }

    fn errors(&self) -> u64 {
        self.rounds
            .iter()
            .filter_map(|r| r.as_ref().ok().map(|r| r.errors))
            .sum()
    }

    fn first_failure(&self) -> Option<&str> {
        self.rounds
            .iter()
            .find_map(|r| r.as_ref().err().map(String::as_str))
    }

    /// A table's `... per round` cell: `show` of each round, `failed` for a failed one.
    fn rounds_cell(&self, show: impl Fn(&ClientRound) -> String) -> String {
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
    fn note_cell(&self) -> String {
        self.first_failure()
            .map(|e| format!("not measured: {}", e.replace('|', "\\|")))
            .unwrap_or_default()
    }
}

fn seconds_of(r: &ClientRound) -> Option<f64> {
    Some(r.seconds)
}

fn rate_of(r: &ClientRound) -> Option<f64> {
    Some(r.rps)
}

fn p50_of(r: &ClientRound) -> Option<f64> {
    r.p50_ms
}

fn p99_of(r: &ClientRound) -> Option<f64> {
    r.p99_ms
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) if y > 0.0 => Some(x / y),
        _ => None,
    }
}

/// A ratio for a report's table: `1.23x`, or `-`.
fn ratio_cell(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.2}x"))
}

/// Whether `results` has `client` on `case`.
fn has_result<C: CaseClient>(results: &[CaseResult<C>], case: char, client: C) -> bool {
    results.iter().any(|r| r.case == case && r.client == client)
}

/// The median of `f` over the rounds of `client` on `case`.
fn case_median<C: CaseClient>(
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

/// A server helper script run from the peers venv (`bench/apps/pg_bench_server.py`,
/// `bench/apps/redis_bench_server.py`): owns the database server (and the bench's data)
/// until its standard input is closed.
struct HelperProc {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    /// "Postgres", "Redis": for messages.
    what: &'static str,
}

impl HelperProc {
    fn stop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if Instant::now() > deadline => {
                    println!(
                        "    WARNING: the {} helper did not stop within 60 s: killed",
                        self.what
                    );
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// An error when the helper (and so the server) has gone away.
    fn check_alive(&mut self, log_path: &Path) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            self.stdin = None;
            bail!(
                "the {} server helper exited ({}):\n{}",
                self.what,
                util::describe_status(status),
                log_excerpt(log_path)
            );
        }
        Ok(())
    }
}

impl Drop for HelperProc {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            self.stop();
        }
    }
}

/// Starts the server helper `args` (script first) pinned to `cpu` and waits for its
/// `{prefix}_URL=` line; returns the helper, the URL and the server version (the
/// `{prefix}_VERSION=` line).
fn start_helper(
    repo: &Repo,
    peers_venv: &Path,
    cpu: &str,
    args: &[String],
    (prefix, what): (&str, &'static str),
    log_path: &Path,
) -> Result<(HelperProc, String, String)> {
    let log =
        File::create(log_path).with_context(|| format!("cannot create {}", log_path.display()))?;
    let mut cmd = peer_command(peers_venv, cpu, args);
    cmd.env_remove("PYTHONPATH")
        .current_dir(repo.root.join("bench/apps"))
        .stdin(Stdio::piped())
        .stdout(log.try_clone()?)
        .stderr(log);
    println!("    $ {}", util::display_cmd(&cmd));
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start bench/apps/{}", args[0]))?;
    let stdin = child.stdin.take();
    let mut server = HelperProc { child, stdin, what };
    let (url_key, version_key) = (format!("{prefix}_URL="), format!("{prefix}_VERSION="));
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let out = std::fs::read_to_string(log_path).unwrap_or_default();
        if let Some(url) = out
            .lines()
            .find_map(|l| l.trim().strip_prefix(url_key.as_str()))
        {
            let version = out
                .lines()
                .find_map(|l| l.trim().strip_prefix(version_key.as_str()))
                .unwrap_or("unknown")
                .to_string();
            return Ok((server, url.to_string(), version));
        }
        server.check_alive(log_path)?;
        if Instant::now() > deadline {
            server.stop();
            bail!(
                "the {what} server was not ready within 180 s:\n{}",
                log_excerpt(log_path)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `puff-cli args`, pinned to `cpu`, run against the project venv.
fn puff_cli_command(repo: &Repo, cpu: &str, args: &[String]) -> Command {
    let mut cmd = pinned(cpu, &repo.root.join("target/release/puff-cli"), args);
    cmd.env("PYO3_PYTHON", repo.venv_python());
    util::apply_venv_env(&mut cmd, &repo.venv);
    cmd
}

/// `python args` from the peers venv, pinned to `cpu`.
fn peer_command(peers_venv: &Path, cpu: &str, args: &[String]) -> Command {
    let mut cmd = pinned(cpu, &peers_venv.join("bin/python"), args);
    cmd.env_remove("PYO3_PYTHON");
    util::apply_venv_env(&mut cmd, peers_venv);
    cmd
}

/// Step `step` of `bench postgres` / `bench redis`: builds the release puff-cli unless
/// Puff is not selected or --skip-build; an error when the binary is missing afterwards.
fn ensure_puff_cli(repo: &Repo, opts: &Options, with_puff: bool, step: &str) -> Result<()> {
    if !with_puff {
        println!("[bench {step}] puff not selected -- no build");
        return Ok(());
    }
    if opts.skip_build {
        println!("[bench {step}] cargo build --release -p puff-cli -- skipped");
    } else {
        println!("[bench {step}] cargo build --release -p puff-cli");
        util::run(repo.cargo().args(["build", "--release", "-p", "puff-cli"]))
            .context("building puff-cli failed")?;
    }
    let puff_cli = repo.root.join("target/release/puff-cli");
    if !puff_cli.is_file() {
        bail!("{} does not exist", repo.rel(&puff_cli));
    }
    Ok(())
}

/// Runs every client of `results` on its case, `rounds` times (interleaved), one program
/// per run (`command`), logs in `log_dir`; `show` formats a measured round. Stops with an
/// error when the server helper goes away.
fn run_case_rounds<C: CaseClient>(
    rounds: u64,
    results: &mut [CaseResult<C>],
    log_dir: &Path,
    (server, server_log): (&mut HelperProc, &Path),
    command: impl Fn(char, C) -> Command,
    show: impl Fn(&ClientRound) -> String,
) -> Result<()> {
    for round in 1..=rounds {
        for result in results.iter_mut() {
            let (case, client) = (result.case, result.client);
            println!(
                "[round {round}/{rounds}] ({case}) {} ({})",
                client.name(),
                client.label()
            );
            let log_path = log_dir.join(format!("{case}-{}-round{round}.log", client.name()));
            let outcome = run_client_once(command(case, client), &log_path);
            match &outcome {
                Ok(r) => println!("    {}", show(r)),
                Err(e) => println!("    FAILED: {e:#}"),
            }
            result
                .rounds
                .push(outcome.map_err(|e| first_line(&format!("{e:#}"))));
            server.check_alive(server_log)?;
        }
    }
    Ok(())
}

/// An error when some (case, client) has no measured round at all.
fn unmeasured<C: CaseClient>(results: &[CaseResult<C>]) -> Result<()> {
    let n = results
        .iter()
        .filter(|r| r.median_seconds().is_none())
        .count();
    if n > 0 {
        bail!(
            "{n} of {} runs could not be measured (see the table above)",
            results.len()
        );
    }
    Ok(())
}

/// "existing release binaries (--skip-build)" or "release binaries built by this run".
fn build_note(opts: &Options) -> &'static str {
    if opts.skip_build {
        "existing release binaries (--skip-build)"
    } else {
        "release binaries built by this run"
    }
}

/// The `| check | value | target | result |` table of a report.
fn checks_markdown(md: &mut String, checks: &[Check]) {
    let _ = writeln!(md, "\n## Targets\n");
    let _ = writeln!(md, "| check | value | target | result |");
    let _ = writeln!(md, "|---|---:|---|---|");
    for c in checks {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            c.what,
            c.value_str(),
            c.target_str(),
            c.verdict()
        );
    }
}

/// The `"checks": [...]` array of a JSON report (the closing of the object included);
/// `with_case` adds each check's case.
fn checks_json(j: &mut String, checks: &[Check], with_case: bool) {
    let _ = writeln!(j, "  \"checks\": [");
    for (i, c) in checks.iter().enumerate() {
        let comma = if i + 1 < checks.len() { "," } else { "" };
        let case = if with_case {
            format!("\"case\": {}, ", json_str(&c.case.to_string()))
        } else {
            String::new()
        };
        let _ = writeln!(
            j,
            "    {{{case}\"check\": {}, \"value\": {}, \"target\": {}, \"result\": {}}}{comma}",
            json_str(&c.what),
            json_opt(c.value),
            json_str(&c.target_str()),
            json_str(c.verdict())
        );
    }
    let _ = writeln!(j, "  ]");
    let _ = writeln!(j, "}}");
}

/// One round of `bench postgres` / `bench redis` as JSON.
fn round_json(x: &Result<ClientRound, String>) -> String {
    match x {
        Ok(x) => {
            let mut out = format!(
                "{{\"ok\": true, \"seconds\": {}, \"per_second\": {}, \"errors\": {}",
                json_num(x.seconds),
                json_num(x.rps),
                x.errors
            );
            for (k, v) in [("p50_ms", x.p50_ms), ("p99_ms", x.p99_ms)] {
                if let Some(v) = v {
                    let _ = write!(out, ", \"{k}\": {}", json_num(v));
                }
            }
            out + "}"
        }
        Err(e) => format!("{{\"ok\": false, \"error\": {}}}", json_str(e)),
    }
}

/// What `bench postgres` and `bench redis` do differently. The rest is [`run_service`]'s: a
/// helper script from the peers venv runs the server, every selected client program runs
/// every selected case `--rounds` times (interleaved), and the reports share one layout.
trait ServiceBench {
    type Client: CaseClient;
    const KIND: Kind;
    /// "Postgres", "Redis": for messages and the report's title.
    const WHAT: &'static str;
    /// The case ids and titles.
    const CASES: &'static [(char, &'static str)];
    /// The variables naming an external server instead of a private one (read by the helper).
    const EXTERNAL_VARS: [&'static str; 2];
    /// The helper prints `{HELPER_PREFIX}_URL=` and `{HELPER_PREFIX}_VERSION=` lines; the
    /// client programs find the URL in `${HELPER_PREFIX}_URL`.
    const HELPER_PREFIX: &'static str;
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

    /// The selected clients (`--clients`).
    fn clients(opts: &Options) -> &[Self::Client];

    /// The helper script (in bench/apps) and its arguments.
    fn helper_args(opts: &Options) -> Vec<String>;

    /// Step 5's progress line: where the server comes from (`external`: the variable naming
    /// it, if set).
    fn server_line(opts: &Options, external: Option<&str>, server_cpu: &str) -> String;

    /// The environment of a client program running `case`, but for the URL.
    fn client_env(opts: &Options, case: char) -> Vec<(&'static str, String)>;

    /// A measured round, for the progress lines.
    fn show(r: &ClientRound) -> String;

    /// The report's targets.
    fn checks(results: &[CaseResult<Self::Client>]) -> Vec<Check>;

    /// What one client program does in `case`, for the reports.
    fn case_work(opts: &Options, case: char) -> String;

    /// The report's `- method:` line, up to the build note.
    fn method(opts: &Options, cpus: (&str, &str)) -> String;

    /// The Markdown section of `case`: its heading and its table.
    fn case_markdown(
        md: &mut String,
        opts: &Options,
        case: char,
        results: &[CaseResult<Self::Client>],
    );

    /// The JSON report's settings of this kind (those before `rounds`).
    fn settings_json(opts: &Options) -> String;

    /// A JSON result's figures (the fields between `label` and `errors`).
    fn result_json(r: &CaseResult<Self::Client>) -> String;

    /// A last verdict on the results, once the reports are saved.
    fn verdict(_repo: &Repo, _log_dir: &Path, _results: &[CaseResult<Self::Client>]) -> Result<()> {
        Ok(())
    }

    fn case_title(id: char) -> &'static str {
        Self::CASES.iter().find(|c| c.0 == id).map_or("?", |c| c.1)
    }
}

/// `bench postgres`, `bench redis`: see [`ServiceBench`].
fn run_service<B: ServiceBench>(repo: &Repo, opts: &Options) -> Result<()> {
    let (stamp, iso) = stamps();
    const STEPS: usize = 6;
    println!("[bench 1/{STEPS}] checking taskset");
    if !util::on_path("taskset") {
        bail!("taskset is missing (Debian package util-linux); it pins the programs to CPUs");
    }
    let (client_cpu, server_cpu) = pick_cpus();

    // The peers venv also runs the server helper (psycopg2 fills the Postgres tables, redis-py
    // reads the Redis server's version).
    let peers_venv = repo.root.join(PEERS_VENV);
    println!("[bench 2/{STEPS}] peer clients venv {PEERS_VENV} ({PEERS_REQUIREMENTS})");
    ensure_peers(repo, &peers_venv)?;
    let clients = B::clients(opts);
    for side in B::SIDE_VENVS {
        if clients.iter().any(|c| c.venv() == side.dir) {
            ensure_side_venv(repo, side)?;
        }
    }
    println!("[bench 3/{STEPS}] project virtualenv .venv (needed to build and run Puff)");
    setup::run(repo)?;

    let with_puff = clients.iter().any(|c| c.is_puff());
    ensure_puff_cli(repo, opts, with_puff, &format!("4/{STEPS}"))?;

    let kind = B::KIND.name();
    let log_dir = repo.root.join(format!("target/bench-logs/{kind}-{stamp}"));
    std::fs::create_dir_all(&log_dir)
        .with_context(|| format!("cannot create {}", log_dir.display()))?;
    let external = B::EXTERNAL_VARS
        .into_iter()
        .find(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
    println!(
        "[bench 5/{STEPS}] {}",
        B::server_line(opts, external, server_cpu)
    );
    let server_log = log_dir.join(format!("{kind}-server.log"));
    let (mut server, url, version) = start_helper(
        repo,
        &peers_venv,
        server_cpu,
        &B::helper_args(opts),
        (B::HELPER_PREFIX, B::WHAT),
        &server_log,
    )?;
    println!("    server ready: {url} ({version})");

    println!(
        "[bench 6/{STEPS}] {} rounds of {} client(s) x {} case(s), each program on CPU \
         {client_cpu}",
        opts.rounds,
        clients.len(),
        opts.cases.len()
    );
    println!("    logs: {}", repo.rel(&log_dir));
    let mut results: Vec<CaseResult<B::Client>> = Vec::new();
    for case in &opts.cases {
        for client in clients {
            results.push(CaseResult {
                case: *case,
                client: *client,
                rounds: Vec::new(),
            });
        }
    }
    run_case_rounds(
        opts.rounds,
        &mut results,
        &log_dir,
        (&mut server, &server_log),
        |case, client| service_command::<B>(repo, client_cpu, client, case, &url, opts),
        B::show,
    )?;
    server.stop();

    let checks = B::checks(&results);
    let mut machine = machine_info(repo, &peers_venv, false, B::PACKAGES);
    machine.tools.insert(0, (B::SERVER_TOOL.into(), version));
    for side in B::SIDE_VENVS {
        for (name, v) in venv_versions(&repo.root.join(side.dir), side.packages) {
            machine.tools.push((format!("{name} ({})", side.label), v));
        }
    }
    let cpus = (client_cpu, server_cpu);
    let md = render_service_markdown::<B>(&iso, opts, cpus, &machine, &results, &checks);
    let json = render_service_json::<B>(&iso, opts, cpus, &machine, &results, &checks);
    println!("\n{md}");
    save_results(repo, B::KIND, &stamp, &md, &json)?;
    unmeasured(&results)?;
    B::verdict(repo, &log_dir, &results)
}

/// The command line of one client program of `B`.
fn service_command<B: ServiceBench>(
    repo: &Repo,
    cpu: &str,
    client: B::Client,
    case: char,
    url: &str,
    opts: &Options,
) -> Command {
    let apps = repo.root.join("bench/apps");
    let mut cmd = match client.puff_app() {
        Some((config, command)) => {
            let args = vec![
                "--config".to_string(),
                apps.join(config).to_string_lossy().into_owned(),
                B::PUFF_URL_FLAG.to_string(),
                url.to_string(),
                command.to_string(),
            ];
            puff_cli_command(repo, cpu, &args)
        }
        None => {
            let args = vec![B::PEER_SCRIPT.to_string(), client.name().to_string()];
            peer_command(&repo.root.join(client.venv()), cpu, &args)
        }
    };
    cmd.current_dir(apps)
        .env_remove("PYTHONPATH")
        .env(format!("{}_URL", B::HELPER_PREFIX), url)
        .envs(B::client_env(opts, case))
        .stdin(Stdio::null());
    cmd
}

fn render_service_markdown<B: ServiceBench>(
    iso: &str,
    opts: &Options,
    cpus: (&str, &str),
    machine: &Machine,
    results: &[CaseResult<B::Client>],
    checks: &[Check],
) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Puff {} benchmark, {iso}\n", B::WHAT);
    md.push_str(&machine.markdown_lines());
    let _ = writeln!(
        md,
        "- method: {}; {}",
        B::method(opts, cpus),
        build_note(opts)
    );
    let _ = writeln!(
        md,
        "- clients: {}",
        B::clients(opts)
            .iter()
            .map(|c| format!("`{}` ({})", c.name(), c.label()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(md, "\n## Results\n");
    md.push_str(B::RESULTS_INTRO);
    for case in &opts.cases {
        B::case_markdown(&mut md, opts, *case, results);
    }
    checks_markdown(&mut md, checks);
    let _ = writeln!(md, "\n{}", B::NOTES);
    md
}

fn render_service_json<B: ServiceBench>(
    iso: &str,
    opts: &Options,
    (client_cpu, server_cpu): (&str, &str),
    machine: &Machine,
    results: &[CaseResult<B::Client>],
    checks: &[Check],
) -> String {
    let mut j = json_head(B::KIND, iso, machine);
    let _ = writeln!(
        j,
        "  \"settings\": {{{}, \"rounds\": {}, \"client_cpu\": {}, \"server_cpu\": {}, \
         \"skip_build\": {}}},",
        B::settings_json(opts),
        opts.rounds,
        json_str(client_cpu),
        json_str(server_cpu),
        opts.skip_build
    );
    let _ = writeln!(j, "  \"machine\": {},", machine.json());
    let _ = writeln!(j, "  \"results\": [");
    for (i, r) in results.iter().enumerate() {
        let rounds: Vec<String> = r.rounds.iter().map(round_json).collect();
        let comma = if i + 1 < results.len() { "," } else { "" };
        let _ = writeln!(
            j,
            "    {{\"case\": \"{}\", \"title\": {}, \"work\": {}, \"client\": {}, \"label\": {}, {}, \"errors\": {}, \"rounds\": [{}]}}{comma}",
            r.case,
            json_str(B::case_title(r.case)),
            json_str(&B::case_work(opts, r.case)),
            json_str(r.client.name()),
            json_str(r.client.label()),
            B::result_json(r),
            r.errors(),
            rounds.join(", ")
        );
    }
    let _ = writeln!(j, "  ],");
    checks_json(&mut j, checks, true);
    j
}

/// `bench postgres`.
struct PgBench;

impl ServiceBench for PgBench {
    type Client = PgClient;
    const KIND: Kind = Kind::Postgres;
    const WHAT: &'static str = "Postgres";
    const CASES: &'static [(char, &'static str)] = &PG_CASES;
    const EXTERNAL_VARS: [&'static str; 2] = ["PUFF_BENCH_POSTGRES_URL", "PUFF_TEST_POSTGRES_URL"];
    const HELPER_PREFIX: &'static str = "BENCH_PG";
    const PUFF_URL_FLAG: &'static str = "--default-postgres-url";
    const PEER_SCRIPT: &'static str = "peer_pg.py";
    const SERVER_TOOL: &'static str = "postgres";
    const PACKAGES: &'static [&'static str] = &["asyncpg", "psycopg2-binary", "uvloop"];
    const RESULTS_INTRO: &'static str =
        "Times in ms (lower is better); ratios are this client's median time / the peer's.\n";
    const NOTES: &'static str = "Errors = queries that raised or returned wrong rows or types, \
        and inserts missing from the table afterwards (all rounds). Per second = rows fetched \
        (a), rows inserted (b) or queries (c) per second at the median time.";

    fn clients(opts: &Options) -> &[PgClient] {
        &opts.pg_clients
    }

    fn helper_args(opts: &Options) -> Vec<String> {
        vec!["pg_bench_server.py".to_string(), opts.rows.to_string()]
    }

    fn server_line(opts: &Options, external: Option<&str>, server_cpu: &str) -> String {
        match external {
            Some(var) => format!(
                "Postgres from ${var}: creating and filling the tables ({} rows)",
                opts.rows
            ),
            None => format!(
                "private Postgres server (initdb/pg_ctl) on CPU {server_cpu}, tables filled with \
                 {} rows",
                opts.rows
            ),
        }
    }

    fn client_env(opts: &Options, case: char) -> Vec<(&'static str, String)> {
        vec![
            ("BENCH_CASE", case.to_string()),
            ("BENCH_ROWS", opts.rows.to_string()),
            ("BENCH_INSERTS", opts.inserts.to_string()),
            ("BENCH_QUERIES", opts.queries.to_string()),
            ("BENCH_CONCURRENCY", opts.concurrency.to_string()),
            ("BENCH_REPEAT", PG_FETCH_REPEAT.to_string()),
        ]
    }

    fn show(r: &ClientRound) -> String {
        format!(
            "{:.1} ms ({:.0}/s), {} errors",
            r.seconds * 1000.0,
            r.rps,
            r.errors
        )
    }

    /// Targets: Puff's time <= 1.0x asyncpg's in (a) and (c) (shown for (b) too), and below
    /// psycopg2's in every case.
    fn checks(results: &[PgResult]) -> Vec<Check> {
        let mut out = Vec::new();
        for (case, _) in PG_CASES {
            for (peer, target) in [
                (
                    PgClient::Asyncpg,
                    if case == 'b' { None } else { Some(1.0) },
                ),
                (PgClient::Psycopg2, Some(1.0)),
            ] {
                if !has_result(results, case, PgClient::Puff) || !has_result(results, case, peer) {
                    continue;
                }
                out.push(Check {
                    case,
                    what: format!("({case}) puff time / {} time", peer.name()),
                    value: ratio(
                        case_median(results, case, PgClient::Puff, seconds_of),
                        case_median(results, case, peer, seconds_of),
                    ),
                    target,
                    at_least: false,
                    unit: "x",
                });
            }
        }
        out
    }

    fn case_work(opts: &Options, case: char) -> String {
        match case {
            'a' => format!(
                "fetch {} rows x 6 columns (int8, text, float8, bool, timestamptz, numeric); mean \
                 of {PG_FETCH_REPEAT} fetches",
                opts.rows
            ),
            'b' => format!(
                "{} single-row INSERTs, one executemany + commit",
                opts.inserts
            ),
            _ => format!(
                "{} primary-key SELECTs from {} concurrent callers",
                opts.queries, opts.concurrency
            ),
        }
    }

    fn method(opts: &Options, (client_cpu, server_cpu): (&str, &str)) -> String {
        format!(
            "one Postgres server for the whole run (fsync off, loopback TCP) pinned to CPU \
             {server_cpu}; each client program pinned to CPU {client_cpu} (all of its threads), \
             a fresh process per run that times itself after an untimed warm-up; the same SQL \
             for every client (`bench/apps/pg_common.py`); {} rounds with the clients \
             interleaved, the median round counts",
            opts.rounds
        )
    }

    fn case_markdown(md: &mut String, opts: &Options, case: char, results: &[PgResult]) {
        let _ = writeln!(
            md,
            "\n### ({case}) {}\n\n{}\n",
            Self::case_title(case),
            Self::case_work(opts, case)
        );
        let _ = writeln!(
            md,
            "| client | median ms | ms per round | per second | vs asyncpg | vs psycopg2 | errors | note |"
        );
        let _ = writeln!(md, "|---|---:|---|---:|---:|---:|---:|---|");
        let ops = match case {
            'a' => opts.rows,
            'b' => opts.inserts,
            _ => opts.queries,
        };
        for r in results.iter().filter(|r| r.case == case) {
            let med = r.median_seconds();
            let vs = |peer| ratio_cell(ratio(med, case_median(results, case, peer, seconds_of)));
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                r.client.name(),
                med.map_or("-".into(), |v| format!("{:.1}", v * 1000.0)),
                r.rounds_cell(|x| format!("{:.1}", x.seconds * 1000.0)),
                med.map_or("-".into(), |v| thousands((ops as f64 / v) as u64)),
                vs(PgClient::Asyncpg),
                vs(PgClient::Psycopg2),
                r.errors(),
                r.note_cell()
            );
        }
    }

    fn settings_json(opts: &Options) -> String {
        format!(
            "\"rows\": {}, \"inserts\": {}, \"queries\": {}, \"concurrency\": {}, \
             \"fetch_repeat\": {PG_FETCH_REPEAT}",
            opts.rows, opts.inserts, opts.queries, opts.concurrency
        )
    }

    fn result_json(r: &PgResult) -> String {
        format!("\"median_seconds\": {}", json_opt(r.median_seconds()))
    }
}

// ------------------------------------------------------------------------ bench redis

/// `bench redis` cases: id and title.
const REDIS_CASES: [(char, &str); 3] = [
    (
        'a',
        "GET/SET: alternating SET k v / GET k from concurrent callers",
    ),
    ('b', "pub/sub fan-out: one message in flight"),
    ('c', "pub/sub bursts: a burst of messages in flight"),
];

/// A program of `bench redis`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum RedisClient {
    PuffGreenlets,
    PuffCoroutines,
    RedisPy,
}

impl RedisClient {
    const ALL: [RedisClient; 3] = [
        RedisClient::PuffGreenlets,
        RedisClient::PuffCoroutines,
        RedisClient::RedisPy,
    ];
}

impl CaseClient for RedisClient {
    fn name(self) -> &'static str {
        match self {
            RedisClient::PuffGreenlets => "puff-greenlets",
            RedisClient::PuffCoroutines => "puff-coroutines",
            RedisClient::RedisPy => "redis-py",
        }
    }

    fn label(self) -> &'static str {
        match self {
            RedisClient::PuffGreenlets => "puff.redis / puff.pubsub, greenlets (puff.spawn)",
            RedisClient::PuffCoroutines => "puff.redis / puff.pubsub, coroutines (asyncio = true)",
            RedisClient::RedisPy => "redis.asyncio + hiredis + uvloop",
        }
    }

    fn puff_app(self) -> Option<(&'static str, &'static str)> {
        match self {
            RedisClient::PuffGreenlets => Some(("puff_redis.toml", "redis")),
            RedisClient::PuffCoroutines => Some(("puff_redis_asyncio.toml", "redis_coroutines")),
            RedisClient::RedisPy => None,
        }
    }
}

type RedisResult = CaseResult<RedisClient>;

/// Messages published per burst in `case` ((b) one, (c) --burst).
fn redis_burst(opts: &Options, case: char) -> u64 {
    if case == 'b' { 1 } else { opts.burst }
}

/// `bench redis`.
struct RedisBench;

impl ServiceBench for RedisBench {
    type Client = RedisClient;
    const KIND: Kind = Kind::Redis;
    const WHAT: &'static str = "Redis";
    const CASES: &'static [(char, &'static str)] = &REDIS_CASES;
    const EXTERNAL_VARS: [&'static str; 2] = ["PUFF_BENCH_REDIS_URL", "PUFF_TEST_REDIS_URL"];
    const HELPER_PREFIX: &'static str = "BENCH_REDIS";
    const PUFF_URL_FLAG: &'static str = "--default-redis-url";
    const PEER_SCRIPT: &'static str = "peer_redis.py";
    const SERVER_TOOL: &'static str = "redis-server";
    const PACKAGES: &'static [&'static str] = &["redis", "hiredis", "uvloop"];
    const RESULTS_INTRO: &'static str = "";
    const NOTES: &'static str = "Errors = commands that raised or returned a wrong reply, and \
        messages missing, out of order or late beyond 30 s (all rounds). Ratios are Puff / \
        redis-py for rates and redis-py / Puff for latencies (higher is better for Puff).";

    fn clients(opts: &Options) -> &[RedisClient] {
        &opts.redis_clients
    }

    fn helper_args(_opts: &Options) -> Vec<String> {
        vec!["redis_bench_server.py".to_string()]
    }

    fn server_line(_opts: &Options, external: Option<&str>, server_cpu: &str) -> String {
        match external {
            Some(var) => format!("Redis from ${var}"),
            None => {
                format!("private redis-server (--save \"\" --appendonly no) on CPU {server_cpu}")
            }
        }
    }

    fn client_env(opts: &Options, case: char) -> Vec<(&'static str, String)> {
        vec![
            (
                "BENCH_CASE",
                if case == 'a' { "a" } else { "b" }.to_string(),
            ),
            ("BENCH_OPS", opts.ops.to_string()),
            ("BENCH_CONCURRENCY", opts.concurrency.to_string()),
            ("BENCH_WARMUP", opts.warmup_requests.to_string()),
            ("BENCH_MESSAGES", opts.messages.to_string()),
            ("BENCH_SUBSCRIBERS", opts.subscribers.to_string()),
            ("BENCH_BURST", redis_burst(opts, case).to_string()),
        ]
    }

    fn show(r: &ClientRound) -> String {
        match (r.p50_ms, r.p99_ms) {
            (Some(p50), Some(p99)) => format!(
                "{:.0} deliveries/s ({:.3} s), p50 {p50:.2} ms, p99 {p99:.2} ms, {} errors",
                r.rps, r.seconds, r.errors
            ),
            _ => format!(
                "{:.0} ops/s ({:.3} s), {} errors",
                r.rps, r.seconds, r.errors
            ),
        }
    }

    /// Targets, for both Puff variants against redis-py: >= 2x ops/s in (a); in (b) and (c)
    /// >= 2x deliveries/s and a p99 latency at most half of redis-py's (p50 for information).
    fn checks(results: &[RedisResult]) -> Vec<Check> {
        use RedisClient::RedisPy;
        let mut out = Vec::new();
        for (case, _) in REDIS_CASES {
            for puff in [RedisClient::PuffGreenlets, RedisClient::PuffCoroutines] {
                if !has_result(results, case, puff) || !has_result(results, case, RedisPy) {
                    continue;
                }
                let m = |c, f| case_median(results, case, c, f);
                let unit = if case == 'a' { "ops/s" } else { "deliveries/s" };
                let mut push = |what: String, value, target| {
                    out.push(Check {
                        case,
                        what,
                        value,
                        target,
                        at_least: true,
                        unit: "x",
                    });
                };
                push(
                    format!("({case}) {} / redis-py {unit}", puff.name()),
                    ratio(m(puff, rate_of), m(RedisPy, rate_of)),
                    Some(2.0),
                );
                if case != 'a' {
                    for (q, f, target) in [
                        ("p99", p99_of as fn(&_) -> _, Some(2.0)),
                        ("p50", p50_of, None),
                    ] {
                        push(
                            format!("({case}) redis-py {q} / {} {q} latency", puff.name()),
                            ratio(m(RedisPy, f), m(puff, f)),
                            target,
                        );
                    }
                }
            }
        }
        out
    }

    fn case_work(opts: &Options, case: char) -> String {
        match case {
            'a' => format!(
                "{} commands (SET k v / GET k pairs, 100-byte values, every GET checked) from {} \
                 concurrent callers, after {} untimed ones",
                opts.ops, opts.concurrency, opts.warmup_requests
            ),
            _ => format!(
                "1 publisher, {} subscribers on one channel, {} timed messages ({} deliveries) \
                 {}, the next once every subscriber has received the previous one; latency = \
                 publish (perf_counter_ns in the body) to receipt in the subscriber",
                opts.subscribers,
                opts.messages,
                opts.messages * opts.subscribers,
                match redis_burst(opts, case) {
                    1 => "one at a time".to_string(),
                    n => format!("in bursts of {n} published back to back"),
                }
            ),
        }
    }

    fn method(opts: &Options, (client_cpu, server_cpu): (&str, &str)) -> String {
        format!(
            "one redis-server for the whole run (no persistence, loopback TCP) pinned to CPU \
             {server_cpu}; each client program pinned to CPU {client_cpu} (all of its threads), \
             a fresh process per run that times itself and checks every reply / every delivery; \
             {} rounds with the clients interleaved, the median round counts (latencies: the \
             median of the rounds' percentiles)",
            opts.rounds
        )
    }

    fn case_markdown(md: &mut String, opts: &Options, case: char, results: &[RedisResult]) {
        let pubsub = case != 'a';
        let _ = writeln!(
            md,
            "### ({case}) {}\n\n{}\n",
            Self::case_title(case),
            Self::case_work(opts, case)
        );
        let unit = if pubsub { "deliveries/s" } else { "ops/s" };
        let (lat_head, lat_sep) = if pubsub {
            (
                " p50 ms | p99 ms | p99: redis-py / this |",
                "---:|---:|---:|",
            )
        } else {
            ("", "")
        };
        let _ = writeln!(
            md,
            "| client | median {unit} | {unit} per round | vs redis-py |{lat_head} errors | note |"
        );
        let _ = writeln!(md, "|---|---:|---|---:|{lat_sep}---:|---|");
        let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.2}"));
        for r in results.iter().filter(|r| r.case == case) {
            let m = |c, f| case_median(results, case, c, f);
            let rate = r.median_of(rate_of);
            let lat = if pubsub {
                let p99 = r.median_of(p99_of);
                format!(
                    " {} | {} | {} |",
                    ms(r.median_of(p50_of)),
                    ms(p99),
                    ratio_cell(ratio(m(RedisClient::RedisPy, p99_of), p99))
                )
            } else {
                String::new()
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |{lat} {} | {} |",
                r.client.name(),
                rate.map_or("-".into(), |v| thousands(v.round() as u64)),
                r.rounds_cell(|x| thousands(x.rps.round() as u64)),
                ratio_cell(ratio(rate, m(RedisClient::RedisPy, rate_of))),
                r.errors(),
                r.note_cell()
            );
        }
        md.push('\n');
    }

    fn settings_json(opts: &Options) -> String {
        format!(
            "\"ops\": {}, \"concurrency\": {}, \"warmup_ops\": {}, \"messages\": {}, \
             \"subscribers\": {}, \"burst\": {}",
            opts.ops,
            opts.concurrency,
            opts.warmup_requests,
            opts.messages,
            opts.subscribers,
            opts.burst
        )
    }

    fn result_json(r: &RedisResult) -> String {
        format!(
            "\"median_per_second\": {}, \"median_p50_ms\": {}, \"median_p99_ms\": {}",
            json_opt(r.median_of(rate_of)),
            json_opt(r.median_of(p50_of)),
            json_opt(r.median_of(p99_of))
        )
    }

    /// A wrong reply or a lost message makes the figures meaningless: fail the command.
    fn verdict(repo: &Repo, log_dir: &Path, results: &[RedisResult]) -> Result<()> {
        let wrong = results.iter().filter(|r| r.errors() > 0).count();
        if wrong > 0 {
            bail!(
                "{wrong} of {} client/case pairs reported wrong replies or missing messages (the \
                 errors column above; details in {})",
                results.len(),
                repo.rel(log_dir)
            );
        }
        Ok(())
    }
}

// ------------------------------------------------------------------------ bench tasks

/// `bench tasks` cases: id and title.
const TASKS_CASES: [(char, &str); 1] = [(
    'a',
    "no-op tasks end to end on one node: schedule to result",
)];

/// A program of `bench tasks`: a client and a worker on one node.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TasksClient {
    PuffGreenlets,
    PuffCoroutines,
    Arq,
    Celery,
}

impl TasksClient {
    const ALL: [TasksClient; 4] = [
        TasksClient::PuffGreenlets,
        TasksClient::PuffCoroutines,
        TasksClient::Arq,
        TasksClient::Celery,
    ];
    const PUFF: [TasksClient; 2] = [TasksClient::PuffGreenlets, TasksClient::PuffCoroutines];
}

impl CaseClient for TasksClient {
    fn name(self) -> &'static str {
        match self {
            TasksClient::PuffGreenlets => "puff-greenlets",
            TasksClient::PuffCoroutines => "puff-coroutines",
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
            TasksClient::PuffGreenlets => Some(("puff_tasks.toml", "tasks")),
            TasksClient::PuffCoroutines => Some(("puff_tasks_asyncio.toml", "tasks_coroutines")),
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

/// `bench tasks`.
struct TasksBench;

impl ServiceBench for TasksBench {
    type Client = TasksClient;
    const KIND: Kind = Kind::Tasks;
    const WHAT: &'static str = "task queue";
    const CASES: &'static [(char, &'static str)] = &TASKS_CASES;
    const EXTERNAL_VARS: [&'static str; 2] = ["PUFF_BENCH_REDIS_URL", "PUFF_TEST_REDIS_URL"];
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
        Programs and settings: `bench/apps/puff_tasks.py`, `bench/apps/peer_tasks.py`, \
        `bench/apps/tasks_common.py`.";

    fn clients(opts: &Options) -> &[TasksClient] {
        &opts.tasks_clients
    }

    fn helper_args(_opts: &Options) -> Vec<String> {
        vec!["redis_bench_server.py".to_string()]
    }

    fn server_line(opts: &Options, external: Option<&str>, server_cpu: &str) -> String {
        RedisBench::server_line(opts, external, server_cpu)
    }

    fn client_env(opts: &Options, _case: char) -> Vec<(&'static str, String)> {
        vec![
            ("BENCH_TASKS", opts.tasks.to_string()),
            ("BENCH_CONCURRENCY", opts.concurrency.to_string()),
            ("BENCH_WARMUP", opts.warmup_requests.to_string()),
        ]
    }

    fn show(r: &ClientRound) -> String {
        format!(
            "{:.0} tasks/s ({:.3} s), {} errors",
            r.rps, r.seconds, r.errors
        )
    }

    /// Targets, for both Puff variants: >= 3x arq's tasks/s; Puff / Celery for information.
    fn checks(results: &[TasksResult]) -> Vec<Check> {
        let mut out = Vec::new();
        for (case, _) in TASKS_CASES {
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
        }
        out
    }

    fn case_work(opts: &Options, _case: char) -> String {
        format!(
            "{} no-op tasks (`noop({{\"i\": i}})` returns i; every result checked) from {} \
             concurrent callers, each scheduling its share and then waiting for each of its \
             results; time from the first schedule to the last result; after {} untimed tasks \
             with the same callers",
            opts.tasks, opts.concurrency, opts.warmup_requests
        )
    }

    fn method(opts: &Options, (client_cpu, server_cpu): (&str, &str)) -> String {
        format!(
            "one redis-server for the whole run (no persistence, loopback TCP) pinned to CPU \
             {server_cpu}, the broker and result store of every program; each program, client \
             and worker (one node: one puff-cli process for Puff, a client process and one \
             worker child process for arq and Celery), pinned to CPU {client_cpu} (all of their \
             threads), a fresh program per run that times itself; {} rounds with the programs \
             interleaved, the median round counts",
            opts.rounds
        )
    }

    fn case_markdown(md: &mut String, opts: &Options, case: char, results: &[TasksResult]) {
        let _ = writeln!(
            md,
            "### ({case}) {}\n\n{}\n",
            Self::case_title(case),
            Self::case_work(opts, case)
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

    fn settings_json(opts: &Options) -> String {
        format!(
            "\"tasks\": {}, \"concurrency\": {}, \"warmup_tasks\": {}",
            opts.tasks, opts.concurrency, opts.warmup_requests
        )
    }

    fn result_json(r: &TasksResult) -> String {
        format!(
            "\"median_per_second\": {}, \"median_seconds\": {}",
            json_opt(r.median_of(rate_of)),
            json_opt(r.median_seconds())
        )
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
    use super::*;

    const WRK: &str = "Running 10s test @ http://127.0.0.1:8000/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.11ms  301.12us   9.66ms   93.75%
    Req/Sec    30.41k     1.12k   32.03k    81.00%
  Latency Distribution
     50%  812.00us
     75%    2.15ms
     90%    2.28ms
     99%    1.02s
  302577 requests in 10.00s, 330.96MB read
  Socket errors: connect 0, read 2, write 1, timeout 4
  Non-2xx or 3xx responses: 5
Requests/sec:  30256.44
Transfer/sec:     33.09MB
";

    #[test]
    fn parses_wrk_output() {
        let m = parse_wrk(WRK).unwrap();
        assert!((m.rps - 30256.44).abs() < 1e-6);
        assert!((m.p50_ms - 0.812).abs() < 1e-9);
        assert!((m.p99_ms - 1020.0).abs() < 1e-9);
        assert_eq!(m.requests, 302_577);
        assert_eq!(m.socket_errors, 7);
        assert_eq!(m.non_2xx, 5);
    }

    #[test]
    fn rejects_incomplete_wrk_output() {
        assert!(parse_wrk("Running 10s test\n").is_err());
    }

    #[test]
    fn checks_compute_ratios_and_verdicts() {
        let case = |id| *HTTP_CASES.iter().find(|c| c.id == id).unwrap();
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
        let cs = checks(Kind::Http, &results);
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
        let cs = checks(Kind::Http, &slow);
        assert_eq!(cs[0].verdict(), "MISS"); // 1x < 2x
        assert_eq!(cs[1].verdict(), "info"); // puff/gevent has no target
        assert_eq!(cs[1].target_str(), "-");
    }

    #[test]
    fn parses_args() {
        let args: Vec<String> = [
            "http",
            "--duration",
            "3",
            "--cases",
            "a,d",
            "--servers",
            "axum",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let o = parse(&args).unwrap().unwrap();
        assert_eq!(o.duration, 3);
        assert_eq!(o.cases, vec!['a', 'd']);
        assert_eq!(o.servers, vec![Server::Axum]);
        assert!(parse(&["tcp".to_string()]).is_err());
        assert!(parse(&["--cases".to_string(), "z".to_string()]).is_err());
    }

    #[test]
    fn the_median_round_counts_and_keeps_every_round() {
        let m = |rps: f64| {
            Ok(Measurement {
                rps,
                ..Default::default()
            })
        };
        let median = median_round(vec![m(3.0), m(1.0), m(2.0)]).unwrap();
        assert_eq!(median.rps, 2.0);
        assert_eq!(median.round_rps, vec![3.0, 1.0, 2.0]);
        assert_eq!(median_round(vec![m(4.0), m(1.0)]).unwrap().rps, 1.0);
        assert!(median_round(vec![m(1.0), Err("down".into())]).is_err());
    }

    #[test]
    fn parses_asgi_and_client_args() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let o = parse(&args(&["asgi", "--duration", "3"])).unwrap().unwrap();
        assert_eq!(o.kind, Kind::Asgi);
        assert_eq!(o.rounds, 3);
        let one = parse(&args(&["asgi", "--rounds", "1"])).unwrap().unwrap();
        assert_eq!(one.rounds, 1);
        assert_eq!(o.cases, vec!['a', 'b']);
        assert_eq!(
            o.servers,
            vec![Server::Puff, Server::Granian, Server::Uvicorn]
        );
        assert!(parse(&args(&["asgi", "--cases", "c"])).is_err());
        assert!(parse(&args(&["asgi", "--servers", "gevent"])).is_err());
        assert!(parse(&args(&["http", "--servers", "uvicorn"])).is_err());
        let o = parse(&args(&[
            "client",
            "--requests",
            "500",
            "--rounds",
            "1",
            "--clients",
            "aiohttp,puff-greenlets",
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(o.kind, Kind::Client);
        assert_eq!((o.requests, o.rounds, o.concurrency), (500, 1, 64));
        assert_eq!(o.clients, vec![Client::Aiohttp, Client::PuffGreenlets]);
        assert!(parse(&args(&["client", "--duration", "3"])).is_err());
        assert!(parse(&args(&["http", "--requests", "3"])).is_err());
        assert!(parse(&args(&["client", "--clients", "curl"])).is_err());
    }

    #[test]
    fn asgi_checks() {
        let case = |id| *ASGI_CASES.iter().find(|c| c.id == id).unwrap();
        let ok = |rps: f64| {
            Ok(Measurement {
                rps,
                p99_ms: 21.0,
                requests: 1,
                ..Default::default()
            })
        };
        let results = vec![
            RunResult {
                case: case('b'),
                server: Server::Puff,
                outcome: ok(12000.0),
            },
            RunResult {
                case: case('b'),
                server: Server::Granian,
                outcome: ok(11000.0),
            },
            RunResult {
                case: case('b'),
                server: Server::Uvicorn,
                outcome: ok(12500.0),
            },
        ];
        let cs = checks(Kind::Asgi, &results);
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
    }

    #[test]
    fn parses_client_output_and_medians() {
        let out = "puff (greenlets): ...\nBENCH_RESULT requests=10000 errors=2 seconds=1.250000 rps=8000.000\n";
        let r = parse_client_output(out).unwrap();
        assert!((r.rps - 8000.0).abs() < 1e-9);
        assert!((r.seconds - 1.25).abs() < 1e-9);
        assert_eq!(r.errors, 2);
        assert!(parse_client_output("Traceback ...\n").is_err());
        assert!(parse_client_output("BENCH_RESULT errors=0\n").is_err());
        let round = |rps| {
            Ok(ClientRound {
                rps,
                seconds: 1.0,
                errors: 1,
                ..Default::default()
            })
        };
        let puff = ClientResult {
            client: Client::PuffGreenlets,
            rounds: vec![
                round(9000.0),
                Err("x".into()),
                round(15000.0),
                round(12000.0),
            ],
        };
        assert_eq!(puff.median_rps(), Some(12000.0));
        assert_eq!(puff.errors(), 3);
        assert_eq!(puff.first_failure(), Some("x"));
        let aio = ClientResult {
            client: Client::Aiohttp,
            rounds: vec![round(7000.0), round(9000.0)],
        };
        assert_eq!(aio.median_rps(), Some(8000.0));
        let cs = client_checks(&[puff, aio]);
        assert_eq!(cs.len(), 1);
        assert_eq!(cs[0].value_str(), "1.50x");
        assert_eq!(cs[0].verdict(), "PASS");
        assert_eq!(thousands(12_800), "12,800");
        assert_eq!(thousands(512), "512");
    }

    #[test]
    fn parses_postgres_args() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let o = parse(&args(&["postgres"])).unwrap().unwrap();
        assert_eq!(o.kind, Kind::Postgres);
        assert_eq!(o.cases, vec!['a', 'b', 'c']);
        assert_eq!(o.pg_clients, PgClient::ALL.to_vec());
        assert_eq!((o.rounds, o.concurrency), (5, 50));
        assert_eq!((o.rows, o.inserts, o.queries), (10_000, 10_000, 5_000));
        let o = parse(&args(&[
            "postgres",
            "--cases",
            "c,a",
            "--clients",
            "psycopg2,puff",
            "--rounds",
            "1",
            "--queries",
            "500",
            "--concurrency",
            "8",
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(o.cases, vec!['c', 'a']);
        assert_eq!(o.pg_clients, vec![PgClient::Psycopg2, PgClient::Puff]);
        assert_eq!((o.rounds, o.queries, o.concurrency), (1, 500, 8));
        assert!(parse(&args(&["postgres", "--cases", "d"])).is_err());
        assert!(parse(&args(&["postgres", "--clients", "httpx"])).is_err());
        assert!(parse(&args(&["postgres", "--duration", "3"])).is_err());
        assert!(parse(&args(&["postgres", "--requests", "3"])).is_err());
        assert!(parse(&args(&["client", "--rows", "3"])).is_err());
        assert!(parse(&args(&["client", "--clients", "asyncpg"])).is_err());
    }

    #[test]
    fn postgres_checks_and_medians() {
        let round = |seconds: f64| {
            Ok(ClientRound {
                rps: 1.0 / seconds,
                seconds,
                errors: 0,
                ..Default::default()
            })
        };
        let r = |case, client, secs: &[f64]| PgResult {
            case,
            client,
            rounds: secs.iter().map(|s| round(*s)).collect(),
        };
        let mut results = vec![
            r('a', PgClient::Puff, &[0.012, 0.010, 0.011]),
            r('a', PgClient::Asyncpg, &[0.010, 0.010]),
            r('a', PgClient::Psycopg2, &[0.020]),
            r('b', PgClient::Puff, &[0.2]),
            r('b', PgClient::Asyncpg, &[0.1]),
            r('b', PgClient::Psycopg2, &[1.0]),
        ];
        results.push(PgResult {
            case: 'c',
            client: PgClient::Puff,
            rounds: vec![Err("boom".into())],
        });
        results.push(r('c', PgClient::Asyncpg, &[0.5]));
        assert_eq!(results[0].median_seconds(), Some(0.011));
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(Vec::new()), None);
        let checks = PgBench::checks(&results);
        let verdicts: Vec<(char, &str, &str)> = checks
            .iter()
            .map(|c| (c.case, c.what.as_str(), c.verdict()))
            .collect();
        assert_eq!(
            verdicts,
            vec![
                ('a', "(a) puff time / asyncpg time", "MISS"),
                ('a', "(a) puff time / psycopg2 time", "PASS"),
                ('b', "(b) puff time / asyncpg time", "info"),
                ('b', "(b) puff time / psycopg2 time", "PASS"),
                ('c', "(c) puff time / asyncpg time", "n/a"),
            ]
        );
        assert!((checks[0].value.unwrap() - 1.1).abs() < 1e-9);
        assert_eq!(results[6].first_failure(), Some("boom"));
    }

    #[test]
    fn parses_redis_args_and_checks() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let o = parse(&args(&["redis"])).unwrap().unwrap();
        assert_eq!(o.kind, Kind::Redis);
        assert_eq!(o.cases, vec!['a', 'b', 'c']);
        assert_eq!(o.redis_clients, RedisClient::ALL.to_vec());
        assert_eq!((o.rounds, o.concurrency, o.ops), (3, 100, 100_000));
        assert_eq!((o.messages, o.subscribers, o.burst), (2_000, 100, 20));
        let o = parse(&args(&[
            "redis",
            "--cases",
            "b",
            "--clients",
            "redis-py,puff-greenlets",
            "--burst",
            "5",
            "--ops",
            "1000",
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(o.cases, vec!['b']);
        assert_eq!(
            o.redis_clients,
            vec![RedisClient::RedisPy, RedisClient::PuffGreenlets]
        );
        assert_eq!((o.burst, o.ops, redis_burst(&o, 'b')), (5, 1000, 1));
        assert!(parse(&args(&["redis", "--cases", "d"])).is_err());
        assert!(parse(&args(&["redis", "--clients", "asyncpg"])).is_err());
        assert!(parse(&args(&["redis", "--rows", "3"])).is_err());
        assert!(parse(&args(&["postgres", "--burst", "3"])).is_err());

        let parsed = parse_client_output(
            "BENCH_RESULT requests=200 errors=0 seconds=0.5 rps=400 p50_ms=0.25 p99_ms=2.5\n",
        )
        .unwrap();
        assert_eq!((parsed.p50_ms, parsed.p99_ms), (Some(0.25), Some(2.5)));
        let round = |rps: f64, p99: Option<f64>| {
            Ok(ClientRound {
                rps,
                seconds: 1.0,
                p50_ms: p99.map(|v| v / 4.0),
                p99_ms: p99,
                ..Default::default()
            })
        };
        let r = |case, client, rounds| RedisResult {
            case,
            client,
            rounds,
        };
        let results = vec![
            r('a', RedisClient::PuffGreenlets, vec![round(50_000.0, None)]),
            r('a', RedisClient::RedisPy, vec![round(20_000.0, None)]),
            r(
                'b',
                RedisClient::PuffGreenlets,
                vec![round(150_000.0, Some(2.0))],
            ),
            r('b', RedisClient::RedisPy, vec![round(30_000.0, Some(3.0))]),
        ];
        let checks = RedisBench::checks(&results);
        let got: Vec<(&str, String, &str)> = checks
            .iter()
            .map(|c| (c.what.as_str(), c.value_str(), c.verdict()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "(a) puff-greenlets / redis-py ops/s",
                    "2.50x".into(),
                    "PASS"
                ),
                (
                    "(b) puff-greenlets / redis-py deliveries/s",
                    "5.00x".into(),
                    "PASS"
                ),
                (
                    "(b) redis-py p99 / puff-greenlets p99 latency",
                    "1.50x".into(),
                    "MISS"
                ),
                (
                    "(b) redis-py p50 / puff-greenlets p50 latency",
                    "1.50x".into(),
                    "info"
                ),
            ]
        );
    }

    #[test]
    fn parses_tasks_args_and_checks() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let o = parse(&args(&["tasks"])).unwrap().unwrap();
        assert_eq!(o.kind, Kind::Tasks);
        assert_eq!(o.cases, vec!['a']);
        assert_eq!(o.tasks_clients, TasksClient::ALL.to_vec());
        assert_eq!((o.rounds, o.concurrency, o.tasks), (3, 64, 10_000));
        assert_eq!(o.warmup_requests, 1_000);
        let o = parse(&args(&[
            "tasks",
            "--clients",
            "celery,puff-greenlets",
            "--tasks",
            "500",
            "--rounds",
            "1",
            "--warmup-requests",
            "0",
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(
            o.tasks_clients,
            vec![TasksClient::Celery, TasksClient::PuffGreenlets]
        );
        assert_eq!((o.tasks, o.rounds, o.warmup_requests), (500, 1, 0));
        assert!(parse(&args(&["tasks", "--cases", "b"])).is_err());
        assert!(parse(&args(&["tasks", "--clients", "redis-py"])).is_err());
        assert!(parse(&args(&["tasks", "--ops", "3"])).is_err());
        assert!(parse(&args(&["redis", "--tasks", "3"])).is_err());
        assert_eq!(TasksClient::Arq.venv(), "bench/.venv-peers/arq-venv");
        assert_eq!(TasksClient::Celery.venv(), PEERS_VENV);

        let round = |rps: f64| {
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
        ];
        let checks = TasksBench::checks(&results);
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
            ]
        );
    }

    #[test]
    fn parses_graphql_args_and_checks() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let o = parse(&args(&["graphql"])).unwrap().unwrap();
        assert_eq!(o.kind, Kind::Graphql);
        assert_eq!(o.cases, vec!['a', 'b']);
        assert_eq!(o.servers, vec![Server::Puff, Server::Strawberry]);
        assert_eq!((o.rounds, o.duration, o.warmup), (3, 10, 2));
        let o = parse(&args(&[
            "graphql",
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
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(o.servers, vec![Server::Strawberry]);
        assert_eq!(o.cases, vec!['b']);
        assert_eq!((o.rounds, o.duration, o.warmup), (1, 3, 1));
        assert!(parse(&args(&["graphql", "--servers", "uvicorn"])).is_err());
        assert!(parse(&args(&["graphql", "--cases", "c"])).is_err());
        assert!(parse(&args(&["graphql", "--clients", "puff"])).is_err());
        assert!(parse(&args(&["asgi", "--servers", "strawberry"])).is_err());

        let case = |id| *GRAPHQL_CASES.iter().find(|c| c.id == id).unwrap();
        assert_eq!(Server::Puff.label(&case('a')), "puff (puff-cli, GraphQL)");
        assert_eq!(Server::Puff.label(&ASGI_CASES[0]), "puff (puff-cli, ASGI)");
        let ok = |rps: f64| {
            Ok(Measurement {
                rps,
                requests: 1,
                ..Default::default()
            })
        };
        let results = vec![
            RunResult {
                case: case('a'),
                server: Server::Puff,
                outcome: ok(12_000.0),
            },
            RunResult {
                case: case('a'),
                server: Server::Strawberry,
                outcome: ok(600.0),
            },
            RunResult {
                case: case('b'),
                server: Server::Puff,
                outcome: Err("target/release/puff-cli does not exist".into()),
            },
            RunResult {
                case: case('b'),
                server: Server::Strawberry,
                outcome: ok(30.0),
            },
        ];
        let got: Vec<(char, String, String, &str)> = checks(Kind::Graphql, &results)
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

        let script = wrk_post_script("/graphql", case('b').graphql.unwrap());
        assert!(script.contains("wrk.method = \"POST\"\n"));
        assert!(script.contains("wrk.headers[\"Content-Type\"] = \"application/json\"\n"));
        assert!(script.contains(
            "wrk.body = [==[{\"query\": \"{ parents { id name children { id name } } }\"}]==]\n"
        ));
        assert_eq!(
            (wrk_timeout(Kind::Graphql), wrk_timeout(Kind::Http)),
            ("60s", "10s")
        );
    }

    #[test]
    fn json_escapes() {
        assert_eq!(json_str("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
    }

    mod report_fixtures {
        //! The reports of fixed results, compared with xtask/testdata/reports (made by these
        //! renderers): a change to a report's text or JSON shows up here.
        use super::super::*;

        fn repo() -> Repo {
            Repo {
                root: PathBuf::from("/repo"),
                venv: PathBuf::from("/repo/.venv"),
            }
        }

        pub(crate) fn machine() -> Machine {
            Machine {
                cpu: "AMD EPYC \"quoted\"".into(),
                loadavg: "1.00 2.00 3.00".into(),
                cpus: 2,
                kernel: "Linux 6.1".into(),
                python: "Python 3.11.7".into(),
                tools: vec![
                    ("wrk".into(), "wrk 4.1.0".into()),
                    ("granian".into(), "2.8.7".into()),
                ],
                git: "abc1234".into(),
            }
        }

        fn args(v: &[&str]) -> Options {
            parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap()
                .unwrap()
        }

        fn ok(rps: f64, p50: f64, p99: f64, rounds: &[f64]) -> Result<Measurement, String> {
            Ok(Measurement {
                rps,
                p50_ms: p50,
                p99_ms: p99,
                requests: (rps * 3.0) as u64,
                socket_errors: 2,
                non_2xx: 1,
                round_rps: rounds.to_vec(),
            })
        }

        fn write(name: &str, text: &str) {
            let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("testdata/reports")
                .join(name);
            let expected = std::fs::read_to_string(&path).unwrap();
            assert_eq!(text, expected, "{name} differs from {}", path.display());
        }

        fn server_bench(name: &str, argv: &[&str], cases: &[Case], pg: bool) {
            let opts = args(argv);
            let repo = repo();
            let env = Env {
                repo: &repo,
                peers_venv: PathBuf::from("/repo/bench/.venv-peers"),
                log_dir: PathBuf::from("/repo/target/bench-logs/x"),
                server_cpu: "0",
                load_cpu: "1",
                unavailable: vec![],
                pg_url: pg.then(|| "postgres://u@127.0.0.1:5/db".to_string()),
            };
            let mut results = Vec::new();
            let mut n = 0.0;
            for case in cases {
                for server in case.servers {
                    n += 1.0;
                    let outcome = if n == 3.0 {
                        Err("cargo build --release -p x failed: \"bad\" | pipe\tTab".to_string())
                    } else if n == 2.0 {
                        ok(55.5 + n, 1.23456, 99.9999, &[])
                    } else {
                        ok(
                            12345.6789 * n,
                            0.8124,
                            20.0 + n,
                            &[12000.0 * n, 12345.6789 * n, 13000.1234],
                        )
                    };
                    results.push(RunResult {
                        case: *case,
                        server: *server,
                        outcome,
                    });
                }
            }
            let checks = checks(opts.kind, &results);
            let m = machine();
            write(
                &format!("{name}.md"),
                &render_markdown("2026-01-02T03:04:05Z", &opts, &env, &m, &results, &checks),
            );
            write(
                &format!("{name}.json"),
                &render_json("2026-01-02T03:04:05Z", &opts, &env, &m, &results, &checks),
            );
        }

        #[test]
        fn reports_match_the_fixtures() {
            server_bench("http", &["http"], &HTTP_CASES, false);
            server_bench(
                "http-skip",
                &[
                    "http",
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
                ],
                &HTTP_CASES[3..],
                false,
            );
            server_bench("asgi", &["asgi"], &ASGI_CASES, false);
            server_bench("graphql", &["graphql"], &GRAPHQL_CASES, true);
            server_bench("django", &["django"], &django::CASES, true);

            // client
            let opts = args(&["client"]);
            let round = |rps: f64, e: u64| {
                Ok(ClientRound {
                    rps,
                    seconds: 10000.0 / rps,
                    errors: e,
                    p50_ms: None,
                    p99_ms: None,
                })
            };
            let results = vec![
                ClientResult {
                    client: Client::PuffGreenlets,
                    rounds: vec![round(19955.78, 0), round(20100.1234, 1), round(18000.0, 0)],
                },
                ClientResult {
                    client: Client::PuffCoroutines,
                    rounds: vec![
                        round(15000.0, 0),
                        Err("exit code 1 (no BENCH_RESULT): \"x\"".into()),
                        round(16000.0, 0),
                    ],
                },
                ClientResult {
                    client: Client::Httpx,
                    rounds: vec![Err("boom | pipe".into())],
                },
                ClientResult {
                    client: Client::Aiohttp,
                    rounds: vec![round(9000.0, 0), round(9500.5, 0)],
                },
            ];
            let checks = client_checks(&results);
            let m = machine();
            write(
                "client.md",
                &render_client_markdown(
                    "2026-01-02T03:04:05Z",
                    &opts,
                    "0",
                    "1",
                    &m,
                    &results,
                    &checks,
                ),
            );
            write(
                "client.json",
                &render_client_json(
                    "2026-01-02T03:04:05Z",
                    &opts,
                    "0",
                    "1",
                    &m,
                    &results,
                    &checks,
                ),
            );

            // services
            let sround = |secs: f64, e: u64, lat: Option<f64>| {
                Ok(ClientRound {
                    rps: 1000.0 / secs,
                    seconds: secs,
                    errors: e,
                    p50_ms: lat.map(|v| v / 3.0),
                    p99_ms: lat,
                })
            };
            let pg_opts = args(&["postgres", "--skip-build"]);
            let mut pg = Vec::new();
            for case in ['a', 'b', 'c'] {
                for (i, c) in PgClient::ALL.iter().enumerate() {
                    let rounds = if case == 'c' && i == 1 {
                        vec![Err("boom".into()), Err("again".into())]
                    } else {
                        vec![
                            sround(0.0123 * (i + 1) as f64, 0, None),
                            sround(0.0111, 1, None),
                            sround(0.02, 0, None),
                        ]
                    };
                    pg.push(CaseResult {
                        case,
                        client: *c,
                        rounds,
                    });
                }
            }
            let checks = PgBench::checks(&pg);
            write(
                "postgres.md",
                &render_service_markdown::<PgBench>(
                    "2026-01-02T03:04:05Z",
                    &pg_opts,
                    ("0", "1"),
                    &m,
                    &pg,
                    &checks,
                ),
            );
            write(
                "postgres.json",
                &render_service_json::<PgBench>(
                    "2026-01-02T03:04:05Z",
                    &pg_opts,
                    ("0", "1"),
                    &m,
                    &pg,
                    &checks,
                ),
            );

            let r_opts = args(&["redis"]);
            let mut rs = Vec::new();
            for case in ['a', 'b', 'c'] {
                for (i, c) in RedisClient::ALL.iter().enumerate() {
                    let lat = (case != 'a').then_some(2.5 * (i + 1) as f64);
                    let rounds = if case == 'b' && i == 2 {
                        vec![sround(0.5, 0, lat), Err("lost".into())]
                    } else {
                        vec![
                            sround(0.3 / (i + 1) as f64, 0, lat),
                            sround(0.25, 0, lat.map(|v| v + 1.0)),
                        ]
                    };
                    rs.push(CaseResult {
                        case,
                        client: *c,
                        rounds,
                    });
                }
            }
            let checks = RedisBench::checks(&rs);
            write(
                "redis.md",
                &render_service_markdown::<RedisBench>(
                    "2026-01-02T03:04:05Z",
                    &r_opts,
                    ("0", "1"),
                    &m,
                    &rs,
                    &checks,
                ),
            );
            write(
                "redis.json",
                &render_service_json::<RedisBench>(
                    "2026-01-02T03:04:05Z",
                    &r_opts,
                    ("0", "1"),
                    &m,
                    &rs,
                    &checks,
                ),
            );

            let t_opts = args(&["tasks", "--tasks", "500"]);
            let mut ts = Vec::new();
            for (i, c) in TasksClient::ALL.iter().enumerate() {
                ts.push(CaseResult {
                    case: 'a',
                    client: *c,
                    rounds: vec![
                        sround(0.5 * (i + 1) as f64, i as u64, None),
                        sround(0.7, 0, None),
                    ],
                });
            }
            let checks = TasksBench::checks(&ts);
            write(
                "tasks.md",
                &render_service_markdown::<TasksBench>(
                    "2026-01-02T03:04:05Z",
                    &t_opts,
                    ("0", "1"),
                    &m,
                    &ts,
                    &checks,
                ),
            );
            write(
                "tasks.json",
                &render_service_json::<TasksBench>(
                    "2026-01-02T03:04:05Z",
                    &t_opts,
                    ("0", "1"),
                    &m,
                    &ts,
                    &checks,
                ),
            );

            write("django-instructions.md", &django::golden_instructions(&m));
        }
    }
}
