//! [`Plan`]: what a query selects below a root field, read once from juniper's
//! look-ahead into plain owned data, so the layered execution can run it on Tokio and the
//! Python thread without borrowing the query document.

use std::sync::Arc;

use juniper::{DefaultScalarValue, LookAheadSelection, LookAheadValue};

use crate::schema::SchemaDesc;

/// The scalar values of look-ahead arguments.
type S = DefaultScalarValue;

/// An argument value as written in the query (variables substituted).
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    Null,
    Int(i64),
    Float(f64),
    String(String),
    Boolean(bool),
    Enum(String),
    List(Vec<Arg>),
    Object(Vec<(String, Arg)>),
}

impl Arg {
    fn from_look_ahead(value: LookAheadValue<'_, S>) -> Arg {
        match value {
            LookAheadValue::Null => Arg::Null,
            LookAheadValue::Scalar(s) => match s {
                DefaultScalarValue::Int(i) => Arg::Int(i64::from(*i)),
                DefaultScalarValue::Float(f) => Arg::Float(*f),
                DefaultScalarValue::Boolean(b) => Arg::Boolean(*b),
                DefaultScalarValue::String(t) => Arg::String(t.clone()),
            },
            LookAheadValue::Enum(e) => Arg::Enum(e.to_owned()),
            LookAheadValue::List(items) => {
                Arg::List(items.iter().map(|i| Arg::from_look_ahead(i.item)).collect())
            }
            LookAheadValue::Object(fields) => Arg::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.item.to_owned(), Arg::from_look_ahead(v.item)))
                    .collect(),
            ),
        }
    }
}

/// The selection on one object type.
#[derive(Debug, Default)]
pub struct Plan {
    pub fields: Vec<PlanField>,
    /// `__typename` is selected (juniper answers it; the direct output path does not).
    pub has_typename: bool,
}

/// One selected field, under its response key (alias or name).
#[derive(Debug)]
pub struct PlanField {
    pub key: String,
    /// `key` as a JSON string, for writing responses directly.
    pub key_json: Vec<u8>,
    pub name: String,
    /// Index of the field in its object type.
    pub field: usize,
    /// Arguments given in the query (a resolver's omitted ones take Python's defaults).
    pub args: Vec<(String, Arg)>,
    /// The selection on the field's object type, for object-typed fields.
    pub sub: Option<Arc<Plan>>,
}

/// `key` as a JSON string.
pub fn json_key(key: &str) -> Vec<u8> {
    serde_json::to_vec(key).unwrap_or_else(|_| b"\"\"".to_vec())
}

impl Plan {
    /// Read the selection below `selection`, a field whose type is object `object`.
    pub fn build(
        schema: &SchemaDesc,
        object: usize,
        selection: &LookAheadSelection<'_, S>,
    ) -> Plan {
        let mut plan = Plan::default();
        plan.add_children(schema, object, selection);
        plan
    }

    fn add_children(
        &mut self,
        schema: &SchemaDesc,
        object: usize,
        selection: &LookAheadSelection<'_, S>,
    ) {
        let desc = schema.object(object);
        for child in selection.children().iter() {
            let name = child.field_original_name();
            let Some(field) = desc.field_index(name) else {
                self.has_typename = true; // `__typename`: juniper answers it itself
                continue;
            };
            let key = child.field_name();
            let child_object = desc.fields[field].ty.object();
            if let Some(existing) = self.fields.iter_mut().find(|f| f.key == key) {
                // The same response key selected twice (fragments): one field, the union
                // of both selections (validation guarantees same name and arguments).
                if let (Some(sub), Some(o)) = (existing.sub.as_mut(), child_object)
                    && let Some(sub) = Arc::get_mut(sub)
                {
                    sub.add_children(schema, o, child);
                }
                continue;
            }
            self.fields.push(PlanField {
                key: key.to_owned(),
                key_json: json_key(key),
                name: name.to_owned(),
                field,
                args: child
                    .arguments()
                    .map(|a| (a.name().to_owned(), Arg::from_look_ahead(a.value())))
                    .collect(),
                sub: child_object.map(|o| Arc::new(Plan::build(schema, o, child))),
            });
        }
    }

    /// The arguments of a root field (its own selection).
    pub fn arguments(selection: &LookAheadSelection<'_, S>) -> Vec<(String, Arg)> {
        selection
            .arguments()
            .map(|a| (a.name().to_owned(), Arg::from_look_ahead(a.value())))
            .collect()
    }

    /// The slot of the field juniper asks for: by name when it is selected once, else by
    /// response key (aliases), which `response_key` finds.
    pub fn slot<'k>(&self, name: &str, response_key: impl FnOnce() -> &'k str) -> Option<usize> {
        let mut matches = self
            .fields
            .iter()
            .enumerate()
            .filter(|(_, f)| f.name == name);
        let first = matches.next()?;
        if matches.next().is_none() && first.1.key == name {
            return Some(first.0);
        }
        let key = response_key();
        self.fields.iter().position(|f| f.key == key)
    }
}
