//! `cargo xtask bench django`: the polls example's `GET /polls/bench/` (three ORM queries, a
//! JSON answer; `examples/django_polls/polls/views.py`) served by Puff (`django = true`: the
//! stock postgresql engine on Puff's pool through its psycopg2 shim), gunicorn+gevent (the real
//! psycopg2, made cooperative by psycogreen) and granian (WSGI, blocking threads, the real
//! psycopg2), with the same Django settings (`bench/apps/django_bench_settings.py`) on the
//! same private Postgres database. The machinery is `bench http`'s and `bench graphql`'s
//! (`run_servers`); this module holds what differs.

use std::fmt::Write as _;
use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use super::{
    Case, Check, Env, Machine, Options, PEERS_REQUIREMENTS, PEERS_VENV, RunResult, Running, Server,
    check_script, ensure_debian_tool, ensure_peers, ensure_puff_cli, find, first_line, free_port,
    last_line, machine_info, pick_cpus, pinned, server_command, stamps, start_helper,
    wait_accepting,
};
use crate::setup;
use crate::util::{self, Repo};

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

/// `bench django --instructions`: requests the load client sends to each server before the
/// counters are zeroed, and those that are counted.
const WARMUP_REQUESTS: u64 = 200;
const COUNTED_REQUESTS: u64 = 600;
/// The two loop lengths of `django_alone.py`: their difference is what is counted.
const ALONE_RUNS: (u64, u64) = (100, 600);

/// The report's label for Django alone.
const ALONE_LABEL: &str = "Django alone (WSGI app in a loop, no server; psycopg2)";

/// One row of the instruction-count report.
struct Instructions {
    /// None: Django alone.
    server: Option<Server>,
    /// User-space instructions per request, or why there is no figure.
    per_request: Result<f64, String>,
}

/// `cargo xtask bench django --instructions`: user-space instructions per request, counted
/// by valgrind's callgrind, for Django alone (`bench/apps/django_alone.py`: the WSGI app
/// called in a loop, no server) and for each server under the same load as the req/s runs
/// (64 connections) but an exact number of requests (`bench/apps/django_load.py`). Unlike
/// req/s on a shared VM these figures hardly move from run to run, and next to Django alone
/// they show how much of a request is Django's own work, whatever serves it. The kernel's
/// share (syscalls, context switches) is not counted.
pub(super) fn run_instructions(repo: &Repo, opts: &Options) -> Result<()> {
    let (stamp, iso) = stamps();
    println!("[bench 1/5] checking valgrind (callgrind) and taskset");
    ensure_debian_tool("valgrind", "valgrind")?;
    if !util::on_path("taskset") {
        bail!("taskset is missing (Debian package util-linux); it pins servers to CPUs");
    }
    let (server_cpu, load_cpu) = pick_cpus();
    let peers_venv = repo.root.join(PEERS_VENV);
    println!("[bench 2/5] peer servers venv {PEERS_VENV} ({PEERS_REQUIREMENTS})");
    ensure_peers(repo, &peers_venv)?;
    let with_puff = opts.servers.contains(&Server::Puff);
    if with_puff {
        println!("[bench 3/5] project virtualenv .venv (needed to build and run Puff)");
        setup::run(repo)?;
    }
    ensure_puff_cli(repo, opts, with_puff, "4/5")?;
    let mut env = Env {
        repo,
        peers_venv,
        log_dir: repo
            .root
            .join(format!("target/bench-logs/django-instructions-{stamp}")),
        server_cpu,
        load_cpu,
        unavailable: Vec::new(),
        pg_url: None,
    };
    std::fs::create_dir_all(&env.log_dir)
        .with_context(|| format!("cannot create {}", env.log_dir.display()))?;
    println!("[bench 5/5] Postgres on CPU {load_cpu} with {DATA}; then callgrind runs");
    let pg_log = env.log_dir.join("postgres-server.log");
    let (mut helper, url, version) = start_helper(
        repo,
        &env.peers_venv,
        load_cpu,
        &[HELPER.to_string()],
        (HELPER_PREFIX, "Postgres"),
        &pg_log,
    )?;
    println!("    server ready: {url} ({version})");
    env.pg_url = Some(url);
    println!(
        "    server logs and callgrind files: {}",
        repo.rel(&env.log_dir)
    );

    let mut rows = vec![Instructions {
        server: None,
        per_request: count_alone(&env).map_err(failure),
    }];
    for server in opts.servers.iter().copied() {
        println!("[callgrind] {}", server.label(&CASES[0]));
        let per_request = count_server(&env, server).map_err(failure);
        rows.push(Instructions {
            server: Some(server),
            per_request,
        });
        helper.check_alive(&pg_log)?;
    }
    helper.stop();

    let mut machine = machine_info(repo, &env.peers_venv, false, &PACKAGES);
    machine.tools.insert(0, ("postgres".into(), version));
    if let Ok(v) = util::capture(Command::new("valgrind").arg("--version")) {
        machine.tools.insert(0, ("valgrind".into(), first_line(&v)));
    }
    let md = render_instructions(&iso, &machine, &rows);
    println!("\n{md}");
    let out_dir = repo.root.join("bench/results");
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let md_path = out_dir.join(format!("django-instructions-{stamp}.md"));
    std::fs::write(&md_path, &md).with_context(|| format!("cannot write {}", md_path.display()))?;
    println!("[bench] saved {}", repo.rel(&md_path));
    let failed = rows.iter().filter(|r| r.per_request.is_err()).count();
    if failed > 0 {
        bail!("{failed} of {} rows could not be counted", rows.len());
    }
    Ok(())
}

/// Prints why a row could not be counted; its first line goes in the report.
fn failure(e: anyhow::Error) -> String {
    println!("    FAILED: {e:#}");
    let text = format!("{e:#}");
    text.lines().next().unwrap_or_default().to_string()
}

/// valgrind's arguments for a callgrind run writing `<log_dir>/<name>.<pid>[.<part>]`.
fn callgrind_args(env: &Env, name: &str) -> Vec<String> {
    let out = env.log_dir.join(format!("{name}.%p"));
    [
        "--tool=callgrind",
        "--trace-children=yes",
        "--dump-instr=no",
        "--collect-jumps=no",
        "--fair-sched=yes",
    ]
    .into_iter()
    .map(String::from)
    .chain([format!("--callgrind-out-file={}", out.display())])
    .collect()
}

/// The instructions (`summary:` / `totals:` line) of every callgrind file in the log dir
/// whose name `wanted` accepts (`what` names them in the error when there is none).
fn callgrind_total(env: &Env, what: &str, wanted: impl Fn(&str) -> bool) -> Result<u64> {
    let mut total = 0;
    let mut files = 0;
    for entry in std::fs::read_dir(&env.log_dir)? {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if !wanted(&name) {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        total += parse_callgrind_total(&text)
            .with_context(|| format!("{} has no summary line", path.display()))?;
        files += 1;
    }
    if files == 0 {
        bail!(
            "callgrind wrote no {what} file in {}",
            env.log_dir.display()
        );
    }
    Ok(total)
}

/// The instruction count of a callgrind output file.
fn parse_callgrind_total(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Django alone: `django_alone.py` under callgrind at the two loop lengths of ALONE_RUNS.
fn count_alone(env: &Env) -> Result<f64> {
    let mut totals = Vec::new();
    for n in [ALONE_RUNS.0, ALONE_RUNS.1] {
        let name = format!("alone-{n}");
        let mut args = callgrind_args(env, &name);
        args.push(
            env.peers_venv
                .join("bin/python")
                .to_string_lossy()
                .into_owned(),
        );
        args.extend(["django_alone.py".to_string(), n.to_string()]);
        let mut cmd = pinned(env.server_cpu, Path::new("valgrind"), &args);
        util::apply_venv_env(&mut cmd, &env.peers_venv);
        cmd.current_dir(env.repo.root.join("bench/apps"))
            .env_remove("PYO3_PYTHON")
            .env_remove("PYTHONPATH")
            .env("BENCH_PG_URL", env.pg_url.clone().unwrap_or_default())
            .env("DJANGO_SETTINGS_MODULE", "django_bench_settings")
            .stdin(Stdio::null());
        println!("    $ {}", util::display_cmd(&cmd));
        // Not `{name}.log`: the callgrind files are the ones named `{name}.<pid>`.
        let log = env.log_dir.join(format!("{name}-output.log"));
        let out = cmd.output().context("cannot run valgrind")?;
        std::fs::write(&log, [out.stdout.as_slice(), &out.stderr].concat())?;
        if !out.status.success() {
            bail!(
                "django_alone.py {n} failed ({}): {}",
                util::describe_status(out.status),
                last_line(&log)
            );
        }
        let prefix = format!("{name}.");
        totals.push(callgrind_total(env, &format!("{prefix}*"), |f| {
            f.starts_with(&prefix)
        })?);
    }
    let per = totals[1].saturating_sub(totals[0]) as f64 / (ALONE_RUNS.1 - ALONE_RUNS.0) as f64;
    println!("    {:.2} M instructions per request", per / 1e6);
    Ok(per)
}

/// One server under callgrind: checked answer, WARMUP_REQUESTS, counters zeroed,
/// COUNTED_REQUESTS, counters dumped; the dumped instructions over the requests.
fn count_server(env: &Env, server: Server) -> Result<f64> {
    let case = &CASES[0];
    let port = free_port()?;
    let name = format!("cg-{}", server.name());
    let log_path = env.log_dir.join(format!("{name}.log"));
    let log =
        File::create(&log_path).with_context(|| format!("cannot create {}", log_path.display()))?;
    let mut cmd = server_command(env, case, server, port, &{
        let mut w = vec!["valgrind".to_string()];
        w.extend(callgrind_args(env, &name));
        w
    });
    cmd.stdout(log.try_clone()?).stderr(log);
    println!("    $ {}", util::display_cmd(&cmd));
    let label = server.label(case);
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot start {label} under valgrind"))?;
    let mut running = Running { child, name: label };
    wait_accepting(&mut running, ([127, 0, 0, 1], port).into(), &log_path)?;
    let url = format!("http://127.0.0.1:{port}{}", case.path);
    check_script(env, &check_args(env, &url))?;
    let load = |n: u64| -> Result<()> {
        let args = [
            "django_load.py".to_string(),
            url.clone(),
            n.to_string(),
            case.connections.to_string(),
        ];
        check_script(env, &args).with_context(|| format!("{label}: the load of {n} failed"))
    };
    load(WARMUP_REQUESTS)?;
    util::run(
        Command::new("callgrind_control")
            .arg("-z")
            .stdout(Stdio::null()),
    )
    .context("callgrind_control -z failed")?;
    load(COUNTED_REQUESTS)?;
    util::run(
        Command::new("callgrind_control")
            .arg("-d")
            .stdout(Stdio::null()),
    )
    .context("callgrind_control -d failed")?;
    running.stop()?;
    // The dumps are the files with a part number (`.1`); those without are the exit dumps.
    let prefix = format!("{name}.");
    let total = callgrind_total(env, &format!("{prefix}*.1"), |f| {
        f.starts_with(&prefix) && f.ends_with(".1")
    })?;
    let per = total as f64 / COUNTED_REQUESTS as f64;
    println!("    {:.2} M instructions per request", per / 1e6);
    Ok(per)
}

/// The report: each row's instructions per request, against Django alone and against Puff.
fn render_instructions(iso: &str, machine: &Machine, rows: &[Instructions]) -> String {
    let figure = |server: Option<Server>| {
        rows.iter()
            .find(|r| r.server == server)
            .and_then(|r| r.per_request.clone().ok())
    };
    let (alone, puff) = (figure(None), figure(Some(Server::Puff)));
    let mut md = format!("# Puff Django benchmark: instructions per request, {iso}\n\n");
    md.push_str(&machine.markdown_lines());
    let _ = writeln!(
        md,
        "- method: valgrind's callgrind counts the user-space instructions of each server \
         process (and its children) while `bench/apps/django_load.py` sends {COUNTED_REQUESTS} \
         `GET /polls/bench/` on {} keep-alive connections, every answer checked, after \
         {WARMUP_REQUESTS} not counted; Django alone is `bench/apps/django_alone.py` (the WSGI \
         app called in a loop, no server) at {} and {} requests, the difference counted. \
         Kernel time (syscalls, context switches) is not counted. Same app, settings and \
         database as `cargo xtask bench django`.\n",
        CASES[0].connections, ALONE_RUNS.0, ALONE_RUNS.1
    );
    md.push_str(
        "| what runs | M instructions / request | / Django alone | peer / puff |\n\
         |---|---:|---:|---:|\n",
    );
    for r in rows {
        let label = r.server.map_or(ALONE_LABEL, |s| s.label(&CASES[0]));
        match &r.per_request {
            Ok(v) => {
                let vs_alone = alone.map_or("-".into(), |a| format!("{:.2}x", v / a));
                let vs_puff = match (puff, r.server) {
                    (Some(p), Some(s)) if s != Server::Puff => format!("{:.2}x", v / p),
                    _ => "-".into(),
                };
                let _ = writeln!(md, "| {label} | {:.2} | {vs_alone} | {vs_puff} |", v / 1e6);
            }
            Err(e) => {
                let _ = writeln!(md, "| {label} | not counted: {e} | - | - |");
            }
        }
    }
    md.push_str(
        "\nDjango alone is the stock app with no server: a server's figure over it is what \
         the server and its driver add per request, less what they take off Django's own work \
         (Puff keeps Django's context-local state in a lockless `ContextLocal`). For one \
         server to serve 1.5x another's requests on the same CPU it must spend a third less \
         per request; here the instructions of every server are close to Django alone's.\n",
    );
    md
}

/// The instructions report of fixed rows (`report_fixtures`).
#[cfg(test)]
pub(super) fn golden_instructions(m: &Machine) -> String {
    let rows = vec![
        Instructions {
            server: None,
            per_request: Ok(4_930_000.0),
        },
        Instructions {
            server: Some(Server::Puff),
            per_request: Ok(4_880_123.0),
        },
        Instructions {
            server: Some(Server::Gevent),
            per_request: Err("valgrind failed".into()),
        },
        Instructions {
            server: Some(Server::Granian),
            per_request: Ok(4_980_000.0),
        },
    ];
    render_instructions("2026-01-02T03:04:05Z", m, &rows)
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
    fn instructions_mode_is_for_django_and_reads_callgrind_totals() {
        let o = parse(&["django", "--instructions"].map(String::from))
            .unwrap()
            .unwrap();
        assert!(o.instructions);
        assert!(parse(&["http", "--instructions"].map(String::from)).is_err());
        let dump = "version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nsummary: 4446796401\n";
        assert_eq!(parse_callgrind_total(dump), Some(4_446_796_401));
        assert_eq!(
            parse_callgrind_total("events: Ir\ntotals: 12 3\n"),
            Some(12)
        );
        assert_eq!(parse_callgrind_total("events: Ir\n"), None);
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
