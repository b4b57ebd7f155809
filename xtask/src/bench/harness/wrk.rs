//! The load generator of the server benchmarks: wrk pinned to its CPU, its output parsed
//! into a [`Measurement`], the median of the rounds, and the Lua script of a POST load.

use std::path::Path;
use std::process::Stdio;

use anyhow::{Context, Result, bail};

use super::process::pinned;
use crate::command;

#[derive(Clone, Debug, Default)]
pub struct Measurement {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub requests: u64,
    pub socket_errors: u64,
    pub non_2xx: u64,
    /// req/s of every round, in order, when the run was repeated (this is the median one).
    pub round_rps: Vec<f64>,
}

/// What wrk sends: `connections` connections to `url`, GETs unless a Lua `script` says.
pub struct WrkLoad<'a> {
    pub connections: u32,
    pub url: &'a str,
    pub script: Option<&'a Path>,
}

/// wrk's settings: its CPU, threads (at most one per connection) and `--timeout`.
pub struct Wrk<'a> {
    pub cpu: &'a str,
    pub threads: u32,
    pub timeout: &'a str,
}

impl Wrk<'_> {
    /// Runs `load` for `secs` seconds and returns wrk's output.
    pub fn run(&self, load: &WrkLoad, secs: u64) -> Result<String> {
        let threads = self.threads.min(load.connections);
        let mut args: Vec<String> = vec![
            format!("-t{threads}"),
            format!("-c{}", load.connections),
            format!("-d{secs}s"),
            "--timeout".into(),
            self.timeout.into(),
            "--latency".into(),
        ];
        if let Some(script) = load.script {
            args.extend(["-s".into(), script.to_string_lossy().into_owned()]);
        }
        args.push(load.url.into());
        let mut cmd = pinned(self.cpu, Path::new("wrk"), &args);
        cmd.stdin(Stdio::null());
        command::capture(&mut cmd)
    }
}

/// The wrk script of a `bench graphql` case: every request a POST of `body` (JSON).
pub fn post_script(path: &str, body: &str) -> String {
    format!(
        "-- cargo xtask bench graphql: POST {path} with a GraphQL query\n\
         wrk.method = \"POST\"\n\
         wrk.headers[\"Content-Type\"] = \"application/json\"\n\
         wrk.body = [==[{body}]==]\n"
    )
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

/// The figures of wrk's `--latency` output.
pub fn parse_wrk(out: &str) -> Result<Measurement> {
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

/// The round with the median req/s (the lower middle one for an even count), carrying every
/// round's req/s; an error if any round failed.
pub fn median_round(outcomes: Vec<Result<Measurement, String>>) -> Result<Measurement, String> {
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
    fn post_scripts_send_the_body() {
        let script = post_script("/graphql", r#"{"query": "{ hello }"}"#);
        assert!(script.contains("wrk.method = \"POST\"\n"));
        assert!(script.contains("wrk.headers[\"Content-Type\"] = \"application/json\"\n"));
        assert!(script.contains("wrk.body = [==[{\"query\": \"{ hello }\"}]==]\n"));
    }
}
