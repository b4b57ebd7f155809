//! Value conversions: Postgres values and Python objects to GraphQL output ([`Node`]),
//! query arguments to Python objects, and correlation keys.

use juniper::{Object, Value};
use puff_postgres::Value as Pg;
use puff_postgres::value::{DAY_MICROS, PG_EPOCH_DAYS, civil_from_days, format_uuid};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};

use crate::layer::{Node, S};
use crate::plan::Arg;
use crate::schema::{Scalar, SchemaDesc, Ty};

// ---- output shapes ------------------------------------------------------------------

/// A Python value laid out along its GraphQL type: scalars converted, objects replaced by
/// their index in the layer of objects collected next to it.
#[derive(Clone, Debug)]
pub enum Shape {
    Leaf(Node),
    Row(usize),
    List(Vec<Shape>),
}

impl Shape {
    /// The value, with each object index replaced by its resolved node.
    pub fn into_node(self, rows: &[Node]) -> Node {
        match self {
            Shape::Leaf(node) => node,
            Shape::Row(i) => rows.get(i).cloned().unwrap_or(Node::Null),
            Shape::List(items) => {
                Node::List(items.into_iter().map(|s| s.into_node(rows)).collect())
            }
        }
    }
}

fn error(message: String) -> Node {
    Node::Error(message.into())
}

/// Lay `obj` out along `ty`; objects go to `objects` (the next layer).
pub fn py_to_shape(obj: &Bound<'_, PyAny>, ty: &Ty, objects: &mut Vec<Py<PyAny>>) -> Shape {
    match ty {
        Ty::Nullable(inner) => {
            if obj.is_none() {
                Shape::Leaf(Node::Null)
            } else {
                py_to_shape(obj, inner, objects)
            }
        }
        _ if obj.is_none() => Shape::Leaf(Node::Null), // juniper reports the non-null violation
        Ty::List(inner) => {
            if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyDict>() {
                return Shape::Leaf(error(format!("expected a list, got {}", type_name(obj))));
            }
            match obj.try_iter() {
                Ok(iter) => Shape::List(
                    iter.map(|item| match item {
                        Ok(item) => py_to_shape(&item, inner, objects),
                        Err(e) => Shape::Leaf(error(e.to_string())),
                    })
                    .collect(),
                ),
                Err(_) => Shape::Leaf(error(format!("expected a list, got {}", type_name(obj)))),
            }
        }
        Ty::Scalar(s) => Shape::Leaf(py_scalar(obj, *s)),
        Ty::Object(_) => {
            objects.push(obj.clone().unbind());
            Shape::Row(objects.len() - 1)
        }
        Ty::Input(_) | Ty::EmptyRoot(_) => Shape::Leaf(Node::Null),
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

fn int_node(i: i64) -> Node {
    match i32::try_from(i) {
        Ok(i) => Node::Scalar(Value::scalar(i)),
        Err(_) => error(format!(
            "Int cannot represent {i}: GraphQL Int is 32-bit (use float or str)"
        )),
    }
}

/// A Python scalar as the GraphQL scalar `s`.
pub fn py_scalar(obj: &Bound<'_, PyAny>, s: Scalar) -> Node {
    let py = obj.py();
    let wrong = || {
        error(format!(
            "{} cannot represent a {}",
            s.name(),
            type_name(obj)
        ))
    };
    let is_bool = obj.is_instance_of::<PyBool>();
    match s {
        Scalar::Int if obj.is_instance_of::<PyInt>() && !is_bool => match obj.extract::<i64>() {
            Ok(i) => int_node(i),
            Err(_) => error(format!("Int cannot represent {obj}")),
        },
        Scalar::Float
            if (obj.is_instance_of::<PyFloat>() || obj.is_instance_of::<PyInt>()) && !is_bool =>
        {
            obj.extract::<f64>()
                .map(|f| Node::Scalar(Value::scalar(f)))
                .unwrap_or_else(|_| wrong())
        }
        Scalar::Boolean if is_bool => Node::Scalar(Value::scalar(obj.is_truthy().unwrap_or(false))),
        Scalar::Json => match puff_greenlet::json::to_json(obj, "JSON field") {
            Ok(j) => Node::Scalar(json_to_value(&j)),
            Err(e) => error(e.to_string()),
        },
        Scalar::String | Scalar::Id | Scalar::DateTime | Scalar::Date | Scalar::Uuid => {
            if let Ok(text) = obj.cast::<PyString>() {
                return text
                    .to_str()
                    .map(|t| Node::Scalar(Value::scalar(t.to_owned())))
                    .unwrap_or_else(|_| wrong());
            }
            let stringable = match s {
                Scalar::String => {
                    !obj.is_instance_of::<PyDict>() && !obj.is_instance_of::<PyList>()
                }
                Scalar::Id => obj.is_instance_of::<PyInt>() && !is_bool || is_uuid(py, obj),
                Scalar::DateTime | Scalar::Date => obj.hasattr("isoformat").unwrap_or(false),
                _ => is_uuid(py, obj),
            };
            if !stringable {
                return wrong();
            }
            let text = if obj.hasattr("isoformat").unwrap_or(false) {
                obj.call_method0("isoformat")
                    .and_then(|t| t.extract::<String>())
            } else {
                obj.str().and_then(|t| t.extract::<String>())
            };
            text.map(|t| Node::Scalar(Value::scalar(t)))
                .unwrap_or_else(|_| wrong())
        }
        _ => wrong(),
    }
}

fn is_uuid(py: Python<'_>, obj: &Bound<'_, PyAny>) -> bool {
    static UUID: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    UUID.get_or_try_init(py, || {
        py.import("uuid")
            .and_then(|m| m.getattr("UUID"))
            .map(Bound::unbind)
    })
    .ok()
    .and_then(|cls| obj.is_instance(cls.bind(py)).ok())
    .unwrap_or(false)
}

/// JSON as a juniper value (integers outside 32 bits become floats, as JSON numbers are).
pub fn json_to_value(j: &serde_json::Value) -> Value<S> {
    use serde_json::Value as J;
    match j {
        J::Null => Value::null(),
        J::Bool(b) => Value::scalar(*b),
        J::Number(n) => match n.as_i64().and_then(|i| i32::try_from(i).ok()) {
            Some(i) => Value::scalar(i),
            None => Value::scalar(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => Value::scalar(s.clone()),
        J::Array(items) => Value::list(items.iter().map(json_to_value).collect()),
        J::Object(map) => {
            let mut o = Object::with_capacity(map.len());
            for (k, v) in map {
                o.add_field(k.as_str(), json_to_value(v));
            }
            Value::object(o)
        }
    }
}

// ---- Postgres values ----------------------------------------------------------------

fn iso_date(days_since_pg_epoch: i64) -> String {
    let (y, m, d) = civil_from_days(days_since_pg_epoch + PG_EPOCH_DAYS);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DDTHH:MM:SS[.ffffff]`, as Python's `isoformat()` writes it.
fn iso_datetime(micros: i64) -> String {
    let date = iso_date(micros.div_euclid(DAY_MICROS));
    let rest = micros.rem_euclid(DAY_MICROS);
    let secs = rest / 1_000_000;
    let frac = rest % 1_000_000;
    let time = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if frac == 0 {
        format!("{date}T{time}")
    } else {
        format!("{date}T{time}.{frac:06}")
    }
}

fn pg_text(v: &Pg) -> Option<String> {
    Some(match v {
        Pg::Text(t) | Pg::Numeric(t) | Pg::Json(t) => t.clone(),
        Pg::Int(i) => i.to_string(),
        Pg::Float(f) => f.to_string(),
        Pg::Bool(b) => b.to_string(),
        Pg::Uuid(u) => format_uuid(u),
        Pg::Date(d) => iso_date(i64::from(*d)),
        Pg::Timestamp(us) => iso_datetime(*us),
        Pg::TimestampTz(us) => format!("{}+00:00", iso_datetime(*us)),
        _ => return None,
    })
}

fn pg_json(v: &Pg) -> Value<S> {
    match v {
        Pg::Null => Value::null(),
        Pg::Bool(b) => Value::scalar(*b),
        Pg::Int(i) => json_to_value(&serde_json::Value::from(*i)),
        Pg::Float(f) => Value::scalar(*f),
        Pg::Json(text) => serde_json::from_str(text)
            .map(|j| json_to_value(&j))
            .unwrap_or_else(|_| Value::scalar(text.clone())),
        Pg::Array(items) => Value::list(items.iter().map(pg_json).collect()),
        other => pg_text(other)
            .map(Value::scalar)
            .unwrap_or_else(Value::null),
    }
}

/// A Postgres value as a field of type `ty`.
pub fn pg_to_node(v: &Pg, ty: &Ty) -> Node {
    let s = match ty {
        Ty::Nullable(inner) => return pg_to_node(v, inner),
        _ if matches!(v, Pg::Null) => return Node::Null,
        Ty::List(inner) => {
            return match v {
                Pg::Array(items) => {
                    Node::List(items.iter().map(|i| pg_to_node(i, inner)).collect())
                }
                _ => error("expected an array column".into()),
            };
        }
        Ty::Scalar(s) => *s,
        _ => {
            return error(
                "an object-typed field cannot come from a column; give it a resolver".into(),
            );
        }
    };
    let wrong = || {
        error(format!(
            "{} cannot represent the column value {v:?}",
            s.name()
        ))
    };
    match (s, v) {
        (Scalar::Int, Pg::Int(i)) => int_node(*i),
        (Scalar::Float, Pg::Float(f)) => Node::Scalar(Value::scalar(*f)),
        (Scalar::Float, Pg::Int(i)) => Node::Scalar(Value::scalar(*i as f64)),
        (Scalar::Float, Pg::Numeric(t)) => t
            .parse::<f64>()
            .map(|f| Node::Scalar(Value::scalar(f)))
            .unwrap_or_else(|_| wrong()),
        (Scalar::Boolean, Pg::Bool(b)) => Node::Scalar(Value::scalar(*b)),
        (Scalar::Json, v) => Node::Scalar(pg_json(v)),
        (Scalar::Date, Pg::Date(d)) => Node::Scalar(Value::scalar(iso_date(i64::from(*d)))),
        (Scalar::Date, Pg::Timestamp(us) | Pg::TimestampTz(us)) => {
            Node::Scalar(Value::scalar(iso_date(us.div_euclid(DAY_MICROS))))
        }
        (Scalar::DateTime, Pg::Date(_) | Pg::Timestamp(_) | Pg::TimestampTz(_) | Pg::Text(_))
        | (Scalar::Uuid, Pg::Uuid(_) | Pg::Text(_))
        | (Scalar::Id, Pg::Int(_) | Pg::Text(_) | Pg::Uuid(_)) => pg_text(v)
            .map(|t| Node::Scalar(Value::scalar(t)))
            .unwrap_or_else(wrong),
        (Scalar::String, v) => pg_text(v)
            .map(|t| Node::Scalar(Value::scalar(t)))
            .unwrap_or_else(wrong),
        _ => wrong(),
    }
}

// ---- correlation keys ---------------------------------------------------------------

/// One value of a correlation key. Python values go through the same conversion as SQL
/// parameters, so `1` from Python matches an `int8` 1 from Postgres.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum Key {
    Null,
    Bool(bool),
    Int(i64),
    Float(u64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Key {
    pub fn from_pg(v: &Pg) -> Key {
        match v {
            Pg::Null => Key::Null,
            Pg::Bool(b) => Key::Bool(*b),
            Pg::Int(i) => Key::Int(*i),
            Pg::Float(f) => Key::Float(f.to_bits()),
            Pg::Bytes(b) => Key::Bytes(b.clone()),
            other => Key::Text(pg_text(other).unwrap_or_else(|| format!("{other:?}"))),
        }
    }

    pub fn from_py(obj: &Bound<'_, PyAny>) -> PyResult<Key> {
        Ok(Key::from_pg(&puff_postgres::to_value(obj)?))
    }
}

// ---- arguments to Python ------------------------------------------------------------

/// A query argument as the Python value the resolver expects for `ty`.
pub fn arg_to_py<'py>(
    py: Python<'py>,
    schema: &SchemaDesc,
    arg: &Arg,
    ty: &Ty,
) -> PyResult<Bound<'py, PyAny>> {
    let bad = |what: &str| {
        pyo3::exceptions::PyValueError::new_err(format!("expected {what}, got {arg:?}"))
    };
    match ty {
        Ty::Nullable(inner) => {
            if matches!(arg, Arg::Null) {
                Ok(py.None().into_bound(py))
            } else {
                arg_to_py(py, schema, arg, inner)
            }
        }
        _ if matches!(arg, Arg::Null) => Ok(py.None().into_bound(py)),
        Ty::List(inner) => {
            let list = PyList::empty(py);
            match arg {
                Arg::List(items) => {
                    for item in items {
                        list.append(arg_to_py(py, schema, item, inner)?)?;
                    }
                }
                // GraphQL input coercion: a single value stands for a list of one.
                single => list.append(arg_to_py(py, schema, single, inner)?)?,
            }
            Ok(list.into_any())
        }
        Ty::Input(i) => {
            let input = &schema.inputs[*i];
            let Arg::Object(fields) = arg else {
                return Err(bad(&format!("an input object {}", input.name)));
            };
            let kwargs = PyDict::new(py);
            for (name, value) in fields {
                if let Some(field) = input.fields.iter().find(|f| &f.name == name) {
                    kwargs.set_item(name, arg_to_py(py, schema, value, &field.ty)?)?;
                }
            }
            input.class.bind(py).call((), Some(&kwargs))
        }
        Ty::Scalar(s) => scalar_arg(py, arg, *s),
        Ty::Object(_) | Ty::EmptyRoot(_) => Err(bad("an input value")),
    }
}

fn scalar_arg<'py>(py: Python<'py>, arg: &Arg, s: Scalar) -> PyResult<Bound<'py, PyAny>> {
    let from_iso = |module: &str, class: &str, text: &str| -> PyResult<Bound<'py, PyAny>> {
        py.import(module)?
            .getattr(class)?
            .call_method1("fromisoformat", (text,))
            .map_err(|_| {
                pyo3::exceptions::PyValueError::new_err(format!(
                    "{} expects ISO 8601 text, got {text:?}",
                    s.name()
                ))
            })
    };
    Ok(match (s, arg) {
        (Scalar::Int, Arg::Int(i)) => i.into_pyobject(py)?.into_any(),
        (Scalar::Float, Arg::Float(f)) => f.into_pyobject(py)?.into_any(),
        (Scalar::Float, Arg::Int(i)) => (*i as f64).into_pyobject(py)?.into_any(),
        (Scalar::Boolean, Arg::Boolean(b)) => PyBool::new(py, *b).to_owned().into_any(),
        (Scalar::String | Scalar::Id, Arg::String(t)) => PyString::new(py, t).into_any(),
        (Scalar::Id, Arg::Int(i)) => PyString::new(py, &i.to_string()).into_any(),
        (Scalar::DateTime, Arg::String(t)) => from_iso("datetime", "datetime", t)?,
        (Scalar::Date, Arg::String(t)) => from_iso("datetime", "date", t)?,
        (Scalar::Uuid, Arg::String(t)) => {
            py.import("uuid")?
                .getattr("UUID")?
                .call1((t,))
                .map_err(|_| {
                    pyo3::exceptions::PyValueError::new_err(format!(
                        "UUID expects a UUID, got {t:?}"
                    ))
                })?
        }
        (Scalar::Json, a) => plain_arg(py, a)?,
        (_, Arg::Enum(e)) => PyString::new(py, e).into_any(),
        _ => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "{} cannot represent {arg:?}",
                s.name()
            )));
        }
    })
}

/// An argument as plain Python data (JSON arguments).
fn plain_arg<'py>(py: Python<'py>, arg: &Arg) -> PyResult<Bound<'py, PyAny>> {
    Ok(match arg {
        Arg::Null => py.None().into_bound(py),
        Arg::Int(i) => i.into_pyobject(py)?.into_any(),
        Arg::Float(f) => f.into_pyobject(py)?.into_any(),
        Arg::Boolean(b) => PyBool::new(py, *b).to_owned().into_any(),
        Arg::String(t) | Arg::Enum(t) => PyString::new(py, t).into_any(),
        Arg::List(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(plain_arg(py, item)?)?;
            }
            list.into_any()
        }
        Arg::Object(fields) => {
            let d = PyDict::new(py);
            for (k, v) in fields {
                d.set_item(k, plain_arg(py, v)?)?;
            }
            d.into_any()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_values_as_graphql_scalars() {
        let s = |n: Node| match n {
            Node::Scalar(v) => v.to_string(),
            other => format!("{other:?}"),
        };
        assert_eq!(s(pg_to_node(&Pg::Int(3), &Ty::Scalar(Scalar::Int))), "3");
        assert!(matches!(
            pg_to_node(&Pg::Int(1 << 40), &Ty::Scalar(Scalar::Int)),
            Node::Error(_)
        ));
        assert_eq!(
            s(pg_to_node(&Pg::Timestamp(0), &Ty::Scalar(Scalar::String))),
            "\"2000-01-01T00:00:00\""
        );
        assert_eq!(
            s(pg_to_node(
                &Pg::TimestampTz(1_500_000),
                &Ty::Scalar(Scalar::DateTime)
            )),
            "\"2000-01-01T00:00:01.500000+00:00\""
        );
        assert_eq!(
            s(pg_to_node(&Pg::Date(-1), &Ty::Scalar(Scalar::Date))),
            "\"1999-12-31\""
        );
        assert!(matches!(
            pg_to_node(&Pg::Null, &Ty::Scalar(Scalar::Int)),
            Node::Null
        ));
        assert!(matches!(
            pg_to_node(&Pg::Text("x".into()), &Ty::Scalar(Scalar::Int)),
            Node::Error(_)
        ));
        assert_eq!(Key::from_pg(&Pg::Int(7)), Key::Int(7));
    }
}
