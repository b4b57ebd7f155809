//! The reports of a client-program benchmark on one database server: the Markdown (method,
//! clients, one section per case, targets, notes) and the JSON (settings, machine, one object
//! per client and case with its rounds, checks).

use std::fmt::Write as _;

use serde::Serialize;

use super::machine::Machine;
use super::programs::ClientRound;
use super::report::{Check, Fixed3, Outcome, Report, build_note, checks_markdown};
use super::service_bench::{CaseClient, CaseResult, ServiceBench};

pub fn markdown<B: ServiceBench>(
    bench: &B,
    iso: &str,
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
        bench.method(cpus),
        build_note(bench.skip_build())
    );
    let _ = writeln!(
        md,
        "- clients: {}",
        bench
            .clients()
            .iter()
            .map(|c| format!("`{}` ({})", c.name(), c.label()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(md, "\n## Results\n");
    md.push_str(B::RESULTS_INTRO);
    for case in bench.cases() {
        bench.case_markdown(&mut md, *case, results);
    }
    checks_markdown(&mut md, checks);
    let _ = writeln!(md, "\n{}", B::NOTES);
    md
}

/// The JSON report's `settings`: the benchmark's own, then those every one has.
#[derive(Serialize)]
struct Settings<'a, S> {
    #[serde(flatten)]
    own: S,
    rounds: u64,
    client_cpu: &'a str,
    server_cpu: &'a str,
    skip_build: bool,
}

/// One client on one case in the JSON report.
#[derive(Serialize)]
struct ResultJson<F> {
    case: String,
    title: &'static str,
    work: String,
    client: &'static str,
    label: &'static str,
    #[serde(flatten)]
    figures: F,
    errors: u64,
    rounds: Vec<Outcome<RoundJson>>,
}

/// One round in the JSON report (latencies from the programs that measure them).
#[derive(Serialize)]
struct RoundJson {
    seconds: Fixed3,
    per_second: Fixed3,
    errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    p50_ms: Option<Fixed3>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p99_ms: Option<Fixed3>,
}

impl From<&ClientRound> for RoundJson {
    fn from(x: &ClientRound) -> Self {
        RoundJson {
            seconds: Fixed3(x.seconds),
            per_second: Fixed3(x.rps),
            errors: x.errors,
            p50_ms: x.p50_ms.map(Fixed3),
            p99_ms: x.p99_ms.map(Fixed3),
        }
    }
}

pub fn json<B: ServiceBench>(
    bench: &B,
    iso: &str,
    (client_cpu, server_cpu): (&str, &str),
    machine: &Machine,
    results: &[CaseResult<B::Client>],
    checks: &[Check],
) -> String {
    let results: Vec<ResultJson<B::Figures>> = results
        .iter()
        .map(|r| ResultJson {
            case: r.case.to_string(),
            title: B::case_title(r.case),
            work: bench.case_work(r.case),
            client: r.client.name(),
            label: r.client.label(),
            figures: B::figures(r),
            errors: r.errors(),
            rounds: r
                .rounds
                .iter()
                .map(|x| Outcome(x.as_ref().map(RoundJson::from).map_err(Clone::clone)))
                .collect(),
        })
        .collect();
    Report {
        benchmark: B::NAME,
        timestamp: iso,
        git: &machine.git,
        settings: Settings {
            own: bench.settings(),
            rounds: bench.rounds(),
            client_cpu,
            server_cpu,
            skip_build: bench.skip_build(),
        },
        machine,
        results,
        checks: checks.iter().map(|c| c.json(true)).collect(),
    }
    .to_json()
}

/// The reports of fixed results, for the fixture tests of each client-program benchmark.
#[cfg(test)]
pub mod fixtures {
    use super::super::report::fixtures::{ISO, machine};
    use super::*;

    /// A round of `secs` seconds (1000 per second over them), with latencies when given.
    pub fn round(secs: f64, errors: u64, p99: Option<f64>) -> Result<ClientRound, String> {
        Ok(ClientRound {
            rps: 1000.0 / secs,
            seconds: secs,
            errors,
            p50_ms: p99.map(|v| v / 3.0),
            p99_ms: p99,
        })
    }

    /// The Markdown and JSON reports of `bench` on `results`.
    pub fn reports<B: ServiceBench>(
        bench: &B,
        results: &[CaseResult<B::Client>],
    ) -> (String, String) {
        let checks = B::checks(results);
        let m = machine();
        (
            markdown(bench, ISO, ("0", "1"), &m, results, &checks),
            json(bench, ISO, ("0", "1"), &m, results, &checks),
        )
    }
}
