//! The text Postgres prints for an interval in each `IntervalStyle`, built from the
//! binary form's months, days and microseconds.
//!
//! psycopg2 hands a typecaster registered for `interval` the server's text. Puff reads
//! intervals in binary, and a `timedelta` has lost what tells `'1 mon'` from `'30 days'`,
//! `'100:00:00'` from `'4 days 04:00:00'` and `'-1 days +02:00:00'` from `'-22:00:00'`:
//! the text is printed here from the raw fields instead, in the session's style (the
//! server reports `IntervalStyle` changes; see `batch.rs`).
//!
//! Printing beats asking the server for such columns in the text format: tokio-postgres
//! binds every result column in binary (its API has no per-column choice), and the
//! binary form holds every field the text shows, so a few lines here give the exact text
//! with no protocol work, only for the columns with a caster.

/// The server setting `IntervalStyle`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
pub enum IntervalStyle {
    /// `1 year 2 mons -3 days +04:05:06.5` (the default).
    #[default]
    Postgres = 0,
    /// `@ 1 year 2 mons -3 days 4 hours 5 mins 6.5 secs`.
    PostgresVerbose,
    /// `+1-2 -3 +4:05:06.5`.
    SqlStandard,
    /// `P1Y2M-3DT4H5M6.5S`.
    Iso8601,
}

impl IntervalStyle {
    /// The style a `ParameterStatus` value names (None: not a style).
    pub fn from_setting(value: &[u8]) -> Option<IntervalStyle> {
        Some(match value {
            b"postgres" => IntervalStyle::Postgres,
            b"postgres_verbose" => IntervalStyle::PostgresVerbose,
            b"sql_standard" => IntervalStyle::SqlStandard,
            b"iso_8601" => IntervalStyle::Iso8601,
            _ => return None,
        })
    }
}

const HOUR_MICROS: i64 = 3_600_000_000;

/// An interval split into fields as the server splits it for printing: years and months
/// from the months, then hours, minutes, seconds and microseconds from the time, each
/// field truncated toward zero (so each has the sign of what it came from).
struct Fields {
    year: i64,
    mon: i64,
    day: i64,
    hour: i64,
    min: i64,
    sec: i64,
    micro: i64,
}

impl Fields {
    fn new(months: i32, days: i32, micros: i64) -> Fields {
        let (months, micros) = (i64::from(months), micros);
        Fields {
            year: months / 12,
            mon: months % 12,
            day: days.into(),
            hour: micros / HOUR_MICROS,
            min: micros % HOUR_MICROS / 60_000_000,
            sec: micros % 60_000_000 / 1_000_000,
            micro: micros % 1_000_000,
        }
    }

    fn time_is_zero(&self) -> bool {
        self.hour == 0 && self.min == 0 && self.sec == 0 && self.micro == 0
    }

    fn time_is_negative(&self) -> bool {
        self.hour < 0 || self.min < 0 || self.sec < 0 || self.micro < 0
    }
}

/// Seconds without their sign, with the fraction's trailing zeros dropped; `pad`: two
/// digits at least.
fn push_seconds(out: &mut String, sec: i64, micro: i64, pad: bool) {
    let sec = sec.unsigned_abs();
    if pad {
        out.push_str(&format!("{sec:02}"));
    } else {
        out.push_str(&sec.to_string());
    }
    if micro != 0 {
        let fraction = format!("{:06}", micro.unsigned_abs());
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
}

/// `months`, `days` and `micros` (the binary form's fields) as `interval_out` prints
/// them in `style`.
pub fn interval_text(months: i32, days: i32, micros: i64, style: IntervalStyle) -> String {
    // Postgres 17's infinite intervals: every field at its extreme.
    if (months, days, micros) == (i32::MAX, i32::MAX, i64::MAX) {
        return "infinity".into();
    }
    if (months, days, micros) == (i32::MIN, i32::MIN, i64::MIN) {
        return "-infinity".into();
    }
    let f = Fields::new(months, days, micros);
    match style {
        IntervalStyle::Postgres => postgres(&f),
        IntervalStyle::PostgresVerbose => postgres_verbose(&f),
        IntervalStyle::SqlStandard => sql_standard(&f),
        IntervalStyle::Iso8601 => iso_8601(&f),
    }
}

/// Nonzero date fields with their units, each after a negative one marked `+` when
/// positive; then the time as `[-+]hh:mm:ss`, signed when negative or after a negative
/// field, left out when zero unless nothing else printed.
fn postgres(f: &Fields) -> String {
    let mut out = String::new();
    let mut after_negative = false;
    for (value, unit) in [(f.year, "year"), (f.mon, "mon"), (f.day, "day")] {
        if value == 0 {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        let plus = if after_negative && value > 0 { "+" } else { "" };
        let s = if value == 1 { "" } else { "s" };
        out.push_str(&format!("{plus}{value} {unit}{s}"));
        after_negative = value < 0;
    }
    if out.is_empty() || !f.time_is_zero() {
        if !out.is_empty() {
            out.push(' ');
        }
        if f.time_is_negative() {
            out.push('-');
        } else if after_negative {
            out.push('+');
        }
        let (hour, min) = (f.hour.unsigned_abs(), f.min.unsigned_abs());
        out.push_str(&format!("{hour:02}:{min:02}:"));
        push_seconds(&mut out, f.sec, f.micro, true);
    }
    out
}

/// `@`, then every nonzero field with its unit; the first nonzero field's sign decides
/// the whole, printed as a trailing `ago` (the later fields negated to match).
fn postgres_verbose(f: &Fields) -> String {
    let mut out = String::from("@");
    let mut none_yet = true;
    let mut ago = false;
    let parts = [
        (f.year, "year"),
        (f.mon, "mon"),
        (f.day, "day"),
        (f.hour, "hour"),
        (f.min, "min"),
    ];
    for (value, unit) in parts {
        if value == 0 {
            continue;
        }
        let shown = if none_yet {
            ago = value < 0;
            value.abs()
        } else if ago {
            -value
        } else {
            value
        };
        let s = if shown == 1 { "" } else { "s" };
        out.push_str(&format!(" {shown} {unit}{s}"));
        none_yet = false;
    }
    if f.sec != 0 || f.micro != 0 {
        out.push(' ');
        let negative = f.sec < 0 || (f.sec == 0 && f.micro < 0);
        if negative && none_yet {
            ago = true;
        } else if negative != ago {
            out.push('-');
        }
        push_seconds(&mut out, f.sec, f.micro, false);
        let s = if f.sec.abs() != 1 || f.micro != 0 {
            "s"
        } else {
            ""
        };
        out.push_str(&format!(" sec{s}"));
        none_yet = false;
    }
    if none_yet {
        out.push_str(" 0");
    }
    if ago {
        out.push_str(" ago");
    }
    out
}

/// The SQL standard's `[-]y-m`, `[-]d h:mm:ss` or `[-]h:mm:ss` with one sign in front;
/// an interval the standard cannot write (years or months with days or time, or mixed
/// signs) as `±y-m ±d ±h:mm:ss`, every part signed.
fn sql_standard(f: &Fields) -> String {
    let all = [f.year, f.mon, f.day, f.hour, f.min, f.sec, f.micro];
    let has_negative = all.iter().any(|v| *v < 0);
    let has_positive = all.iter().any(|v| *v > 0);
    if !has_negative && !has_positive {
        return "0".into();
    }
    let has_year_month = f.year != 0 || f.mon != 0;
    let has_day_time = f.day != 0 || !f.time_is_zero();
    let mut out = String::new();
    let sign = |negative: bool| if negative { '-' } else { '+' };
    let (hour, min) = (f.hour.unsigned_abs(), f.min.unsigned_abs());
    if (has_negative && has_positive) || (has_year_month && has_day_time) {
        let (year, mon, day) = (
            f.year.unsigned_abs(),
            f.mon.unsigned_abs(),
            f.day.unsigned_abs(),
        );
        out.push_str(&format!(
            "{}{year}-{mon} {}{day} {}{hour}:{min:02}:",
            sign(f.year < 0 || f.mon < 0),
            sign(f.day < 0),
            sign(f.time_is_negative()),
        ));
        push_seconds(&mut out, f.sec, f.micro, true);
        return out;
    }
    // One sign for all: the fields print without theirs.
    if has_negative {
        out.push('-');
    }
    if has_year_month {
        out.push_str(&format!(
            "{}-{}",
            f.year.unsigned_abs(),
            f.mon.unsigned_abs()
        ));
        return out;
    }
    if f.day != 0 {
        out.push_str(&format!("{} ", f.day.unsigned_abs()));
    }
    out.push_str(&format!("{hour}:{min:02}:"));
    push_seconds(&mut out, f.sec, f.micro, true);
    out
}

/// ISO 8601's duration `PnYnMnDTnHnMnS`, each nonzero field signed on its own (`PT0S`
/// for zero).
fn iso_8601(f: &Fields) -> String {
    if [f.year, f.mon, f.day].iter().all(|v| *v == 0) && f.time_is_zero() {
        return "PT0S".into();
    }
    let mut out = String::from("P");
    let part = |value: i64, unit: char, out: &mut String| {
        if value != 0 {
            out.push_str(&format!("{value}{unit}"));
        }
    };
    part(f.year, 'Y', &mut out);
    part(f.mon, 'M', &mut out);
    part(f.day, 'D', &mut out);
    if !f.time_is_zero() {
        out.push('T');
    }
    part(f.hour, 'H', &mut out);
    part(f.min, 'M', &mut out);
    if f.sec != 0 || f.micro != 0 {
        if f.sec < 0 || f.micro < 0 {
            out.push('-');
        }
        push_seconds(&mut out, f.sec, f.micro, false);
        out.push('S');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: i64 = 1_000_000;

    fn all(months: i32, days: i32, micros: i64) -> [String; 4] {
        [
            IntervalStyle::Postgres,
            IntervalStyle::PostgresVerbose,
            IntervalStyle::SqlStandard,
            IntervalStyle::Iso8601,
        ]
        .map(|style| interval_text(months, days, micros, style))
    }

    // Expected texts are the server's (Postgres 15), e.g.
    // `SET IntervalStyle = sql_standard; SELECT '1 year 2 mons -3 days +04:05:06.5'::interval`.
    #[test]
    fn as_the_server_prints_them() {
        assert_eq!(
            all(0, 0, 0),
            ["00:00:00", "@ 0", "0", "PT0S"].map(String::from)
        );
        assert_eq!(
            all(14, -3, 14_706_500_000),
            [
                "1 year 2 mons -3 days +04:05:06.5",
                "@ 1 year 2 mons -3 days 4 hours 5 mins 6.5 secs",
                "+1-2 -3 +4:05:06.5",
                "P1Y2M-3DT4H5M6.5S",
            ]
            .map(String::from)
        );
        assert_eq!(
            all(0, -1, 7_200 * SEC),
            [
                "-1 days +02:00:00",
                "@ 1 day -2 hours ago",
                "+0-0 -1 +2:00:00",
                "P-1DT2H",
            ]
            .map(String::from)
        );
        assert_eq!(
            all(0, 0, 360_000 * SEC),
            ["100:00:00", "@ 100 hours", "100:00:00", "PT100H"].map(String::from)
        );
        assert_eq!(
            all(1, 0, 0),
            ["1 mon", "@ 1 mon", "0-1", "P1M"].map(String::from)
        );
        assert_eq!(
            all(0, 0, -1_000_001),
            [
                "-00:00:01.000001",
                "@ 1.000001 secs ago",
                "-0:00:01.000001",
                "PT-1.000001S",
            ]
            .map(String::from)
        );
        assert_eq!(
            all(-14, 0, 0),
            ["-1 years -2 mons", "@ 1 year 2 mons ago", "-1-2", "P-1Y-2M"].map(String::from)
        );
    }

    #[test]
    fn infinite_intervals() {
        let text = |m, d, us| interval_text(m, d, us, IntervalStyle::Iso8601);
        assert_eq!(text(i32::MAX, i32::MAX, i64::MAX), "infinity");
        assert_eq!(text(i32::MIN, i32::MIN, i64::MIN), "-infinity");
    }

    #[test]
    fn styles_by_setting() {
        assert_eq!(
            IntervalStyle::from_setting(b"iso_8601"),
            Some(IntervalStyle::Iso8601)
        );
        assert_eq!(IntervalStyle::from_setting(b"ISO"), None);
    }
}
