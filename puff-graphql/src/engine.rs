//! [`Engine`]: one running schema (its types, juniper root and the resources resolvers
//! use), built from the Python schema class at start-up, registered by name
//! ([`EngineHandle`]) and executing requests with a per-request [`Ctx`].

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use juniper::http::GraphQLRequest;
use juniper::{GraphQLError, OperationType, RootNode, ValidatedOperation};
use puff_greenlet::error::panic_message;
use puff_greenlet::{PuffError, PuffResult, PythonRuntime};
use puff_postgres::{PostgresPool, SharedConnection};

use crate::config::GraphqlConfig;
use crate::error::GraphqlError;
use crate::layer::{Info, Node, S};
use crate::metrics::{self, Operation};
use crate::raw::RawParts;
use crate::schema::SchemaDesc;

/// One running schema: its types, juniper root, and the resources resolvers use.
pub struct Engine {
    pub config: GraphqlConfig,
    pub desc: &'static SchemaDesc,
    pub root: RootNode<Node, Node, Node, S>,
    pub python: PythonRuntime,
    /// The `database` pool, when configured.
    pub pool: Option<Arc<PostgresPool>>,
}

/// The juniper context of one request.
#[derive(Clone)]
pub struct Ctx {
    pub engine: &'static Engine,
    pub auth_token: Option<Arc<str>>,
    /// Where root fields put pre-serialized JSON, for responses serialized by
    /// [`Engine::execute`] (not for websocket ones, which juniper_graphql_ws serializes).
    pub raw: Option<Arc<RawParts>>,
    /// The request's Postgres connection: resolvers' SQL runs on it, and resolvers marked
    /// `borrow_db_context` get it for their own queries. `None` on websockets (a
    /// connection is not held for a socket's lifetime; each statement takes one from the
    /// pool).
    pub db: Option<Arc<SharedConnection>>,
}

impl juniper::Context for Ctx {}

/// The registry entry of a started schema.
pub struct EngineHandle(pub &'static Engine);

/// A GraphQL response: the JSON body (fields in query order) and whether it is a
/// request error (HTTP 400).
pub struct Response {
    pub body: Vec<u8>,
    pub is_request_error: bool,
}

impl Engine {
    /// Describe the schema class in Python, then build juniper's schema from it. Runs once
    /// per `[[graphql]]` entry; the engine lives for the rest of the program.
    pub async fn start(
        config: GraphqlConfig,
        python: PythonRuntime,
        pool: Option<Arc<PostgresPool>>,
    ) -> PuffResult<&'static Engine> {
        let name = config.name.clone();
        let path = config.schema.clone();
        let desc = python
            .run(move |py| SchemaDesc::from_python(py, &name, &path))
            .await
            .map_err(|e| match e {
                PuffError::Python(e) => PuffError::Config(format!(
                    "[[graphql]] `{}`: cannot build the schema from `{}`:\n{}",
                    config.name,
                    config.schema,
                    e.traceback().trim_end()
                )),
                other => other,
            })?;
        let desc: &'static SchemaDesc = Box::leak(Box::new(desc));
        let root = catch_unwind(AssertUnwindSafe(|| {
            let info = |ty| Info { schema: desc, ty };
            let mut root = RootNode::new_with_info(
                Node::Root,
                Node::Root,
                Node::Root,
                info(&desc.query),
                info(&desc.mutation),
                info(&desc.subscription),
            )
            .limit_depth(config.max_depth)
            .limit_fields(config.max_fields)
            .limit_tokens(config.max_tokens);
            if !config.introspection {
                root = root.disable_introspection();
            }
            root
        }))
        .map_err(|panic| {
            PuffError::Config(format!(
                "[[graphql]] `{}`: the schema `{}` is invalid: {}",
                config.name,
                config.schema,
                panic_message(&*panic)
            ))
        })?;
        Ok(Box::leak(Box::new(Engine {
            config,
            desc,
            root,
            python,
            pool,
        })))
    }

    /// The started schema named `name`.
    pub fn named(name: &str) -> Result<&'static Engine, GraphqlError> {
        let runtime = PythonRuntime::global()?;
        match runtime.resources().get::<EngineHandle>(name) {
            Some(handle) => Ok(handle.0),
            None => {
                let known = runtime.resources().names::<EngineHandle>();
                Err(if known.is_empty() {
                    GraphqlError::NoneConfigured { name: name.into() }
                } else {
                    GraphqlError::Unknown {
                        name: name.into(),
                        known,
                    }
                })
            }
        }
    }

    /// Parse, validate and execute one request (queries and mutations).
    pub async fn execute(
        &'static self,
        request: &GraphQLRequest<S>,
        auth_token: Option<Arc<str>>,
        allow_mutations: bool,
    ) -> Response {
        let mut metrics = Operation::start(&self.config.name);
        let raw = Arc::new(RawParts::default());
        let ctx = Ctx {
            engine: self,
            auth_token,
            raw: Some(raw.clone()),
            db: self
                .pool
                .clone()
                .map(|pool| Arc::new(SharedConnection::new(pool))),
        };
        let operation = match ValidatedOperation::new(
            &request.query,
            request.operation_name.as_deref(),
            &self.root,
        ) {
            Ok(operation) => operation,
            Err(e) => {
                metrics.finished(1, None);
                return request_error(e);
            }
        };
        metrics.validated(operation.operation_type());
        match operation.operation_type() {
            OperationType::Mutation if !allow_mutations => {
                metrics.finished(1, None);
                return request_error_message(
                    "mutations are not allowed over GET; send them with POST",
                );
            }
            OperationType::Subscription => {
                let hint = match &self.config.subscriptions_url {
                    Some(url) => format!("subscriptions run over a websocket at {url}"),
                    None => "subscriptions run over a websocket: set `subscriptions_url` in the \
                             [[graphql]] entry"
                        .to_owned(),
                };
                metrics.finished(1, None);
                return request_error_message(&hint);
            }
            _ => {}
        }
        let (result, statements) =
            metrics::counting_statements(operation.execute(&request.variables(), &ctx)).await;
        let is_request_error = result.is_err();
        let errors = match &result {
            Ok((_, errors)) => errors.len(),
            Err(_) => 1,
        };
        let response = juniper::http::GraphQLResponse::from_result(result);
        let response = Response {
            body: serde_json::to_vec(&response)
                .map(|json| raw.splice(json))
                .unwrap_or_else(|e| {
                    serde_json::to_vec(&serde_json::json!({"errors": [{
                        "message": format!("cannot encode the response: {e}")
                    }]}))
                    .unwrap_or_default()
                }),
            is_request_error,
        };
        metrics.finished(errors, Some(statements));
        response
    }
}

fn request_error(e: GraphQLError) -> Response {
    let response = juniper::http::GraphQLResponse::<S>::from_result(Err(e));
    Response {
        body: serde_json::to_vec(&response).unwrap_or_default(),
        is_request_error: true,
    }
}

fn request_error_message(message: &str) -> Response {
    Response {
        body: serde_json::to_vec(&serde_json::json!({"errors": [{"message": message}]}))
            .unwrap_or_default(),
        is_request_error: true,
    }
}
