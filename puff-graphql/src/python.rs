//! `puff._native.graphql`: the native half of `puff.graphql` (queries run in process).

use std::sync::Arc;

use juniper::InputValue;
use juniper::http::GraphQLRequest;
use puff_greenlet::aio::wait_or_await;
use puff_greenlet::json;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::context::ResolverContext;
use crate::engine::{Engine, EngineHandle};
use crate::layer::S;

fn engine(name: &str) -> PyResult<&'static Engine> {
    Engine::named(name).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Run `query` on the schema `name`; returns the response as a dict.
#[pyfunction]
#[pyo3(signature = (name, query, variables = None, auth_token = None, operation_name = None))]
fn query(
    py: Python<'_>,
    name: &str,
    query: String,
    variables: Option<Bound<'_, PyAny>>,
    auth_token: Option<String>,
    operation_name: Option<String>,
) -> PyResult<Py<PyAny>> {
    let engine = engine(name)?;
    let variables = match variables {
        Some(v) if !v.is_none() => {
            let text = json::to_json_string(&v, "variables")?;
            Some(
                serde_json::from_str::<InputValue<S>>(&text)
                    .map_err(|e| PyValueError::new_err(format!("variables: {e}")))?,
            )
        }
        _ => None,
    };
    let request = GraphQLRequest::new(query, operation_name, variables);
    let token: Option<Arc<str>> = auth_token.map(Arc::from);
    wait_or_await(
        py,
        async move { engine.execute(&request, token, true).await },
        Box::new(|py, response| {
            let body: serde_json::Value = serde_json::from_slice(&response.body)
                .map_err(|e| PyValueError::new_err(format!("GraphQL response: {e}")))?;
            json::to_py(py, &body)
        }),
    )
}

/// Names of the started schemas.
#[pyfunction]
fn names() -> PyResult<Vec<String>> {
    Ok(puff_greenlet::PythonRuntime::global()?
        .resources()
        .names::<EngineHandle>())
}

pub(crate) fn add_module(py: Python<'_>, native: &Bound<'_, PyModule>) -> PyResult<()> {
    let m = PyModule::new(py, "graphql")?;
    m.add_class::<ResolverContext>()?;
    m.add_function(wrap_pyfunction!(query, &m)?)?;
    m.add_function(wrap_pyfunction!(names, &m)?)?;
    native.add_submodule(&m)?;
    py.import("sys")?
        .getattr("modules")?
        .set_item("puff._native.graphql", &m)?;
    Ok(())
}
