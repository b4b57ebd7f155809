//! The text Postgres prints for a composite (row) value, `(1,"a b",)`, built from its
//! binary form: psycopg2 returns composites as that text (and typecasters registered for
//! a composite type are given it).

use tokio_postgres::types::{Field, Type};

use crate::value::interval_text::{IntervalStyle, interval_text};
use crate::value::{
    BoxError, PG_EPOCH_DAYS, Value, civil_from_days, decode, pg_float_text, push_double_quoted,
    read_i32, take,
};

/// A composite's text, or None when a field's type has no text form here (timestamptz
/// prints in the session's zone, which decoding does not know; ranges; hstore).
pub(crate) fn composite_text(fields: &[Field], mut raw: &[u8]) -> Result<Option<String>, BoxError> {
    let r = &mut raw;
    let count = read_i32(r)?;
    let mut out = String::from("(");
    for i in 0..usize::try_from(count)? {
        if i > 0 {
            out.push(',');
        }
        let oid = read_i32(r)? as u32;
        let len = read_i32(r)?;
        if len < 0 {
            continue; // NULL: nothing between the commas
        }
        let bytes = take(r, usize::try_from(len)?)?;
        // An anonymous record (`ROW(...)`) has no fields in its type: its fields' OIDs
        // name their types, the built-in ones at least.
        let Some(ty) = fields
            .get(i)
            .map(Field::type_)
            .cloned()
            .or_else(|| Type::from_oid(oid))
        else {
            return Ok(None);
        };
        let Some(text) = value_text(&decode(&ty, bytes)?, &ty) else {
            return Ok(None);
        };
        push_field(&text, &mut out);
    }
    out.push(')');
    Ok(Some(out))
}

/// `text` as `record_out` writes a field: quoted when empty or holding `"`, `\`, `(`,
/// `)`, `,` or white space, with `"` and `\` doubled inside the quotes.
fn push_field(text: &str, out: &mut String) {
    let quote = text.is_empty()
        || text
            .chars()
            .any(|c| matches!(c, '"' | '\\' | '(' | ')' | ',') || c.is_ascii_whitespace());
    if !quote {
        out.push_str(text);
        return;
    }
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push(c);
        }
        out.push(c);
    }
    out.push('"');
}

/// An array element as `array_out` writes it.
fn push_element(text: &str, out: &mut String) {
    let quote = text.is_empty()
        || text.eq_ignore_ascii_case("NULL")
        || text
            .chars()
            .any(|c| matches!(c, '"' | '\\' | '{' | '}' | ',') || c.is_ascii_whitespace());
    if quote {
        push_double_quoted(text, out);
    } else {
        out.push_str(text);
    }
}

fn seconds_text(micros: i64) -> String {
    let (secs, frac) = (micros / 1_000_000, micros % 1_000_000);
    let text = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if frac == 0 {
        return text;
    }
    let frac = format!("{frac:06}");
    format!("{text}.{}", frac.trim_end_matches('0'))
}

fn date_text(days: i64) -> String {
    let (y, m, d) = civil_from_days(days + PG_EPOCH_DAYS);
    if y <= 0 {
        format!("{:04}-{m:02}-{d:02} BC", 1 - y)
    } else {
        format!("{y:04}-{m:02}-{d:02}")
    }
}

fn offset_text(east: i32) -> String {
    let sign = if east < 0 { '-' } else { '+' };
    let a = east.unsigned_abs();
    let (h, m, s) = (a / 3600, a / 60 % 60, a % 60);
    match (m, s) {
        (0, 0) => format!("{sign}{h:02}"),
        (_, 0) => format!("{sign}{h:02}:{m:02}"),
        _ => format!("{sign}{h:02}:{m:02}:{s:02}"),
    }
}

/// `value` (decoded as type `ty`) in Postgres's text form.
fn value_text(value: &Value, ty: &Type) -> Option<String> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => if *b { "t" } else { "f" }.into(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) if *ty == Type::FLOAT4 && f.is_finite() && f.abs() >= 1e6 => {
            // float4 switches to the exponent form from 1e6 (float8 from 1e15).
            let sci = format!("{:e}", *f as f32);
            let (mantissa, exp) = sci.split_once('e')?;
            let exp: i32 = exp.parse().ok()?;
            format!("{mantissa}e+{exp:02}")
        }
        Value::Float(f) => pg_float_text(*f),
        Value::Numeric(s) | Value::Text(s) | Value::Json(s) => s.clone(),
        Value::Bytes(b) => {
            let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
            format!("\\x{hex}")
        }
        Value::Date(d) => date_text(i64::from(*d)),
        Value::Time(micros) => seconds_text(*micros),
        Value::TimeTz { micros, offset } => seconds_text(*micros) + &offset_text(*offset),
        Value::Timestamp(micros) => {
            let days = micros.div_euclid(crate::value::DAY_MICROS);
            let time = micros.rem_euclid(crate::value::DAY_MICROS);
            let date = date_text(days);
            match date.strip_suffix(" BC") {
                Some(d) => format!("{d} {} BC", seconds_text(time)),
                None => format!("{date} {}", seconds_text(time)),
            }
        }
        // Decoding does not know the session's IntervalStyle: the default one.
        Value::Interval {
            months,
            days,
            micros,
        } => interval_text(*months, *days, *micros, IntervalStyle::Postgres),
        Value::Uuid(u) => crate::value::format_uuid(u),
        Value::Array(items) => {
            let elem = match ty.kind() {
                tokio_postgres::types::Kind::Array(elem) => elem.clone(),
                _ => ty.clone(),
            };
            let mut out = String::from("{");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match item {
                    Value::Null => out.push_str("NULL"),
                    Value::Array(_) => out.push_str(&value_text(item, ty)?),
                    _ => push_element(&value_text(item, &elem)?, &mut out),
                }
            }
            out.push('}');
            out
        }
        Value::TimestampTz(_) | Value::Range { .. } | Value::Hstore(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_quoted_as_record_out_does() {
        let mut out = String::new();
        push_field("a \"b\"", &mut out);
        assert_eq!(out, "\"a \"\"b\"\"\"");
    }
}
