//! [`Value`]: a Postgres value as plain Rust data, decoded from and encoded to the binary
//! wire format for every type `puff.postgres` supports.
//!
//! Decoding follows the column type. Parameters are typed from the value the way psycopg2
//! types its SQL literals ([`Value::param_oid`]): an int is an `int4`/`int8`/`numeric`
//! constant, a float a `numeric` one, a str an unknown-typed literal the server types from
//! its context. Encoding follows the parameter type of the prepared statement; text values
//! travel in the text format, so the server parses them exactly as it parses a quoted
//! literal.

pub mod interval_text;
mod record_text;
pub(crate) mod text;

use std::error::Error as StdError;

use bytes::{BufMut, BytesMut};
use tokio_postgres::types::{Format, FromSql, IsNull, Kind, ToSql, Type, to_sql_checked};

pub(crate) type BoxError = Box<dyn StdError + Sync + Send>;

/// Microseconds in a day.
pub const DAY_MICROS: i64 = 86_400_000_000;

/// One Postgres value. Dates and times count from Postgres' epoch, 2000-01-01.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// int2, int4, int8, oid.
    Int(i64),
    /// float4, float8.
    Float(f64),
    /// numeric, as decimal text (`-12.340`, `NaN`, `Infinity`).
    Numeric(String),
    /// text, varchar, char, name, enums and other types without a binary decoder; as a
    /// parameter, text the server parses for the parameter's type (the text format).
    Text(String),
    /// bytea.
    Bytes(Vec<u8>),
    /// date: days since 2000-01-01.
    Date(i32),
    /// time: microseconds since midnight.
    Time(i64),
    /// timetz: microseconds since midnight and the UTC offset in seconds (east positive).
    TimeTz {
        micros: i64,
        offset: i32,
    },
    /// timestamp without time zone: microseconds since 2000-01-01 00:00.
    Timestamp(i64),
    /// timestamptz: microseconds since 2000-01-01 00:00 UTC.
    TimestampTz(i64),
    Interval {
        months: i32,
        days: i32,
        micros: i64,
    },
    Uuid([u8; 16]),
    /// json or jsonb, as JSON text.
    Json(String),
    /// An array (nested for multi-dimensional arrays).
    Array(Vec<Value>),
    /// A range (decoded only: range parameters travel as text). `type_oid` is the range
    /// type's; bounds are None when infinite.
    Range {
        type_oid: u32,
        empty: bool,
        lower: Option<Box<Value>>,
        upper: Option<Box<Value>>,
        lower_inc: bool,
        upper_inc: bool,
    },
    /// hstore (decoded only, by type name: hstore is an extension with no fixed OID).
    Hstore(Vec<(String, Option<String>)>),
}

/// Type OIDs parameters are typed with.
pub mod oid {
    /// Unspecified: the server infers the type, as for an unknown-typed literal.
    pub const UNKNOWN: u32 = 0;
    pub const BOOL: u32 = 16;
    pub const BYTEA: u32 = 17;
    pub const INT8: u32 = 20;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const FLOAT8: u32 = 701;
    pub const INET: u32 = 869;
    pub const DATE: u32 = 1082;
    pub const TIME: u32 = 1083;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const INTERVAL: u32 = 1186;
    pub const TIMETZ: u32 = 1266;
    pub const NUMERIC: u32 = 1700;
    pub const UUID: u32 = 2950;
}

/// The array type of element type `elem`, for the built-in types parameters use.
pub fn array_oid(elem: u32) -> Option<u32> {
    Some(match elem {
        16 => 1000,
        17 => 1001,
        20 => 1016,
        21 => 1005,
        23 => 1007,
        25 => 1009,
        114 => 199,
        650 => 651,
        700 => 1021,
        701 => 1022,
        869 => 1041,
        1082 => 1182,
        1083 => 1183,
        1114 => 1115,
        1184 => 1185,
        1186 => 1187,
        1266 => 1270,
        1700 => 1231,
        2950 => 2951,
        3802 => 3807,
        3904 => 3905,
        3906 => 3907,
        3908 => 3909,
        3910 => 3911,
        3912 => 3913,
        3926 => 3927,
        _ => return None,
    })
}

/// The type Postgres' `ARRAY[...]` gives elements of types `a` and `b` (its
/// `select_common_type` over the types literals have): unknown takes the other's type;
/// within the numeric and date/time categories the wider type wins. None: no common type.
pub fn common_oid(a: u32, b: u32) -> Option<u32> {
    fn rank(t: u32) -> Option<(u8, u8)> {
        Some(match t {
            23 => (0, 1),
            20 => (0, 2),
            1700 => (0, 3),
            701 => (0, 4),
            1082 => (1, 1),
            1114 => (1, 2),
            1184 => (1, 3),
            1083 => (2, 1),
            1266 => (2, 2),
            _ => return None,
        })
    }
    if a == b || b == oid::UNKNOWN {
        return Some(a);
    }
    if a == oid::UNKNOWN {
        return Some(b);
    }
    match (rank(a), rank(b)) {
        (Some((ca, ra)), Some((cb, rb))) if ca == cb => Some(if ra >= rb { a } else { b }),
        _ => None,
    }
}

pub use puff_greenlet::calendar::{civil_from_days, days_from_civil};

/// Days between 1970-01-01 and Postgres' epoch 2000-01-01.
pub const PG_EPOCH_DAYS: i64 = 10_957;

impl Value {
    /// `Value::Date` for a calendar date.
    pub fn date(year: i32, month: u32, day: u32) -> Value {
        Value::Date((days_from_civil(i64::from(year), month, day) - PG_EPOCH_DAYS) as i32)
    }

    /// The calendar date of a `Value::Date`.
    pub fn as_ymd(&self) -> Option<(i64, u32, u32)> {
        match self {
            Value::Date(d) => Some(civil_from_days(i64::from(*d) + PG_EPOCH_DAYS)),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) | Value::Numeric(s) | Value::Json(s) => Some(s),
            _ => None,
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Numeric(_) => "Decimal",
            Value::Text(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::Date(_) => "date",
            Value::Time(_) => "time",
            Value::TimeTz { .. } => "aware time",
            Value::Timestamp(_) => "naive datetime",
            Value::TimestampTz(_) => "aware datetime",
            Value::Interval { .. } => "timedelta",
            Value::Uuid(_) => "UUID",
            Value::Json(_) => "JSON",
            Value::Array(_) => "list",
            Value::Range { .. } => "range",
            Value::Hstore(_) => "hstore",
        }
    }

    /// The type psycopg2's SQL literal for this value has, as a parameter OID: int4 / int8
    /// / numeric by size for ints, numeric for finite floats (`1.5` is a numeric constant;
    /// psycopg2 writes NaN and infinities as `'NaN'::float`), unknown for text and NULL
    /// (the server types them from their context, as it types a quoted literal). Arrays
    /// take their elements' common type ([`Value::array_param`] makes them).
    pub fn param_oid(&self) -> u32 {
        match self {
            Value::Null | Value::Text(_) | Value::Json(_) => oid::UNKNOWN,
            Value::Bool(_) => oid::BOOL,
            Value::Int(i) => {
                if i32::try_from(*i).is_ok() {
                    oid::INT4
                } else {
                    oid::INT8
                }
            }
            Value::Float(f) if f.is_finite() => oid::NUMERIC,
            Value::Float(_) => oid::FLOAT8,
            Value::Numeric(_) => oid::NUMERIC,
            Value::Bytes(_) => oid::BYTEA,
            Value::Date(_) => oid::DATE,
            Value::Time(_) => oid::TIME,
            Value::TimeTz { .. } => oid::TIMETZ,
            Value::Timestamp(_) => oid::TIMESTAMP,
            Value::TimestampTz(_) => oid::TIMESTAMPTZ,
            Value::Interval { .. } => oid::INTERVAL,
            Value::Uuid(_) => oid::UUID,
            Value::Array(_) | Value::Range { .. } | Value::Hstore(_) => oid::UNKNOWN,
        }
    }

    /// A list parameter as psycopg2 writes it: `ARRAY[...]` typed by its elements' common
    /// type (`items` pairs each element with its OID; nested lists are arrays already
    /// made by this function, with the OID of their element type); `'{}'` for an empty
    /// list and `'{NULL,...}'` (unknown-typed) when every element is NULL. Elements given
    /// as text with a type (ranges, hstore, ...) make the whole array text.
    /// Returns the value and the OID of its *element* type (0 for unknown-typed text).
    pub fn array_param(items: Vec<(Value, u32, bool)>, top: bool) -> Result<(Value, u32), String> {
        let mut elem = oid::UNKNOWN;
        // psycopg2 counts a nested list written as '{NULL,...}' as NULL here.
        let all_null = items.iter().all(|(v, t, nested)| {
            matches!(v, Value::Null)
                || (*nested && *t == oid::UNKNOWN && matches!(v, Value::Array(_)))
        });
        let mut typed_text = false;
        for (v, t, _) in &items {
            if matches!(v, Value::Text(_)) && *t != oid::UNKNOWN && !binary_from_text(*t) {
                typed_text = true;
            }
            elem = common_oid(elem, *t).ok_or_else(|| {
                format!(
                    "ARRAY types {} and {} cannot be matched (the list mixes them)",
                    type_label(elem),
                    type_label(*t)
                )
            })?;
        }
        let values: Vec<Value> = items.into_iter().map(|(v, _, _)| v).collect();
        if values.is_empty() || all_null {
            if !top {
                return Ok((Value::Array(values), oid::UNKNOWN));
            }
            // Unknown-typed text, as psycopg2's '{}' and '{NULL,...}'.
            let mut text = String::new();
            array_text(&values, &mut text)?;
            return Ok((Value::Text(text), oid::UNKNOWN));
        }
        if elem == oid::UNKNOWN && values.iter().any(|v| matches!(v, Value::Text(_))) {
            // Text (and NULLs): ARRAY['a', ...] is text[].
            elem = oid::TEXT;
        }
        if typed_text {
            let mut text = String::new();
            array_text(&values, &mut text)?;
            return Ok((Value::Text(text), elem));
        }
        Ok((Value::Array(values), elem))
    }
}

/// Whether a text value of type `oid` can go into a binary array element (Puff encodes
/// these types from their text itself).
fn binary_from_text(oid: u32) -> bool {
    matches!(
        oid,
        oid::INT4
            | oid::INT8
            | oid::NUMERIC
            | oid::FLOAT8
            | oid::TEXT
            | oid::UUID
            | oid::INET
            | 650
    )
}

fn type_label(oid: u32) -> String {
    Type::from_oid(oid).map_or_else(|| format!("oid {oid}"), |t| t.name().to_owned())
}

/// Postgres' text form of an array of text elements (`{"a","b",NULL}`), for arrays whose
/// element type Puff cannot encode in binary.
fn array_text(items: &[Value], out: &mut String) -> Result<(), String> {
    out.push('{');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match item {
            Value::Null => out.push_str("NULL"),
            Value::Array(inner) => array_text(inner, out)?,
            Value::Text(s) => push_double_quoted(s, out),
            other => {
                return Err(format!(
                    "cannot send a list mixing {} with values given as text",
                    other.describe()
                ));
            }
        }
    }
    out.push('}');
    Ok(())
}

/// Postgres' text for a float8 (`float8out`): shortest round-trip digits, fixed notation
/// without a trailing `.0` when the decimal exponent is in [-4, 15), else `d.ddde+XX`.
pub fn pg_float_text(f: f64) -> String {
    if !f.is_finite() {
        return float_text(f);
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..15).contains(&exp) {
        let text = python_float_repr(f);
        return text.strip_suffix(".0").map(str::to_owned).unwrap_or(text);
    }
    let esign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{esign}{:02}", exp.abs())
}

/// Python's `repr()` of a float: the shortest digits that round-trip, in fixed notation
/// with at least one decimal when the decimal exponent is in [-4, 16), else
/// `d.ddde+XX`. psycopg2 writes floats this way, and the digits after the point decide
/// the scale of the numeric constant the server reads.
pub fn python_float_repr(f: f64) -> String {
    if !f.is_finite() {
        return float_text(f);
    }
    // `{:e}` gives the shortest round-trip digits: `d.ddde<exp>`.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    let decpt = exp + 1;
    if (-3..=16).contains(&decpt) {
        let n = digits.len() as i32;
        let text = if decpt <= 0 {
            format!("0.{}{digits}", "0".repeat((-decpt) as usize))
        } else if decpt >= n {
            format!("{digits}{}.0", "0".repeat((decpt - n) as usize))
        } else {
            format!(
                "{}.{}",
                &digits[..decpt as usize],
                &digits[decpt as usize..]
            )
        };
        format!("{sign}{text}")
    } else {
        let rest = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits.clone()
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{rest}e{esign}{:02}", exp.abs())
    }
}

impl Value {
    /// Text form used when a value is sent to a text-like parameter.
    fn to_text(&self) -> Option<String> {
        Some(match self {
            Value::Text(s) | Value::Numeric(s) | Value::Json(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => float_text(*f),
            Value::Bool(b) => b.to_string(),
            Value::Uuid(u) => format_uuid(u),
            _ => return None,
        })
    }

    /// JSON text of a scalar (used for json parameters given a plain value).
    fn to_json(&self) -> Option<String> {
        Some(match self {
            Value::Json(s) => s.clone(),
            Value::Null => "null".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) if f.is_finite() => float_text(*f),
            Value::Numeric(s) => s.clone(),
            Value::Text(s) => json_string(s),
            Value::Array(items) => {
                let parts: Option<Vec<String>> = items.iter().map(Value::to_json).collect();
                format!("[{}]", parts?.join(","))
            }
            _ => return None,
        })
    }
}

fn float_text(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        format!("{f:?}")
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
pub fn format_uuid(u: &[u8; 16]) -> String {
    let hex: String = u.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Parse a UUID in its usual text forms (with or without dashes/braces).
pub fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let hex: String = s
        .chars()
        .filter(|c| !matches!(c, '-' | '{' | '}'))
        .collect();
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

// ---- decoding -----------------------------------------------------------------------

pub(crate) fn take<'a>(raw: &mut &'a [u8], n: usize) -> Result<&'a [u8], BoxError> {
    if raw.len() < n {
        return Err("truncated value".into());
    }
    let (head, tail) = raw.split_at(n);
    *raw = tail;
    Ok(head)
}

fn read_i16(raw: &mut &[u8]) -> Result<i16, BoxError> {
    Ok(i16::from_be_bytes(take(raw, 2)?.try_into()?))
}
pub(crate) fn read_i32(raw: &mut &[u8]) -> Result<i32, BoxError> {
    Ok(i32::from_be_bytes(take(raw, 4)?.try_into()?))
}
fn read_i64(raw: &mut &[u8]) -> Result<i64, BoxError> {
    Ok(i64::from_be_bytes(take(raw, 8)?.try_into()?))
}

pub(crate) fn decode(ty: &Type, mut raw: &[u8]) -> Result<Value, BoxError> {
    let r = &mut raw;
    Ok(match *ty {
        Type::BOOL => Value::Bool(take(r, 1)?[0] != 0),
        Type::INT2 => Value::Int(read_i16(r)?.into()),
        Type::INT4 => Value::Int(read_i32(r)?.into()),
        Type::INT8 => Value::Int(read_i64(r)?),
        Type::OID => Value::Int(u32::from_be_bytes(take(r, 4)?.try_into()?).into()),
        Type::FLOAT4 => Value::Float(float4(f32::from_be_bytes(take(r, 4)?.try_into()?))),
        Type::FLOAT8 => Value::Float(f64::from_be_bytes(take(r, 8)?.try_into()?)),
        Type::NUMERIC => Value::Numeric(decode_numeric(r)?),
        Type::BYTEA => Value::Bytes(raw.to_vec()),
        Type::DATE => Value::Date(read_i32(r)?),
        Type::TIME => Value::Time(read_i64(r)?),
        Type::TIMETZ => {
            let micros = read_i64(r)?;
            Value::TimeTz {
                micros,
                offset: -read_i32(r)?,
            }
        }
        Type::TIMESTAMP => Value::Timestamp(read_i64(r)?),
        Type::TIMESTAMPTZ => Value::TimestampTz(read_i64(r)?),
        Type::INTERVAL => {
            let micros = read_i64(r)?;
            let days = read_i32(r)?;
            let months = read_i32(r)?;
            Value::Interval {
                months,
                days,
                micros,
            }
        }
        Type::UUID => Value::Uuid(take(r, 16)?.try_into()?),
        Type::POINT => {
            let x = f64::from_be_bytes(take(r, 8)?.try_into()?);
            let y = f64::from_be_bytes(take(r, 8)?.try_into()?);
            Value::Text(format!("({},{})", pg_float_text(x), pg_float_text(y)))
        }
        Type::INET | Type::CIDR => Value::Text(decode_inet(r, *ty == Type::CIDR)?),
        // The OID itself: the pool names it (PgClient::name_reg_values).
        _ if reg_type_name(ty.oid()).is_some() => {
            Value::Int(u32::from_be_bytes(take(r, 4)?.try_into()?).into())
        }
        Type::JSON => Value::Json(String::from_utf8(raw.to_vec())?),
        Type::JSONB => {
            let version = take(r, 1)?[0];
            if version != 1 {
                return Err(format!("unsupported jsonb version {version}").into());
            }
            Value::Json(String::from_utf8(r.to_vec())?)
        }
        _ => match ty.kind() {
            Kind::Array(elem) => decode_array(elem, raw)?,
            Kind::Domain(inner) => decode(inner, raw)?,
            Kind::Range(sub) => decode_range(ty.oid(), sub, raw)?,
            Kind::Composite(fields) => match record_text::composite_text(fields, raw)? {
                Some(text) => Value::Text(text),
                None => Value::Bytes(raw.to_vec()),
            },
            _ if *ty == Type::RECORD => match record_text::composite_text(&[], raw)? {
                Some(text) => Value::Text(text),
                None => Value::Bytes(raw.to_vec()),
            },
            _ if ty.name() == "hstore" => decode_hstore(raw)?,
            _ => match String::from_utf8(raw.to_vec()) {
                Ok(text) => Value::Text(text),
                Err(e) => Value::Bytes(e.into_bytes()),
            },
        },
    })
}

/// The name of an OID alias type (`regclass`, `regtype`, ...) by its OID: their binary
/// form is the OID, their text form (what psycopg2 shows) the object's name.
pub fn reg_type_name(oid: u32) -> Option<&'static str> {
    Some(match oid {
        24 => "regproc",
        2202 => "regprocedure",
        2203 => "regoper",
        2204 => "regoperator",
        2205 => "regclass",
        2206 => "regtype",
        3734 => "regconfig",
        3769 => "regdictionary",
        4089 => "regnamespace",
        4096 => "regrole",
        4191 => "regcollation",
        _ => return None,
    })
}

/// A `real` as the float psycopg2 reads from its text: Postgres writes the shortest text
/// that reads back as the same `real` (`0.5555556`), not the `real`'s exact binary value
/// widened to a double (`0.5555555820465088`).
fn float4(f: f32) -> f64 {
    if !f.is_finite() {
        return f.into();
    }
    // Rust's Display of an f32 is the same shortest round-trip text.
    f.to_string().parse().unwrap_or(f.into())
}

fn decode_array(elem: &Type, mut raw: &[u8]) -> Result<Value, BoxError> {
    let r = &mut raw;
    let ndim = read_i32(r)?;
    let _has_null = read_i32(r)?;
    let _elem_oid = read_i32(r)?;
    let mut dims = Vec::new();
    for _ in 0..ndim {
        let len = read_i32(r)?;
        let _lower = read_i32(r)?;
        dims.push(usize::try_from(len)?);
    }
    let total: usize = if dims.is_empty() {
        0
    } else {
        dims.iter().product()
    };
    let mut flat = Vec::with_capacity(total);
    for _ in 0..total {
        let len = read_i32(r)?;
        if len < 0 {
            flat.push(Value::Null);
        } else {
            flat.push(decode(elem, take(r, usize::try_from(len)?)?)?);
        }
    }
    // Fold the flat list into nested lists, innermost dimension first.
    for &dim in dims.iter().skip(1).rev() {
        let mut grouped = Vec::with_capacity(flat.len() / dim.max(1));
        let mut iter = flat.into_iter();
        loop {
            let chunk: Vec<Value> = iter.by_ref().take(dim).collect();
            if chunk.is_empty() {
                break;
            }
            grouped.push(Value::Array(chunk));
        }
        flat = grouped;
    }
    Ok(Value::Array(flat))
}

/// A range: flags, then the bounds that are neither infinite nor absent, each with its
/// length.
fn decode_range(type_oid: u32, sub: &Type, mut raw: &[u8]) -> Result<Value, BoxError> {
    let r = &mut raw;
    let flags = take(r, 1)?[0];
    let empty = flags & 0x01 != 0;
    let mut bound = |present: bool| -> Result<Option<Box<Value>>, BoxError> {
        if !present {
            return Ok(None);
        }
        let len = usize::try_from(read_i32(r)?)?;
        Ok(Some(Box::new(decode(sub, take(r, len)?)?)))
    };
    let lower = bound(!empty && flags & 0x08 == 0)?;
    let upper = bound(!empty && flags & 0x10 == 0)?;
    Ok(Value::Range {
        type_oid,
        empty,
        lower,
        upper,
        lower_inc: flags & 0x02 != 0,
        upper_inc: flags & 0x04 != 0,
    })
}

/// hstore's binary form: a count, then key and value (-1 length: NULL) pairs.
fn decode_hstore(mut raw: &[u8]) -> Result<Value, BoxError> {
    let r = &mut raw;
    let count = usize::try_from(read_i32(r)?)?;
    let mut pairs = Vec::with_capacity(count);
    for _ in 0..count {
        let klen = usize::try_from(read_i32(r)?)?;
        let key = String::from_utf8(take(r, klen)?.to_vec())?;
        let vlen = read_i32(r)?;
        let value = if vlen < 0 {
            None
        } else {
            Some(String::from_utf8(
                take(r, usize::try_from(vlen)?)?.to_vec(),
            )?)
        };
        pairs.push((key, value));
    }
    Ok(Value::Hstore(pairs))
}

/// `s` in double quotes with `"` and `\\` escaped by a backslash: an element of an array's,
/// range's or hstore's text form.
pub(crate) fn push_double_quoted(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// hstore's text form (`"k"=>"v", "n"=>NULL`), as psycopg2 returns it unregistered.
pub fn hstore_text(pairs: &[(String, Option<String>)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        push_double_quoted(k, &mut out);
        out.push_str("=>");
        match v {
            Some(v) => push_double_quoted(v, &mut out),
            None => out.push_str("NULL"),
        }
    }
    out
}

fn decode_numeric(r: &mut &[u8]) -> Result<String, BoxError> {
    let ndigits = read_i16(r)?;
    let weight = read_i16(r)?;
    let sign = read_i16(r)? as u16;
    let dscale = read_i16(r)?;
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        _ => {}
    }
    let mut digits = Vec::with_capacity(usize::try_from(ndigits)?);
    for _ in 0..ndigits {
        digits.push(read_i16(r)?);
    }
    let digit = |i: i32| -> i16 {
        if i >= 0 && (i as usize) < digits.len() {
            digits[i as usize]
        } else {
            0
        }
    };
    let mut out = String::new();
    if sign == 0x4000 {
        out.push('-');
    }
    let weight = i32::from(weight);
    if weight < 0 {
        out.push('0');
    } else {
        for i in 0..=weight {
            if i == 0 {
                out.push_str(&digit(i).to_string());
            } else {
                out.push_str(&format!("{:04}", digit(i)));
            }
        }
    }
    if dscale > 0 {
        out.push('.');
        let mut frac = String::new();
        let mut i = weight + 1;
        while (frac.len() as i32) < i32::from(dscale) {
            frac.push_str(&format!("{:04}", digit(i)));
            i += 1;
        }
        frac.truncate(usize::try_from(dscale)?);
        out.push_str(&frac);
    }
    Ok(out)
}

impl<'a> FromSql<'a> for Value {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        decode(ty, raw)
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(Value::Null)
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

// ---- encoding -----------------------------------------------------------------------

fn encode_numeric(text: &str, out: &mut BytesMut) -> Result<(), BoxError> {
    let text = text.trim();
    let special = match text.to_ascii_lowercase().as_str() {
        "nan" => Some(0xC000u16),
        "infinity" | "inf" | "+infinity" | "+inf" => Some(0xD000),
        "-infinity" | "-inf" => Some(0xF000),
        _ => None,
    };
    if let Some(sign) = special {
        out.put_i16(0);
        out.put_i16(0);
        out.put_u16(sign);
        out.put_i16(0);
        return Ok(());
    }
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    // `1.5e3`, `1E-05`: shift the point as Postgres' numeric_in does (the scale becomes
    // max(0, decimals - exponent)).
    let shifted;
    let body = match body.find(['e', 'E']) {
        Some(at) => {
            let exp: i32 = body[at + 1..]
                .parse()
                .map_err(|_| format!("`{text}` is not a decimal number"))?;
            shifted = shift_point(&body[..at], exp);
            shifted.as_str()
        }
        None => body,
    };
    let (int_part, frac_part) = body.split_once('.').unwrap_or((body, ""));
    if (int_part.is_empty() && frac_part.is_empty())
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format!("`{text}` is not a decimal number").into());
    }
    let dscale = i16::try_from(frac_part.len())?;
    let int_part = int_part.trim_start_matches('0');
    let int_pad = (4 - int_part.len() % 4) % 4;
    let int_digits = format!("{}{int_part}", "0".repeat(int_pad));
    let frac_pad = (4 - frac_part.len() % 4) % 4;
    let frac_digits = format!("{frac_part}{}", "0".repeat(frac_pad));
    let mut groups: Vec<i16> = Vec::new();
    for chunk in int_digits
        .as_bytes()
        .chunks(4)
        .chain(frac_digits.as_bytes().chunks(4))
    {
        groups.push(std::str::from_utf8(chunk)?.parse()?);
    }
    let mut weight = i32::try_from(int_digits.len() / 4)? - 1;
    let mut start = 0;
    while start < groups.len() && groups[start] == 0 {
        start += 1;
        weight -= 1;
    }
    let mut end = groups.len();
    while end > start && groups[end - 1] == 0 {
        end -= 1;
    }
    let groups = &groups[start..end];
    if groups.is_empty() {
        weight = 0;
    }
    out.put_i16(i16::try_from(groups.len())?);
    out.put_i16(i16::try_from(weight)?);
    out.put_u16(if negative && !groups.is_empty() {
        0x4000
    } else {
        0
    });
    out.put_i16(dscale);
    for g in groups {
        out.put_i16(*g);
    }
    Ok(())
}

/// `digits` (with an optional point) times 10^exp, written without exponent.
fn shift_point(digits: &str, exp: i32) -> String {
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    let all = format!("{int_part}{frac_part}");
    let point = int_part.len() as i64 + i64::from(exp);
    if point <= 0 {
        format!("0.{}{all}", "0".repeat((-point) as usize))
    } else if point as usize >= all.len() {
        format!("{all}{}", "0".repeat(point as usize - all.len()))
    } else {
        format!("{}.{}", &all[..point as usize], &all[point as usize..])
    }
}

fn mismatch(value: &Value, ty: &Type) -> BoxError {
    format!(
        "cannot send a {} as Postgres type {}",
        value.describe(),
        ty.name()
    )
    .into()
}

fn encode(value: &Value, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
    if let Value::Null = value {
        return Ok(IsNull::Yes);
    }
    match *ty {
        Type::BOOL => match value {
            Value::Bool(b) => out.put_u8(u8::from(*b)),
            _ => return Err(mismatch(value, ty)),
        },
        Type::INT2 | Type::INT4 | Type::INT8 | Type::OID => {
            let i = match value {
                Value::Int(i) => *i,
                Value::Bool(b) => i64::from(*b),
                Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => *f as i64,
                Value::Numeric(s) | Value::Text(s) => s
                    .trim()
                    .parse()
                    .map_err(|_| format!("`{s}` is not an integer ({})", ty.name()))?,
                _ => return Err(mismatch(value, ty)),
            };
            let range = || format!("{i} is out of range for {}", ty.name());
            match *ty {
                Type::INT2 => out.put_i16(i16::try_from(i).map_err(|_| range())?),
                Type::INT4 => out.put_i32(i32::try_from(i).map_err(|_| range())?),
                Type::OID => out.put_u32(u32::try_from(i).map_err(|_| range())?),
                _ => out.put_i64(i),
            }
        }
        Type::FLOAT4 | Type::FLOAT8 => {
            let f = match value {
                Value::Float(f) => *f,
                Value::Int(i) => *i as f64,
                Value::Numeric(s) | Value::Text(s) => s
                    .trim()
                    .parse()
                    .map_err(|_| format!("`{s}` is not a number ({})", ty.name()))?,
                _ => return Err(mismatch(value, ty)),
            };
            if *ty == Type::FLOAT4 {
                out.put_f32(f as f32);
            } else {
                out.put_f64(f);
            }
        }
        Type::NUMERIC => match value {
            Value::Numeric(s) | Value::Text(s) => encode_numeric(s, out)?,
            Value::Int(i) => encode_numeric(&i.to_string(), out)?,
            Value::Float(f) => encode_numeric(&python_float_repr(*f), out)?,
            _ => return Err(mismatch(value, ty)),
        },
        Type::BYTEA => match value {
            Value::Bytes(b) => out.put_slice(b),
            Value::Text(s) => out.put_slice(s.as_bytes()),
            _ => return Err(mismatch(value, ty)),
        },
        Type::DATE => match value {
            Value::Date(d) => out.put_i32(*d),
            Value::Timestamp(us) | Value::TimestampTz(us) => {
                out.put_i32(i32::try_from(us.div_euclid(DAY_MICROS))?)
            }
            _ => return Err(mismatch(value, ty)),
        },
        Type::TIME => match value {
            Value::Time(us) | Value::TimeTz { micros: us, .. } => out.put_i64(*us),
            _ => return Err(mismatch(value, ty)),
        },
        Type::TIMETZ => match value {
            Value::TimeTz { micros, offset } => {
                out.put_i64(*micros);
                // On the wire the zone is seconds west of UTC.
                out.put_i32(-offset);
            }
            _ => return Err(mismatch(value, ty)),
        },
        Type::TIMESTAMP | Type::TIMESTAMPTZ => match value {
            Value::Timestamp(us) | Value::TimestampTz(us) => out.put_i64(*us),
            Value::Date(d) => out.put_i64(i64::from(*d) * DAY_MICROS),
            _ => return Err(mismatch(value, ty)),
        },
        Type::INTERVAL => match value {
            Value::Interval {
                months,
                days,
                micros,
            } => {
                out.put_i64(*micros);
                out.put_i32(*days);
                out.put_i32(*months);
            }
            _ => return Err(mismatch(value, ty)),
        },
        Type::UUID => match value {
            Value::Uuid(u) => out.put_slice(u),
            Value::Text(s) => {
                out.put_slice(&parse_uuid(s).ok_or_else(|| format!("`{s}` is not a UUID"))?)
            }
            _ => return Err(mismatch(value, ty)),
        },
        Type::JSON | Type::JSONB => {
            let text = match value {
                // A str sent to a json column is taken as JSON text, as psycopg2 does.
                Value::Text(s) => s.clone(),
                other => other.to_json().ok_or_else(|| mismatch(value, ty))?,
            };
            if *ty == Type::JSONB {
                out.put_u8(1);
            }
            out.put_slice(text.as_bytes());
        }
        Type::INET | Type::CIDR => match value {
            Value::Text(s) => encode_inet(s, *ty == Type::CIDR, out)?,
            _ => return Err(mismatch(value, ty)),
        },
        _ => match ty.kind() {
            Kind::Array(elem) => match value {
                Value::Array(items) => encode_array(items, elem, out)?,
                _ => return Err(mismatch(value, ty)),
            },
            Kind::Domain(inner) => return encode(value, inner, out),
            _ => match value.to_text() {
                Some(text) => out.put_slice(text.as_bytes()),
                None => return Err(mismatch(value, ty)),
            },
        },
    }
    Ok(IsNull::No)
}

/// `inet` / `cidr` as Postgres writes them: the address, and `/bits` unless it is a single
/// host (always for `cidr`).
fn decode_inet(r: &mut &[u8], cidr: bool) -> Result<String, BoxError> {
    let head = take(r, 4)?;
    let (family, bits, len) = (head[0], head[1], usize::from(head[3]));
    let octets = take(r, len)?;
    let addr: std::net::IpAddr = match (family, len) {
        (2, 4) => std::net::Ipv4Addr::from(<[u8; 4]>::try_from(octets)?).into(),
        (3, 16) => std::net::Ipv6Addr::from(<[u8; 16]>::try_from(octets)?).into(),
        _ => return Err(format!("bad inet value (family {family}, {len} bytes)").into()),
    };
    let host_bits = (len * 8) as u8;
    Ok(if cidr || bits != host_bits {
        format!("{addr}/{bits}")
    } else {
        addr.to_string()
    })
}

/// `inet` / `cidr` in binary: family, prefix bits, is-cidr flag, address length, address.
fn encode_inet(text: &str, cidr: bool, out: &mut BytesMut) -> Result<(), BoxError> {
    let text = text.trim();
    let (addr, bits) = match text.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (text, None),
    };
    let addr: std::net::IpAddr = addr
        .parse()
        .map_err(|_| format!("`{text}` is not an IP address"))?;
    let (family, octets): (u8, Vec<u8>) = match addr {
        std::net::IpAddr::V4(a) => (2, a.octets().to_vec()),
        std::net::IpAddr::V6(a) => (3, a.octets().to_vec()),
    };
    let max_bits = (octets.len() * 8) as u8;
    let bits = match bits {
        Some(b) => b
            .parse::<u8>()
            .ok()
            .filter(|b| *b <= max_bits)
            .ok_or_else(|| format!("`{text}`: bad network prefix length"))?,
        None => max_bits,
    };
    out.put_u8(family);
    out.put_u8(bits);
    out.put_u8(u8::from(cidr));
    out.put_u8(octets.len() as u8);
    out.put_slice(&octets);
    Ok(())
}

fn encode_array(items: &[Value], elem: &Type, out: &mut BytesMut) -> Result<(), BoxError> {
    // Dimensions: descend through first elements while they are lists.
    let mut dims = vec![items.len()];
    let mut probe = items;
    while let Some(Value::Array(inner)) = probe.first() {
        dims.push(inner.len());
        probe = inner;
    }
    let mut flat: Vec<&Value> = Vec::new();
    flatten(items, &dims, 0, &mut flat)?;
    let has_null = flat.iter().any(|v| matches!(v, Value::Null));
    if items.is_empty() {
        out.put_i32(0);
        out.put_i32(0);
        out.put_u32(elem.oid());
        return Ok(());
    }
    out.put_i32(i32::try_from(dims.len())?);
    out.put_i32(i32::from(has_null));
    out.put_u32(elem.oid());
    for d in &dims {
        out.put_i32(i32::try_from(*d)?);
        out.put_i32(1);
    }
    for v in flat {
        let len_at = out.len();
        out.put_i32(0);
        match encode(v, elem, out)? {
            IsNull::Yes => {
                out.truncate(len_at);
                out.put_i32(-1);
            }
            IsNull::No => {
                let len = i32::try_from(out.len() - len_at - 4)?;
                out[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
            }
        }
    }
    Ok(())
}

fn flatten<'a>(
    items: &'a [Value],
    dims: &[usize],
    depth: usize,
    flat: &mut Vec<&'a Value>,
) -> Result<(), BoxError> {
    if items.len() != dims[depth] {
        return Err("multi-dimensional arrays must be rectangular".into());
    }
    for item in items {
        if depth + 1 < dims.len() {
            match item {
                Value::Array(inner) => flatten(inner, dims, depth + 1, flat)?,
                _ => return Err("multi-dimensional arrays must be rectangular".into()),
            }
        } else {
            flat.push(item);
        }
    }
    Ok(())
}

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match self {
            // The text format (see `encode_format`): the server parses it for `ty`.
            Value::Text(s) | Value::Json(s) => {
                if s.contains('\0') {
                    return Err("A string literal cannot contain NUL (0x00) characters.".into());
                }
                out.put_slice(s.as_bytes());
                Ok(IsNull::No)
            }
            _ => encode(self, ty, out),
        }
    }

    /// Text goes in the text format, as a quoted literal would: the server's input
    /// function for the parameter's type reads it (dates, ranges, arrays, hstore, ...).
    fn encode_format(&self, _ty: &Type) -> Format {
        match self {
            Value::Text(_) | Value::Json(_) => Format::Text,
            _ => Format::Binary,
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric_round_trip(text: &str) -> String {
        let mut buf = BytesMut::new();
        encode_numeric(text, &mut buf).unwrap();
        let mut raw: &[u8] = &buf;
        decode_numeric(&mut raw).unwrap()
    }

    #[test]
    fn numeric_codec() {
        for t in [
            "0",
            "1",
            "-1",
            "12345.678",
            "0.0001",
            "-0.50",
            "10000",
            "99999999999999999999.123456789",
            "NaN",
            "Infinity",
            "-Infinity",
            "0.00",
            "1000000.0001",
        ] {
            assert_eq!(numeric_round_trip(t), t, "{t}");
        }
        assert_eq!(numeric_round_trip("007.5"), "7.5");
        assert_eq!(numeric_round_trip("1e5"), "100000");
        assert!(encode_numeric("1x5", &mut BytesMut::new()).is_err());
        assert!(encode_numeric("1e", &mut BytesMut::new()).is_err());
    }

    #[test]
    fn calendar() {
        assert_eq!(days_from_civil(2000, 1, 1), PG_EPOCH_DAYS);
        for d in [-800_000i64, -1, 0, 1, 59, 60, 10_957, 2_932_896] {
            let (y, m, day) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, day), d);
        }
        assert_eq!(Value::date(2000, 1, 2), Value::Date(1));
        assert_eq!(Value::Date(-1).as_ymd(), Some((1999, 12, 31)));
    }

    #[test]
    fn arrays_round_trip() {
        let v = Value::Array(vec![
            Value::Array(vec![Value::Int(1), Value::Null]),
            Value::Array(vec![Value::Int(3), Value::Int(4)]),
        ]);
        let mut buf = BytesMut::new();
        encode(&v, &Type::INT4_ARRAY, &mut buf).unwrap();
        assert_eq!(decode(&Type::INT4_ARRAY, &buf).unwrap(), v);
        let ragged = Value::Array(vec![Value::Array(vec![Value::Int(1)]), Value::Int(2)]);
        assert!(encode(&ragged, &Type::INT4_ARRAY, &mut BytesMut::new()).is_err());
    }

    #[test]
    fn floats_as_python_and_postgres_write_them() {
        for (f, python, pg) in [
            (1.5, "1.5", "1.5"),
            (3.0, "3.0", "3"),
            (0.1, "0.1", "0.1"),
            (1e-4, "0.0001", "0.0001"),
            (1e-5, "1e-05", "1e-05"),
            (1e15, "1000000000000000.0", "1e+15"),
            (1e16, "1e+16", "1e+16"),
            (-2.5e-300, "-2.5e-300", "-2.5e-300"),
            (123456789.123, "123456789.123", "123456789.123"),
        ] {
            assert_eq!(python_float_repr(f), python, "{f}");
            assert_eq!(pg_float_text(f), pg, "{f}");
        }
        // The scale of the numeric a float becomes is that of Python's repr.
        assert_eq!(numeric_round_trip("1e-05"), "0.00001");
        assert_eq!(numeric_round_trip("1e+16"), "10000000000000000");
        assert_eq!(numeric_round_trip("1.50E+1"), "15.0");
    }

    #[test]
    fn list_parameters_as_psycopg2_types_them() {
        let item = |v: Value| {
            let t = v.param_oid();
            (v, t, false)
        };
        let (v, elem) =
            Value::array_param(vec![item(Value::Int(1)), item(Value::Int(1 << 40))], true).unwrap();
        assert_eq!((elem, array_oid(elem)), (oid::INT8, Some(1016)));
        assert!(matches!(v, Value::Array(_)));
        let (_, elem) =
            Value::array_param(vec![item(Value::Int(1)), item(Value::Float(1.5))], true).unwrap();
        assert_eq!(elem, oid::NUMERIC);
        let (_, elem) =
            Value::array_param(vec![item(Value::Text("a".into())), item(Value::Null)], true)
                .unwrap();
        assert_eq!(elem, oid::TEXT);
        // '{}' and '{NULL,NULL}' stay unknown-typed text.
        assert_eq!(
            Value::array_param(vec![], true).unwrap(),
            (Value::Text("{}".into()), oid::UNKNOWN)
        );
        assert_eq!(
            Value::array_param(vec![item(Value::Null), item(Value::Null)], true).unwrap(),
            (Value::Text("{NULL,NULL}".into()), oid::UNKNOWN)
        );
        assert!(
            Value::array_param(vec![item(Value::Bool(true)), item(Value::Int(1))], true).is_err()
        );
    }

    #[test]
    fn float4_as_its_shortest_text() {
        assert_eq!(float4(5.0 / 9.0), 0.5555556);
        assert_eq!(float4(0.5), 0.5);
        assert_eq!(float4(1e-40), 1e-40);
        assert!(float4(f32::NAN).is_nan());
        assert_eq!(float4(f32::NEG_INFINITY), f64::NEG_INFINITY);
    }

    #[test]
    fn uuid_text() {
        let u = parse_uuid("12345678-1234-5678-1234-567812345678").unwrap();
        assert_eq!(format_uuid(&u), "12345678-1234-5678-1234-567812345678");
        assert!(parse_uuid("nope").is_none());
    }
}
