//! [`TraceContext`]: which trace a piece of work belongs to and which span is its parent,
//! read from and written as a W3C Trace Context `traceparent` header
//! (`00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`).

use std::fmt;

/// A 16-byte trace id; never all zeros.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId(pub [u8; 16]);

/// An 8-byte span id; never all zeros.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanId(pub [u8; 8]);

impl TraceId {
    /// A fresh random id.
    pub fn random() -> TraceId {
        loop {
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&crate::ids::random_u64().to_be_bytes());
            bytes[8..].copy_from_slice(&crate::ids::random_u64().to_be_bytes());
            if bytes != [0; 16] {
                return TraceId(bytes);
            }
        }
    }
}

impl SpanId {
    /// A fresh random id.
    pub fn random() -> SpanId {
        loop {
            let bytes = crate::ids::random_u64().to_be_bytes();
            if bytes != [0; 8] {
                return SpanId(bytes);
            }
        }
    }
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

/// The trace a unit of work belongs to and the span it runs in (the parent of any span it
/// starts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    /// The `sampled` flag: when the caller chose not to record this trace, Puff records
    /// none of its spans either (but still passes the context on).
    pub sampled: bool,
}

impl TraceContext {
    /// The context of a new trace's root span.
    pub fn new_root() -> TraceContext {
        TraceContext {
            trace_id: TraceId::random(),
            span_id: SpanId::random(),
            sampled: true,
        }
    }

    /// The context of a new span under this one: same trace, fresh span id.
    pub fn new_child(&self) -> TraceContext {
        TraceContext {
            span_id: SpanId::random(),
            ..*self
        }
    }

    /// Read a `traceparent` header value. `None` when it is not a valid version-00 value
    /// (wrong length or characters, version `ff`, all-zero ids): the W3C spec says to start
    /// a new trace then. Later versions are read by their first four fields, as the spec
    /// asks.
    pub fn from_traceparent(value: &str) -> Option<TraceContext> {
        let value = value.trim_matches([' ', '\t']);
        let bytes = value.as_bytes();
        if bytes.len() < 55 {
            return None;
        }
        let version = hex_byte(&bytes[0..2])?;
        if version == 0xff || (version == 0 && bytes.len() != 55) {
            return None;
        }
        // A later version may append fields, always after a dash.
        if bytes.len() > 55 && bytes[55] != b'-' {
            return None;
        }
        if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
            return None;
        }
        let mut trace_id = [0u8; 16];
        for (i, out) in trace_id.iter_mut().enumerate() {
            *out = hex_byte(&bytes[3 + 2 * i..5 + 2 * i])?;
        }
        let mut span_id = [0u8; 8];
        for (i, out) in span_id.iter_mut().enumerate() {
            *out = hex_byte(&bytes[36 + 2 * i..38 + 2 * i])?;
        }
        let flags = hex_byte(&bytes[53..55])?;
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        Some(TraceContext {
            trace_id: TraceId(trace_id),
            span_id: SpanId(span_id),
            sampled: flags & 1 == 1,
        })
    }

    /// The `traceparent` header value naming this context's span as the parent.
    pub fn to_traceparent(&self) -> String {
        format!(
            "00-{}-{}-{:02x}",
            self.trace_id,
            self.span_id,
            u8::from(self.sampled)
        )
    }
}

/// Two lowercase hex digits (the spec forbids uppercase).
fn hex_byte(pair: &[u8]) -> Option<u8> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    Some(digit(pair[0])? << 4 | digit(pair[1])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn valid_traceparent_round_trips() {
        let ctx = TraceContext::from_traceparent(VALID).unwrap();
        assert_eq!(ctx.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ctx.span_id.to_string(), "00f067aa0ba902b7");
        assert!(ctx.sampled);
        assert_eq!(ctx.to_traceparent(), VALID);
        let unsampled = TraceContext::from_traceparent(&VALID.replace("-01", "-00")).unwrap();
        assert!(!unsampled.sampled);
        // Surrounding optional whitespace is allowed.
        assert!(TraceContext::from_traceparent(&format!(" {VALID}\t")).is_some());
    }

    #[test]
    fn invalid_versions_are_rejected() {
        assert!(TraceContext::from_traceparent(&VALID.replacen("00", "ff", 1)).is_none());
        assert!(TraceContext::from_traceparent(&VALID.replacen("00", "0g", 1)).is_none());
        // Version 00 has exactly four fields.
        assert!(TraceContext::from_traceparent(&format!("{VALID}-extra")).is_none());
        // A later version may carry more, after a dash.
        let future = format!("{}-extra", VALID.replacen("00", "01", 1));
        assert!(TraceContext::from_traceparent(&future).is_some());
        let glued = format!("{}x", VALID.replacen("00", "01", 1));
        assert!(TraceContext::from_traceparent(&glued).is_none());
    }

    #[test]
    fn all_zero_ids_are_rejected() {
        let zero_trace = "00-00000000000000000000000000000000-00f067aa0ba902b7-01";
        let zero_span = "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01";
        assert!(TraceContext::from_traceparent(zero_trace).is_none());
        assert!(TraceContext::from_traceparent(zero_span).is_none());
    }

    #[test]
    fn wrong_lengths_and_characters_are_rejected() {
        for bad in [
            "",
            "00",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
        ] {
            assert!(TraceContext::from_traceparent(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn children_share_the_trace() {
        let root = TraceContext::new_root();
        let child = root.new_child();
        assert_eq!(child.trace_id, root.trace_id);
        assert_ne!(child.span_id, root.span_id);
        assert_eq!(
            TraceContext::from_traceparent(&child.to_traceparent()),
            Some(child)
        );
    }
}
