//! axum handlers: the GraphQL endpoint (POST and GET, per the GraphQL-over-HTTP
//! conventions), the playground page, and the routes `[[graphql]]` entries mount.
//!
//! In a Rust binary, route them yourself (they find the schema by name when a request
//! arrives, so the router can be built before the runtime starts):
//!
//! ```ignore
//! let router = Router::new()
//!     .get("/", playground("/graphql", "/subscriptions"))
//!     .post("/graphql", handle_graphql())
//!     .get("/subscriptions", handle_subscriptions());
//! ```

use std::sync::Arc;

use axum::body::Bytes;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use http::{HeaderMap, Method, StatusCode, Uri, header};
use juniper::InputValue;
use juniper::http::GraphQLRequest;

use crate::auth::bearer_token;
use crate::config::GraphqlConfig;
use crate::engine::Engine;
use crate::layer::S;

// The seeds import all three from here.
pub use crate::subscriptions::handle_subscriptions;

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn request_error(status: StatusCode, message: String) -> Response {
    let body = serde_json::json!({"errors": [{"message": message}]});
    json_response(status, serde_json::to_vec(&body).unwrap_or_default())
}

/// Read a request from a GET query string (`query`, `operationName`, `variables` as JSON).
fn from_query_string(uri: &Uri) -> Result<GraphQLRequest<S>, String> {
    let mut query = None;
    let mut operation_name = None;
    let mut variables = None;
    for (key, value) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "query" => query = Some(value.into_owned()),
            "operationName" if !value.is_empty() => operation_name = Some(value.into_owned()),
            "variables" if !value.is_empty() => {
                variables = Some(
                    serde_json::from_str::<InputValue<S>>(&value)
                        .map_err(|e| format!("`variables` is not a JSON object: {e}"))?,
                );
            }
            _ => {}
        }
    }
    let query = query.ok_or("missing the `query` parameter")?;
    Ok(GraphQLRequest::new(query, operation_name, variables))
}

/// Read a request from a POST body: JSON `{"query", "operationName", "variables"}`, or
/// the query text itself with `Content-Type: application/graphql`.
fn from_body(headers: &HeaderMap, body: &[u8]) -> Result<GraphQLRequest<S>, (StatusCode, String)> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "application/graphql" => std::str::from_utf8(body)
            .map(|q| GraphQLRequest::new(q.to_owned(), None, None))
            .map_err(|_| (StatusCode::BAD_REQUEST, "the body is not UTF-8".to_owned())),
        "application/json" | "" => serde_json::from_slice::<GraphQLRequest<S>>(body).map_err(|e| {
            (
                StatusCode::BAD_REQUEST,
                format!("the body is not a GraphQL request (JSON with a `query` string): {e}"),
            )
        }),
        other => Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "unsupported Content-Type `{other}`: send application/json or application/graphql"
            ),
        )),
    }
}

/// Serve one HTTP request on `engine`.
pub async fn serve_request(
    engine: &'static Engine,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = if method == Method::GET {
        match from_query_string(&uri) {
            Ok(r) => r,
            Err(message) => return request_error(StatusCode::BAD_REQUEST, message),
        }
    } else if method == Method::POST {
        match from_body(&headers, &body) {
            Ok(r) => r,
            Err((status, message)) => return request_error(status, message),
        }
    } else {
        return request_error(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} is not allowed: send GraphQL requests with GET or POST"),
        );
    };
    let response = engine
        .execute(&request, bearer_token(&headers), method == Method::POST)
        .await;
    let status = if response.is_request_error {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    json_response(status, response.body)
}

/// The GraphQL endpoint (GET and POST) of the schema named `name`.
pub fn graphql_endpoint(name: &str) -> MethodRouter {
    let name: Arc<str> = Arc::from(name);
    // Found on the first request (the router may be built before the runtime starts),
    // then kept: engines live for the whole program.
    let found: Arc<std::sync::OnceLock<&'static Engine>> = Arc::default();
    let handler = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let name = name.clone();
        let found = found.clone();
        async move {
            let engine = match found.get() {
                Some(engine) => *engine,
                None => match Engine::named(&name) {
                    Ok(engine) => *found.get_or_init(|| engine),
                    Err(e) => {
                        return request_error(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
                    }
                },
            };
            serve_request(engine, method, uri, headers, body).await
        }
    };
    get(handler.clone()).post(handler)
}

/// The GraphQL endpoint of the `default` schema, as the seeds route it.
pub fn handle_graphql() -> MethodRouter {
    graphql_endpoint("default")
}

/// The GraphQL Playground page, talking to `graphql_url` and `subscriptions_url`.
pub fn playground(graphql_url: &str, subscriptions_url: &str) -> MethodRouter {
    let page = juniper::http::playground::playground_source(
        graphql_url,
        (!subscriptions_url.is_empty()).then_some(subscriptions_url),
    );
    get(move || {
        let page = page.clone();
        async move { Html(page) }
    })
}

/// The routes one `[[graphql]]` entry serves.
pub fn routes(config: &GraphqlConfig) -> axum::Router {
    let mut router = axum::Router::new();
    if !config.url.is_empty() {
        router = router.route(&config.url, graphql_endpoint(&config.name));
    }
    if let Some(url) = &config.subscriptions_url {
        router = router.route(
            url,
            crate::subscriptions::subscriptions_endpoint(&config.name),
        );
    }
    if let Some(url) = &config.playground_url {
        let graphql_url = if config.url.is_empty() {
            "/graphql"
        } else {
            &config.url
        };
        router = router.route(
            url,
            playground(
                graphql_url,
                config.subscriptions_url.as_deref().unwrap_or(""),
            ),
        );
    }
    router
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_as_the_seeds_write_them() {
        // The seeds' Rust example, on Puff's Router.
        let router = puff_http::Router::new()
            .route("/", playground("/graphql", "/subscriptions"))
            .route("/graphql", handle_graphql())
            .route("/subscriptions", handle_subscriptions());
        let _ = router.into_axum();
        let mut config = GraphqlConfig::new("default", "app.Schema");
        config.playground_url = Some("/playground".into());
        config.subscriptions_url = Some("/subscriptions".into());
        let _ = routes(&config);
    }

    #[test]
    fn bearer_tokens_and_get_requests() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Bearer abc.def".parse().unwrap());
        assert_eq!(bearer_token(&h).as_deref(), Some("abc.def"));
        h.insert(header::AUTHORIZATION, "Basic eA==".parse().unwrap());
        assert_eq!(bearer_token(&h), None);
        let uri: Uri = "/graphql?query=%7B%20hello%20%7D&variables=%7B%22a%22%3A1%7D"
            .parse()
            .unwrap();
        let r = from_query_string(&uri).unwrap();
        assert_eq!(r.query, "{ hello }");
        assert!(r.variables.is_some());
        let bad: Uri = "/graphql?query=x&variables=nope".parse().unwrap();
        assert!(from_query_string(&bad).unwrap_err().contains("variables"));
        assert!(from_query_string(&"/graphql".parse().unwrap()).is_err());
        let mut json = HeaderMap::new();
        json.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert_eq!(
            from_body(&json, b"{}").unwrap_err().0,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert_eq!(
            from_body(&HeaderMap::new(), b"{").unwrap_err().0,
            StatusCode::BAD_REQUEST
        );
    }
}
