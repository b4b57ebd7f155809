//! A finished span as the exporter receives it: plain data, no Python objects.

use std::borrow::Cow;

use super::context::{SpanId, TraceContext};

/// What kind of work a span stands for (OTLP's `SpanKind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanKind {
    /// Work inside this process (a GraphQL layer).
    Internal,
    /// Handling a request from a client (the HTTP request).
    Server,
    /// A request to another service (a SQL statement, a Redis command).
    Client,
    /// Taking work from a queue (a task run).
    Consumer,
}

/// An attribute value.
#[derive(Clone, Debug, PartialEq)]
pub enum AttributeValue {
    Str(Cow<'static, str>),
    Int(i64),
    Bool(bool),
}

impl From<&'static str> for AttributeValue {
    fn from(v: &'static str) -> Self {
        AttributeValue::Str(Cow::Borrowed(v))
    }
}

impl From<String> for AttributeValue {
    fn from(v: String) -> Self {
        AttributeValue::Str(Cow::Owned(v))
    }
}

impl From<i64> for AttributeValue {
    fn from(v: i64) -> Self {
        AttributeValue::Int(v)
    }
}

impl From<u32> for AttributeValue {
    fn from(v: u32) -> Self {
        AttributeValue::Int(i64::from(v))
    }
}

impl From<u16> for AttributeValue {
    fn from(v: u16) -> Self {
        AttributeValue::Int(i64::from(v))
    }
}

impl From<bool> for AttributeValue {
    fn from(v: bool) -> Self {
        AttributeValue::Bool(v)
    }
}

/// How the work ended (OTLP's `Status`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum SpanStatus {
    #[default]
    Unset,
    Ok,
    Error(String),
}

/// A span that has ended.
#[derive(Clone, Debug, PartialEq)]
pub struct FinishedSpan {
    /// This span's trace and id.
    pub context: TraceContext,
    /// The span it ran under; `None` for a trace's root.
    pub parent: Option<SpanId>,
    pub name: Cow<'static, str>,
    pub kind: SpanKind,
    /// Unix time in nanoseconds.
    pub start_unix_nanos: u64,
    pub end_unix_nanos: u64,
    pub attributes: Vec<(&'static str, AttributeValue)>,
    pub status: SpanStatus,
}

/// Now, in nanoseconds since the unix epoch.
pub fn unix_nanos_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
