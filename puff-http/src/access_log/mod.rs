//! The access log: one line per request in the configured [`AccessLogFormat`], formatted on
//! the Tokio thread that served the request ([`line`]) and written to stderr in batches by
//! one writer thread ([`writer`]), so a request never waits for a `write(2)`.

mod line;
mod writer;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::Request;
use axum::response::Response;
use serde::Deserialize;

pub use writer::flush;

/// `access_log` in `puff.toml`: what each request's line looks like, or none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AccessLogFormat {
    /// `TIMESTAMP  INFO puff::access: GET /path HTTP/1.1 200 0.1ms`, as the other log lines.
    #[default]
    Text,
    /// One JSON object per line (method, path, status, bytes, duration, trace id, worker).
    Json,
    /// No access log.
    Off,
}

impl AccessLogFormat {
    const ALLOWED: &'static str =
        "\"text\", \"json\" or \"off\" (true and false mean \"text\" and \"off\")";
}

impl From<bool> for AccessLogFormat {
    fn from(on: bool) -> Self {
        if on {
            AccessLogFormat::Text
        } else {
            AccessLogFormat::Off
        }
    }
}

impl std::str::FromStr for AccessLogFormat {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        match value {
            "text" => Ok(AccessLogFormat::Text),
            "json" => Ok(AccessLogFormat::Json),
            "off" => Ok(AccessLogFormat::Off),
            other => Err(format!("`{other}` is not a format: use {}", Self::ALLOWED)),
        }
    }
}

impl<'de> Deserialize<'de> for AccessLogFormat {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = AccessLogFormat;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(AccessLogFormat::ALLOWED)
            }

            fn visit_bool<E: serde::de::Error>(self, on: bool) -> Result<Self::Value, E> {
                Ok(on.into())
            }

            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Self::Value, E> {
                value.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl AccessLogFormat {
    /// The format actually written: `off` too when the log filter (`PUFF_LOG`, e.g.
    /// `info,puff::access=off`) drops the `puff::access` target, as it did when the lines
    /// went through `tracing`. Call after the subscriber is installed.
    pub fn effective(self) -> AccessLogFormat {
        if tracing::enabled!(target: "puff::access", tracing::Level::INFO) {
            self
        } else {
            AccessLogFormat::Off
        }
    }
}

thread_local! {
    /// The line being made on this thread, kept so that each request does not allocate one.
    static LINE: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(512));
}

/// The access log as a layer of the router, for `text` or `json` (a plain tower service and
/// future rather than `middleware::from_fn`, whose boxing per request cost more than
/// making the line).
#[derive(Clone, Copy)]
pub struct AccessLogLayer {
    format: AccessLogFormat,
}

impl AccessLogLayer {
    /// The layer writing `format`'s lines; `None` for `off`.
    pub fn new(format: AccessLogFormat) -> Option<AccessLogLayer> {
        (format != AccessLogFormat::Off).then_some(AccessLogLayer { format })
    }
}

impl<S> tower::Layer<S> for AccessLogLayer {
    type Service = AccessLog<S>;

    fn layer(&self, inner: S) -> AccessLog<S> {
        AccessLog {
            inner,
            format: self.format,
        }
    }
}

/// A service whose responses are logged.
#[derive(Clone)]
pub struct AccessLog<S> {
    inner: S,
    format: AccessLogFormat,
}

/// What is known of a request before it is served.
struct Arrived {
    started: Instant,
    method: http::Method,
    uri: http::Uri,
    version: http::Version,
    trace_id: Option<String>,
    format: AccessLogFormat,
}

impl<S> tower::Service<Request> for AccessLog<S>
where
    S: tower::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Logged<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let arrived = Arrived {
            started: Instant::now(),
            method: req.method().clone(),
            uri: req.uri().clone(),
            version: req.version(),
            trace_id: match self.format {
                AccessLogFormat::Json => line::trace_id(&req),
                _ => None,
            },
            format: self.format,
        };
        Logged {
            inner: self.inner.call(req),
            arrived: Some(arrived),
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner service's future; writes the line when the response head is ready.
    pub struct Logged<F> {
        #[pin]
        inner: F,
        arrived: Option<Arrived>,
    }
}

impl<F, E> Future for Logged<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        if let (Ok(response), Some(arrived)) = (&result, this.arrived.take()) {
            log(arrived, response);
        }
        Poll::Ready(result)
    }
}

fn log(arrived: Arrived, response: &Response) {
    let served = line::Served {
        method: arrived.method,
        // The path only: a query string may carry tokens that do not belong in a log.
        path: arrived.uri.path(),
        version: arrived.version,
        trace_id: arrived.trace_id,
        status: response.status().as_u16(),
        bytes: line::body_bytes(response),
        duration: arrived.started.elapsed(),
    };
    LINE.with_borrow_mut(|line| {
        line.clear();
        match arrived.format {
            AccessLogFormat::Json => served.write_json(line),
            _ => served.write_text(line),
        }
        writer::push(line);
    });
}
