//! Subscriptions: a Python generator per subscription, pulled in its own greenlet (so it
//! may block on `pubsub` receive), its items resolved like any other layer and streamed
//! over a websocket speaking graphql-transport-ws or the legacy graphql-ws protocol
//! (juniper_graphql_ws). When the client goes away the stream is dropped: a Puff wait the
//! generator is blocked in (`pubsub` receive) ends with a cancellation error, and a
//! generator that yields instead is closed before its next item; either way its `finally`
//! blocks run.

use std::sync::Arc;

use axum::response::IntoResponse;
use axum::routing::{MethodRouter, get};
use futures_util::future::BoxFuture;
use futures_util::{SinkExt, StreamExt};
use http::{HeaderMap, StatusCode};
use juniper::{
    Arguments, ExecutionError, Executor, FieldError, GraphQLSubscriptionValue, RootNode, Value,
    ValuesStream, Variables,
};
use juniper_graphql_ws::{ConnectionConfig, graphql_transport_ws, graphql_ws};
use puff_greenlet::CancelToken;
use puff_http::ws::{Message, WebSocket, WebSocketUpgrade};
use pyo3::exceptions::{PyStopAsyncIteration, PyStopIteration};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::auth::{bearer_token, init_token};
use crate::context::ResolverContext;
use crate::convert::{Shape, arg_to_py, py_to_shape};
use crate::engine::{Ctx, Engine};
use crate::exec::{RootField, resolve_object_layer};
use crate::layer::{Info, Node, Rows, S};
use crate::plan::PlanField;
use crate::schema::{FieldDesc, SchemaDesc};

/// Items waiting to be resolved and sent, per subscription.
const ITEM_BUFFER: usize = 16;

/// One item a generator yielded, laid out along the field type.
type Item = Result<(Shape, Vec<Py<PyAny>>), String>;

impl GraphQLSubscriptionValue<S> for Node {
    fn resolve_field_into_stream<'s, 'i, 'ft, 'args, 'e, 'ref_e, 'res, 'f>(
        &'s self,
        info: &'i Info,
        field_name: &'ft str,
        _arguments: Arguments<'args, S>,
        executor: &'ref_e Executor<'ref_e, 'e, Ctx, S>,
    ) -> BoxFuture<'f, Result<Value<ValuesStream<'res, S>>, FieldError<S>>>
    where
        's: 'f,
        'i: 'res,
        'ft: 'f,
        'args: 'f,
        'ref_e: 'f,
        'res: 'f,
        'e: 'res,
    {
        let started = start(info, field_name, executor);
        crate::metrics::counted(
            &info.schema.name,
            "subscription",
            usize::from(started.is_err()),
        );
        Box::pin(async move {
            let (rx, field, planned) = started?;
            let schema = info.schema;
            let ctx = executor.context().clone();
            let owned = executor.as_owned_executor();
            let field_info = info.with(&field.ty);
            let stream = tokio_stream(rx).then(move |item| {
                let ctx = ctx.clone();
                let owned = owned.clone();
                let planned = planned.clone();
                async move {
                    let node = match item {
                        Err(message) => Node::Error(message.into()),
                        Ok((shape, objects)) if objects.is_empty() => shape.into_node(&[]),
                        Ok((shape, objects)) => match (field.ty.object(), &planned.sub) {
                            (Some(object), Some(plan)) => {
                                let nodes = resolve_object_layer(
                                    &ctx,
                                    schema,
                                    object,
                                    plan,
                                    Rows::Py(Arc::new(objects)),
                                )
                                .await;
                                shape.into_node(&nodes)
                            }
                            _ => Node::Error(
                                "objects for a field whose type is not an object".into(),
                            ),
                        },
                    };
                    let executor = owned.as_executor();
                    match executor.resolve_with_ctx(&field_info, &node) {
                        Ok(value) => {
                            let errors = executor.take_errors();
                            if errors.is_empty() {
                                Ok(value)
                            } else {
                                Err(errors)
                            }
                        }
                        Err(e) => Err(vec![ExecutionError::at_origin(e)]),
                    }
                }
            });
            Ok(Value::Scalar(Box::pin(stream) as ValuesStream<'res, S>))
        })
    }
}

/// The generator's items as a stream; dropping the stream (the client left, or stopped
/// the subscription) cancels the generator's waits, so one blocked in `receive()` stops now.
fn tokio_stream<T: Send + 'static>(
    (mut rx, cancel): (tokio::sync::mpsc::Receiver<T>, CancelOnDrop),
) -> impl futures_util::Stream<Item = T> + Send {
    futures_util::stream::poll_fn(move |cx| {
        let _keep = &cancel;
        rx.poll_recv(cx)
    })
}

struct CancelOnDrop(Arc<CancelToken>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

type Started = (
    (tokio::sync::mpsc::Receiver<Item>, CancelOnDrop),
    &'static FieldDesc,
    Arc<PlanField>,
);

/// Plan the subscription field and start its generator in a greenlet.
fn start(
    info: &Info,
    field_name: &str,
    executor: &Executor<'_, '_, Ctx, S>,
) -> Result<Started, FieldError<S>> {
    let schema = info.schema;
    let RootField {
        root,
        field,
        planned,
    } = RootField::plan(info, field_name, executor)?;
    let planned = Arc::new(planned);
    let ctx = executor.context();
    let (tx, rx) = tokio::sync::mpsc::channel(ITEM_BUFFER);
    let path = format!("{}.{}", schema.object(root).name, field.name);
    let cancel = Arc::new(CancelToken::default());
    let job = {
        let planned = planned.clone();
        let auth_token = ctx.auth_token.clone();
        let cancel = cancel.clone();
        move |py: Python<'_>| {
            let scope = puff_greenlet::cancel_scope(py, cancel).ok();
            run_generator(
                py,
                schema,
                field,
                &path,
                &planned,
                auth_token,
                Outlet { tx, scope },
            )
        }
    };
    ctx.engine
        .python
        .spawn_job(job)
        .map_err(|e| FieldError::new(e.to_string(), Value::null()))?;
    Ok(((rx, CancelOnDrop(cancel)), field, planned))
}

/// Where a generator's items go, and the cancel scope that ends its waits when nobody
/// listens any more.
struct Outlet {
    tx: tokio::sync::mpsc::Sender<Item>,
    scope: Option<puff_greenlet::CancelScopeGuard>,
}

/// Call the resolver and pull its generator until it ends, fails, or nobody listens.
fn run_generator(
    py: Python<'_>,
    schema: &'static SchemaDesc,
    field: &'static FieldDesc,
    path: &str,
    planned: &PlanField,
    auth_token: Option<Arc<str>>,
    outlet: Outlet,
) {
    let Outlet { tx, scope } = outlet;
    let send = |item: Item| -> bool {
        let tx = tx.clone();
        puff_greenlet::wait_for(py, async move { tx.send(item).await.is_ok() }).unwrap_or(false)
    };
    let fail = |e: PyErr| crate::exec::resolver_error(py, path, e);
    let started = (|| -> Result<Bound<'_, PyAny>, String> {
        let Some(resolver) = &field.resolver else {
            return Err(format!("{path} has no resolver"));
        };
        let kwargs = PyDict::new(py);
        for (name, arg) in &planned.args {
            if let Some(desc) = resolver.args.iter().find(|a| &a.name == name) {
                let value = arg_to_py(py, schema, arg, &desc.ty)
                    .map_err(|e| format!("{path}: argument `{name}`: {}", e.value(py)))?;
                kwargs.set_item(name, value).map_err(fail)?;
            }
        }
        let context = Py::new(
            py,
            ResolverContext {
                auth_token,
                parents: Rows::Root,
                field: path.to_owned(),
            },
        )
        .map_err(fail)?;
        let func = resolver.func.bind(py);
        let generator = if resolver.takes_parents {
            func.call((pyo3::types::PyList::empty(py), context), Some(&kwargs))
        } else {
            func.call((context,), Some(&kwargs))
        };
        generator.map_err(fail)
    })();
    let generator = match started {
        Ok(g) => g,
        Err(message) => {
            send(Err(message));
            return;
        }
    };
    let is_async = generator.hasattr("__anext__").unwrap_or(false);
    loop {
        if tx.is_closed() {
            break;
        }
        let next = if is_async {
            generator
                .call_method0("__anext__")
                .and_then(|awaitable| puff_greenlet::aio::run_coroutine(py, awaitable.unbind()))
                .map(|v| v.into_bound(py))
        } else {
            generator.call_method0("__next__")
        };
        let item = match next {
            Ok(item) => item,
            Err(e)
                if e.is_instance_of::<PyStopIteration>(py)
                    || e.is_instance_of::<PyStopAsyncIteration>(py) =>
            {
                return;
            }
            Err(_) if tx.is_closed() => {
                // Cancelled because the client left: the generator has unwound already.
                tracing::debug!("subscription {path} stopped: its client went away");
                return;
            }
            Err(e) => {
                send(Err(fail(e)));
                return;
            }
        };
        let mut objects = Vec::new();
        let shape = py_to_shape(&item, &field.ty, &mut objects);
        if !send(Ok((shape, objects))) {
            break;
        }
    }
    // The client went away: close the generator so its cleanup runs now (and may still
    // wait on Puff I/O: the scope ends first).
    drop(scope);
    let closed = if is_async {
        generator.call_method0("aclose").and_then(|awaitable| {
            puff_greenlet::aio::run_coroutine(py, awaitable.unbind()).map(|_| ())
        })
    } else {
        generator.call_method0("close").map(|_| ())
    };
    if let Err(e) = closed {
        tracing::warn!("closing the subscription generator {path}: {e}");
    }
}

/// juniper_graphql_ws's view of an engine's schema.
#[derive(Clone, Copy)]
struct WsSchema(&'static Engine);

impl juniper_graphql_ws::Schema for WsSchema {
    type Context = Ctx;
    type ScalarValue = S;
    type QueryTypeInfo = Info;
    type Query = Node;
    type MutationTypeInfo = Info;
    type Mutation = Node;
    type SubscriptionTypeInfo = Info;
    type Subscription = Node;

    fn root_node(&self) -> &RootNode<Node, Node, Node, S> {
        &self.0.root
    }
}

/// The websocket endpoint for subscriptions of the schema named `name`.
pub fn subscriptions_endpoint(name: &str) -> MethodRouter {
    let name: Arc<str> = Arc::from(name);
    get(move |upgrade: WebSocketUpgrade, headers: HeaderMap| {
        let name = name.clone();
        async move {
            let engine = match Engine::named(&name) {
                Ok(engine) => engine,
                Err(e) => {
                    return (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response();
                }
            };
            let token = bearer_token(&headers);
            upgrade
                .protocols(["graphql-transport-ws", "graphql-ws"])
                .on_upgrade(move |socket| serve_socket(engine, socket, token))
        }
    })
}

/// The websocket endpoint of the `default` schema, as the seeds route it.
pub fn handle_subscriptions() -> MethodRouter {
    subscriptions_endpoint("default")
}

fn config_for(
    engine: &'static Engine,
    header_token: Option<Arc<str>>,
    params: &Variables<S>,
) -> ConnectionConfig<Ctx, S> {
    ConnectionConfig::new(Ctx {
        engine,
        auth_token: init_token(params).or(header_token),
        raw: None,
        db: None,
    })
}

enum Event<O> {
    In(Option<Message>),
    Out(Option<O>),
}

/// What a protocol connection's output becomes on the socket.
enum Reply {
    Send(String),
    Close(u16, String),
}

/// Shuttle messages between the websocket and a juniper_graphql_ws connection (either
/// protocol) until one side ends. `parse` reads a client text frame, `closed` is what the
/// connection is told when the client goes away, `reply` renders its output.
async fn pump<In, Out, Conn>(
    mut socket: WebSocket,
    connection: Conn,
    parse: impl Fn(&str) -> serde_json::Result<In>,
    closed: In,
    reply: impl Fn(Out) -> Option<Reply>,
) where
    Conn: futures_util::Sink<In> + futures_util::Stream<Item = Out>,
{
    let (mut sink, mut stream) = connection.split();
    loop {
        let event = tokio::select! {
            m = socket.recv() => Event::In(m),
            o = stream.next() => Event::Out(o),
        };
        match event {
            Event::In(Some(Message::Text(text))) => match parse(&text) {
                Ok(message) => {
                    let _ = sink.send(message).await;
                }
                Err(e) => {
                    socket.close(4400, &format!("invalid message: {e}")).await;
                    return;
                }
            },
            Event::In(Some(Message::Binary(_))) => {
                socket
                    .close(4400, "binary messages are not part of the protocol")
                    .await;
                return;
            }
            Event::In(None) => {
                let _ = sink.send(closed).await;
                return;
            }
            Event::Out(Some(output)) => match reply(output) {
                Some(Reply::Send(text)) => {
                    let sent = socket.send(text).await;
                    if sent.is_err() {
                        return; // the client is gone
                    }
                }
                Some(Reply::Close(code, message)) => {
                    socket.close(code, &message).await;
                    return;
                }
                None => {}
            },
            Event::Out(None) => {
                socket.close(1000, "").await;
                return;
            }
        }
    }
}

fn send_json(message: &impl serde::Serialize) -> Option<Reply> {
    serde_json::to_string(message).ok().map(Reply::Send)
}

async fn serve_socket(engine: &'static Engine, socket: WebSocket, token: Option<Arc<str>>) {
    let init = move |params: Variables<S>| {
        let config = config_for(engine, token, &params);
        async move { Ok::<_, std::convert::Infallible>(config) }
    };
    if socket.protocol() == Some("graphql-ws") {
        let connection = graphql_ws::Connection::new(WsSchema(engine), init);
        pump(
            socket,
            connection,
            |text| serde_json::from_str::<graphql_ws::ClientMessage<S>>(text),
            graphql_ws::ClientMessage::ConnectionTerminate,
            |message| send_json(&message),
        )
        .await;
    } else {
        let connection = graphql_transport_ws::Connection::new(WsSchema(engine), init);
        pump(
            socket,
            connection,
            |text| {
                serde_json::from_str::<graphql_transport_ws::ClientMessage<S>>(text)
                    .map(graphql_transport_ws::Input::Message)
            },
            graphql_transport_ws::Input::Close,
            |output| match output {
                graphql_transport_ws::Output::Message(message) => send_json(&message),
                graphql_transport_ws::Output::Close { code, message } => {
                    Some(Reply::Close(code, message))
                }
            },
        )
        .await;
    }
}
