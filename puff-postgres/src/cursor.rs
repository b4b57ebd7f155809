//! Statement classification for server cursors and session state: the first keyword of a
//! statement, and which statements name a server cursor (`DECLARE`, `FETCH`, `MOVE`,
//! `CLOSE`), whose prepared form must not be cached (see `PgClient::prepare_cached`).

/// `sql` after leading whitespace, parentheses and comments.
pub(crate) fn skip_comments(sql: &str) -> &str {
    let mut rest = sql;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.find('\n').map_or("", |n| &after[n + 1..]);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |n| &after[n + 2..]);
        } else {
            return rest;
        }
    }
}

/// The first keyword of `sql` (letters only; empty when there is none).
pub(crate) fn first_keyword(sql: &str) -> &str {
    let rest = skip_comments(sql);
    let end = rest
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    &rest[..end]
}

/// True for the statements that name a server cursor.
pub(crate) fn is_cursor_statement(sql: &str) -> bool {
    let word = first_keyword(sql);
    ["DECLARE", "FETCH", "MOVE", "CLOSE"]
        .iter()
        .any(|k| word.eq_ignore_ascii_case(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords() {
        assert_eq!(first_keyword("  -- c\n /* d */ fetch 10 from c"), "fetch");
        assert!(is_cursor_statement("DECLARE c CURSOR FOR SELECT 1"));
        assert!(is_cursor_statement("move 5 in c"));
        assert!(!is_cursor_statement("SELECT * FROM fetches"));
    }
}
