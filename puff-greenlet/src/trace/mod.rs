//! Distributed tracing: the trace context a request carries and the spans Puff records.
//!
//! It lives in the foundation crate because every service crate records into it (HTTP
//! requests, GraphQL layers, SQL statements, Redis commands, task runs) and they may not
//! depend on each other for that; the OTLP exporter that drains [`sink`] needs an HTTP
//! client, so it lives in `puff-http` (`puff_http::trace`).
//!
//! - [`context`]: [`TraceContext`] (trace id, span id, sampled flag) and the W3C
//!   `traceparent` header it is read from and written to;
//! - [`current`]: the context of the running Rust future (a Tokio task-local) and the one
//!   cheap check, [`active`], every hot path makes first;
//! - [`record`]: a finished span, as the exporter receives it;
//! - [`sink`]: the bounded queue finished spans go to, present only when an exporter is
//!   installed ([`enabled`]);
//! - [`span`]: [`Span`], a span being recorded, sent to the sink when dropped;
//! - [`python`]: the context of the running greenlet or coroutine (a `contextvars`
//!   variable) and `puff.trace_context()`.
//!
//! With no exporter installed nothing is recorded: [`Span::start`] returns `None` after
//! one atomic load. A valid incoming `traceparent` is still passed on (to
//! `puff.trace_context()`, `puff.http` calls and scheduled tasks) so that Puff does not
//! break a trace another service started.

pub mod context;
pub mod current;
pub mod python;
pub mod record;
pub mod sink;
pub mod span;

pub use context::{SpanId, TraceContext, TraceId};
pub use current::{active, current, within};
pub use record::{AttributeValue, FinishedSpan, SpanKind, SpanStatus};
pub use sink::{SpanReceiver, enabled};
pub use span::{Span, within_span};
