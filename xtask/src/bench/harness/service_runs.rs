//! The runs of a client-program benchmark on one database server (`bench postgres`, `redis`,
//! `tasks`): the venvs and the release puff-cli, the server's helper, then every selected
//! client on every selected case `--rounds` times (interleaved), the reports saved at the end.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use super::helper::{HelperProc, external_server, start_helper};
use super::machine::machine_info;
use super::peers::{PEERS_REQUIREMENTS, PEERS_VENV, ensure_peers, ensure_side_venv, venv_versions};
use super::process::{first_line, peer_command, pick_cpus, puff_cli_command, require_taskset};
use super::programs::{ClientRound, run_client_once};
use super::report::{self, stamps};
use super::service_bench::{CaseClient, CaseResult, ServiceBench};
use super::service_report;
use super::tools::ensure_puff_cli;
use crate::repo::Repo;
use crate::setup;

/// `bench postgres`, `bench redis`, `bench tasks`: see [`ServiceBench`].
pub fn run<B: ServiceBench>(repo: &Repo, bench: &B) -> Result<()> {
    let (stamp, iso) = stamps();
    const STEPS: usize = 6;
    println!("[bench 1/{STEPS}] checking taskset");
    require_taskset("the programs")?;
    let (client_cpu, server_cpu) = pick_cpus();

    // The peers venv also runs the server helper (psycopg2 fills the Postgres tables, redis-py
    // reads the Redis server's version).
    let peers_venv = repo.root.join(PEERS_VENV);
    println!("[bench 2/{STEPS}] peer clients venv {PEERS_VENV} ({PEERS_REQUIREMENTS})");
    ensure_peers(repo, &peers_venv)?;
    let clients = bench.clients();
    for side in B::SIDE_VENVS {
        if clients.iter().any(|c| c.venv() == side.dir) {
            ensure_side_venv(repo, side)?;
        }
    }
    println!("[bench 3/{STEPS}] project virtualenv .venv (needed to build and run Puff)");
    setup::run(repo)?;

    let with_puff = clients.iter().any(|c| c.is_puff());
    ensure_puff_cli(repo, bench.skip_build(), with_puff, &format!("4/{STEPS}"))?;

    let kind = B::NAME;
    let log_dir = repo.root.join(format!("target/bench-logs/{kind}-{stamp}"));
    std::fs::create_dir_all(&log_dir)
        .with_context(|| format!("cannot create {}", log_dir.display()))?;
    let external = external_server(B::EXTERNAL_VARS);
    println!(
        "[bench 5/{STEPS}] {}",
        bench.server_line(external, server_cpu)
    );
    let server_log = log_dir.join(format!("{kind}-server.log"));
    let (mut server, url, version) = start_helper(
        repo,
        &peers_venv,
        server_cpu,
        &bench.helper_args(),
        (B::HELPER_PREFIX, B::WHAT),
        &server_log,
    )?;
    println!("    server ready: {url} ({version})");
    let helper_env = bench.helper_env(&std::fs::read_to_string(&server_log).unwrap_or_default());

    println!(
        "[bench 6/{STEPS}] {} rounds of {} client(s) x {} case(s), each program on CPU \
         {client_cpu}",
        bench.rounds(),
        clients.len(),
        bench.cases().len()
    );
    println!("    logs: {}", repo.rel(&log_dir));
    let mut results: Vec<CaseResult<B::Client>> = Vec::new();
    for case in bench.cases() {
        for client in clients {
            results.push(CaseResult {
                case: *case,
                client: *client,
                rounds: Vec::new(),
            });
        }
    }
    run_case_rounds(
        bench.rounds(),
        &mut results,
        &log_dir,
        (&mut server, &server_log),
        |case, client| {
            let mut cmd = service_command(bench, repo, client_cpu, client, case, &url);
            cmd.envs(helper_env.iter().cloned());
            cmd
        },
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
    let md = service_report::markdown(bench, &iso, cpus, &machine, &results, &checks);
    let json = service_report::json(bench, &iso, cpus, &machine, &results, &checks);
    println!("\n{md}");
    report::save(repo, B::NAME, &stamp, &md, &json)?;
    unmeasured(&results)?;
    B::verdict(repo, &log_dir, &results)
}

/// The command line of one client program of `B`.
fn service_command<B: ServiceBench>(
    bench: &B,
    repo: &Repo,
    cpu: &str,
    client: B::Client,
    case: char,
    url: &str,
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
        .envs(bench.client_env(case))
        .stdin(Stdio::null());
    cmd
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
