//! The server's metrics: requests by method and status, their duration (until the last
//! byte of the response is handed to the connection), requests in flight and open
//! connections. Methods outside the standard set count as `other`, so that a client
//! cannot grow the label set.

use std::time::Instant;

use http::{Method, StatusCode};
use puff_greenlet::metrics::{
    CounterFamily, DURATION_BUCKETS, GaugeFamily, HistogramFamily, enabled, start_timer,
};

static REQUESTS: CounterFamily = CounterFamily::new(
    "puff_http_requests_total",
    "HTTP requests answered, by method and status (`none`: the client left first).",
    &["method", "status"],
);
static DURATION: HistogramFamily = HistogramFamily::new(
    "puff_http_request_duration_seconds",
    "Time from a request's head to the end of its response, by method.",
    &["method"],
    DURATION_BUCKETS,
);
static IN_FLIGHT: GaugeFamily = GaugeFamily::new(
    "puff_http_requests_in_flight",
    "HTTP requests being served.",
    &[],
);
static CONNECTIONS: GaugeFamily = GaugeFamily::new(
    "puff_http_connections_open",
    "Open client connections.",
    &[],
);

/// One request's metrics, recorded when it is dropped (with its response body).
pub(crate) struct RequestMetrics {
    started: Option<Instant>,
    method: &'static str,
    status: Option<StatusCode>,
}

impl RequestMetrics {
    pub(crate) fn start(method: &Method) -> RequestMetrics {
        let started = start_timer();
        if started.is_some() {
            IN_FLIGHT.with(&[]).inc();
        }
        RequestMetrics {
            started,
            method: method_label(method),
            status: None,
        }
    }

    pub(crate) fn answered(&mut self, status: StatusCode) {
        self.status = Some(status);
    }
}

impl Drop for RequestMetrics {
    fn drop(&mut self) {
        let Some(started) = self.started else { return };
        let status = self.status.as_ref().map_or("none", StatusCode::as_str);
        REQUESTS.with(&[self.method, status]).inc();
        DURATION
            .with(&[self.method])
            .observe_duration(started.elapsed());
        IN_FLIGHT.with(&[]).dec();
    }
}

pub(crate) fn connection_opened() {
    if enabled() {
        CONNECTIONS.with(&[]).inc();
    }
}

pub(crate) fn connection_closed() {
    if enabled() {
        CONNECTIONS.with(&[]).dec();
    }
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_standard_set_are_other() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }
}
