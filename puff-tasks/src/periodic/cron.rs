//! Cron expressions: parsing (5 fields, or 6 with seconds first; `*`, lists, ranges,
//! steps, month and weekday names, `@hourly`-style macros) and the next matching instant
//! in an IANA time zone, with the DST rules of `docs/tasks.md`.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

/// A parsed cron expression; wall times are matched in `tz`.
#[derive(Clone, Debug)]
pub struct Cron {
    seconds: u64,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    /// Vixie cron: when both day fields are restricted, a day matching either runs.
    days_restricted: bool,
    weekdays_restricted: bool,
    tz: TimeZone,
}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const SECOND: Field = Field {
    name: "second",
    min: 0,
    max: 59,
    names: &[],
};
const MINUTE: Field = Field {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Field = Field {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DAY: Field = Field {
    name: "day of month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
};
/// 0 and 7 are Sunday.
const WEEKDAY: Field = Field {
    name: "day of week",
    min: 0,
    max: 7,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
};

/// How far ahead a search goes before deciding the expression never matches (it covers
/// every 29 February of a leap year, and the 28-year weekday cycle of dates).
const SEARCH_YEARS: i16 = 30;

impl Field {
    fn value(&self, text: &str) -> Result<u32, String> {
        let upper = text.to_ascii_uppercase();
        if let Some(i) = self.names.iter().position(|n| *n == upper) {
            return Ok(i as u32 + if self.min == 1 { 1 } else { 0 });
        }
        let v: u32 = text.parse().map_err(|_| {
            let names = if self.names.is_empty() {
                String::new()
            } else {
                format!(
                    " or a name ({}-{})",
                    self.names[0],
                    self.names[self.names.len() - 1]
                )
            };
            format!("`{text}` is not a number{names}")
        })?;
        if v < self.min || v > self.max {
            return Err(format!("{v} is out of range {}-{}", self.min, self.max));
        }
        Ok(v)
    }

    /// The set of values as bits, and whether the field is restricted: as in Vixie cron,
    /// a field starting with `*` (`*`, `*/2`) is not (it matters for the day fields).
    fn parse(&self, text: &str) -> Result<(u64, bool), String> {
        if text.is_empty() {
            return Err("empty".into());
        }
        let mut bits = 0u64;
        for item in text.split(',') {
            let (range, step) = match item.split_once('/') {
                Some((range, step)) => {
                    let step: u32 = step
                        .parse()
                        .ok()
                        .filter(|s| *s > 0)
                        .ok_or_else(|| format!("step `{step}` is not a positive number"))?;
                    (range, step)
                }
                None => (item, 1),
            };
            let (lo, hi) = if range == "*" {
                (self.min, self.max)
            } else if let Some((lo, hi)) = range.split_once('-') {
                let (lo, hi) = (self.value(lo)?, self.value(hi)?);
                if lo > hi {
                    return Err(format!("range `{range}` runs backwards"));
                }
                (lo, hi)
            } else {
                let lo = self.value(range)?;
                // `5/15`: from 5 to the end, every 15.
                (lo, if item.contains('/') { self.max } else { lo })
            };
            let mut v = lo;
            while v <= hi {
                bits |= 1 << v;
                v += step;
            }
        }
        Ok((bits, !text.starts_with('*')))
    }
}

impl Cron {
    /// Parse `expression` (5 or 6 fields, or a macro) for wall times in `tz`.
    pub fn parse(expression: &str, tz: TimeZone) -> Result<Cron, String> {
        let expanded = match expression.trim() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let (second, rest) = match fields.len() {
            5 => ("0", &fields[..]),
            6 => (fields[0], &fields[1..]),
            n => {
                return Err(format!(
                    "`{expression}` has {n} fields; expected 5 (minute hour day month \
                     weekday) or 6 (second first)"
                ));
            }
        };
        let field = |f: &Field, text: &str| {
            f.parse(text)
                .map_err(|e| format!("{} field `{text}`: {e}", f.name))
        };
        let (seconds, _) = field(&SECOND, second)?;
        let (minutes, _) = field(&MINUTE, rest[0])?;
        let (hours, _) = field(&HOUR, rest[1])?;
        let (days, days_restricted) = field(&DAY, rest[2])?;
        let (months, _) = field(&MONTH, rest[3])?;
        let (mut weekdays, weekdays_restricted) = field(&WEEKDAY, rest[4])?;
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1;
        }
        let cron = Cron {
            seconds,
            minutes,
            hours,
            days,
            months,
            weekdays,
            days_restricted,
            weekdays_restricted,
            tz,
        };
        let probe = DateTime::new(2000, 1, 1, 0, 0, 0, 0).map_err(|e| e.to_string())?;
        if cron.next_wall_time(probe).is_none() {
            return Err(format!("`{expression}` never matches a date"));
        }
        Ok(cron)
    }

    fn day_matches(&self, date: Date) -> bool {
        let day = self.days & (1 << date.day()) != 0;
        let weekday = self.weekdays & (1 << date.weekday().to_sunday_zero_offset()) != 0;
        match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => day || weekday,
            _ => day && weekday,
        }
    }

    /// The first matching wall time strictly after `after` (whole seconds).
    fn next_wall_time(&self, after: DateTime) -> Option<DateTime> {
        let (mut y, mut mo, mut d) = (after.year(), after.month() as u32, after.day() as u32);
        let (mut h, mut mi, mut s) = (
            after.hour() as u32,
            after.minute() as u32,
            after.second() as u32 + 1,
        );
        let last_year = y.saturating_add(SEARCH_YEARS);
        loop {
            // Carry overflowing fields upwards.
            if s > 59 {
                (s, mi) = (0, mi + 1);
            }
            if mi > 59 {
                (mi, h) = (0, h + 1);
            }
            if h > 23 {
                (h, d) = (0, d + 1);
            }
            let days_in_month = Date::new(y, mo as i8, 1).ok()?.days_in_month() as u32;
            if d > days_in_month {
                (d, mo) = (1, mo + 1);
            }
            if mo > 12 {
                (mo, y) = (1, y + 1);
            }
            if y > last_year {
                return None;
            }
            if self.months & (1 << mo) == 0 {
                (mo, d, h, mi, s) = (mo + 1, 1, 0, 0, 0);
                if mo > 12 {
                    (mo, y) = (1, y + 1);
                }
                continue;
            }
            if !self.day_matches(Date::new(y, mo as i8, d as i8).ok()?) {
                (d, h, mi, s) = (d + 1, 0, 0, 0);
                continue;
            }
            if self.hours & (1 << h) == 0 {
                (h, mi, s) = (h + 1, 0, 0);
                continue;
            }
            if self.minutes & (1 << mi) == 0 {
                (mi, s) = (mi + 1, 0);
                continue;
            }
            if self.seconds & (1 << s) == 0 {
                s += 1;
                continue;
            }
            return DateTime::new(y, mo as i8, d as i8, h as i8, mi as i8, s as i8, 0).ok();
        }
    }

    /// The first tick strictly after `after_ms` (unix ms), as unix ms.
    ///
    /// Wall times map to instants like RFC 5545 ("compatible"): one skipped by a
    /// spring-forward gap runs at the instant it would have had without the jump (02:30
    /// in a 02:00 -> 03:00 gap runs at 03:30 new time), one repeated by a fall-back runs
    /// at its first occurrence only. Instants are unique, so a wall time mapped onto
    /// another matching one runs once.
    pub fn next_after(&self, after_ms: u64) -> Option<u64> {
        let after = Timestamp::from_millisecond(i64::try_from(after_ms).ok()?).ok()?;
        let mut wall = self.tz.to_datetime(after);
        // Just after a spring-forward, wall times of the gap map to instants after `after`
        // although they are earlier on the wall: start from the wall time in the offset of
        // a few hours before.
        let earlier_offset = self.tz.to_offset(
            after
                .checked_sub(jiff::SignedDuration::from_hours(3))
                .ok()?,
        );
        if earlier_offset < self.tz.to_offset(after) {
            wall = earlier_offset.to_datetime(after);
        }
        for _ in 0..100_000 {
            wall = self.next_wall_time(wall)?;
            let instant = self.tz.to_ambiguous_timestamp(wall).compatible().ok()?;
            if instant > after {
                return u64::try_from(instant.as_millisecond()).ok();
            }
        }
        None
    }
}

/// The IANA time zone named `name`.
pub fn time_zone(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name).map_err(|e| format!("unknown time zone `{name}` ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> u64 {
        text.parse::<Timestamp>().unwrap().as_millisecond() as u64
    }

    fn ticks(cron: &Cron, from: &str, n: usize) -> Vec<String> {
        let mut at = ms(from);
        (0..n)
            .map(|_| {
                at = cron.next_after(at).unwrap();
                Timestamp::from_millisecond(at as i64).unwrap().to_string()
            })
            .collect()
    }

    fn cron(expr: &str, tz: &str) -> Cron {
        Cron::parse(expr, time_zone(tz).unwrap()).unwrap()
    }

    #[test]
    fn berlin_spring_forward_and_fall_back() {
        // 2026-03-29 02:00 CET -> 03:00 CEST; 2026-10-25 03:00 CEST -> 02:00 CET.
        let daily = cron("0 30 2 * * *", "Europe/Berlin");
        assert_eq!(
            ticks(&daily, "2026-03-27T12:00:00Z", 4),
            [
                "2026-03-28T01:30:00Z", // 02:30 CET
                "2026-03-29T01:30:00Z", // 02:30 does not exist: 03:30 CEST
                "2026-03-30T00:30:00Z", // 02:30 CEST
                "2026-03-31T00:30:00Z",
            ]
        );
        assert_eq!(
            ticks(&daily, "2026-10-23T12:00:00Z", 4),
            [
                "2026-10-24T00:30:00Z", // 02:30 CEST
                "2026-10-25T00:30:00Z", // 02:30 twice: the first (CEST) only
                "2026-10-26T01:30:00Z", // 02:30 CET
                "2026-10-27T01:30:00Z",
            ]
        );
        // Every 30 minutes across the gap: the gap's wall times coincide with 03:00 and
        // 03:30, each instant once.
        let half_hourly = cron("*/30 * * * *", "Europe/Berlin");
        assert_eq!(
            ticks(&half_hourly, "2026-03-29T00:15:00Z", 4),
            [
                "2026-03-29T00:30:00Z", // 01:30 CET
                "2026-03-29T01:00:00Z", // 02:00 = 03:00 CEST
                "2026-03-29T01:30:00Z", // 02:30 = 03:30 CEST
                "2026-03-29T02:00:00Z", // 04:00 CEST
            ]
        );
        // Across the fall-back the repeated hour runs once.
        assert_eq!(
            ticks(&half_hourly, "2026-10-24T23:45:00Z", 5),
            [
                "2026-10-25T00:00:00Z", // 02:00 CEST
                "2026-10-25T00:30:00Z", // 02:30 CEST
                "2026-10-25T02:00:00Z", // 03:00 CET (02:00 and 02:30 CET were run)
                "2026-10-25T02:30:00Z",
                "2026-10-25T03:00:00Z",
            ]
        );
        // A scheduler asking just after the jump still finds the skipped 02:30.
        assert_eq!(
            ticks(&daily, "2026-03-29T01:10:00Z", 1),
            ["2026-03-29T01:30:00Z"]
        );
    }

    #[test]
    fn new_york_and_utc() {
        // 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST.
        let c = cron("30 1,2 * * *", "America/New_York");
        assert_eq!(
            ticks(&c, "2026-03-08T00:00:00Z", 3),
            [
                "2026-03-08T06:30:00Z", // 01:30 EST
                "2026-03-08T07:30:00Z", // 02:30 -> 03:30 EDT
                "2026-03-09T05:30:00Z", // 01:30 EDT
            ]
        );
        assert_eq!(
            ticks(&c, "2026-11-01T00:00:00Z", 3),
            [
                "2026-11-01T05:30:00Z", // 01:30 EDT (the repeated 01:30 EST is skipped)
                "2026-11-01T07:30:00Z", // 02:30 EST
                "2026-11-02T06:30:00Z",
            ]
        );
        let c = cron("*/20 * * * * *", "UTC");
        assert_eq!(
            ticks(&c, "2026-01-01T00:00:59Z", 3),
            [
                "2026-01-01T00:01:00Z",
                "2026-01-01T00:01:20Z",
                "2026-01-01T00:01:40Z"
            ]
        );
    }

    #[test]
    fn fields_names_and_day_rules() {
        let c = cron("0 9 * JAN-mar mon-fri", "UTC");
        assert_eq!(
            ticks(&c, "2026-03-27T10:00:00Z", 3),
            [
                "2026-03-30T09:00:00Z",
                "2026-03-31T09:00:00Z",
                "2027-01-01T09:00:00Z"
            ]
        );
        // Both day fields restricted: either matches (the 13th, a Friday, or a Monday).
        let c = cron("0 0 13 * 1", "UTC");
        assert_eq!(
            ticks(&c, "2026-02-10T00:00:00Z", 3),
            [
                "2026-02-13T00:00:00Z",
                "2026-02-16T00:00:00Z",
                "2026-02-23T00:00:00Z"
            ]
        );
        // A day field starting with `*` is unrestricted: both must match (odd days that
        // are Mondays).
        let c = cron("0 0 */2 * 1", "UTC");
        assert_eq!(
            ticks(&c, "2026-02-01T00:00:00Z", 2),
            ["2026-02-09T00:00:00Z", "2026-02-23T00:00:00Z"]
        );
        // Sunday as 7, steps over ranges, `@daily`, 29 February.
        let c = cron("0 12 * * 7", "UTC");
        assert_eq!(
            ticks(&c, "2026-01-01T00:00:00Z", 1),
            ["2026-01-04T12:00:00Z"]
        );
        let c = cron("10-40/15 * * * *", "UTC");
        assert_eq!(
            ticks(&c, "2026-01-01T00:00:00Z", 4),
            [
                "2026-01-01T00:10:00Z",
                "2026-01-01T00:25:00Z",
                "2026-01-01T00:40:00Z",
                "2026-01-01T01:10:00Z"
            ]
        );
        let c = cron("@daily", "UTC");
        assert_eq!(
            ticks(&c, "2026-01-01T00:00:00Z", 1),
            ["2026-01-02T00:00:00Z"]
        );
        let c = cron("0 0 29 2 *", "UTC");
        assert_eq!(
            ticks(&c, "2026-01-01T00:00:00Z", 1),
            ["2028-02-29T00:00:00Z"]
        );
    }

    #[test]
    fn errors_name_the_field() {
        let utc = || time_zone("UTC").unwrap();
        let err = |e: &str| Cron::parse(e, utc()).unwrap_err();
        assert!(err("* * *").contains("has 3 fields"), "{}", err("* * *"));
        assert_eq!(
            err("0 25 * * *"),
            "hour field `25`: 25 is out of range 0-23"
        );
        assert!(err("* * * FOO *").starts_with("month field `FOO`: `FOO` is not a number"));
        assert_eq!(
            err("*/0 * * * *"),
            "minute field `*/0`: step `0` is not a positive number"
        );
        assert_eq!(
            err("5-1 * * * *"),
            "minute field `5-1`: range `5-1` runs backwards"
        );
        assert_eq!(err("0 0 31 2 *"), "`0 0 31 2 *` never matches a date");
        assert!(
            time_zone("Mars/Olympus")
                .unwrap_err()
                .contains("Mars/Olympus")
        );
    }
}
