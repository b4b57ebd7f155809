//! [`Span`]: a span being recorded. It is queued for export when dropped, so every way
//! out of the instrumented code (early return, `?`, panic) ends it.

use std::borrow::Cow;
use std::future::Future;

use futures_util::future::Either;

use super::context::TraceContext;
use super::current;
use super::record::{AttributeValue, FinishedSpan, SpanKind, SpanStatus, unix_nanos_now};
use super::sink;

/// A span in progress.
pub struct Span {
    record: FinishedSpan,
}

impl Span {
    /// Start a span under the current trace context ([`current::current`]), or as a new
    /// trace's root when there is none. `None` when tracing is off or the parent's trace
    /// is not sampled.
    #[inline]
    pub fn start(name: impl Into<Cow<'static, str>>, kind: SpanKind) -> Option<Span> {
        if !sink::enabled() {
            return None;
        }
        Self::start_under(current::current(), name, kind)
    }

    /// Start a span under the current trace context; `None` outside any trace (background
    /// work such as pool checks and queue polling records nothing) or when tracing is off.
    #[inline]
    pub fn start_child(name: impl Into<Cow<'static, str>>, kind: SpanKind) -> Option<Span> {
        if !sink::enabled() {
            return None;
        }
        let parent = current::current()?;
        Self::start_under(Some(parent), name, kind)
    }

    /// Start a span under `parent` (a new trace's root when `None`); `None` when tracing
    /// is off or `parent` is not sampled.
    pub fn start_under(
        parent: Option<TraceContext>,
        name: impl Into<Cow<'static, str>>,
        kind: SpanKind,
    ) -> Option<Span> {
        if !sink::enabled() || parent.is_some_and(|p| !p.sampled) {
            return None;
        }
        let context = match parent {
            Some(parent) => parent.new_child(),
            None => TraceContext::new_root(),
        };
        Some(Span {
            record: FinishedSpan {
                context,
                parent: parent.map(|p| p.span_id),
                name: name.into(),
                kind,
                start_unix_nanos: unix_nanos_now(),
                end_unix_nanos: 0,
                attributes: Vec::new(),
                status: SpanStatus::Unset,
            },
        })
    }

    /// This span's context: the parent of the spans started inside it.
    pub fn context(&self) -> TraceContext {
        self.record.context
    }

    pub fn set_attribute(&mut self, key: &'static str, value: impl Into<AttributeValue>) {
        self.record.attributes.push((key, value.into()));
    }

    /// The work failed; `message` says why (never put secrets or SQL values in it).
    pub fn set_error(&mut self, message: impl Into<String>) {
        self.record.status = SpanStatus::Error(message.into());
    }

    pub fn set_ok(&mut self) {
        self.record.status = SpanStatus::Ok;
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        self.record.end_unix_nanos = unix_nanos_now();
        let context = self.record.context;
        let record = std::mem::replace(
            &mut self.record,
            FinishedSpan {
                context,
                parent: None,
                name: Cow::Borrowed(""),
                kind: SpanKind::Internal,
                start_unix_nanos: 0,
                end_unix_nanos: 0,
                attributes: Vec::new(),
                status: SpanStatus::Unset,
            },
        );
        sink::submit(record);
    }
}

/// Run `fut` inside `span` (the parent of the spans `fut` starts); as is when `span` is
/// `None`, which keeps whatever context is current.
pub fn within_span<F: Future>(
    span: Option<&Span>,
    fut: F,
) -> Either<tokio::task::futures::TaskLocalFuture<TraceContext, F>, F> {
    current::within(span.map(Span::context), fut)
}
