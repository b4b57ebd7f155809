//! The values a layered execution produces and consumes: [`Node`] (a resolved GraphQL
//! value, told apart by its [`Info`]), [`ObjNode`] (a resolved object) and [`Rows`] (the
//! parents of one layer: SQL rows or Python objects). Everything else in the execution
//! (planning, resolvers, conversion, juniper's view) builds on these.

use std::collections::HashMap;
use std::sync::Arc;

use juniper::{DefaultScalarValue, Value};
use puff_postgres::QueryResult;
use pyo3::prelude::*;

use crate::plan::Plan;
use crate::schema::{SchemaDesc, Ty};

pub type S = DefaultScalarValue;

/// Which GraphQL type a [`Node`] is: a type reference inside a program-long schema.
#[derive(Clone, Copy, Debug)]
pub struct Info {
    pub schema: &'static SchemaDesc,
    pub ty: &'static Ty,
}

impl Info {
    pub fn with(self, ty: &'static Ty) -> Info {
        Info {
            schema: self.schema,
            ty,
        }
    }
}

/// A resolved GraphQL value, or a root object still to resolve.
#[derive(Clone, Debug)]
pub enum Node {
    /// The query, mutation or subscription root.
    Root,
    Null,
    Scalar(Value<S>),
    List(Vec<Node>),
    Object(Arc<ObjNode>),
    /// A field error at this position (the message returned to the client).
    Error(Arc<str>),
}

/// A resolved object: the values of its planned fields, in plan order.
#[derive(Debug)]
pub struct ObjNode {
    pub plan: Arc<Plan>,
    pub values: Vec<Node>,
}

impl ObjNode {
    pub fn empty() -> ObjNode {
        ObjNode {
            plan: Arc::new(Plan::default()),
            values: Vec::new(),
        }
    }
}

/// The rows of one layer.
#[derive(Clone, Debug)]
pub enum Rows {
    /// The single implicit parent of root fields.
    Root,
    Sql(Arc<SqlRows>),
    Py(Arc<Vec<Py<PyAny>>>),
}

impl Rows {
    pub fn len(&self) -> usize {
        match self {
            Rows::Root => 1,
            Rows::Sql(rows) => rows.result.rows.len(),
            Rows::Py(objects) => objects.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A query result with its columns by name.
#[derive(Debug)]
pub struct SqlRows {
    pub result: QueryResult,
    columns: HashMap<String, usize>,
}

impl SqlRows {
    pub fn new(result: QueryResult) -> SqlRows {
        let mut columns = HashMap::new();
        for (i, c) in result.columns.iter().enumerate() {
            columns.entry(c.name.clone()).or_insert(i);
        }
        SqlRows { result, columns }
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.get(name).copied()
    }

    pub fn column_names(&self) -> String {
        let names: Vec<&str> = self
            .result
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    }
}
