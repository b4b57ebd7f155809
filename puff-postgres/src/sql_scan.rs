//! Reading SQL text without parsing it: where quoted strings, quoted identifiers, comments
//! and dollar-quoted bodies end (they may hold anything, `;` and `$1` included), and the
//! `$n` placeholders outside them.

/// If a string (`'...'`, `E'...'`), quoted identifier, comment or dollar-quoted body starts
/// at byte `i` of `sql`, the byte just after it (the end of `sql` when it is unterminated).
pub(crate) fn skip_quoted(sql: &str, i: usize) -> Option<usize> {
    let b = sql.as_bytes();
    match b[i] {
        c @ (b'\'' | b'"') => {
            let mut j = i + 1;
            let backslash = c == b'\'' && i > 0 && matches!(b[i - 1], b'e' | b'E');
            while j < b.len() {
                if backslash && b[j] == b'\\' {
                    j += 2;
                    continue;
                }
                if b[j] == c {
                    if j + 1 < b.len() && b[j + 1] == c {
                        j += 2;
                        continue;
                    }
                    break;
                }
                j += 1;
            }
            Some((j + 1).min(b.len()))
        }
        b'-' if b.get(i + 1) == Some(&b'-') => {
            Some(sql[i..].find('\n').map_or(b.len(), |n| i + n + 1))
        }
        b'/' if b.get(i + 1) == Some(&b'*') => {
            Some(sql[i + 2..].find("*/").map_or(b.len(), |n| i + 2 + n + 2))
        }
        b'$' if i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') => {
            if b.get(i + 1).is_some_and(u8::is_ascii_digit) {
                return None; // a placeholder
            }
            let mut k = i + 1;
            while k < b.len() && (b[k].is_ascii_alphanumeric() || b[k] == b'_') {
                k += 1;
            }
            if k < b.len() && b[k] == b'$' {
                let tag = &sql[i..=k];
                Some(
                    sql[k + 1..]
                        .find(tag)
                        .map_or(b.len(), |n| k + 1 + n + tag.len()),
                )
            } else {
                None
            }
        }
        _ => None,
    }
}

/// The `$n` placeholder at byte `i`, if one is there: its number and the byte after it.
pub(crate) fn placeholder_at(sql: &str, i: usize) -> Option<(usize, usize)> {
    let b = sql.as_bytes();
    if b[i] != b'$' || (i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) {
        return None;
    }
    let end = (i + 1..b.len())
        .find(|&k| !b[k].is_ascii_digit())
        .unwrap_or(b.len());
    let n = sql[i + 1..end].parse().ok()?;
    Some((n, end))
}
