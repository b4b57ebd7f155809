//! `executemany` of `INSERT ... VALUES ($1, $2, ...)`: parameters that are whole VALUES
//! items are typed by their column where that stores exactly what psycopg2's literal
//! stores, so that the server does not convert every row.
//!
//! Why: Puff types a parameter as psycopg2's literal for it is typed ([`Value::param_oid`]):
//! `5` is an `int4` constant and `0.5` a `numeric` one. Assigned to an `int8` or `float8`
//! column, the server then casts every row (`int4` -> `int8`, `numeric` -> `float8`), which
//! made a 10,000-row insert about a fifth slower than asyncpg's, whose parameters take the
//! column types. Sent in the column's type instead, the stored value is the same: an int
//! widened to int8 is the same int, and a float's shortest decimal text (psycopg2's
//! literal) reads back as the same double. Nothing else is retyped: narrowing (an int into
//! `int2`) keeps psycopg2's overflow error, and other types are already the column's or
//! left to the server (text, NULL).

use crate::sql_scan::{placeholder_at, skip_quoted};
use crate::value::{Value, oid};

/// The parameters (0-based) of `sql` that are whole items of its VALUES lists and appear
/// nowhere else; empty unless `sql` is an INSERT with a VALUES list.
pub(crate) fn bare_value_params(sql: &str) -> Vec<usize> {
    let trimmed = sql.trim_start();
    if !trimmed
        .get(..6)
        .is_some_and(|w| w.eq_ignore_ascii_case("insert"))
    {
        return Vec::new();
    }
    let b = sql.as_bytes();
    // (placeholder number, whether it is a whole VALUES item) for each occurrence.
    let mut seen: Vec<(usize, bool)> = Vec::new();
    let mut in_values = false;
    let mut depth = 0usize;
    // Start of the current VALUES item, and whether only one placeholder is in it so far.
    let mut item: Option<Option<usize>> = None;
    let mut i = 0;
    while i < b.len() {
        if let Some(after) = skip_quoted(sql, i) {
            item = None;
            i = after;
            continue;
        }
        if let Some((n, after)) = placeholder_at(sql, i) {
            item = match item {
                Some(None) if in_values && depth == 1 => Some(Some(n)),
                _ => None,
            };
            seen.push((n, false));
            i = after;
            continue;
        }
        let c = b[i];
        if !in_values
            && c.is_ascii_alphabetic()
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
        {
            let end = (i..b.len())
                .find(|&k| !(b[k].is_ascii_alphanumeric() || b[k] == b'_'))
                .unwrap_or(b.len());
            in_values = sql[i..end].eq_ignore_ascii_case("values");
            i = end;
            continue;
        }
        match c {
            b'(' => {
                depth += 1;
                item = (in_values && depth == 1).then_some(None);
            }
            b',' | b')' if in_values && depth == 1 => {
                if let Some(Some(n)) = item
                    && let Some(last) = seen.last_mut()
                    && last.0 == n
                {
                    last.1 = true;
                }
                if c == b')' {
                    depth -= 1;
                    item = None;
                } else {
                    item = Some(None);
                }
            }
            b')' => depth = depth.saturating_sub(1),
            b',' if in_values && depth == 0 => {} // the next row
            c if c.is_ascii_whitespace() => {}
            _ => {
                item = None;
                // Past the VALUES lists (ON CONFLICT, RETURNING, ...).
                if in_values && depth == 0 {
                    in_values = false;
                }
            }
        }
        i += 1;
    }
    let mut bare: Vec<usize> = seen
        .iter()
        .filter(|(n, whole)| *whole && seen.iter().filter(|(m, _)| m == n).count() == 1)
        .map(|(n, _)| n - 1)
        .collect();
    bare.sort_unstable();
    bare
}

/// Whether a parameter typed `param_oid` with `value` may be retyped for some column.
pub(crate) fn may_retype(value: &Value, param_oid: u32) -> bool {
    matches!(
        (value, param_oid),
        (Value::Int(_), oid::INT4) | (Value::Float(_), oid::NUMERIC)
    )
}

/// The OID a parameter typed `param_oid` with `value` is retyped to for a column of
/// type `column`, if it is (see the module docs).
pub(crate) fn retypes(value: &Value, param_oid: u32, column: u32) -> Option<u32> {
    match (value, param_oid, column) {
        (Value::Int(_), oid::INT4, oid::INT8) => Some(oid::INT8),
        // psycopg2's `-0.0` is a numeric zero, which has no sign: it stores +0.
        (Value::Float(f), oid::NUMERIC, oid::FLOAT8) if *f != 0.0 || f.is_sign_positive() => {
            Some(oid::FLOAT8)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_values_items_only() {
        assert_eq!(
            bare_value_params("INSERT INTO t (a, b, c) VALUES ($1, $2, $3)"),
            vec![0, 1, 2]
        );
        assert_eq!(
            bare_value_params("insert into t values ($1, $2 + 1, lower($3), $4::int2, $5)"),
            vec![0, 4]
        );
        assert_eq!(
            bare_value_params("INSERT INTO t VALUES ($1, $2), ($3, $4) RETURNING id"),
            vec![0, 1, 2, 3]
        );
        assert_eq!(
            bare_value_params("INSERT INTO t VALUES ($1, $2) ON CONFLICT (a) DO UPDATE SET b = $2"),
            vec![0]
        );
        assert_eq!(
            bare_value_params("INSERT INTO t VALUES ('$1', $1, (\"values\"))"),
            vec![0]
        );
        assert_eq!(
            bare_value_params("INSERT INTO t SELECT $1, $2"),
            Vec::<usize>::new()
        );
        assert_eq!(
            bare_value_params("UPDATE t SET a = $1 WHERE b IN (VALUES ($2))"),
            Vec::<usize>::new()
        );
        assert_eq!(
            bare_value_params("INSERT INTO t VALUES (($1), $2)"),
            vec![1]
        );
    }

    #[test]
    fn widens_only_where_the_stored_value_is_the_same() {
        assert_eq!(
            retypes(&Value::Int(5), oid::INT4, oid::INT8),
            Some(oid::INT8)
        );
        assert_eq!(
            retypes(&Value::Float(0.5), oid::NUMERIC, oid::FLOAT8),
            Some(oid::FLOAT8)
        );
        assert_eq!(retypes(&Value::Int(5), oid::INT4, 21), None); // int2: psycopg2's error
        assert_eq!(
            retypes(&Value::Numeric("0.5".into()), oid::NUMERIC, oid::FLOAT8),
            None
        );
        assert_eq!(retypes(&Value::Float(0.5), oid::NUMERIC, 700), None); // float4 rounds
        assert_eq!(
            retypes(&Value::Float(-0.0), oid::NUMERIC, oid::FLOAT8),
            None
        );
    }
}
