//! [`SchemaDesc`]: the GraphQL types of one schema, read from the plain description
//! `puff.graphql.describe_schema` makes of the Python classes. It lives for the whole
//! program (juniper borrows type information for every execution), so it is leaked once
//! at start-up and referenced as `&'static`.

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

/// Built-in and Puff scalar types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scalar {
    Int,
    Float,
    String,
    Boolean,
    Id,
    DateTime,
    Date,
    Uuid,
    Json,
}

impl Scalar {
    pub fn name(self) -> &'static str {
        match self {
            Scalar::Int => "Int",
            Scalar::Float => "Float",
            Scalar::String => "String",
            Scalar::Boolean => "Boolean",
            Scalar::Id => "ID",
            Scalar::DateTime => "DateTime",
            Scalar::Date => "Date",
            Scalar::Uuid => "UUID",
            Scalar::Json => "JSON",
        }
    }

    fn from_name(name: &str) -> Option<Scalar> {
        Some(match name {
            "Int" => Scalar::Int,
            "Float" => Scalar::Float,
            "String" => Scalar::String,
            "Boolean" => Scalar::Boolean,
            "ID" => Scalar::Id,
            "DateTime" => Scalar::DateTime,
            "Date" => Scalar::Date,
            "UUID" => Scalar::Uuid,
            "JSON" => Scalar::Json,
            _ => return None,
        })
    }
}

/// A GraphQL type reference: named types by index, wrappers around another reference.
/// Without a `Nullable` wrapper a type is non-null, as Python annotations without
/// `Optional` are.
#[derive(Debug)]
pub enum Ty {
    Scalar(Scalar),
    Object(usize),
    Input(usize),
    List(Box<Ty>),
    Nullable(Box<Ty>),
    /// The placeholder juniper needs for an absent mutation or subscription root.
    EmptyRoot(&'static str),
}

impl Ty {
    /// The named type inside the wrappers.
    pub fn named(&self) -> &Ty {
        match self {
            Ty::List(inner) | Ty::Nullable(inner) => inner.named(),
            other => other,
        }
    }

    /// The object type index inside the wrappers, if the named type is an object.
    pub fn object(&self) -> Option<usize> {
        match self.named() {
            Ty::Object(i) => Some(*i),
            _ => None,
        }
    }

    /// Whether the outermost type (past a `Nullable`) is a list.
    pub fn is_list(&self) -> bool {
        match self {
            Ty::List(_) => true,
            Ty::Nullable(inner) => inner.is_list(),
            _ => false,
        }
    }
}

/// An argument of a resolver or a field of an input type.
#[derive(Debug)]
pub struct ArgDesc {
    pub name: String,
    pub ty: Ty,
    pub has_default: bool,
    /// The Python default, shown in the schema when it is a plain literal.
    pub default: Option<serde_json::Value>,
}

/// A Python resolver (a classmethod).
#[derive(Debug)]
pub struct ResolverDesc {
    pub func: Py<PyAny>,
    pub takes_parents: bool,
    pub args: Vec<ArgDesc>,
    pub borrow_db_context: bool,
    pub is_async: bool,
}

#[derive(Debug)]
pub struct FieldDesc {
    pub name: String,
    pub ty: Ty,
    /// `None` for dataclass fields, read from each row or object.
    pub resolver: Option<ResolverDesc>,
}

#[derive(Debug)]
pub struct ObjectDesc {
    pub name: String,
    pub fields: Vec<FieldDesc>,
    by_name: HashMap<String, usize>,
}

impl ObjectDesc {
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }
}

#[derive(Debug)]
pub struct InputDesc {
    pub name: String,
    pub class: Py<PyAny>,
    pub fields: Vec<ArgDesc>,
}

/// Every type of one schema.
#[derive(Debug)]
pub struct SchemaDesc {
    pub name: String,
    pub objects: Vec<ObjectDesc>,
    pub inputs: Vec<InputDesc>,
    pub query: Ty,
    pub mutation: Ty,
    pub subscription: Ty,
}

impl SchemaDesc {
    pub fn object(&self, index: usize) -> &ObjectDesc {
        &self.objects[index]
    }

    pub fn has_mutation(&self) -> bool {
        matches!(self.mutation, Ty::Object(_))
    }

    pub fn has_subscription(&self) -> bool {
        matches!(self.subscription, Ty::Object(_))
    }

    /// Describe the schema class at `path` (`module.Class`) with
    /// `puff.graphql.describe_schema` and read the description.
    pub fn from_python(py: Python<'_>, name: &str, path: &str) -> PyResult<SchemaDesc> {
        let description = py
            .import("puff.graphql")?
            .getattr("describe_schema")?
            .call1((path,))?;
        let description = description.cast::<PyDict>()?;
        Reader::new(description)?.schema(name, description)
    }
}

/// Reads the description dict; indices of objects and inputs follow their order there.
struct Reader {
    objects: HashMap<String, usize>,
    inputs: HashMap<String, usize>,
}

fn item<'py>(d: &Bound<'py, PyDict>, key: &str) -> PyResult<Bound<'py, PyAny>> {
    d.get_item(key)?.ok_or_else(|| {
        pyo3::exceptions::PyKeyError::new_err(format!("schema description lacks `{key}`"))
    })
}

fn list<'py>(d: &Bound<'py, PyDict>, key: &str) -> PyResult<Bound<'py, PyList>> {
    Ok(item(d, key)?.cast_into::<PyList>()?)
}

impl Reader {
    fn new(description: &Bound<'_, PyDict>) -> PyResult<Reader> {
        let mut objects = HashMap::new();
        for (i, o) in list(description, "objects")?.iter().enumerate() {
            let o = o.cast_into::<PyDict>()?;
            objects.insert(item(&o, "name")?.extract::<String>()?, i);
        }
        let mut inputs = HashMap::new();
        for (i, o) in list(description, "inputs")?.iter().enumerate() {
            let o = o.cast_into::<PyDict>()?;
            inputs.insert(item(&o, "name")?.extract::<String>()?, i);
        }
        Ok(Reader { objects, inputs })
    }

    fn schema(&self, name: &str, d: &Bound<'_, PyDict>) -> PyResult<SchemaDesc> {
        let root = |key: &str, empty: &'static str| -> PyResult<Ty> {
            let value = item(d, key)?;
            if value.is_none() {
                return Ok(Ty::EmptyRoot(empty));
            }
            let root: String = value.extract()?;
            Ok(Ty::Object(self.objects[&root]))
        };
        let mut objects = Vec::new();
        for o in list(d, "objects")?.iter() {
            objects.push(self.object(&o.cast_into::<PyDict>()?)?);
        }
        let mut inputs = Vec::new();
        for o in list(d, "inputs")?.iter() {
            let o = o.cast_into::<PyDict>()?;
            let mut fields = Vec::new();
            for f in list(&o, "fields")?.iter() {
                fields.push(self.arg(&f.cast_into::<PyDict>()?)?);
            }
            inputs.push(InputDesc {
                name: item(&o, "name")?.extract()?,
                class: item(&o, "cls")?.unbind(),
                fields,
            });
        }
        Ok(SchemaDesc {
            name: name.to_owned(),
            objects,
            inputs,
            query: root("query", "_EmptyQuery")?,
            mutation: root("mutation", "_EmptyMutation")?,
            subscription: root("subscription", "_EmptySubscription")?,
        })
    }

    fn object(&self, o: &Bound<'_, PyDict>) -> PyResult<ObjectDesc> {
        let mut fields = Vec::new();
        let mut by_name = HashMap::new();
        for f in list(o, "fields")?.iter() {
            let f = f.cast_into::<PyDict>()?;
            let name: String = item(&f, "name")?.extract()?;
            let resolver = item(&f, "resolver")?;
            let resolver = if resolver.is_none() {
                None
            } else {
                let r = resolver.cast_into::<PyDict>()?;
                let mut args = Vec::new();
                for a in list(&r, "args")?.iter() {
                    args.push(self.arg(&a.cast_into::<PyDict>()?)?);
                }
                Some(ResolverDesc {
                    func: item(&r, "func")?.unbind(),
                    takes_parents: item(&r, "parents")?.extract()?,
                    args,
                    borrow_db_context: item(&r, "borrow_db_context")?.extract()?,
                    is_async: item(&r, "is_async")?.extract()?,
                })
            };
            by_name.insert(name.clone(), fields.len());
            fields.push(FieldDesc {
                name,
                ty: self.ty(&item(&f, "type")?)?,
                resolver,
            });
        }
        Ok(ObjectDesc {
            name: item(o, "name")?.extract()?,
            fields,
            by_name,
        })
    }

    fn arg(&self, a: &Bound<'_, PyDict>) -> PyResult<ArgDesc> {
        let has_default: bool = item(a, "has_default")?.extract()?;
        let default = if has_default {
            // Only literals JSON can hold are shown as schema defaults; others (objects)
            // still apply in Python, since an omitted argument is not passed at all.
            puff_greenlet::json::to_json(&item(a, "default")?, "default").ok()
        } else {
            None
        };
        Ok(ArgDesc {
            name: item(a, "name")?.extract()?,
            ty: self.ty(&item(a, "type")?)?,
            has_default,
            default,
        })
    }

    fn ty(&self, t: &Bound<'_, PyAny>) -> PyResult<Ty> {
        let t = t.cast::<PyTuple>()?;
        let kind: String = t.get_item(0)?.extract()?;
        let arg = t.get_item(1)?;
        let bad = || pyo3::exceptions::PyValueError::new_err(format!("bad type description {t}"));
        Ok(match kind.as_str() {
            "scalar" => Ty::Scalar(Scalar::from_name(&arg.extract::<String>()?).ok_or_else(bad)?),
            "object" => Ty::Object(
                *self
                    .objects
                    .get(&arg.extract::<String>()?)
                    .ok_or_else(bad)?,
            ),
            "input" => Ty::Input(*self.inputs.get(&arg.extract::<String>()?).ok_or_else(bad)?),
            "list" => Ty::List(Box::new(self.ty(&arg)?)),
            "nullable" => Ty::Nullable(Box::new(self.ty(&arg)?)),
            _ => return Err(bad()),
        })
    }
}
