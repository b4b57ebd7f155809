//! `cargo xtask bench redis`: Redis clients on one private redis-server. Puff's `puff.redis`
//! and `puff.pubsub` (Redis backend), from greenlets and from coroutines, vs redis-py's
//! asyncio client (hiredis, uvloop): GET/SET from concurrent callers and pub/sub fan-out one
//! message at a time and in bursts; the server pinned to CPU 1, each client program to CPU 0.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Result, bail};
use serde::Serialize;

use super::harness::helper::{REDIS_URL_VARS, redis_server_line};
use super::harness::list::clamped;
use super::harness::programs::ClientRound;
use super::harness::report::{Check, Fixed3, thousands};
use super::harness::service_bench::{
    CaseClient, CaseResult, ServiceArgs, ServiceBench, case_median, has_result, p50_of, p99_of,
    rate_of, ratio, ratio_cell,
};
use crate::repo::Repo;

/// What `cargo xtask bench help redis` says.
pub const ABOUT: &str = "\
One private redis-server (or $PUFF_BENCH_REDIS_URL / $PUFF_TEST_REDIS_URL) pinned to CPU 1,
each client program pinned to CPU 0: puff-greenlets, puff-coroutines (puff.redis,
puff.pubsub on Redis), redis-py (redis.asyncio + hiredis under uvloop).
  (a) GET/SET: --ops commands (SET k v / GET k, 100-byte values) from --concurrency callers
  (b) pub/sub: 1 publisher, --subscribers subscribers, --messages messages one at a time
      (the next once all subscribers have the last): deliveries/s, p50/p99 latency
  (c) pub/sub: as (b) in bursts of --burst messages
Each round runs every client on every case once; the median round counts.";

/// `bench redis` cases: id and title.
pub const CASES: [(char, &str); 3] = [
    (
        'a',
        "GET/SET: alternating SET k v / GET k from concurrent callers",
    ),
    ('b', "pub/sub fan-out: one message in flight"),
    ('c', "pub/sub bursts: a burst of messages in flight"),
];

const CASE_IDS: [char; 3] = ['a', 'b', 'c'];

/// A program of `bench redis`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RedisClient {
    PuffGreenlets,
    PuffCoroutines,
    RedisPy,
}

impl CaseClient for RedisClient {
    const ALL: &'static [Self] = &[
        RedisClient::PuffGreenlets,
        RedisClient::PuffCoroutines,
        RedisClient::RedisPy,
    ];

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

/// `cargo xtask bench redis [OPTIONS]`.
#[derive(clap::Args, Debug, Clone)]
pub struct Redis {
    #[command(flatten)]
    pub common: ServiceArgs<Redis>,
    /// Commands in (a) (2-10000000)
    #[arg(long, value_name = "N", default_value_t = 100_000, value_parser = clamped(2, 10_000_000))]
    pub ops: u64,
    /// Concurrent callers in (a) (1-10000)
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clamped(1, 10_000))]
    pub concurrency: u64,
    /// Untimed commands before (a), same callers
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    pub warmup_requests: u64,
    /// Timed messages in (b) and (c) (1-10000000)
    #[arg(long, value_name = "N", default_value_t = 2_000, value_parser = clamped(1, 10_000_000))]
    pub messages: u64,
    /// Subscribers in (b) and (c) (1-10000)
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clamped(1, 10_000))]
    pub subscribers: u64,
    /// Messages per burst in (c) (1-10000000)
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clamped(1, 10_000_000))]
    pub burst: u64,
}

impl Redis {
    /// Messages published per burst in `case` ((b) one, (c) --burst).
    fn burst(&self, case: char) -> u64 {
        if case == 'b' { 1 } else { self.burst }
    }
}

/// The JSON report's settings of `bench redis`.
#[derive(Serialize)]
pub struct Settings {
    ops: u64,
    concurrency: u64,
    warmup_ops: u64,
    messages: u64,
    subscribers: u64,
    burst: u64,
}

/// A result's figures in the JSON report.
#[derive(Serialize)]
pub struct Figures {
    median_per_second: Option<Fixed3>,
    median_p50_ms: Option<Fixed3>,
    median_p99_ms: Option<Fixed3>,
}

impl ServiceBench for Redis {
    type Client = RedisClient;
    type Settings = Settings;
    type Figures = Figures;
    const NAME: &'static str = "redis";
    const WHAT: &'static str = "Redis";
    const CASES: &'static [(char, &'static str)] = &CASES;
    const CASE_IDS: &'static [char] = &CASE_IDS;
    const EXTERNAL_VARS: [&'static str; 2] = REDIS_URL_VARS;
    const HELPER_PREFIX: &'static str = "BENCH_REDIS";
    const PUFF_URL_FLAG: &'static str = "--default-redis-url";
    const PEER_SCRIPT: &'static str = "peer_redis.py";
    const SERVER_TOOL: &'static str = "redis-server";
    const PACKAGES: &'static [&'static str] = &["redis", "hiredis", "uvloop"];
    const RESULTS_INTRO: &'static str = "";
    const NOTES: &'static str = "Errors = commands that raised or returned a wrong reply, and \
        messages missing, out of order or late beyond 30 s (all rounds). Ratios are Puff / \
        redis-py for rates and redis-py / Puff for latencies (higher is better for Puff).";
    fn common(&self) -> &ServiceArgs<Self> {
        &self.common
    }

    fn helper_args(&self) -> Vec<String> {
        vec!["redis_bench_server.py".to_string()]
    }
    fn server_line(&self, external: Option<&str>, server_cpu: &str) -> String {
        redis_server_line(external, server_cpu)
    }

    fn client_env(&self, case: char) -> Vec<(&'static str, String)> {
        vec![
            (
                "BENCH_CASE",
                if case == 'a' { "a" } else { "b" }.to_string(),
            ),
            ("BENCH_OPS", self.ops.to_string()),
            ("BENCH_CONCURRENCY", self.concurrency.to_string()),
            ("BENCH_WARMUP", self.warmup_requests.to_string()),
            ("BENCH_MESSAGES", self.messages.to_string()),
            ("BENCH_SUBSCRIBERS", self.subscribers.to_string()),
            ("BENCH_BURST", self.burst(case).to_string()),
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
        for (case, _) in CASES {
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

    fn case_work(&self, case: char) -> String {
        match case {
            'a' => format!(
                "{} commands (SET k v / GET k pairs, 100-byte values, every GET checked) from {} \
                 concurrent callers, after {} untimed ones",
                self.ops, self.concurrency, self.warmup_requests
            ),
            _ => format!(
                "1 publisher, {} subscribers on one channel, {} timed messages ({} deliveries) \
                 {}, the next once every subscriber has received the previous one; latency = \
                 publish (perf_counter_ns in the body) to receipt in the subscriber",
                self.subscribers,
                self.messages,
                self.messages * self.subscribers,
                match self.burst(case) {
                    1 => "one at a time".to_string(),
                    n => format!("in bursts of {n} published back to back"),
                }
            ),
        }
    }

    fn method(&self, (client_cpu, server_cpu): (&str, &str)) -> String {
        format!(
            "one redis-server for the whole run (no persistence, loopback TCP) pinned to CPU \
             {server_cpu}; each client program pinned to CPU {client_cpu} (all of its threads), \
             a fresh process per run that times itself and checks every reply / every delivery; \
             {} rounds with the clients interleaved, the median round counts (latencies: the \
             median of the rounds' percentiles)",
            self.rounds()
        )
    }

    fn case_markdown(&self, md: &mut String, case: char, results: &[RedisResult]) {
        let pubsub = case != 'a';
        let _ = writeln!(
            md,
            "### ({case}) {}\n\n{}\n",
            Self::case_title(case),
            self.case_work(case)
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
    fn settings(&self) -> Settings {
        Settings {
            ops: self.ops,
            concurrency: self.concurrency,
            warmup_ops: self.warmup_requests,
            messages: self.messages,
            subscribers: self.subscribers,
            burst: self.burst,
        }
    }
    fn figures(r: &RedisResult) -> Figures {
        Figures {
            median_per_second: r.median_of(rate_of).map(Fixed3),
            median_p50_ms: r.median_of(p50_of).map(Fixed3),
            median_p99_ms: r.median_of(p99_of).map(Fixed3),
        }
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

#[cfg(test)]
mod tests {
    use super::super::harness::list::parse_flags;
    use super::super::harness::report::fixtures::assert_matches;
    use super::super::harness::service_report::fixtures::{reports, round};
    use super::*;

    #[test]
    fn parses_redis_args_and_checks() {
        let o: Redis = parse_flags(&[]).unwrap();
        assert_eq!(o.cases(), ['a', 'b', 'c']);
        assert_eq!(o.clients(), RedisClient::ALL);
        assert_eq!((o.rounds(), o.concurrency, o.ops), (3, 100, 100_000));
        assert_eq!((o.messages, o.subscribers, o.burst), (2_000, 100, 20));
        let o: Redis = parse_flags(&[
            "--cases",
            "b",
            "--clients",
            "redis-py,puff-greenlets",
            "--burst",
            "5",
            "--ops",
            "1000",
        ])
        .unwrap();
        assert_eq!(o.cases(), ['b']);
        assert_eq!(
            o.clients(),
            [RedisClient::RedisPy, RedisClient::PuffGreenlets]
        );
        assert_eq!(
            (o.burst, o.ops, o.burst('b'), o.burst('c')),
            (5, 1000, 1, 5)
        );
        let o: Redis = parse_flags(&["--ops", "1", "--subscribers", "99999"]).unwrap();
        assert_eq!((o.ops, o.subscribers), (2, 10_000));
        for bad in [
            &["--cases", "d"][..],
            &["--clients", "asyncpg"],
            &["--rows", "3"],
            &["--tasks", "3"],
            &["--duration", "3"],
        ] {
            assert!(parse_flags::<Redis>(bad).is_err(), "{bad:?}");
        }

        let round = |rps: f64, p99: Option<f64>| -> Result<ClientRound, String> {
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
        let checks = Redis::checks(&results);
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
    fn reports_match_the_fixtures() {
        let opts: Redis = parse_flags(&[]).unwrap();
        let mut results = Vec::new();
        for case in ['a', 'b', 'c'] {
            for (i, client) in RedisClient::ALL.iter().enumerate() {
                let lat = (case != 'a').then_some(2.5 * (i + 1) as f64);
                let rounds = if case == 'b' && i == 2 {
                    vec![round(0.5, 0, lat), Err("lost".into())]
                } else {
                    vec![
                        round(0.3 / (i + 1) as f64, 0, lat),
                        round(0.25, 0, lat.map(|v| v + 1.0)),
                    ]
                };
                results.push(CaseResult {
                    case,
                    client: *client,
                    rounds,
                });
            }
        }
        let (md, json) = reports(&opts, &results);
        assert_matches("redis", &md, Some(&json));
    }
}
