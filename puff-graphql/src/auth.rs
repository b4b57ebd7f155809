//! The bearer token a request carries: from its `Authorization` header, or from the
//! `connection_init` payload of a subscriptions websocket.

use std::sync::Arc;

use http::{HeaderMap, header};
use juniper::Variables;

use crate::layer::S;

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer_token(headers: &HeaderMap) -> Option<Arc<str>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| Arc::from(token.trim()))
}

/// The bearer token of a `connection_init` payload (`Authorization` or `authToken`).
pub fn init_token(params: &Variables<S>) -> Option<Arc<str>> {
    let text = |key: &str| match params.get(key) {
        Some(juniper::InputValue::Scalar(juniper::DefaultScalarValue::String(s))) => {
            Some(s.clone())
        }
        _ => None,
    };
    if let Some(auth) = text("Authorization").or_else(|| text("authorization")) {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, auth.parse().ok()?);
        return bearer_token(&headers);
    }
    text("authToken").map(Arc::from)
}
