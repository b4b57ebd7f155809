//! The OTLP/HTTP protobuf body: an `ExportTraceServiceRequest` with one resource (the
//! service) and one instrumentation scope (`puff`). The field numbers are those of
//! opentelemetry-proto's `trace/v1/trace.proto`, `common/v1/common.proto` and
//! `resource/v1/resource.proto`; only the fields Puff fills are written.

use puff_greenlet::trace::{AttributeValue, FinishedSpan, SpanKind, SpanStatus};

/// A protobuf message being written.
#[derive(Default)]
struct Message(Vec<u8>);

impl Message {
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.0.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.0.push(value as u8);
    }

    fn tag(&mut self, field: u32, wire_type: u8) {
        self.varint(u64::from(field) << 3 | u64::from(wire_type));
    }

    fn uint(&mut self, field: u32, value: u64) {
        if value != 0 {
            self.tag(field, 0);
            self.varint(value);
        }
    }

    fn fixed64(&mut self, field: u32, value: u64) {
        self.tag(field, 1);
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    fn fixed32(&mut self, field: u32, value: u32) {
        self.tag(field, 5);
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    fn bytes(&mut self, field: u32, value: &[u8]) {
        self.tag(field, 2);
        self.varint(value.len() as u64);
        self.0.extend_from_slice(value);
    }

    fn string(&mut self, field: u32, value: &str) {
        self.bytes(field, value.as_bytes());
    }

    fn message(&mut self, field: u32, value: Message) {
        self.bytes(field, &value.0);
    }
}

/// `KeyValue { key = 1; AnyValue value = 2 }`, `AnyValue { string_value = 1;
/// bool_value = 2; int_value = 3 }`.
fn key_value(key: &str, value: &AttributeValue) -> Message {
    let mut any = Message::default();
    match value {
        AttributeValue::Str(s) => any.string(1, s),
        AttributeValue::Bool(b) => {
            any.tag(2, 0);
            any.varint(u64::from(*b));
        }
        AttributeValue::Int(i) => {
            any.tag(3, 0);
            any.varint(*i as u64);
        }
    }
    let mut kv = Message::default();
    kv.string(1, key);
    kv.message(2, any);
    kv
}

fn span_kind(kind: SpanKind) -> u64 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Consumer => 5,
    }
}

/// `Span`: trace_id = 1, span_id = 2, parent_span_id = 4, name = 5, kind = 6,
/// start_time_unix_nano = 7, end_time_unix_nano = 8, attributes = 9, status = 15,
/// flags = 16.
fn span(span: &FinishedSpan) -> Message {
    let mut m = Message::default();
    m.bytes(1, &span.context.trace_id.0);
    m.bytes(2, &span.context.span_id.0);
    if let Some(parent) = span.parent {
        m.bytes(4, &parent.0);
    }
    m.string(5, &span.name);
    m.uint(6, span_kind(span.kind));
    m.fixed64(7, span.start_unix_nanos);
    m.fixed64(8, span.end_unix_nanos);
    for (key, value) in &span.attributes {
        m.message(9, key_value(key, value));
    }
    // `Status { message = 2; code = 3 }`, code 1 OK, 2 ERROR.
    let mut status = Message::default();
    match &span.status {
        SpanStatus::Unset => {}
        SpanStatus::Ok => status.uint(3, 1),
        SpanStatus::Error(message) => {
            status.string(2, message);
            status.uint(3, 2);
        }
    }
    m.message(15, status);
    // The W3C trace flags (sampled) in the low byte.
    m.fixed32(16, u32::from(span.context.sampled));
    m
}

/// The `ExportTraceServiceRequest` body for `spans` of service `service_name`:
/// `resource_spans = 1` -> `ResourceSpans { resource = 1 (Resource { attributes = 1 });
/// scope_spans = 2 (ScopeSpans { scope = 1 (InstrumentationScope { name = 1;
/// version = 2 }); spans = 2 }) }`.
pub fn export_request(service_name: &str, spans: &[FinishedSpan]) -> Vec<u8> {
    let mut resource = Message::default();
    resource.message(
        1,
        key_value(
            "service.name",
            &AttributeValue::from(service_name.to_owned()),
        ),
    );
    let mut scope = Message::default();
    scope.string(1, "puff");
    scope.string(2, env!("CARGO_PKG_VERSION"));
    let mut scope_spans = Message::default();
    scope_spans.message(1, scope);
    for s in spans {
        scope_spans.message(2, span(s));
    }
    let mut resource_spans = Message::default();
    resource_spans.message(1, resource);
    resource_spans.message(2, scope_spans);
    let mut request = Message::default();
    request.message(1, resource_spans);
    request.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use puff_greenlet::trace::{SpanId, TraceContext, TraceId};

    /// A field read back from protobuf bytes: (number, wire type, payload).
    fn fields(mut data: &[u8]) -> Vec<(u32, u8, Vec<u8>)> {
        fn varint(data: &mut &[u8]) -> u64 {
            let mut value = 0u64;
            for shift in (0..64).step_by(7) {
                let byte = data[0];
                *data = &data[1..];
                value |= u64::from(byte & 0x7f) << shift;
                if byte < 0x80 {
                    break;
                }
            }
            value
        }
        let mut out = Vec::new();
        while !data.is_empty() {
            let tag = varint(&mut data);
            let (field, wire) = ((tag >> 3) as u32, (tag & 7) as u8);
            let payload = match wire {
                0 => varint(&mut data).to_le_bytes().to_vec(),
                1 => {
                    let (v, rest) = data.split_at(8);
                    data = rest;
                    v.to_vec()
                }
                2 => {
                    let len = varint(&mut data) as usize;
                    let (v, rest) = data.split_at(len);
                    data = rest;
                    v.to_vec()
                }
                5 => {
                    let (v, rest) = data.split_at(4);
                    data = rest;
                    v.to_vec()
                }
                other => panic!("unexpected wire type {other}"),
            };
            out.push((field, wire, payload));
        }
        out
    }

    fn field(data: &[u8], number: u32) -> Vec<u8> {
        fields(data)
            .into_iter()
            .find(|(n, _, _)| *n == number)
            .map(|(_, _, v)| v)
            .unwrap_or_else(|| panic!("no field {number}"))
    }

    #[test]
    fn varints_and_strings_are_protobuf() {
        let mut m = Message::default();
        m.uint(1, 150);
        m.string(2, "testing");
        // The protobuf encoding guide's own examples.
        assert_eq!(
            m.0,
            [
                0x08, 0x96, 0x01, 0x12, 0x07, b't', b'e', b's', b't', b'i', b'n', b'g'
            ]
        );
        let mut negative = Message::default();
        negative.uint(3, -2i64 as u64);
        assert_eq!(
            negative.0.len(),
            11,
            "negative int64 takes ten varint bytes"
        );
    }

    #[test]
    fn export_request_nests_resource_scope_and_span() {
        let context = TraceContext {
            trace_id: TraceId([0xab; 16]),
            span_id: SpanId([0xcd; 8]),
            sampled: true,
        };
        let finished = FinishedSpan {
            context,
            parent: Some(SpanId([0x01; 8])),
            name: "GET /x".into(),
            kind: SpanKind::Server,
            start_unix_nanos: 1_000,
            end_unix_nanos: 2_500,
            attributes: vec![
                ("http.request.method", "GET".into()),
                ("http.response.status_code", 500u16.into()),
            ],
            status: SpanStatus::Error("boom".into()),
        };
        let body = export_request("svc", &[finished]);
        let resource_spans = field(&body, 1);
        let resource = field(&resource_spans, 1);
        let service = field(&resource, 1);
        assert_eq!(field(&service, 1), b"service.name");
        assert_eq!(field(&field(&service, 2), 1), b"svc");
        let scope_spans = field(&resource_spans, 2);
        assert_eq!(field(&field(&scope_spans, 1), 1), b"puff");
        let span = field(&scope_spans, 2);
        assert_eq!(field(&span, 1), [0xab; 16]);
        assert_eq!(field(&span, 2), [0xcd; 8]);
        assert_eq!(field(&span, 4), [0x01; 8]);
        assert_eq!(field(&span, 5), b"GET /x");
        assert_eq!(field(&span, 6)[0], 2, "SPAN_KIND_SERVER");
        assert_eq!(field(&span, 7), 1_000u64.to_le_bytes());
        assert_eq!(field(&span, 8), 2_500u64.to_le_bytes());
        let attributes: Vec<_> = fields(&span).into_iter().filter(|f| f.0 == 9).collect();
        assert_eq!(attributes.len(), 2);
        let status_code = field(&attributes[1].2, 2);
        let code = u64::from_le_bytes(field(&status_code, 3).try_into().unwrap());
        assert_eq!(code, 500, "int_value");
        let status = field(&span, 15);
        assert_eq!(field(&status, 2), b"boom");
        assert_eq!(field(&status, 3)[0], 2, "STATUS_CODE_ERROR");
        assert_eq!(field(&span, 16), 1u32.to_le_bytes());
    }
}
