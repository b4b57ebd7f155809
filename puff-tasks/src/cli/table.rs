//! Plain-text building blocks of `puff-cli tasks` output for people: aligned tables,
//! times (UTC, with how far away they are) and shortened cells.

/// Columns aligned to their widest cell, two spaces apart, the header first.
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Table {
        Table {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(cell.chars().count());
                }
            }
        }
        let headers = self.headers.iter().map(|h| h.to_string()).collect();
        std::iter::once(&headers)
            .chain(&self.rows)
            .map(|cells| line(cells, &widths))
            .collect()
    }
}

fn line(cells: &[String], widths: &[usize]) -> String {
    let mut out = String::new();
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push_str("  ");
        }
        out.push_str(cell);
        if i + 1 < cells.len() {
            let pad = widths.get(i).copied().unwrap_or(0) - cell.chars().count();
            out.extend(std::iter::repeat_n(' ', pad));
        }
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

/// `text` cut to `max` characters, with `…` when something was cut; line breaks shown as
/// spaces so a cell stays on its line.
pub fn shorten(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        return flat;
    }
    let mut out: String = flat.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `2026-12-05 11:20:31Z (in 5m)` / `(3s ago)`: unix ms `at`, seen from `now`.
pub fn time(at: u64, now: u64) -> String {
    let relative = if at >= now {
        format!("in {}", duration(at - now))
    } else {
        format!("{} ago", duration(now - at))
    };
    format!("{} ({relative})", utc(at))
}

/// `1h 5m`, `4m 10s`, `12s`, `250ms`: the two largest units.
pub fn duration(ms: u64) -> String {
    let secs = ms / 1000;
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) if secs == 0 => format!("{ms}ms"),
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// Unix ms as `YYYY-MM-DD HH:MM:SSZ` (UTC).
pub fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = puff_greenlet::calendar::civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_columns_and_times() {
        let mut table = Table::new(&["ID", "FUNCTION", "X"]);
        table.row(vec!["a".into(), "m:long_function".into(), "1".into()]);
        table.row(vec!["bbbb".into(), "m:f".into(), String::new()]);
        assert_eq!(
            table.render(),
            "ID    FUNCTION         X\na     m:long_function  1\nbbbb  m:f\n"
        );
        assert_eq!(utc(0), "1970-01-01 00:00:00Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00Z");
        assert_eq!(utc(1_796_469_631_000), "2026-12-05 11:20:31Z");
        assert_eq!(time(10_000, 4_000), "1970-01-01 00:00:10Z (in 6s)");
        assert_eq!(time(0, 3_725_000), "1970-01-01 00:00:00Z (1h 2m ago)");
        assert_eq!(duration(250), "250ms");
        assert_eq!(duration(250_000), "4m 10s");
        assert_eq!(duration(90_000_000), "1d 1h");
        assert_eq!(shorten("{\"a\":\n1}", 20), "{\"a\": 1}");
        assert_eq!(shorten("abcdef", 4), "abc…");
    }
}
