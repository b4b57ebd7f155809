//! Layer-based execution. A root field runs its resolver once; the rows it returns (from
//! SQL or Python objects) form a layer, and every resolver field selected below runs once
//! for the whole layer with all of its parents, its children correlated back to the
//! parents by key. Sibling fields of a layer resolve concurrently on Tokio; Postgres
//! rows are turned into GraphQL values in Rust, without a trip through Python.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::{BoxFuture, join, join_all};
use juniper::{ExecutionResult, Executor, FieldError, Value};
use puff_greenlet::trace::{Span, SpanKind, within_span};
use puff_postgres::{SharedConnection, Value as Pg};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

use crate::context::{ResolverContext, attribute, parents_arg};
use crate::convert::{Key, Shape, arg_to_py, pg_to_node, py_to_shape};
use crate::engine::Ctx;
use crate::layer::{Info, Node, ObjNode, Rows, S, SqlRows};
use crate::plan::{Arg, Plan, PlanField};
use crate::raw::write_json;
use crate::schema::{FieldDesc, SchemaDesc, Ty};

/// The correlation keys of `rows`: each row's values of `columns`.
fn sql_keys(rows: &SqlRows, columns: &[String], what: &str) -> Result<Vec<Vec<Key>>, String> {
    let mut indices = Vec::with_capacity(columns.len());
    for c in columns {
        indices.push(rows.column(c).ok_or_else(|| {
            format!(
                "{what}: no column `{c}` to correlate on (columns: {})",
                rows.column_names()
            )
        })?);
    }
    Ok(rows
        .result
        .rows
        .iter()
        .map(|row| indices.iter().map(|&i| Key::from_pg(&row[i])).collect())
        .collect())
}

fn error(message: impl Into<Arc<str>>) -> Node {
    Node::Error(message.into())
}

/// Resolve root field `field_name` of the root object `info`: plan the whole selection
/// below it, execute it layer by layer, then hand the values to juniper.
/// A root field as the executor asks for it: the root object's index, the field, and the
/// plan of everything selected below it (read from juniper's look-ahead).
pub(crate) struct RootField {
    pub root: usize,
    pub field: &'static FieldDesc,
    pub planned: PlanField,
}

impl RootField {
    pub(crate) fn plan(
        info: &Info,
        field_name: &str,
        executor: &Executor<'_, '_, Ctx, S>,
    ) -> Result<RootField, FieldError<S>> {
        let schema = info.schema;
        let Ty::Object(root) = *info.ty else {
            return Err(FieldError::new("not an object type", Value::null()));
        };
        let Some(index) = schema.object(root).field_index(field_name) else {
            return Err(FieldError::new(
                format!("no field `{field_name}`"),
                Value::null(),
            ));
        };
        let field: &'static FieldDesc = &schema.object(root).fields[index];
        let selection = executor.look_ahead();
        let planned = PlanField {
            key: selection.field_name().to_owned(),
            key_json: crate::plan::json_key(selection.field_name()),
            name: field.name.clone(),
            field: index,
            args: Plan::arguments(&selection),
            sub: field
                .ty
                .object()
                .map(|o| Arc::new(Plan::build(schema, o, &selection))),
        };
        Ok(RootField {
            root,
            field,
            planned,
        })
    }
}

pub async fn resolve_root_field(
    info: &Info,
    field_name: &str,
    executor: &Executor<'_, '_, Ctx, S>,
) -> ExecutionResult<S> {
    let schema = info.schema;
    let RootField {
        root,
        field,
        planned,
    } = RootField::plan(info, field_name, executor)?;
    let ctx = executor.context().clone();
    let node = resolve_field_layer(&ctx, schema, root, &planned, &Rows::Root)
        .await
        .pop()
        .unwrap_or(Node::Null);
    // Without errors, nulls in non-null places or `__typename`, the tree is written as
    // JSON directly (see `crate::raw`); otherwise juniper walks it, to place errors and
    // propagate nulls exactly as the spec says.
    if let Some(raw) = &ctx.raw {
        let mut json = Vec::new();
        if write_json(&mut json, &node, &field.ty, schema) {
            return Ok(raw.placeholder(json));
        }
    }
    executor.resolve_with_ctx(&info.with(&field.ty), &node)
}

/// What a resolver returned, read on the Python thread.
enum Returned {
    /// A value (or `..., objects`): the same for every parent.
    Value {
        shape: Shape,
        objects: Vec<Py<PyAny>>,
    },
    /// `..., sql, params[, parent_keys, child_keys]`.
    Sql {
        sql: String,
        params: Vec<Pg>,
        keys: Option<(Vec<Vec<Key>>, Vec<String>)>,
    },
    /// `..., objects, parent_keys, child_keys`.
    Keyed {
        objects: Vec<Py<PyAny>>,
        parent_keys: Vec<Vec<Key>>,
        child_keys: Vec<Vec<Key>>,
    },
}

/// Where a resolver is, for messages: `Type.field`.
fn field_path(schema: &SchemaDesc, object: usize, field: &FieldDesc) -> String {
    format!("{}.{}", schema.object(object).name, field.name)
}

/// Run the resolver of `planned` once for all `parents`; one value per parent. Recorded as
/// one span (`graphql Type.field`) when traced, with the layers under it nested inside.
fn resolve_field_layer<'a>(
    ctx: &'a Ctx,
    schema: &'static SchemaDesc,
    object: usize,
    planned: &'a PlanField,
    parents: &'a Rows,
) -> BoxFuture<'a, Vec<Node>> {
    let field = &schema.object(object).fields[planned.field];
    let span = Span::start_child(
        format!("graphql {}", field_path(schema, object, field)),
        SpanKind::Internal,
    );
    let Some(mut span) = span else {
        return resolve_layer(ctx, schema, object, planned, parents);
    };
    span.set_attribute("graphql.layer.parents", parents.len() as i64);
    Box::pin(async move {
        let layer = resolve_layer(ctx, schema, object, planned, parents);
        let nodes = within_span(Some(&span), layer).await;
        if nodes.iter().any(|node| matches!(node, Node::Error(_))) {
            span.set_error("the resolver or its query failed");
        }
        nodes
    })
}

/// [`resolve_field_layer`]'s work.
fn resolve_layer<'a>(
    ctx: &'a Ctx,
    schema: &'static SchemaDesc,
    object: usize,
    planned: &'a PlanField,
    parents: &'a Rows,
) -> BoxFuture<'a, Vec<Node>> {
    Box::pin(async move {
        let n = parents.len();
        let field: &'static FieldDesc = &schema.object(object).fields[planned.field];
        let path = field_path(schema, object, field);
        let call = {
            let args = planned.args.clone();
            let parents = parents.clone();
            let auth_token = ctx.auth_token.clone();
            let path = path.clone();
            let lend = ctx
                .db
                .clone()
                .filter(|_| field.resolver.as_ref().is_some_and(|r| r.borrow_db_context));
            move |py: Python<'_>| {
                Ok(lend_connection(py, lend.as_deref(), &path).and_then(|()| {
                    call_resolver(py, schema, field, &path, &args, parents, auth_token)
                }))
            }
        };
        let returned = match ctx.engine.python.run(call).await {
            Ok(Ok(returned)) => returned,
            Ok(Err(message)) => return vec![error(message); n],
            Err(e) => return vec![error(format!("{path}: {e}")); n],
        };
        let list = field.ty.is_list();
        match returned {
            Returned::Value { shape, objects } => {
                let rows = if objects.is_empty() {
                    Vec::new()
                } else {
                    child_layer(ctx, schema, field, planned, Rows::Py(Arc::new(objects))).await
                };
                vec![shape.into_node(&rows); n]
            }
            Returned::Sql { sql, params, keys } => {
                let Some(pool) = &ctx.engine.pool else {
                    let message = format!(
                        "{path} returned SQL, but the schema's database `{}` is not a configured \
                         [[postgres]] pool",
                        ctx.engine.config.database
                    );
                    return vec![error(message); n];
                };
                crate::metrics::statement_sent();
                let result = match &ctx.db {
                    Some(db) => db.query(&sql, params).await,
                    None => pool.query(&sql, &params).await,
                };
                let result = match result {
                    Ok(result) => result,
                    Err(e) => return vec![error(format!("{path}: {e}")); n],
                };
                let rows = Arc::new(SqlRows::new(result));
                let nodes = match field.ty.object() {
                    Some(_) => {
                        child_layer(ctx, schema, field, planned, Rows::Sql(rows.clone())).await
                    }
                    None => {
                        let item = list_item(&field.ty);
                        rows.result
                            .rows
                            .iter()
                            .map(|row| row.first().map_or(Node::Null, |v| pg_to_node(v, item)))
                            .collect()
                    }
                };
                match keys {
                    None => vec![gather(nodes, list); n],
                    Some((parent_keys, child_columns)) => {
                        match sql_keys(&rows, &child_columns, &path) {
                            Ok(child_keys) => correlate(&parent_keys, &child_keys, &nodes, list),
                            Err(message) => vec![error(message); n],
                        }
                    }
                }
            }
            Returned::Keyed {
                objects,
                parent_keys,
                child_keys,
            } => {
                let nodes =
                    child_layer(ctx, schema, field, planned, Rows::Py(Arc::new(objects))).await;
                correlate(&parent_keys, &child_keys, &nodes, list)
            }
        }
    })
}

/// The item type of a list type (or the type itself).
fn list_item(ty: &Ty) -> &Ty {
    match ty {
        Ty::Nullable(inner) => list_item(inner),
        Ty::List(inner) => inner,
        other => other,
    }
}

/// Resolve the objects of a child layer along the field's sub-selection.
async fn child_layer(
    ctx: &Ctx,
    schema: &'static SchemaDesc,
    field: &'static FieldDesc,
    planned: &PlanField,
    rows: Rows,
) -> Vec<Node> {
    match (field.ty.object(), &planned.sub) {
        (Some(object), Some(plan)) => resolve_object_layer(ctx, schema, object, plan, rows).await,
        _ => vec![error("objects returned for a field whose type is not an object"); rows.len()],
    }
}

/// Uncorrelated rows as one field value: the list, or its first item.
fn gather(nodes: Vec<Node>, list: bool) -> Node {
    if list {
        Node::List(nodes)
    } else {
        nodes.into_iter().next().unwrap_or(Node::Null)
    }
}

/// Give each parent the children whose keys equal its keys (null keys match nothing, as
/// in SQL): all of them for list fields, the first one otherwise.
fn correlate(
    parent_keys: &[Vec<Key>],
    child_keys: &[Vec<Key>],
    nodes: &[Node],
    list: bool,
) -> Vec<Node> {
    let mut by_key: HashMap<&[Key], Vec<usize>> = HashMap::new();
    for (i, key) in child_keys.iter().enumerate() {
        if key.contains(&Key::Null) {
            continue;
        }
        by_key.entry(key.as_slice()).or_default().push(i);
    }
    parent_keys
        .iter()
        .map(|key| match (by_key.get(key.as_slice()), list) {
            (Some(children), true) => Node::List(
                children
                    .iter()
                    .filter_map(|&i| nodes.get(i).cloned())
                    .collect(),
            ),
            (Some(children), false) => nodes.get(children[0]).cloned().unwrap_or(Node::Null),
            (None, true) => Node::List(Vec::new()),
            (None, false) => Node::Null,
        })
        .collect()
}

/// The message of a resolver's exception; the traceback goes to the log.
pub(crate) fn resolver_error(py: Python<'_>, path: &str, err: PyErr) -> String {
    tracing::error!(
        "GraphQL resolver {path} raised:\n{}",
        puff_greenlet::error::format_exception(py, &err).trim_end()
    );
    let kind = err
        .get_type(py)
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "Exception".into());
    format!("{path}: {kind}: {}", err.value(py))
}

/// Lend the request's connection to the resolver about to run in this greenlet:
/// `puff.postgres.connect(pool)` returns it there.
fn lend_connection(
    py: Python<'_>,
    db: Option<&SharedConnection>,
    path: &str,
) -> Result<(), String> {
    let Some(db) = db else {
        return Ok(());
    };
    (|| -> PyResult<()> {
        let native = db.lend(py)?;
        py.import("puff.postgres")?
            .getattr("_lend")?
            .call1((db.pool().name(), native))?;
        Ok(())
    })()
    .map_err(|e| resolver_error(py, path, e))
}

fn call_resolver(
    py: Python<'_>,
    schema: &'static SchemaDesc,
    field: &'static FieldDesc,
    path: &str,
    args: &[(String, Arg)],
    parents: Rows,
    auth_token: Option<Arc<str>>,
) -> Result<Returned, String> {
    let Some(resolver) = &field.resolver else {
        return Err(format!("{path} has no resolver"));
    };
    let fail = |e: PyErr| resolver_error(py, path, e);
    let kwargs = PyDict::new(py);
    for (name, arg) in args {
        let Some(desc) = resolver.args.iter().find(|a| &a.name == name) else {
            continue;
        };
        let value = arg_to_py(py, schema, arg, &desc.ty)
            .map_err(|e| format!("{path}: argument `{name}`: {}", e.value(py)))?;
        kwargs.set_item(name, value).map_err(fail)?;
    }
    let parents_list = if resolver.takes_parents {
        Some(parents_arg(py, &parents).map_err(fail)?)
    } else {
        None
    };
    let context = Py::new(
        py,
        ResolverContext {
            auth_token,
            parents: parents.clone(),
            field: path.to_owned(),
        },
    )
    .map_err(fail)?;
    let func = resolver.func.bind(py);
    let mut result = match parents_list {
        Some(list) => func.call((list, context), Some(&kwargs)),
        None => func.call((context,), Some(&kwargs)),
    }
    .map_err(fail)?;
    if resolver.is_async || result.hasattr("__await__").unwrap_or(false) {
        let awaitable = result.clone().unbind();
        result = match puff_greenlet::aio::run_coroutine(py, awaitable) {
            Ok(value) => value.into_bound(py),
            Err(e) => {
                // Not started (no event loop): close it, so Python does not warn it was
                // never awaited.
                let _ = result.call_method0("close");
                return Err(fail(e));
            }
        };
    }
    classify(py, result, field, path, &parents).map_err(|e| match e {
        Classify::Py(e) => fail(e),
        Classify::Message(m) => format!("{path}: {m}"),
    })
}

enum Classify {
    Py(PyErr),
    Message(String),
}

impl From<PyErr> for Classify {
    fn from(e: PyErr) -> Self {
        Classify::Py(e)
    }
}

fn names(obj: &Bound<'_, PyAny>, what: &str) -> Result<Vec<String>, Classify> {
    obj.extract::<Vec<String>>()
        .map_err(|_| Classify::Message(format!("{what} must be a list of column names")))
}

fn classify(
    py: Python<'_>,
    result: Bound<'_, PyAny>,
    field: &FieldDesc,
    path: &str,
    parents: &Rows,
) -> Result<Returned, Classify> {
    let tuple = result
        .cast::<PyTuple>()
        .ok()
        .filter(|t| t.len() >= 2 && t.get_item(0).is_ok_and(|first| first.is(py.Ellipsis())));
    let Some(t) = tuple else {
        let mut objects = Vec::new();
        let shape = py_to_shape(&result, &field.ty, &mut objects);
        return Ok(Returned::Value { shape, objects });
    };
    let parent_keys = |columns: &[String]| -> Result<Vec<Vec<Key>>, Classify> {
        keys_of(py, parents, columns, path)
    };
    match t.len() {
        2 => {
            let mut objects = Vec::new();
            let shape = py_to_shape(&t.get_item(1)?, &field.ty, &mut objects);
            Ok(Returned::Value { shape, objects })
        }
        3 | 5 => {
            let sql = t.get_item(1)?;
            let sql = sql
                .cast::<PyString>()
                .map_err(|_| Classify::Message("`..., sql, params`: sql must be a str".into()))?
                .to_str()?
                .to_owned();
            let params_obj = t.get_item(2)?;
            if params_obj.is_instance_of::<PyString>() || params_obj.is_instance_of::<PyDict>() {
                return Err(Classify::Message(
                    "`..., sql, params`: params must be a list of $1, $2, ... values".into(),
                ));
            }
            let mut params = Vec::new();
            for p in params_obj.try_iter()? {
                params.push(puff_postgres::to_value(&p?)?);
            }
            let keys = if t.len() == 5 {
                let parent_columns = names(&t.get_item(3)?, "parent_keys")?;
                let child_columns = names(&t.get_item(4)?, "child_keys")?;
                check_key_lengths(&parent_columns, &child_columns)?;
                Some((parent_keys(&parent_columns)?, child_columns))
            } else {
                None
            };
            Ok(Returned::Sql { sql, params, keys })
        }
        4 => {
            let parent_columns = names(&t.get_item(2)?, "parent_keys")?;
            let child_columns = names(&t.get_item(3)?, "child_keys")?;
            check_key_lengths(&parent_columns, &child_columns)?;
            let list = t.get_item(1)?;
            let mut objects = Vec::new();
            let mut child_keys = Vec::new();
            for obj in list.try_iter()? {
                let obj = obj?;
                child_keys.push(object_keys(&obj, &child_columns, "child_keys")?);
                objects.push(obj.unbind());
            }
            Ok(Returned::Keyed {
                objects,
                parent_keys: parent_keys(&parent_columns)?,
                child_keys,
            })
        }
        len => Err(Classify::Message(format!(
            "returned a tuple of {len} items; expected `..., objects`, `..., sql, params`, \
             `..., objects, parent_keys, child_keys` or `..., sql, params, parent_keys, child_keys`"
        ))),
    }
}

fn check_key_lengths(parent: &[String], child: &[String]) -> Result<(), Classify> {
    if parent.is_empty() || parent.len() != child.len() {
        return Err(Classify::Message(format!(
            "parent_keys {parent:?} and child_keys {child:?} must name the same number (>= 1) of columns"
        )));
    }
    Ok(())
}

fn object_keys(
    obj: &Bound<'_, PyAny>,
    columns: &[String],
    what: &str,
) -> Result<Vec<Key>, Classify> {
    columns
        .iter()
        .map(|c| {
            let value = attribute(obj, c).map_err(|_| {
                Classify::Message(format!(
                    "{what}: a {} has no attribute or key `{c}`",
                    obj.get_type()
                        .name()
                        .map(|n| n.to_string())
                        .unwrap_or_default()
                ))
            })?;
            Ok(Key::from_py(&value)?)
        })
        .collect()
}

/// The parents' values of `columns`, as correlation keys.
fn keys_of(
    py: Python<'_>,
    parents: &Rows,
    columns: &[String],
    path: &str,
) -> Result<Vec<Vec<Key>>, Classify> {
    match parents {
        Rows::Root => Err(Classify::Message(
            "a root field has no parents to correlate with: return without parent_keys/child_keys"
                .into(),
        )),
        Rows::Sql(rows) => {
            sql_keys(rows, columns, &format!("{path}: parent_keys")).map_err(Classify::Message)
        }
        Rows::Py(objects) => objects
            .iter()
            .map(|obj| object_keys(obj.bind(py), columns, "parent_keys"))
            .collect(),
    }
}

/// Resolve the fields `plan` selects on `rows` of object type `object`: columns and
/// attributes directly, resolver fields and nested objects as child layers (concurrently).
pub(crate) fn resolve_object_layer<'a>(
    ctx: &'a Ctx,
    schema: &'static SchemaDesc,
    object: usize,
    plan: &'a Arc<Plan>,
    rows: Rows,
) -> BoxFuture<'a, Vec<Node>> {
    Box::pin(async move {
        let desc = schema.object(object);
        let n = rows.len();
        let mut columns: Vec<Option<Vec<Node>>> = plan.fields.iter().map(|_| None).collect();
        let mut nested: Vec<(usize, Vec<Shape>, Vec<Py<PyAny>>)> = Vec::new();
        match &rows {
            Rows::Root => {}
            Rows::Sql(sql) => {
                for (slot, planned) in plan.fields.iter().enumerate() {
                    let field = &desc.fields[planned.field];
                    if field.resolver.is_some() {
                        continue;
                    }
                    columns[slot] = Some(match sql.column(&field.name) {
                        Some(c) => sql
                            .result
                            .rows
                            .iter()
                            .map(|r| pg_to_node(&r[c], &field.ty))
                            .collect(),
                        None => {
                            let message = format!(
                                "{}.{}: the SQL rows have no column `{}` (columns: {})",
                                desc.name,
                                field.name,
                                field.name,
                                sql.column_names()
                            );
                            vec![error(message); n]
                        }
                    });
                }
            }
            Rows::Py(objects) => {
                let plain: Vec<(usize, &'static FieldDesc)> = plan
                    .fields
                    .iter()
                    .enumerate()
                    .map(|(slot, planned)| (slot, &desc.fields[planned.field]))
                    .filter(|(_, field)| field.resolver.is_none())
                    .collect();
                if !plain.is_empty() {
                    let objects = objects.clone();
                    let type_name = desc.name.as_str();
                    let wanted = plain.clone();
                    let extracted = ctx
                        .engine
                        .python
                        .run(move |py| Ok(extract_fields(py, type_name, &objects, &wanted)))
                        .await;
                    match extracted {
                        Ok(fields) => {
                            for (slot, shapes, children) in fields {
                                if children.is_empty() {
                                    columns[slot] = Some(
                                        shapes.into_iter().map(|s| s.into_node(&[])).collect(),
                                    );
                                } else {
                                    nested.push((slot, shapes, children));
                                }
                            }
                        }
                        Err(e) => {
                            for (slot, _) in plain {
                                columns[slot] = Some(vec![error(e.to_string()); n]);
                            }
                        }
                    }
                }
            }
        }
        let rows = &rows;
        let resolvers = join_all(
            plan.fields
                .iter()
                .enumerate()
                .filter(|(_, planned)| desc.fields[planned.field].resolver.is_some())
                .map(|(slot, planned)| async move {
                    (
                        slot,
                        resolve_field_layer(ctx, schema, object, planned, rows).await,
                    )
                }),
        );
        let nested_layers = join_all(nested.into_iter().map(|(slot, shapes, children)| {
            let planned = &plan.fields[slot];
            let field: &'static FieldDesc = &desc.fields[planned.field];
            async move {
                let nodes =
                    child_layer(ctx, schema, field, planned, Rows::Py(Arc::new(children))).await;
                (
                    slot,
                    shapes
                        .into_iter()
                        .map(|s| s.into_node(&nodes))
                        .collect::<Vec<_>>(),
                )
            }
        }));
        let (resolved, nested) = join(resolvers, nested_layers).await;
        for (slot, values) in resolved.into_iter().chain(nested) {
            columns[slot] = Some(values);
        }
        let mut columns: Vec<std::vec::IntoIter<Node>> = columns
            .into_iter()
            .map(|c| c.unwrap_or_default().into_iter())
            .collect();
        (0..n)
            .map(|_| {
                Node::Object(Arc::new(ObjNode {
                    plan: plan.clone(),
                    values: columns
                        .iter_mut()
                        .map(|c| c.next().unwrap_or(Node::Null))
                        .collect(),
                }))
            })
            .collect()
    })
}

/// Read the plain fields of Python objects: `(slot, one shape per object, objects of the
/// next layer)` per field.
fn extract_fields(
    py: Python<'_>,
    type_name: &str,
    objects: &[Py<PyAny>],
    fields: &[(usize, &'static FieldDesc)],
) -> Vec<(usize, Vec<Shape>, Vec<Py<PyAny>>)> {
    fields
        .iter()
        .map(|&(slot, field)| {
            let mut children = Vec::new();
            let shapes = objects
                .iter()
                .map(|obj| match attribute(obj.bind(py), &field.name) {
                    Ok(value) => py_to_shape(&value, &field.ty, &mut children),
                    Err(_) => Shape::Leaf(error(format!(
                        "{type_name}.{}: a {} has no attribute or key `{}`",
                        field.name,
                        obj.bind(py)
                            .get_type()
                            .name()
                            .map(|n| n.to_string())
                            .unwrap_or_default(),
                        field.name
                    ))),
                })
                .collect();
            (slot, shapes, children)
        })
        .collect()
}
