//! One access log line: what is known about a served request, and its `text` and `json`
//! renderings (each ends with a newline).

use std::cell::RefCell;
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::Request;
use axum::response::Response;

use crate::trace::RequestTrace;
use http::{Method, Version};
use http_body::Body;
use puff_greenlet::calendar::civil_from_days;

/// A request once its response head is ready.
pub(super) struct Served<'a> {
    pub method: Method,
    pub path: &'a str,
    pub version: Version,
    pub trace_id: Option<String>,
    pub status: u16,
    pub bytes: Option<u64>,
    pub duration: Duration,
}

impl Served<'_> {
    /// Appends the line as `tracing`'s formatter printed it before:
    /// `TIMESTAMP  INFO puff::access: MESSAGE`.
    pub fn write_text(&self, line: &mut Vec<u8>) {
        write_timestamp(line, SystemTime::now());
        line.extend_from_slice(b"  INFO puff::access: ");
        line.extend_from_slice(self.method.as_str().as_bytes());
        line.push(b' ');
        line.extend_from_slice(self.path.as_bytes());
        // Tenths of a millisecond in integers: float formatting with a precision is slower.
        let tenths = (self.duration.as_micros() + 50) / 100;
        let _ = writeln!(
            line,
            " {:?} {} {}.{}ms",
            self.version,
            self.status,
            tenths / 10,
            tenths % 10
        );
    }

    /// Appends the line as one JSON object: written field by field (this runs once per
    /// request), the two strings from the client escaped by serde_json.
    pub fn write_json(&self, line: &mut Vec<u8>) {
        line.extend_from_slice(b"{\"timestamp\":\"");
        write_timestamp(line, SystemTime::now());
        line.extend_from_slice(b"\",\"method\":");
        json_string(line, self.method.as_str());
        line.extend_from_slice(b",\"path\":");
        json_string(line, self.path);
        let _ = write!(line, ",\"status\":{},\"bytes\":", self.status);
        match self.bytes {
            Some(bytes) => {
                let _ = write!(line, "{bytes}");
            }
            None => line.extend_from_slice(b"null"),
        }
        // Whole microseconds, as a decimal with three places (0.125, never 0.12500000001).
        let micros = self.duration.as_micros();
        let _ = write!(
            line,
            ",\"duration_ms\":{}.{:03},\"trace_id\":",
            micros / 1000,
            micros % 1000
        );
        match &self.trace_id {
            // Checked to be hex digits: nothing to escape.
            Some(id) => {
                line.push(b'"');
                line.extend_from_slice(id.as_bytes());
                line.push(b'"');
            }
            None => line.extend_from_slice(b"null"),
        }
        line.extend_from_slice(b",\"worker\":");
        match puff_greenlet::supervision::worker_id() {
            Some(id) => {
                let _ = write!(line, "{id}");
            }
            None => line.extend_from_slice(b"null"),
        }
        line.extend_from_slice(b"}\n");
    }
}

/// Appends `value` as a JSON string, quoted and escaped.
fn json_string(line: &mut Vec<u8>, value: &str) {
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *line, value);
}

/// The request's trace id as 32 hex digits: from the [`RequestTrace`] the tracing layer
/// (outside this one) left in its extensions; `None` when the request has no trace
/// (tracing off and no valid `traceparent` came).
pub(super) fn trace_id(req: &Request) -> Option<String> {
    req.extensions()
        .get::<RequestTrace>()
        .map(|trace| trace.0.trace_id.to_string())
}

/// The response body's size when known: exact from the body, else its `Content-Length`.
pub(super) fn body_bytes(response: &Response) -> Option<u64> {
    response.body().size_hint().exact().or_else(|| {
        response
            .headers()
            .get(http::header::CONTENT_LENGTH)?
            .to_str()
            .ok()?
            .parse()
            .ok()
    })
}

/// Appends `at` as RFC 3339 in UTC with microseconds (`2026-01-31T12:00:00.000000Z`), as
/// `tracing` prints it. The part up to the second is made once a second on each thread.
fn write_timestamp(line: &mut Vec<u8>, at: SystemTime) {
    thread_local! {
        static SECOND: RefCell<(u64, [u8; 19])> = const { RefCell::new((u64::MAX, [0; 19])) };
    }
    let since_epoch = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_epoch.as_secs();
    SECOND.with_borrow_mut(|(second, text)| {
        if *second != secs {
            let (year, month, day) = civil_from_days((secs / 86_400) as i64);
            let of_day = secs % 86_400;
            // Exactly 19 bytes until the year 10000.
            let _ = write!(
                &mut text[..],
                "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
                of_day / 3600,
                of_day / 60 % 60,
                of_day % 60,
            );
            *second = secs;
        }
        line.extend_from_slice(text);
    });
    let _ = write!(line, ".{:06}Z", since_epoch.subsec_micros());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        let at = |secs: u64, micros: u64| {
            let mut line = Vec::new();
            let at = UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros);
            write_timestamp(&mut line, at);
            String::from_utf8(line).unwrap()
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
        // 2000-02-29 (a leap day in a century year divisible by 400), 12:34:56.
        assert_eq!(at(951_827_696, 7), "2000-02-29T12:34:56.000007Z");
        // The same second again, from the cached text.
        assert_eq!(at(951_827_696, 8), "2000-02-29T12:34:56.000008Z");
        assert_eq!(at(1_709_251_199, 999_999), "2024-02-29T23:59:59.999999Z");
        assert_eq!(at(1_709_251_200, 0), "2024-03-01T00:00:00.000000Z");
        assert_eq!(at(4_102_444_800, 0), "2100-01-01T00:00:00.000000Z");
    }

    #[test]
    fn trace_ids_come_from_the_request_trace() {
        let context = puff_greenlet::trace::TraceContext::from_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .unwrap();
        let mut req = Request::builder().body(axum::body::Body::empty()).unwrap();
        assert_eq!(trace_id(&req), None);
        req.extensions_mut().insert(RequestTrace(context));
        assert_eq!(
            trace_id(&req).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
    }

    #[test]
    fn json_lines_escape_the_path() {
        let served = Served {
            method: Method::GET,
            path: "/a\"b\\c\n",
            version: Version::HTTP_11,
            trace_id: None,
            status: 404,
            bytes: Some(9),
            duration: Duration::from_micros(1_300),
        };
        let mut line = Vec::new();
        served.write_json(&mut line);
        assert_eq!(line.last(), Some(&b'\n'));
        let value: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(value["path"], "/a\"b\\c\n");
        assert_eq!(value["status"], 404);
        assert_eq!(value["bytes"], 9);
        assert_eq!(value["duration_ms"], 1.3);
        assert!(value["trace_id"].is_null());
        let mut text = Vec::new();
        served.write_text(&mut text);
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.ends_with("  INFO puff::access: GET /a\"b\\c\n HTTP/1.1 404 1.3ms\n"),
            "{text}"
        );
    }
}
