//! The span of one SQL statement: its text as sent (placeholders, never parameter
//! values), `db.system` and the pool's name. Only recorded inside a trace.

use puff_greenlet::trace::{Span, SpanKind};

/// The span of `sql` run on pool `pool`; `None` when not traced.
pub(crate) fn statement_span(sql: &str, pool: &str) -> Option<Span> {
    let mut span = Span::start_child(operation(sql), SpanKind::Client)?;
    span.set_attribute("db.system", "postgresql");
    span.set_attribute("db.query.text", sql.to_owned());
    span.set_attribute("db.client.connection.pool.name", pool.to_owned());
    Some(span)
}

/// Mark `span` failed when `result` is an error. Only a fixed message: a server error
/// can quote the values of the failing row.
pub(crate) fn note_result<T, E>(span: &mut Option<Span>, result: &Result<T, E>) {
    if let (Some(span), Err(_)) = (span, result) {
        span.set_error("the statement failed");
    }
}

/// The span name: the statement's first keyword (`SELECT`, `INSERT`, ...).
fn operation(sql: &str) -> String {
    let word: String = sql
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .take(16)
        .collect();
    if word.is_empty() {
        "postgresql".into()
    } else {
        word.to_ascii_uppercase()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn operation_is_the_first_keyword() {
        assert_eq!(super::operation("  select 1"), "SELECT");
        assert_eq!(super::operation("(values (1))"), "postgresql");
    }
}
