//! The request's trace: read `traceparent` (a new trace when it is missing or invalid,
//! never an error), record the request's server span, run the handler inside it, and
//! leave the context in the request's extensions as [`RequestTrace`] for the access log.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use puff_greenlet::trace::{self, Span, SpanKind, TraceContext};

/// The trace a request belongs to, in its `http::Extensions`: the request span's context
/// when tracing is on, else the incoming `traceparent`'s. Absent when tracing is off and
/// no valid `traceparent` came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestTrace(pub TraceContext);

/// Middleware (`axum::middleware::from_fn`): see the module doc.
pub async fn trace_request(mut req: Request, next: Next) -> Response {
    let incoming = req
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(TraceContext::from_traceparent);
    if !trace::enabled() {
        // Tracing off: only pass on a trace another service started.
        let Some(context) = incoming else {
            return next.run(req).await;
        };
        trace::current::mark_active();
        req.extensions_mut().insert(RequestTrace(context));
        return trace::within(Some(context), next.run(req)).await;
    }
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let name = match &route {
        Some(route) => format!("{method} {route}"),
        None => method.clone(),
    };
    let mut span = Span::start_under(incoming, name, SpanKind::Server);
    if let Some(span) = &mut span {
        span.set_attribute("http.request.method", method);
        span.set_attribute("url.path", req.uri().path().to_owned());
        if let Some(route) = route {
            span.set_attribute("http.route", route);
        }
    }
    let context = span.as_ref().map(Span::context).or(incoming);
    if let Some(context) = context {
        req.extensions_mut().insert(RequestTrace(context));
    }
    let response = trace::within(context, next.run(req)).await;
    if let Some(span) = &mut span {
        let status = response.status();
        span.set_attribute("http.response.status_code", status.as_u16());
        if status.is_server_error() {
            span.set_error(status.to_string());
        }
    }
    response
}
