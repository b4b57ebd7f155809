//! The `context` object a resolver receives: the request's bearer token and the values of
//! the parent layer.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::layer::Rows;

/// `context` of a resolver call (`puff.graphql.Context`).
#[pyclass(module = "puff.graphql", name = "Context", frozen)]
pub struct ResolverContext {
    pub auth_token: Option<Arc<str>>,
    pub parents: Rows,
    /// `Type.field` of the resolver, for error messages.
    pub field: String,
}

#[pymethods]
impl ResolverContext {
    /// The token of an `Authorization: Bearer <token>` request header, or None.
    #[getter]
    fn auth_token(&self) -> Option<&str> {
        self.auth_token.as_deref()
    }

    /// Number of parents in this layer (0 for root fields).
    fn __len__(&self) -> usize {
        self.parents.len()
    }

    /// For every parent of this layer, in order, the list of its values of `columns`
    /// (columns of its SQL row, or attributes / keys of its Python object).
    fn parent_values<'py>(
        &self,
        py: Python<'py>,
        columns: Vec<String>,
    ) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        match &self.parents {
            Rows::Root => {}
            Rows::Sql(rows) => {
                let mut indices = Vec::with_capacity(columns.len());
                for c in &columns {
                    indices.push(rows.column(c).ok_or_else(|| {
                        pyo3::exceptions::PyKeyError::new_err(format!(
                            "{}: parent_values: the parent rows have no column `{c}` (columns: {})",
                            self.field,
                            rows.column_names()
                        ))
                    })?);
                }
                for row in &rows.result.rows {
                    let values = PyList::empty(py);
                    for &i in &indices {
                        values.append(puff_postgres::to_python(py, &row[i])?)?;
                    }
                    out.append(values)?;
                }
            }
            Rows::Py(objects) => {
                for obj in objects.iter() {
                    let obj = obj.bind(py);
                    let values = PyList::empty(py);
                    for c in &columns {
                        values.append(attribute(obj, c).map_err(|_| {
                            pyo3::exceptions::PyKeyError::new_err(format!(
                                "{}: parent_values: a parent {} has no attribute or key `{c}`",
                                self.field,
                                obj.get_type()
                                    .name()
                                    .map(|n| n.to_string())
                                    .unwrap_or_default()
                            ))
                        })?)?;
                    }
                    out.append(values)?;
                }
            }
        }
        Ok(out)
    }

    fn __repr__(&self) -> String {
        format!(
            "<puff.graphql.Context {} over {} parents>",
            self.field,
            self.parents.len()
        )
    }
}

/// `obj.name`, or `obj[name]` for mappings.
pub fn attribute<'py>(obj: &Bound<'py, PyAny>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    if let Ok(d) = obj.cast::<PyDict>() {
        return d
            .get_item(name)?
            .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(name.to_owned()));
    }
    obj.getattr(name)
}

/// The parents as the `parents` argument: Python objects as they are, SQL rows as dicts.
pub fn parents_arg<'py>(py: Python<'py>, parents: &Rows) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    match parents {
        Rows::Root => {}
        Rows::Py(objects) => {
            for obj in objects.iter() {
                out.append(obj.bind(py))?;
            }
        }
        Rows::Sql(rows) => {
            for row in &rows.result.rows {
                let d = PyDict::new(py);
                for (column, value) in rows.result.columns.iter().zip(row) {
                    d.set_item(&column.name, puff_postgres::to_python(py, value)?)?;
                }
                out.append(d)?;
            }
        }
    }
    Ok(out)
}
