//! `cargo xtask bench django --instructions`: user-space instructions per request under
//! valgrind's callgrind, for Django alone (the polls example's WSGI app in a loop, no server)
//! and for each server of `bench django` on an exact number of requests; steadier than req/s
//! on a shared machine. Writes `bench/results/django-instructions-<stamp>.md`.

use std::fmt::Write as _;
use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use super::django::{CASES, DATABASE, Django, PACKAGES, check_args};
use super::harness::answers::check_script;
use super::harness::machine::{Machine, machine_info};
use super::harness::peers::{PEERS_REQUIREMENTS, PEERS_VENV, ensure_peers};
use super::harness::process::{
    Running, first_line, free_port, last_line, pick_cpus, pinned, require_taskset, wait_accepting,
};
use super::harness::report::stamps;
use super::harness::server::Server;
use super::harness::server_bench::{Case, Env, PgData, RunOpts, ServerBench};
use super::harness::server_runs::server_command;
use super::harness::tools::ensure_puff_cli;
use crate::command;
use crate::repo::{self, Repo};
use crate::setup;
use crate::system::ensure_debian_tool;

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
    /// The case whose view and load ran (`CASES`).
    case: char,
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
pub fn run(repo: &Repo, opts: &RunOpts) -> Result<()> {
    let (stamp, iso) = stamps();
    println!("[bench 1/5] checking valgrind (callgrind) and taskset");
    ensure_debian_tool("valgrind", "valgrind")?;
    require_taskset("servers")?;
    let (server_cpu, load_cpu) = pick_cpus();
    let peers_venv = repo.root.join(PEERS_VENV);
    println!("[bench 2/5] peer servers venv {PEERS_VENV} ({PEERS_REQUIREMENTS})");
    ensure_peers(repo, &peers_venv)?;
    let with_puff = opts.servers.contains(&Server::Puff);
    if with_puff {
        println!("[bench 3/5] project virtualenv .venv (needed to build and run Puff)");
        setup::run(repo)?;
    }
    ensure_puff_cli(repo, opts.skip_build, with_puff, "4/5")?;
    let mut env = Env::new(
        repo,
        peers_venv,
        &format!("django-instructions-{stamp}"),
        (server_cpu, load_cpu),
    )?;
    println!(
        "[bench 5/5] Postgres on CPU {load_cpu} with {}; then callgrind runs",
        DATABASE.data
    );
    let (mut helper, version) = DATABASE.start(&mut env, load_cpu)?;
    let pg_log = env.log_dir.join(PgData::LOG);
    println!(
        "    server logs and callgrind files: {}",
        repo.rel(&env.log_dir)
    );

    let mut rows = Vec::new();
    for case in CASES.iter().filter(|c| opts.cases.contains(&c.id)) {
        println!("[callgrind] ({}) Django alone", case.id);
        rows.push(Instructions {
            case: case.id,
            server: None,
            per_request: count_alone(&env, case).map_err(failure),
        });
        for server in opts.servers.iter().copied() {
            println!("[callgrind] ({}) {}", case.id, Django::label(server));
            let per_request = count_server(&env, case, server).map_err(failure);
            rows.push(Instructions {
                case: case.id,
                server: Some(server),
                per_request,
            });
            helper.check_alive(&pg_log)?;
        }
    }
    helper.stop();

    let mut machine = machine_info(repo, &env.peers_venv, false, &PACKAGES);
    machine.tools.insert(0, ("postgres".into(), version));
    if let Ok(v) = command::capture(Command::new("valgrind").arg("--version")) {
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

/// Django alone: `django_alone.py` under callgrind at the two loop lengths of ALONE_RUNS,
/// calling `case`'s view.
fn count_alone(env: &Env, case: &Case) -> Result<f64> {
    let mut totals = Vec::new();
    for n in [ALONE_RUNS.0, ALONE_RUNS.1] {
        let name = format!("alone-{}-{n}", case.id);
        let mut args = callgrind_args(env, &name);
        args.push(
            env.peers_venv
                .join("bin/python")
                .to_string_lossy()
                .into_owned(),
        );
        args.extend([
            "django_alone.py".to_string(),
            n.to_string(),
            case.path.to_string(),
        ]);
        let mut cmd = pinned(env.server_cpu, Path::new("valgrind"), &args);
        repo::apply_venv_env(&mut cmd, &env.peers_venv);
        cmd.current_dir(env.repo.root.join("bench/apps"))
            .env_remove("PYO3_PYTHON")
            .env_remove("PYTHONPATH")
            .env("BENCH_PG_URL", env.pg_url.clone().unwrap_or_default())
            .env("DJANGO_SETTINGS_MODULE", "django_bench_settings")
            .stdin(Stdio::null());
        println!("    $ {}", command::display_cmd(&cmd));
        // Not `{name}.log`: the callgrind files are the ones named `{name}.<pid>`.
        let log = env.log_dir.join(format!("{name}-output.log"));
        let out = cmd.output().context("cannot run valgrind")?;
        std::fs::write(&log, [out.stdout.as_slice(), &out.stderr].concat())?;
        if !out.status.success() {
            bail!(
                "django_alone.py {n} failed ({}): {}",
                command::describe_status(out.status),
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
fn count_server(env: &Env, case: &Case, server: Server) -> Result<f64> {
    let port = free_port()?;
    let name = format!("cg-{}-{}", case.id, server.name());
    let log_path = env.log_dir.join(format!("{name}.log"));
    let log =
        File::create(&log_path).with_context(|| format!("cannot create {}", log_path.display()))?;
    let mut cmd = server_command::<Django>(env, case, server, port, &{
        let mut w = vec!["valgrind".to_string()];
        w.extend(callgrind_args(env, &name));
        w
    });
    cmd.stdout(log.try_clone()?).stderr(log);
    println!("    $ {}", command::display_cmd(&cmd));
    let label = Django::label(server);
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot start {label} under valgrind"))?;
    let mut running = Running { child, name: label };
    wait_accepting(&mut running, ([127, 0, 0, 1], port).into(), &log_path)?;
    let url = format!("http://127.0.0.1:{port}{}", case.path);
    check_script(
        env.repo,
        &env.peers_venv,
        env.load_cpu,
        &check_args(env, &url),
    )?;
    let load = |n: u64| -> Result<()> {
        let args = [
            "django_load.py".to_string(),
            url.clone(),
            n.to_string(),
            case.connections.to_string(),
        ];
        check_script(env.repo, &env.peers_venv, env.load_cpu, &args)
            .with_context(|| format!("{label}: the load of {n} failed"))
    };
    load(WARMUP_REQUESTS)?;
    command::run(
        Command::new("callgrind_control")
            .arg("-z")
            .stdout(Stdio::null()),
    )
    .context("callgrind_control -z failed")?;
    load(COUNTED_REQUESTS)?;
    command::run(
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
    let figure = |case: char, server: Option<Server>| {
        rows.iter()
            .find(|r| r.case == case && r.server == server)
            .and_then(|r| r.per_request.clone().ok())
    };
    let mut md = format!("# Puff Django benchmark: instructions per request, {iso}\n\n");
    md.push_str(&machine.markdown_lines());
    let _ = writeln!(
        md,
        "- method: valgrind's callgrind counts the user-space instructions of each server \
         process (and its children) while `bench/apps/django_load.py` sends {COUNTED_REQUESTS} \
         requests of the case (a: `GET {}` on {} keep-alive connections; b: `GET {}` on {}), \
         every answer checked, after {WARMUP_REQUESTS} not counted, each server configured as \
         in that case of `cargo xtask bench django`; Django alone is \
         `bench/apps/django_alone.py` (the WSGI app called in a loop, no server, on the case's \
         view) at {} and {} requests, the difference counted. Kernel time (syscalls, context \
         switches) is not counted. Same app, settings and database as `cargo xtask bench \
         django`.\n",
        CASES[0].path,
        CASES[0].connections,
        CASES[1].path,
        CASES[1].connections,
        ALONE_RUNS.0,
        ALONE_RUNS.1
    );
    md.push_str(
        "| case | what runs | M instructions / request | / Django alone | peer / puff |\n\
         |---|---|---:|---:|---:|\n",
    );
    for r in rows {
        let (alone, puff) = (figure(r.case, None), figure(r.case, Some(Server::Puff)));
        let label = r.server.map_or(ALONE_LABEL, Django::label);
        let case = r.case;
        match &r.per_request {
            Ok(v) => {
                let vs_alone = alone.map_or("-".into(), |a| format!("{:.2}x", v / a));
                let vs_puff = match (puff, r.server) {
                    (Some(p), Some(s)) if s != Server::Puff => format!("{:.2}x", v / p),
                    _ => "-".into(),
                };
                let _ = writeln!(
                    md,
                    "| ({case}) | {label} | {:.2} | {vs_alone} | {vs_puff} |",
                    v / 1e6
                );
            }
            Err(e) => {
                let _ = writeln!(md, "| ({case}) | {label} | not counted: {e} | - | - |");
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

#[cfg(test)]
mod tests {
    use super::super::harness::report::fixtures::{ISO, assert_matches, machine};
    use super::*;

    #[test]
    fn reads_callgrind_totals() {
        let dump = "version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nsummary: 4446796401\n";
        assert_eq!(parse_callgrind_total(dump), Some(4_446_796_401));
        assert_eq!(
            parse_callgrind_total("events: Ir\ntotals: 12 3\n"),
            Some(12)
        );
        assert_eq!(parse_callgrind_total("events: Ir\n"), None);
    }

    #[test]
    fn the_report_matches_the_fixture() {
        let rows = vec![
            Instructions {
                case: 'a',
                server: None,
                per_request: Ok(4_930_000.0),
            },
            Instructions {
                case: 'a',
                server: Some(Server::Puff),
                per_request: Ok(4_880_123.0),
            },
            Instructions {
                case: 'a',
                server: Some(Server::Gevent),
                per_request: Err("valgrind failed".into()),
            },
            Instructions {
                case: 'a',
                server: Some(Server::Granian),
                per_request: Ok(4_980_000.0),
            },
            Instructions {
                case: 'b',
                server: None,
                per_request: Ok(3_100_000.0),
            },
            Instructions {
                case: 'b',
                server: Some(Server::Puff),
                per_request: Ok(3_200_000.0),
            },
        ];
        let md = render_instructions(ISO, &machine(), &rows);
        assert_matches("django-instructions", &md, None);
    }
}
