//! The request's trace: read `traceparent` (a new trace when it is missing or invalid,
//! never an error), record the request's server span, run the handler inside it, and
//! leave the context in the request's extensions as [`RequestTrace`] for the access log.

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use futures_util::future::{BoxFuture, Either};
use puff_greenlet::trace::{self, Span, SpanKind, TraceContext};

/// The trace a request belongs to, in its `http::Extensions`: the request span's context
/// when tracing is on, else the incoming `traceparent`'s. Absent when tracing is off and
/// no valid `traceparent` came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestTrace(pub TraceContext);

/// The tracing layer of the router. A plain tower service rather than
/// `middleware::from_fn`: with tracing off and no `traceparent`, a request passes straight
/// to the inner service, with no boxing (hello's throughput depends on it).
#[derive(Clone, Copy, Default)]
pub struct TraceLayer;

impl<S> tower::Layer<S> for TraceLayer {
    type Service = Traced<S>;

    fn layer(&self, inner: S) -> Traced<S> {
        Traced { inner }
    }
}

/// A service whose requests are traced (see the module doc).
#[derive(Clone)]
pub struct Traced<S> {
    inner: S,
}

impl<S> tower::Service<Request> for Traced<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, BoxFuture<'static, Result<Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        if !trace::enabled() && !req.headers().contains_key("traceparent") {
            return Either::Left(self.inner.call(req));
        }
        // The service made ready by `poll_ready` serves this request; a clone stays.
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        Either::Right(Box::pin(async move { Ok(trace_request(req, ready).await) }))
    }
}

/// Serve `req` with `inner` inside the request's trace: see the module doc.
async fn trace_request<S>(mut req: Request, mut inner: S) -> Response
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    let mut next = move |req: Request| {
        let served = inner.call(req);
        async move {
            match served.await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
    };
    let incoming = req
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(TraceContext::from_traceparent);
    if !trace::enabled() {
        // Tracing off: only pass on a trace another service started.
        let Some(context) = incoming else {
            return next(req).await;
        };
        trace::current::mark_active();
        req.extensions_mut().insert(RequestTrace(context));
        return trace::within(Some(context), next(req)).await;
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
    let response = trace::within(context, next(req)).await;
    if let Some(span) = &mut span {
        let status = response.status();
        span.set_attribute("http.response.status_code", status.as_u16());
        if status.is_server_error() {
            span.set_error(status.to_string());
        }
    }
    response
}
