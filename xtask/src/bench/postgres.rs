//! `cargo xtask bench postgres`: Postgres clients on one private server. Puff's
//! `puff.postgres` (greenlets) vs asyncpg (uvloop, a pool) and psycopg2, the same SQL
//! everywhere: a large fetch, an executemany of single-row INSERTs, and small queries from
//! concurrent callers; the server pinned to CPU 1, each client program to CPU 0.

use std::fmt::Write as _;

use serde::Serialize;

use super::harness::helper::POSTGRES_URL_VARS;
use super::harness::list::clamped;
use super::harness::programs::ClientRound;
use super::harness::report::{Check, Fixed3, thousands};
use super::harness::service_bench::{
    CaseClient, CaseResult, ServiceArgs, ServiceBench, case_median, has_result, ratio, ratio_cell,
    seconds_of,
};

/// What `cargo xtask bench help postgres` says.
pub const ABOUT: &str = "\
One private Postgres (or $PUFF_BENCH_POSTGRES_URL / $PUFF_TEST_POSTGRES_URL) pinned to CPU 1,
each client program pinned to CPU 0: puff (puff.postgres, greenlets), asyncpg (uvloop, a
pool), psycopg2 (one connection; one per thread in (c)); same SQL everywhere.
  (a) fetch:  --rows rows x 6 mixed-type columns into Python (mean of 5 fetches)
  (b) insert: --inserts single-row INSERTs with one executemany (table truncated first)
  (c) small:  --queries primary-key SELECTs from --concurrency (50) concurrent callers
Each round runs every client on every case once; the median time counts.";

/// `bench postgres` cases: id and title.
pub const CASES: [(char, &str); 3] = [
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

const CASE_IDS: [char; 3] = ['a', 'b', 'c'];

/// Fetches per client run in (a) (after one untimed fetch); the figure is their mean.
const FETCH_REPEAT: u64 = 5;

/// A program of `bench postgres`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PgClient {
    Puff,
    Asyncpg,
    Psycopg2,
}

impl CaseClient for PgClient {
    const ALL: &'static [Self] = &[PgClient::Puff, PgClient::Asyncpg, PgClient::Psycopg2];

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

type PgResult = CaseResult<PgClient>;

/// `cargo xtask bench postgres [OPTIONS]`.
#[derive(clap::Args, Debug, Clone)]
pub struct Postgres {
    #[command(flatten)]
    pub common: ServiceArgs<Postgres>,
    /// Concurrent callers in (c) (1-10000; Puff's pool has 50 connections)
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clamped(1, 10_000))]
    pub concurrency: u64,
    /// Rows in the fetched table (1-10000000)
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clamped(1, 10_000_000))]
    pub rows: u64,
    /// Rows inserted in (b) (1-10000000)
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clamped(1, 10_000_000))]
    pub inserts: u64,
    /// Queries in (c) (1-10000000)
    #[arg(long, value_name = "N", default_value_t = 5_000, value_parser = clamped(1, 10_000_000))]
    pub queries: u64,
}

/// The JSON report's settings of `bench postgres`.
#[derive(Serialize)]
pub struct Settings {
    rows: u64,
    inserts: u64,
    queries: u64,
    concurrency: u64,
    fetch_repeat: u64,
}

/// A result's figure in the JSON report.
#[derive(Serialize)]
pub struct Figures {
    median_seconds: Option<Fixed3>,
}

impl ServiceBench for Postgres {
    type Client = PgClient;
    type Settings = Settings;
    type Figures = Figures;
    const NAME: &'static str = "postgres";
    const WHAT: &'static str = "Postgres";
    const CASES: &'static [(char, &'static str)] = &CASES;
    const CASE_IDS: &'static [char] = &CASE_IDS;
    const ROUNDS: &'static str = "5";
    const EXTERNAL_VARS: [&'static str; 2] = POSTGRES_URL_VARS;
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
    fn common(&self) -> &ServiceArgs<Self> {
        &self.common
    }

    fn helper_args(&self) -> Vec<String> {
        vec!["pg_bench_server.py".to_string(), self.rows.to_string()]
    }

    fn server_line(&self, external: Option<&str>, server_cpu: &str) -> String {
        match external {
            Some(var) => format!(
                "Postgres from ${var}: creating and filling the tables ({} rows)",
                self.rows
            ),
            None => format!(
                "private Postgres server (initdb/pg_ctl) on CPU {server_cpu}, tables filled with \
                 {} rows",
                self.rows
            ),
        }
    }

    fn client_env(&self, case: char) -> Vec<(&'static str, String)> {
        vec![
            ("BENCH_CASE", case.to_string()),
            ("BENCH_ROWS", self.rows.to_string()),
            ("BENCH_INSERTS", self.inserts.to_string()),
            ("BENCH_QUERIES", self.queries.to_string()),
            ("BENCH_CONCURRENCY", self.concurrency.to_string()),
            ("BENCH_REPEAT", FETCH_REPEAT.to_string()),
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

    /// Targets: Puff's time <= 1.0x asyncpg's in every case (issue 17 set (b)'s), and below
    /// psycopg2's in every case.
    fn checks(results: &[PgResult]) -> Vec<Check> {
        let mut out = Vec::new();
        for (case, _) in CASES {
            for (peer, target) in [
                (PgClient::Asyncpg, Some(1.0)),
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

    fn case_work(&self, case: char) -> String {
        match case {
            'a' => format!(
                "fetch {} rows x 6 columns (int8, text, float8, bool, timestamptz, numeric); mean \
                 of {FETCH_REPEAT} fetches",
                self.rows
            ),
            'b' => format!(
                "{} single-row INSERTs, one executemany + commit",
                self.inserts
            ),
            _ => format!(
                "{} primary-key SELECTs from {} concurrent callers",
                self.queries, self.concurrency
            ),
        }
    }

    fn method(&self, (client_cpu, server_cpu): (&str, &str)) -> String {
        format!(
            "one Postgres server for the whole run (fsync off, loopback TCP) pinned to CPU \
             {server_cpu}; each client program pinned to CPU {client_cpu} (all of its threads), \
             a fresh process per run that times itself after an untimed warm-up; the same SQL \
             for every client (`bench/apps/pg_common.py`); {} rounds with the clients \
             interleaved, the median round counts",
            self.rounds()
        )
    }

    fn case_markdown(&self, md: &mut String, case: char, results: &[PgResult]) {
        let _ = writeln!(
            md,
            "\n### ({case}) {}\n\n{}\n",
            Self::case_title(case),
            self.case_work(case)
        );
        let _ = writeln!(
            md,
            "| client | median ms | ms per round | per second | vs asyncpg | vs psycopg2 | errors | note |"
        );
        let _ = writeln!(md, "|---|---:|---|---:|---:|---:|---:|---|");
        let ops = match case {
            'a' => self.rows,
            'b' => self.inserts,
            _ => self.queries,
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
    fn settings(&self) -> Settings {
        Settings {
            rows: self.rows,
            inserts: self.inserts,
            queries: self.queries,
            concurrency: self.concurrency,
            fetch_repeat: FETCH_REPEAT,
        }
    }
    fn figures(r: &PgResult) -> Figures {
        Figures {
            median_seconds: r.median_seconds().map(Fixed3),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::harness::list::parse_flags;
    use super::super::harness::report::fixtures::assert_matches;
    use super::super::harness::service_report::fixtures::{reports, round};
    use super::*;

    #[test]
    fn parses_postgres_args() {
        let o: Postgres = parse_flags(&[]).unwrap();
        assert_eq!(o.cases(), ['a', 'b', 'c']);
        assert_eq!(o.clients(), PgClient::ALL);
        assert_eq!((o.rounds(), o.concurrency), (5, 50));
        assert_eq!((o.rows, o.inserts, o.queries), (10_000, 10_000, 5_000));
        let o: Postgres = parse_flags(&[
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
        ])
        .unwrap();
        assert_eq!(o.cases(), ['c', 'a']);
        assert_eq!(o.clients(), [PgClient::Psycopg2, PgClient::Puff]);
        assert_eq!((o.rounds(), o.queries, o.concurrency), (1, 500, 8));
        for bad in [
            &["--cases", "d"][..],
            &["--clients", "httpx"],
            &["--duration", "3"],
            &["--requests", "3"],
            &["--burst", "3"],
            &["--warmup-requests", "3"],
        ] {
            assert!(parse_flags::<Postgres>(bad).is_err(), "{bad:?}");
        }
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
        let checks = Postgres::checks(&results);
        let verdicts: Vec<(char, &str, &str)> = checks
            .iter()
            .map(|c| (c.case, c.what.as_str(), c.verdict()))
            .collect();
        assert_eq!(
            verdicts,
            vec![
                ('a', "(a) puff time / asyncpg time", "MISS"),
                ('a', "(a) puff time / psycopg2 time", "PASS"),
                ('b', "(b) puff time / asyncpg time", "MISS"),
                ('b', "(b) puff time / psycopg2 time", "PASS"),
                ('c', "(c) puff time / asyncpg time", "n/a"),
            ]
        );
        assert!((checks[0].value.unwrap() - 1.1).abs() < 1e-9);
        assert_eq!(results[6].first_failure(), Some("boom"));
    }

    #[test]
    fn reports_match_the_fixtures() {
        let opts: Postgres = parse_flags(&["--skip-build"]).unwrap();
        let mut results = Vec::new();
        for case in ['a', 'b', 'c'] {
            for (i, client) in PgClient::ALL.iter().enumerate() {
                let rounds = if case == 'c' && i == 1 {
                    vec![Err("boom".into()), Err("again".into())]
                } else {
                    vec![
                        round(0.0123 * (i + 1) as f64, 0, None),
                        round(0.0111, 1, None),
                        round(0.02, 0, None),
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
        assert_matches("postgres", &md, Some(&json));
    }
}
