//! Values read from their text form, for statements without parameters that run over the
//! simple query protocol (see `PgClient::query_inner`).
//!
//! Why: psycopg2 sends every statement as one simple Query, and Postgres lists the portal
//! of an extended-protocol Bind in `pg_cursors` while the statement runs, so a query of
//! `pg_cursors` sent the extended way sees itself (Django's server-side cursor tests count
//! those rows). Only the types whose text form is fixed by the server's ISO `DateStyle` and
//! read here to the same [`Value`] the binary decoder gives take this path; a statement
//! returning any other type stays on the extended protocol, decided before it runs.

use tokio_postgres::types::{Kind, Type};

use crate::value::{BoxError, DAY_MICROS, PG_EPOCH_DAYS, Value, days_from_civil, parse_uuid};

/// Whether a column of type `ty` is read here from its text form.
pub(crate) fn reads_text(ty: &Type) -> bool {
    match *ty {
        Type::BOOL
        | Type::INT2
        | Type::INT4
        | Type::INT8
        | Type::OID
        | Type::FLOAT4
        | Type::FLOAT8
        | Type::NUMERIC
        | Type::TEXT
        | Type::VARCHAR
        | Type::BPCHAR
        | Type::NAME
        | Type::UNKNOWN
        | Type::DATE
        | Type::TIME
        | Type::TIMESTAMP
        | Type::TIMESTAMPTZ
        | Type::UUID
        | Type::JSON
        | Type::JSONB => true,
        _ => match ty.kind() {
            Kind::Enum(_) => true,
            Kind::Domain(inner) => reads_text(inner),
            _ => false,
        },
    }
}

/// The value of a column of type `ty` (one [`reads_text`] accepts) from its text form.
pub(crate) fn decode_text(ty: &Type, text: &str) -> Result<Value, BoxError> {
    let bad = || -> BoxError { format!("unexpected {} text {text:?}", ty.name()).into() };
    Ok(match *ty {
        Type::BOOL => match text {
            "t" => Value::Bool(true),
            "f" => Value::Bool(false),
            _ => return Err(bad()),
        },
        Type::INT2 | Type::INT4 | Type::INT8 | Type::OID => {
            Value::Int(text.parse().map_err(|_| bad())?)
        }
        Type::FLOAT4 | Type::FLOAT8 => Value::Float(match text {
            "NaN" => f64::NAN,
            "Infinity" => f64::INFINITY,
            "-Infinity" => f64::NEG_INFINITY,
            _ => text.parse().map_err(|_| bad())?,
        }),
        Type::NUMERIC => Value::Numeric(text.to_owned()),
        Type::DATE => Value::Date(date(text).ok_or_else(bad)?),
        Type::TIME => Value::Time(time_of_day(text).ok_or_else(bad)?),
        Type::TIMESTAMP => Value::Timestamp(timestamp(text, false).ok_or_else(bad)?),
        Type::TIMESTAMPTZ => Value::TimestampTz(timestamp(text, true).ok_or_else(bad)?),
        Type::UUID => Value::Uuid(parse_uuid(text).ok_or_else(bad)?),
        Type::JSON | Type::JSONB => Value::Json(text.to_owned()),
        _ => match ty.kind() {
            Kind::Domain(inner) => decode_text(inner, text)?,
            _ => Value::Text(text.to_owned()),
        },
    })
}

/// `text` without a trailing ` BC`, and whether it had one.
fn era(text: &str) -> (&str, bool) {
    match text.strip_suffix(" BC") {
        Some(rest) => (rest, true),
        None => (text, false),
    }
}

/// Days since 2000-01-01 of `YYYY-MM-DD[ BC]`; `infinity` as the binary form has it.
fn date(text: &str) -> Option<i32> {
    match text {
        "infinity" => return Some(i32::MAX),
        "-infinity" => return Some(i32::MIN),
        _ => {}
    }
    let (text, bc) = era(text);
    i32::try_from(days(text, bc)?).ok()
}

/// Days since 2000-01-01 of `YYYY-MM-DD` (the year may have more than four digits).
fn days(text: &str, bc: bool) -> Option<i64> {
    let mut parts = text.splitn(3, '-');
    let year: i64 = digits(parts.next()?)?;
    let month: u32 = digits(parts.next()?)?;
    let day: u32 = digits(parts.next()?)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // 1 BC is year 0 of the proleptic calendar.
    let year = if bc { 1 - year } else { year };
    Some(days_from_civil(year, month, day) - PG_EPOCH_DAYS)
}

/// Microseconds since midnight of `HH:MM:SS[.ffffff]`.
fn time_of_day(text: &str) -> Option<i64> {
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    let mut parts = whole.splitn(3, ':');
    let h: i64 = digits(parts.next()?)?;
    let m: i64 = digits(parts.next()?)?;
    let s: i64 = digits(parts.next()?)?;
    let mut micros = ((h * 60 + m) * 60 + s) * 1_000_000;
    if let Some(fraction) = fraction {
        if fraction.is_empty() || fraction.len() > 6 {
            return None;
        }
        let scale = 10_i64.pow(6 - fraction.len() as u32);
        micros += digits::<i64>(fraction)? * scale;
    }
    Some(micros)
}

/// Microseconds since 2000-01-01 00:00 of `YYYY-MM-DD HH:MM:SS[.ffffff][±HH[:MM[:SS]]][ BC]`:
/// local time for a timestamp, UTC (the offset taken off) for a timestamptz.
fn timestamp(text: &str, with_offset: bool) -> Option<i64> {
    match text {
        "infinity" => return Some(i64::MAX),
        "-infinity" => return Some(i64::MIN),
        _ => {}
    }
    let (text, bc) = era(text);
    let (day, clock) = text.split_once(' ')?;
    let (clock, offset_secs) = if with_offset {
        let at = clock.rfind(['+', '-'])?;
        (&clock[..at], utc_offset(&clock[at..])?)
    } else {
        (clock, 0)
    };
    let local = days(day, bc)? * DAY_MICROS + time_of_day(clock)?;
    Some(local - offset_secs * 1_000_000)
}

/// Seconds east of UTC of `+HH`, `-HH:MM` or `+HH:MM:SS`.
fn utc_offset(text: &str) -> Option<i64> {
    let (sign, rest) = match text.split_at(1) {
        ("+", rest) => (1, rest),
        ("-", rest) => (-1, rest),
        _ => return None,
    };
    let mut seconds = 0;
    let mut unit = 3600;
    for part in rest.split(':') {
        if unit == 0 {
            return None;
        }
        seconds += digits::<i64>(part)? * unit;
        unit /= 60;
    }
    Some(sign * seconds)
}

/// A field of ASCII digits only (no sign, no spaces).
fn digits<T: std::str::FromStr>(field: &str) -> Option<T> {
    if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    field.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::decode;

    /// The text form and the binary form of the same value decode alike.
    fn same(ty: Type, text: &str, binary: &[u8]) {
        assert_eq!(
            decode_text(&ty, text).unwrap(),
            decode(&ty, binary).unwrap(),
            "{} {text:?}",
            ty.name()
        );
    }

    #[test]
    fn scalars_read_as_their_binary_form() {
        same(Type::BOOL, "t", &[1]);
        same(Type::BOOL, "f", &[0]);
        same(Type::INT2, "-7", &(-7i16).to_be_bytes());
        same(Type::INT8, "9223372036854775807", &i64::MAX.to_be_bytes());
        same(Type::OID, "4294967295", &u32::MAX.to_be_bytes());
        same(Type::FLOAT8, "0.1", &0.1f64.to_be_bytes());
        same(Type::FLOAT4, "0.5555556", &0.555_555_6_f32.to_be_bytes());
        same(Type::FLOAT8, "-Infinity", &f64::NEG_INFINITY.to_be_bytes());
        same(Type::TEXT, "é \"x\"", "é \"x\"".as_bytes());
        same(
            Type::UUID,
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            &[
                0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38,
                0x0a, 0x11,
            ],
        );
        assert!(matches!(decode_text(&Type::FLOAT8, "NaN"), Ok(Value::Float(f)) if f.is_nan()));
        assert!(decode_text(&Type::INT4, "12a").is_err());
        assert!(decode_text(&Type::BOOL, "true").is_err());
    }

    #[test]
    fn dates_and_times() {
        same(Type::DATE, "2000-01-01", &0i32.to_be_bytes());
        same(Type::DATE, "1999-12-31", &(-1i32).to_be_bytes());
        same(Type::DATE, "infinity", &i32::MAX.to_be_bytes());
        same(Type::DATE, "-infinity", &i32::MIN.to_be_bytes());
        // 0001-01-01 BC is the day before 0001-01-01 minus a leap year (year 0).
        let ad1 = days_from_civil(1, 1, 1) - PG_EPOCH_DAYS;
        let bc1 = days_from_civil(0, 1, 1) - PG_EPOCH_DAYS;
        same(Type::DATE, "0001-01-01", &(ad1 as i32).to_be_bytes());
        same(Type::DATE, "0001-01-01 BC", &(bc1 as i32).to_be_bytes());
        same(
            Type::DATE,
            "10000-03-01",
            &((days_from_civil(10000, 3, 1) - PG_EPOCH_DAYS) as i32).to_be_bytes(),
        );
        same(Type::TIME, "13:45:06.5", &(49_506_500_000i64).to_be_bytes());
        same(Type::TIME, "24:00:00", &DAY_MICROS.to_be_bytes());
        same(
            Type::TIMESTAMP,
            "2000-01-02 00:00:00.000001",
            &(DAY_MICROS + 1).to_be_bytes(),
        );
        same(Type::TIMESTAMP, "infinity", &i64::MAX.to_be_bytes());
        // The same instant in three zones.
        let instant = (DAY_MICROS + 3_600_000_000).to_be_bytes();
        same(Type::TIMESTAMPTZ, "2000-01-02 01:00:00+00", &instant);
        same(Type::TIMESTAMPTZ, "2000-01-02 06:30:00+05:30", &instant);
        same(Type::TIMESTAMPTZ, "2000-01-01 21:59:20-03:00:40", &instant);
        assert!(decode_text(&Type::TIMESTAMPTZ, "2000-01-02 01:00:00").is_err());
        assert!(decode_text(&Type::DATE, "01/02/2000").is_err());
        assert!(decode_text(&Type::TIME, "10:00:00.1234567").is_err());
    }

    #[test]
    fn only_the_types_read_here_take_the_text_path() {
        assert!(reads_text(&Type::TIMESTAMPTZ));
        assert!(!reads_text(&Type::BYTEA));
        assert!(!reads_text(&Type::INTERVAL));
        assert!(!reads_text(&Type::INT4_ARRAY));
        assert!(!reads_text(&Type::REGTYPE));
        assert!(!reads_text(&Type::CHAR));
    }
}
