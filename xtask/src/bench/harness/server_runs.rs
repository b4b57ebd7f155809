//! The runs of a server benchmark: wrk and the peers installed, the release servers built, a
//! Postgres database when the benchmark needs one, then every selected server on every selected
//! case, `--rounds` times interleaved, each run started, checked, warmed up and measured; the
//! reports saved at the end.

use std::fs::File;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::helper::{HelperProc, POSTGRES_URL_VARS, external_server};
use super::machine::machine_info;
use super::peers::{PEERS_REQUIREMENTS, PEERS_VENV, ensure_peers};
use super::process::{
    Running, free_port, pick_cpus_for_workers, pinned, require_taskset, wait_accepting,
};
use super::report::{self, rps_str, stamps};
use super::server::Server;
use super::server_bench::{Case, Env, PgData, RunOpts, RunResult, ServerBench, check_workers};
use super::server_report;
use super::tools::ensure_wrk;
use super::wrk::{self, Measurement, Wrk, WrkLoad, median_round};
use crate::command;
use crate::repo::{self, Repo};
use crate::setup;

/// How long a server with several workers may take to answer its first request.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// `cargo xtask bench http|asgi|graphql|django`: see [`ServerBench`].
pub fn run<B: ServerBench>(repo: &Repo, opts: &RunOpts) -> Result<()> {
    let (stamp, iso) = stamps();
    check_workers(opts, B::CASES)?;
    let workers = opts.workers.unwrap_or(1);

    let cases: Vec<Case> = B::CASES
        .iter()
        .filter(|c| opts.cases.contains(&c.id))
        .copied()
        .collect();
    let wanted =
        |s: Server| opts.servers.contains(&s) && cases.iter().any(|c| c.servers.contains(&s));
    // A benchmark on a Postgres database (step 5) always needs the peers venv: it runs the
    // Postgres helper and the checks.
    let with_pg = B::POSTGRES.is_some();
    let servers_wanted: Vec<Server> = cases
        .iter()
        .flat_map(|c| c.servers.iter().copied())
        .filter(|s| wanted(*s))
        .collect();
    let need_peers = with_pg || servers_wanted.iter().any(|s| s.is_peer());
    let need_puff = servers_wanted
        .iter()
        .any(|s| s.is_puff_cli() || *s == Server::PuffRust);

    let steps: usize = if with_pg { 6 } else { 5 };
    println!("[bench 1/{steps}] checking the load generator (wrk) and taskset");
    ensure_wrk()?;
    require_taskset("servers and wrk")?;
    let (server_cpu, load_cpu) = pick_cpus_for_workers(workers);

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

    let mut env = Env::new(
        repo,
        peers_venv,
        &format!("{}-{stamp}", B::NAME),
        (server_cpu, load_cpu),
    )?;
    env.workers = workers;

    let built = [
        Server::Puff,
        Server::PuffOneWorker,
        Server::PuffLogText,
        Server::PuffLogJson,
        Server::PuffMetrics,
        Server::PuffRust,
        Server::Axum,
    ];
    // Each package once, with the servers that run its binary.
    let mut packages: Vec<(&str, Vec<Server>)> = Vec::new();
    for server in built.into_iter().filter(|s| wanted(*s)) {
        let Some(package) = server.package() else {
            continue;
        };
        match packages.iter_mut().find(|(p, _)| *p == package) {
            Some((_, servers)) => servers.push(server),
            None => packages.push((package, vec![server])),
        }
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
    for server in built {
        let Some(bin) = server.package() else {
            continue;
        };
        let path = repo.root.join("target/release").join(bin);
        if wanted(server) && !path.is_file() && !env.unavailable.iter().any(|u| u.0 == server) {
            env.unavailable
                .push((server, format!("{} does not exist", repo.rel(&path))));
        }
    }
    // Servers this build cannot run by design (a setting it does not know yet): reported,
    // but not a failed run.
    let mut skipped: Vec<Server> = Vec::new();
    for server in B::SERVERS.iter().copied().filter(|s| wanted(*s)) {
        if env.unavailable.iter().any(|u| u.0 == server) {
            continue;
        }
        if let Some(why) = B::unavailable(&env, server) {
            println!("    {}: skipped, {why}", B::label(server));
            env.unavailable.push((server, why));
            skipped.push(server);
        }
    }

    // One Postgres server for the whole run, the one of `bench postgres`, pinned with wrk
    // (the server under test has its CPU to itself).
    let pg_log = env.log_dir.join(PgData::LOG);
    let mut pg: Option<(HelperProc, String)> = None;
    if let Some(data) = &B::POSTGRES {
        match external_server(POSTGRES_URL_VARS) {
            Some(var) => println!(
                "[bench 5/{steps}] Postgres from ${var}: creating {}",
                data.data
            ),
            None => println!(
                "[bench 5/{steps}] private Postgres server (initdb/pg_ctl) on CPU {load_cpu}, \
                 {}",
                data.data
            ),
        }
        pg = Some(data.start(&mut env, load_cpu)?);
    }

    let runs: Vec<(Case, Server)> = cases
        .iter()
        .flat_map(|c| c.servers.iter().map(move |s| (*c, *s)))
        .filter(|(_, s)| opts.servers.contains(s))
        .collect();
    let processes = match opts.workers {
        Some(n) => format!("{n} worker process(es) per server"),
        None => "one process per server".into(),
    };
    println!(
        "[bench {steps}/{steps}] {} rounds of {} runs, {} s each after a {} s warm-up; {processes} on CPU {}, wrk -t{} on CPU {}",
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
                B::label(*server)
            );
            let outcome = match env.unavailable.iter().find(|u| u.0 == *server) {
                Some((_, why)) => {
                    println!("{tag}: skipped, {why}");
                    Err(why.clone())
                }
                None => {
                    println!("{tag}");
                    match run_one::<B>(&env, case, *server, opts) {
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

    let checks = B::checks(&results, workers);
    let mut machine = machine_info(repo, &env.peers_venv, true, B::PACKAGES);
    if let Some(version) = pg_version {
        let at = machine.tools.len().min(1); // after wrk
        machine.tools.insert(at, ("postgres".into(), version));
    }
    let md = server_report::markdown::<B>(&iso, opts, &env, &machine, &results, &checks);
    let json = server_report::json::<B>(&iso, opts, &env, &machine, &results, &checks);
    println!("\n{md}");
    report::save(repo, B::NAME, &stamp, &md, &json)?;

    let failed = results
        .iter()
        .filter(|r| r.outcome.is_err() && !skipped.contains(&r.server))
        .count();
    if failed > 0 {
        bail!(
            "{failed} of {} runs could not be measured (see the table above)",
            results.len()
        );
    }
    Ok(())
}

/// Builds the release binaries in one cargo call; if that fails, builds each package alone so
/// that one broken package only takes its own runs out.
fn build_release(env: &mut Env, packages: &[(&str, Vec<Server>)]) -> Result<()> {
    let mut cmd = env.repo.cargo();
    cmd.args(["build", "--release"]);
    for (p, _) in packages {
        cmd.args(["-p", p]);
    }
    if command::run(&mut cmd).is_ok() {
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
        if command::run(&mut cmd).is_err() {
            println!("    WARNING: {p} did not build; its runs will be skipped");
            for s in servers {
                env.unavailable
                    .push((*s, format!("cargo build --release -p {p} failed")));
            }
        }
    }
    Ok(())
}

/// The command line for `server` in `case`, listening on `port`; `wrapper` (a program and
/// its arguments, such as valgrind's) runs the server when it is not empty.
pub fn server_command<B: ServerBench>(
    env: &Env,
    case: &Case,
    server: Server,
    port: u16,
    wrapper: &[String],
) -> Command {
    let repo = env.repo;
    let launch = B::launch(env, case, server, port);
    let mut cmd = match wrapper.split_first() {
        None => pinned(env.server_cpu, &launch.program, &launch.args),
        Some((wrap, wrap_args)) => {
            let mut all = wrap_args.to_vec();
            all.push(launch.program.to_string_lossy().into_owned());
            all.extend(launch.args);
            pinned(env.server_cpu, Path::new(wrap), &all)
        }
    };
    cmd.current_dir(launch.dir);
    if server.is_peer() {
        cmd.env_remove("PYO3_PYTHON");
        repo::apply_venv_env(&mut cmd, &env.peers_venv);
    } else {
        cmd.env("PYO3_PYTHON", repo.venv_python());
        repo::apply_venv_env(&mut cmd, &repo.venv);
        if server == Server::PuffRust {
            // The Rust example reads no puff.toml, so its access log is turned off through
            // the log filter (PUFF_LOG) instead of `access_log = false`.
            cmd.env("PUFF_LOG", "info,puff::access=off");
        }
    }
    if let Some(url) = &env.pg_url {
        // strawberry_graphql.py's asyncpg pool, django_bench_settings.py's DATABASES (Puff gets
        // the URL as --default-postgres-url).
        cmd.env("BENCH_PG_URL", url);
    }
    cmd.env_remove("PYTHONPATH");
    B::apply_env(&mut cmd, repo, server);
    cmd.stdin(Stdio::null());
    cmd
}

/// Starts the server, waits for it to accept and answer correctly, warms up, measures.
fn run_one<B: ServerBench>(
    env: &Env,
    case: &Case,
    server: Server,
    opts: &RunOpts,
) -> Result<Measurement> {
    let port = free_port()?;
    let log_path = env
        .log_dir
        .join(format!("{}-{}.log", case.id, server.name()));
    let log =
        File::create(&log_path).with_context(|| format!("cannot create {}", log_path.display()))?;
    let mut cmd = server_command::<B>(env, case, server, port, &[]);
    cmd.stdout(log.try_clone()?).stderr(log);
    println!("    $ {}", command::display_cmd(&cmd));
    let label = B::label(server);
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot start {label}"))?;
    let mut running = Running { child, name: label };

    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    wait_accepting(&mut running, addr, &log_path)?;
    let url = format!("http://127.0.0.1:{port}{}", case.path);
    let method = if case.post_body.is_some() {
        "POST "
    } else {
        ""
    };
    let check = |when: &str| -> Result<()> {
        B::check(env, case, &url, addr)
            .with_context(|| format!("{label} answered {method}{} wrongly{when}", case.path))
    };
    // A supervisor of several workers listens before its workers have loaded the app, so the
    // first answer can wait for them on a busy machine: retried for as long as a start may take.
    let started = Instant::now();
    while let Err(e) = check("") {
        if env.workers == 1
            || started.elapsed() > START_TIMEOUT
            || running.child.try_wait()?.is_some()
        {
            return Err(e);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let script = match case.post_body {
        Some(body) => {
            let path = env.log_dir.join(format!("{}-{}.lua", B::NAME, case.id));
            std::fs::write(&path, wrk::post_script(case.path, body))
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
    let wrk = Wrk {
        cpu: env.load_cpu,
        threads: opts.wrk_threads,
        timeout: B::WRK_TIMEOUT,
    };
    if opts.warmup > 0 {
        wrk.run(&load, opts.warmup)
            .context("warm-up run of wrk failed")?;
        if B::RECHECK {
            // Also waits out the requests the warm-up left unanswered (seconds of work for a
            // slow server in graphql (b)), which would otherwise eat into the measured run.
            check(" after the warm-up")?;
        }
    }
    let out = wrk.run(&load, opts.duration)?;
    let m = wrk::parse_wrk(&out).with_context(|| format!("cannot parse wrk output:\n{out}"))?;
    if let Some(status) = running.child.try_wait()? {
        bail!(
            "{label} exited during the run ({})",
            command::describe_status(status)
        );
    }
    if B::RECHECK {
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
