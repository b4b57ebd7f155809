//! The reports of a server benchmark: the Markdown (method, results table, targets) and the
//! JSON (settings, machine, one object per server and case, checks).

use std::fmt::Write as _;

use serde::Serialize;

use super::machine::Machine;
use super::report::{Check, CheckJson, Fixed3, Outcome, Report, build_note, rps_str, thousands};
use super::server::Server;
use super::server_bench::{Env, ExtraSettings, RunOpts, RunResult, ServerBench, ServerSetup};
use super::wrk::Measurement;

pub fn markdown<B: ServerBench>(
    iso: &str,
    opts: &RunOpts,
    env: &Env,
    machine: &Machine,
    results: &[RunResult],
    checks: &[Check],
) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# {}, {iso}\n", B::TITLE);
    md.push_str(&machine.markdown_lines());
    // With several workers the servers get every CPU, so wrk shares one with them.
    let reference = results.iter().any(|r| r.server == Server::PuffOneWorker);
    let servers = match opts.workers {
        Some(n) => format!(
            "every server runs `--workers {n}`{} on CPUs {}",
            if reference {
                " (Puff's one-worker reference: 1)"
            } else {
                ""
            },
            env.server_cpu
        ),
        None => format!("server pinned to CPU {}", env.server_cpu),
    };
    let _ = writeln!(
        md,
        "- method: {servers}, `wrk -t{} --latency --timeout {}` pinned to CPU {}{}; \
         {} s warm-up, then {} s measured per run; {} rounds with the servers interleaved, the \
         median req/s counts; {}; {}",
        opts.wrk_threads,
        B::WRK_TIMEOUT,
        env.load_cpu,
        B::LOAD_NOTE,
        opts.warmup,
        opts.duration,
        opts.rounds,
        B::ANSWERS_NOTE,
        build_note(opts.skip_build)
    );
    md.push_str(&B::setup_lines(results));
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
    servers_markdown::<B>(&mut md, results, env.workers);
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
                    B::label(r.server),
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
                    B::label(r.server),
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

/// The table of what each server ran with, when `B` describes it.
fn servers_markdown<B: ServerBench>(md: &mut String, results: &[RunResult], workers: u32) {
    let rows: Vec<(&RunResult, ServerSetup)> = results
        .iter()
        .filter_map(|r| Some((r, B::setup(r.server, &r.case, workers)?)))
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(md, "\n## Servers\n");
    let _ = writeln!(
        md,
        "| case | server | worker processes | Python threads per worker | logging |"
    );
    let _ = writeln!(md, "|---|---|---:|---|---|");
    for (r, setup) in rows {
        let _ = writeln!(
            md,
            "| ({}) | {} | {} | {} | {} |",
            r.case.id,
            B::label(r.server),
            setup.workers,
            setup.threads,
            setup.logging
        );
    }
}

/// The JSON report's `settings`.
#[derive(Serialize)]
struct Settings<'a> {
    duration_secs: u64,
    warmup_secs: u64,
    wrk_threads: u32,
    server_cpu: &'a str,
    load_cpu: &'a str,
    /// `--workers`, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    workers: Option<u32>,
    #[serde(flatten)]
    extra: ExtraSettings,
    skip_build: bool,
}

/// One server on one case in the JSON report.
#[derive(Serialize)]
struct RunJson {
    case: String,
    title: &'static str,
    server: &'static str,
    connections: u32,
    path: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    setup: Option<ServerSetup>,
    #[serde(flatten)]
    outcome: Outcome<MeasurementJson>,
}

#[derive(Serialize)]
struct MeasurementJson {
    requests_per_sec: Fixed3,
    p50_ms: Fixed3,
    p99_ms: Fixed3,
    requests: u64,
    socket_errors: u64,
    non_2xx: u64,
    rounds_requests_per_sec: Vec<Fixed3>,
}

impl From<&Measurement> for MeasurementJson {
    fn from(m: &Measurement) -> Self {
        MeasurementJson {
            requests_per_sec: Fixed3(m.rps),
            p50_ms: Fixed3(m.p50_ms),
            p99_ms: Fixed3(m.p99_ms),
            requests: m.requests,
            socket_errors: m.socket_errors,
            non_2xx: m.non_2xx,
            rounds_requests_per_sec: m.round_rps.iter().copied().map(Fixed3).collect(),
        }
    }
}

pub fn json<B: ServerBench>(
    iso: &str,
    opts: &RunOpts,
    env: &Env,
    machine: &Machine,
    results: &[RunResult],
    checks: &[Check],
) -> String {
    let results: Vec<RunJson> = results
        .iter()
        .map(|r| RunJson {
            case: r.case.id.to_string(),
            title: r.case.title,
            server: r.server.name(),
            connections: r.case.connections,
            path: r.case.path,
            method: r.case.post_body.map(|_| "POST"),
            body: r.case.post_body,
            setup: B::setup(r.server, &r.case, env.workers),
            outcome: Outcome(
                r.outcome
                    .as_ref()
                    .map(MeasurementJson::from)
                    .map_err(Clone::clone),
            ),
        })
        .collect();
    Report {
        benchmark: B::NAME,
        timestamp: iso,
        git: &machine.git,
        settings: Settings {
            duration_secs: opts.duration,
            warmup_secs: opts.warmup,
            wrk_threads: opts.wrk_threads,
            server_cpu: env.server_cpu,
            load_cpu: env.load_cpu,
            workers: opts.workers,
            extra: B::extra_settings(opts.rounds),
            skip_build: opts.skip_build,
        },
        machine,
        results,
        checks: checks
            .iter()
            .map(|c| c.json(true))
            .collect::<Vec<CheckJson>>(),
    }
    .to_json()
}

/// The reports of fixed results, for the fixture tests of each server benchmark.
#[cfg(test)]
pub mod fixtures {
    use std::path::PathBuf;

    use super::super::report::fixtures::{ISO, machine};
    use super::super::server_bench::Case;
    use super::super::wrk::Measurement;
    use super::*;
    use crate::repo::Repo;

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

    /// The Markdown and JSON reports of `B` with `opts` on made-up results for every server
    /// of `cases` that `opts` selects: the second run measured in one round, the third not
    /// measured, the others in three rounds.
    pub fn reports<B: ServerBench>(opts: &RunOpts, cases: &[Case], pg: bool) -> (String, String) {
        let repo = Repo {
            root: PathBuf::from("/repo"),
            venv: PathBuf::from("/repo/.venv"),
        };
        let env = Env {
            repo: &repo,
            peers_venv: PathBuf::from("/repo/bench/.venv-peers"),
            log_dir: PathBuf::from("/repo/target/bench-logs/x"),
            server_cpu: "0",
            load_cpu: "1",
            unavailable: vec![],
            pg_url: pg.then(|| "postgres://u@127.0.0.1:5/db".to_string()),
            workers: opts.workers.unwrap_or(1),
        };
        let mut results = Vec::new();
        let mut n = 0.0;
        for case in cases.iter().filter(|c| opts.cases.contains(&c.id)) {
            for server in case.servers.iter().filter(|s| opts.servers.contains(s)) {
                n += 1.0;
                let outcome = if n == 3.0 {
                    Err("cargo build --release -p x failed: \"bad\" | pipe\tTab".to_string())
                } else if n == 2.0 {
                    ok(55.5 + n, 1.23456, 99.9999, &[])
                } else {
                    let rounds = [12000.0 * n, 12345.6789 * n, 13000.1234];
                    ok(12345.6789 * n, 0.8124, 20.0 + n, &rounds)
                };
                results.push(RunResult {
                    case: *case,
                    server: *server,
                    outcome,
                });
            }
        }
        let checks = B::checks(&results, env.workers);
        let m = machine();
        (
            markdown::<B>(ISO, opts, &env, &m, &results, &checks),
            json::<B>(ISO, opts, &env, &m, &results, &checks),
        )
    }
}
