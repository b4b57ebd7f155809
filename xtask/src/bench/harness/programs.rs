//! The client programs of `bench client`, `postgres`, `redis` and `tasks`: each run is a fresh
//! program that times itself and prints a `BENCH_RESULT` line; here it is run, and its line
//! read into a [`ClientRound`].

use std::fs::File;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::process::{last_line, log_excerpt};
use crate::command;

/// One timed run of one client program.
#[derive(Clone, Debug, Default)]
pub struct ClientRound {
    pub rps: f64,
    pub seconds: f64,
    pub errors: u64,
    /// Latency percentiles, from the programs that measure them (`bench redis` (b)).
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// Parses the `BENCH_RESULT requests=N errors=N seconds=F rps=F` line a client program prints.
pub fn parse_client_output(out: &str) -> Result<ClientRound> {
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

/// Runs one client program to the end (10 minutes at most) and reads its result line.
pub fn run_client_once(mut cmd: Command, log_path: &Path) -> Result<ClientRound> {
    let log =
        File::create(log_path).with_context(|| format!("cannot create {}", log_path.display()))?;
    cmd.stdout(log.try_clone()?).stderr(log);
    println!("    $ {}", command::display_cmd(&cmd));
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
            command::describe_status(status),
            last_line(log_path),
            log_excerpt(log_path)
        ),
    }
}

/// The median of `v` (the mean of the middle two for an even count).
pub fn median(mut v: Vec<f64>) -> Option<f64> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_client_output() {
        let out = "puff (greenlets): ...\nBENCH_RESULT requests=10000 errors=2 seconds=1.250000 rps=8000.000\n";
        let r = parse_client_output(out).unwrap();
        assert!((r.rps - 8000.0).abs() < 1e-9);
        assert!((r.seconds - 1.25).abs() < 1e-9);
        assert_eq!(r.errors, 2);
        assert!(parse_client_output("Traceback ...\n").is_err());
        assert!(parse_client_output("BENCH_RESULT errors=0\n").is_err());
        let parsed = parse_client_output(
            "BENCH_RESULT requests=200 errors=0 seconds=0.5 rps=400 p50_ms=0.25 p99_ms=2.5\n",
        )
        .unwrap();
        assert_eq!((parsed.p50_ms, parsed.p99_ms), (Some(0.25), Some(2.5)));
    }

    #[test]
    fn medians() {
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(Vec::new()), None);
    }
}
