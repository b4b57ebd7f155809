//! The span of one Redis command or pipeline: the command's name only (never its keys or
//! values), `db.system` and the pool's name. Only recorded inside a trace.

use puff_greenlet::trace::{Span, SpanKind};
use redis::Cmd;

/// The span of `cmd` on pool `pool`; `None` when not traced.
pub(crate) fn command_span(cmd: &Cmd, pool: &str) -> Option<Span> {
    let name = match cmd.args_iter().next() {
        Some(redis::Arg::Simple(name)) => String::from_utf8_lossy(name).to_ascii_uppercase(),
        _ => "redis".into(),
    };
    span(name, pool)
}

/// The span of a pipeline of `commands` commands on pool `pool`.
pub(crate) fn pipeline_span(commands: usize, pool: &str) -> Option<Span> {
    let mut span = span("PIPELINE".into(), pool)?;
    span.set_attribute("db.operation.batch.size", commands as i64);
    Some(span)
}

fn span(name: String, pool: &str) -> Option<Span> {
    let mut span = Span::start_child(name.clone(), SpanKind::Client)?;
    span.set_attribute("db.system", "redis");
    span.set_attribute("db.operation.name", name);
    span.set_attribute("db.client.connection.pool.name", pool.to_owned());
    Some(span)
}

/// Mark `span` failed when `result` is an error (a fixed message: replies can hold values).
pub(crate) fn note_result<T, E>(span: &mut Option<Span>, result: &Result<T, E>) {
    if let (Some(span), Err(_)) = (span, result) {
        span.set_error("the command failed");
    }
}
