//! What every report shares: the targets ([`Check`]), number formats, time stamps, the JSON
//! report's frame ([`Report`], written with serde_json) and the saving of
//! `bench/results/<benchmark>-<stamp>.md` and `.json`.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::{Serialize, Serializer};

use super::machine::Machine;
use crate::repo::Repo;

/// A target (or a figure for information) of a report.
pub struct Check {
    pub case: char,
    pub what: String,
    pub value: Option<f64>,
    /// `None`: reported for information, no target.
    pub target: Option<f64>,
    /// true: value must be >= target; false: value must be <= target.
    pub at_least: bool,
    pub unit: &'static str,
}

impl Check {
    pub fn verdict(&self) -> &'static str {
        match (self.value, self.target) {
            (_, None) => "info",
            (None, _) => "n/a",
            (Some(v), Some(t)) if (self.at_least && v >= t) || (!self.at_least && v <= t) => "PASS",
            (Some(_), Some(_)) => "MISS",
        }
    }

    pub fn target_str(&self) -> String {
        let op = if self.at_least { ">=" } else { "<=" };
        match self.target {
            Some(t) => format!("{op} {}{}", trim_num(t), self.unit),
            None => "-".into(),
        }
    }

    pub fn value_str(&self) -> String {
        match self.value {
            Some(v) if self.unit == "x" => format!("{v:.2}x"),
            Some(v) => format!("{v:.1}{}", self.unit),
            None => "-".into(),
        }
    }

    /// The check in a JSON report; `with_case` adds its case.
    pub fn json(&self, with_case: bool) -> CheckJson {
        CheckJson {
            case: with_case.then(|| self.case.to_string()),
            check: self.what.clone(),
            value: self.value.map(Fixed3),
            target: self.target_str(),
            result: self.verdict(),
        }
    }
}

/// A check in a JSON report's `checks`.
#[derive(Serialize)]
pub struct CheckJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    case: Option<String>,
    check: String,
    value: Option<Fixed3>,
    target: String,
    result: &'static str,
}

fn trim_num(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// req/s for a report: whole numbers, with one decimal below 100 (the slow GraphQL case).
pub fn rps_str(v: f64) -> String {
    if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// `12800` -> `12,800`.
pub fn thousands(v: u64) -> String {
    let digits = v.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The UTC timestamp for file names (`20261122T051548Z`) and for reports (ISO 8601).
pub fn stamps() -> (String, String) {
    let (y, mo, d, h, mi, s) = utc_now();
    (
        format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z"),
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"),
    )
}

/// Current UTC time as (year, month, day, hour, minute, second).
pub fn utc_now() -> (i64, u32, u32, u32, u32, u32) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    let rem = rem as u32;
    (year, month, day, rem / 3600, rem / 60 % 60, rem % 60)
}

/// "existing release binaries (--skip-build)" or "release binaries built by this run".
pub fn build_note(skip_build: bool) -> &'static str {
    if skip_build {
        "existing release binaries (--skip-build)"
    } else {
        "release binaries built by this run"
    }
}

/// The `| check | value | target | result |` table of a report.
pub fn checks_markdown(md: &mut String, checks: &[Check]) {
    let _ = writeln!(md, "\n## Targets\n");
    let _ = writeln!(md, "| check | value | target | result |");
    let _ = writeln!(md, "|---|---:|---|---|");
    for c in checks {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            c.what,
            c.value_str(),
            c.target_str(),
            c.verdict()
        );
    }
}

/// A figure in a JSON report: rounded to three decimals, `null` when not finite.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fixed3(pub f64);

impl Serialize for Fixed3 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match format!("{:.3}", self.0).parse::<f64>() {
            Ok(v) if v.is_finite() => s.serialize_f64(v),
            _ => s.serialize_none(),
        }
    }
}

/// A run or a round in a JSON report: `{"ok": true, <T's fields>}` or
/// `{"ok": false, "error": "..."}`.
pub struct Outcome<T>(pub Result<T, String>);

impl<T: Serialize> Serialize for Outcome<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Measured<'a, T> {
            ok: bool,
            #[serde(flatten)]
            fields: &'a T,
        }
        #[derive(Serialize)]
        struct Failed<'a> {
            ok: bool,
            error: &'a str,
        }
        match &self.0 {
            Ok(fields) => Measured { ok: true, fields }.serialize(s),
            Err(error) => Failed { ok: false, error }.serialize(s),
        }
    }
}

/// A JSON report: its benchmark, time and commit, then the benchmark's `settings`, the
/// machine, the `results` and the `checks`.
#[derive(Serialize)]
pub struct Report<'a, S, R> {
    pub benchmark: &'a str,
    pub timestamp: &'a str,
    pub git: &'a str,
    pub settings: S,
    pub machine: &'a Machine,
    pub results: Vec<R>,
    pub checks: Vec<CheckJson>,
}

impl<S: Serialize, R: Serialize> Report<'_, S, R> {
    /// The report as the text of a `.json` file.
    pub fn to_json(&self) -> String {
        let mut text =
            serde_json::to_string_pretty(self).expect("a report is plain data, always JSON");
        text.push('\n');
        text
    }
}

/// Writes `bench/results/<benchmark>-<stamp>.md` and `.json`.
pub fn save(repo: &Repo, benchmark: &str, stamp: &str, md: &str, json: &str) -> Result<()> {
    let out_dir = repo.root.join("bench/results");
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let md_path = out_dir.join(format!("{benchmark}-{stamp}.md"));
    let json_path = out_dir.join(format!("{benchmark}-{stamp}.json"));
    std::fs::write(&md_path, md).with_context(|| format!("cannot write {}", md_path.display()))?;
    std::fs::write(&json_path, json)
        .with_context(|| format!("cannot write {}", json_path.display()))?;
    println!(
        "[bench] saved {} and {}",
        repo.rel(&md_path),
        repo.rel(&json_path)
    );
    Ok(())
}

/// Shared by the report tests of every benchmark.
#[cfg(test)]
pub mod fixtures {
    use std::path::PathBuf;

    use super::super::machine::Machine;

    /// The time stamp of every fixture report.
    pub const ISO: &str = "2026-01-02T03:04:05Z";

    pub fn machine() -> Machine {
        Machine {
            cpu: "AMD EPYC \"quoted\"".into(),
            loadavg: "1.00 2.00 3.00".into(),
            cpus: 2,
            kernel: "Linux 6.1".into(),
            python: "Python 3.11.7".into(),
            tools: vec![
                ("wrk".into(), "wrk 4.1.0".into()),
                ("granian".into(), "2.8.7".into()),
            ],
            git: "abc1234".into(),
        }
    }

    fn read(name: &str) -> String {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/reports")
            .join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// `md` must be `<name>.md` exactly; `json` must hold what `<name>.json` holds (the same
    /// keys, in the same order, and values; the layout may differ).
    /// With `XTASK_BLESS=1` in the environment the fixtures are rewritten from `md` and
    /// `json` instead (review the diff before committing it).
    pub fn assert_matches(name: &str, md: &str, json: Option<&str>) {
        if std::env::var_os("XTASK_BLESS").is_some_and(|v| v == "1") {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/reports");
            std::fs::write(dir.join(format!("{name}.md")), md).unwrap();
            if let Some(json) = json {
                std::fs::write(dir.join(format!("{name}.json")), json).unwrap();
            }
            return;
        }
        assert_eq!(md, read(&format!("{name}.md")), "{name}.md differs");
        if let Some(json) = json {
            let expected: serde_json::Value =
                serde_json::from_str(&read(&format!("{name}.json"))).unwrap();
            let got: serde_json::Value = serde_json::from_str(json).unwrap();
            assert_eq!(got, expected, "{name}.json differs");
            // preserve_order: compare the key order too.
            assert_eq!(
                serde_json::to_string(&got).unwrap(),
                serde_json::to_string(&expected).unwrap(),
                "{name}.json: keys in another order"
            );
            assert!(json.ends_with("}\n"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_format_their_figures() {
        let check = |value, target, at_least, unit| Check {
            case: 'b',
            what: "w".into(),
            value,
            target,
            at_least,
            unit,
        };
        let c = check(Some(1.2), Some(1.1), true, "x");
        assert_eq!(
            (c.value_str(), c.target_str(), c.verdict()),
            ("1.20x".into(), ">= 1.1x".into(), "PASS")
        );
        let c = check(Some(25.0), Some(30.0), false, " ms");
        assert_eq!(
            (c.value_str(), c.target_str(), c.verdict()),
            ("25.0 ms".into(), "<= 30 ms".into(), "PASS")
        );
        assert_eq!(check(None, Some(1.0), true, "x").verdict(), "n/a");
        assert_eq!(check(Some(1.0), None, true, "x").target_str(), "-");
        assert_eq!(thousands(12_800), "12,800");
        assert_eq!(thousands(512), "512");
        assert_eq!(
            (rps_str(55.55), rps_str(1234.5)),
            ("55.5".into(), "1234".into())
        );
    }

    #[test]
    fn json_figures_have_three_decimals_and_outcomes_say_ok() {
        #[derive(Serialize)]
        struct Fig {
            v: Fixed3,
        }
        assert_eq!(text(&Fixed3(2.0 / 3.0)), "0.667");
        assert_eq!(text(&Fixed3(12000.0)), "12000.0");
        assert_eq!(text(&Fixed3(f64::NAN)), "null");
        assert_eq!(text(&Some(Fixed3(f64::INFINITY))), "null");
        assert_eq!(
            text(&Outcome(Ok(Fig { v: Fixed3(1.23456) }))),
            r#"{"ok":true,"v":1.235}"#
        );
        assert_eq!(
            text(&Outcome::<Fig>(Err("a \"b\"\n".into()))),
            r#"{"ok":false,"error":"a \"b\"\n"}"#
        );
        let check = Check {
            case: 'a',
            what: "puff / granian req/s".into(),
            value: Some(1.0 / 3.0),
            target: None,
            at_least: true,
            unit: "x",
        };
        assert_eq!(
            text(&check.json(true)),
            r#"{"case":"a","check":"puff / granian req/s","value":0.333,"target":"-","result":"info"}"#
        );
        assert_eq!(
            text(&check.json(false)),
            r#"{"check":"puff / granian req/s","value":0.333,"target":"-","result":"info"}"#
        );
    }

    #[test]
    fn utc_now_is_sane() {
        let (y, mo, d, h, mi, s) = utc_now();
        assert!(y >= 2024);
        assert!((1..=12).contains(&mo) && (1..=31).contains(&d));
        assert!(h < 24 && mi < 60 && s < 60);
    }

    /// Compact JSON of `v`.
    fn text<T: Serialize>(v: &T) -> String {
        serde_json::to_string(v).unwrap()
    }
}
