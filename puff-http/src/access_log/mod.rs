//! The access log: one line per request in the configured [`AccessLogFormat`], formatted on
//! the Tokio thread that served the request ([`line`]) and written to stderr in batches by
//! one writer thread ([`writer`]), so a request never waits for a `write(2)`.

mod line;
mod writer;

use std::fmt;
use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
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

/// Middleware writing a `text` line per request.
pub async fn log_text(req: Request, next: Next) -> Response {
    log_request(req, next, AccessLogFormat::Text).await
}

/// Middleware writing a `json` line per request.
pub async fn log_json(req: Request, next: Next) -> Response {
    log_request(req, next, AccessLogFormat::Json).await
}

async fn log_request(req: Request, next: Next, format: AccessLogFormat) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    // The path only: a query string may carry tokens that do not belong in a log.
    let path = req.uri().path().to_owned();
    let version = req.version();
    let trace_id = match format {
        AccessLogFormat::Json => line::trace_id(&req),
        _ => None,
    };
    let response = next.run(req).await;
    let served = line::Served {
        method,
        path,
        version,
        trace_id,
        status: response.status().as_u16(),
        bytes: line::body_bytes(&response),
        duration: started.elapsed(),
    };
    LINE.with_borrow_mut(|line| {
        line.clear();
        match format {
            AccessLogFormat::Json => served.write_json(line),
            _ => served.write_text(line),
        }
        writer::push(line);
    });
    response
}
