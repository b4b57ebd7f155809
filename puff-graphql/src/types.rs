//! The juniper side of a dynamic schema: juniper's traits for [`Node`], the one Rust type
//! behind every GraphQL type of a Python schema, told apart by its [`Info`] (a reference
//! into the program-long [`SchemaDesc`](crate::schema::SchemaDesc)), and Puff's own
//! scalars. Root objects resolve their fields asynchronously by running a whole layered
//! execution ([`crate::exec`]); everything below a root field is already computed when
//! juniper walks it, so those levels resolve synchronously.

use std::sync::Arc;

use juniper::meta::MetaType;
use juniper::{
    ArcStr, Arguments, BoxFuture, DefaultScalarValue, ExecutionResult, Executor, FieldError,
    FromInputValue, GraphQLType, GraphQLValue, GraphQLValueAsync, InputValue, ParseScalarResult,
    ParseScalarValue, Registry, ScalarToken, Selection, Value,
};

use crate::engine::Ctx;
use crate::layer::{Info, Node, ObjNode, S};
use crate::schema::{Scalar, Ty};

fn type_name(info: &Info) -> Option<ArcStr> {
    match info.ty {
        Ty::Scalar(s) => Some(ArcStr::from(s.name())),
        Ty::Object(i) => Some(ArcStr::from(info.schema.objects[*i].name.as_str())),
        Ty::Input(i) => Some(ArcStr::from(info.schema.inputs[*i].name.as_str())),
        Ty::EmptyRoot(name) => Some(ArcStr::from(*name)),
        Ty::List(_) | Ty::Nullable(_) => None,
    }
}

fn input_value(value: &serde_json::Value) -> InputValue<S> {
    use serde_json::Value as J;
    match value {
        J::Null => InputValue::Null,
        J::Bool(b) => InputValue::scalar(*b),
        J::Number(n) => match n.as_i64().and_then(|i| i32::try_from(i).ok()) {
            Some(i) => InputValue::scalar(i),
            None => InputValue::scalar(n.as_f64().unwrap_or(0.0)),
        },
        J::String(s) => InputValue::scalar(s.clone()),
        J::Array(items) => InputValue::list(items.iter().map(input_value).collect()),
        J::Object(map) => InputValue::object(
            map.iter()
                .map(|(k, v)| (k.clone(), input_value(v)))
                .collect(),
        ),
    }
}

fn arguments(
    info: &Info,
    args: &'static [crate::schema::ArgDesc],
    registry: &mut Registry<S>,
) -> Vec<juniper::meta::Argument<S>> {
    args.iter()
        .map(|a| {
            let arg = registry.arg::<Node>(a.name.as_str(), &info.with(&a.ty));
            match &a.default {
                Some(default) => arg.default_value(input_value(default)),
                None => arg,
            }
        })
        .collect()
}

impl GraphQLType<S> for Node {
    fn name(info: &Info) -> Option<ArcStr> {
        type_name(info)
    }

    fn meta(info: &Info, registry: &mut Registry<S>) -> MetaType<S> {
        match info.ty {
            Ty::Scalar(s) => match s {
                Scalar::Int => <i32 as GraphQLType<S>>::meta(&(), registry),
                Scalar::Float => <f64 as GraphQLType<S>>::meta(&(), registry),
                Scalar::String => <String as GraphQLType<S>>::meta(&(), registry),
                Scalar::Boolean => <bool as GraphQLType<S>>::meta(&(), registry),
                Scalar::Id => <juniper::ID as GraphQLType<S>>::meta(&(), registry),
                Scalar::DateTime => <DateTimeScalar as GraphQLType<S>>::meta(&(), registry),
                Scalar::Date => <DateScalar as GraphQLType<S>>::meta(&(), registry),
                Scalar::Uuid => <UuidScalar as GraphQLType<S>>::meta(&(), registry),
                Scalar::Json => <JsonScalar as GraphQLType<S>>::meta(&(), registry),
            },
            Ty::List(inner) => registry
                .build_list_type::<Node>(&info.with(inner), None)
                .into_meta(),
            Ty::Nullable(inner) => registry
                .build_nullable_type::<Node>(&info.with(inner))
                .into_meta(),
            Ty::Object(i) => {
                let object = &info.schema.objects[*i];
                let fields: Vec<_> = object
                    .fields
                    .iter()
                    .map(|f| {
                        let mut field = registry.field::<Node>(f.name.as_str(), &info.with(&f.ty));
                        if let Some(r) = &f.resolver {
                            for arg in arguments(info, &r.args, registry) {
                                field = field.argument(arg);
                            }
                        }
                        field
                    })
                    .collect();
                registry
                    .build_object_type::<Node>(info, &fields)
                    .into_meta()
            }
            Ty::Input(i) => {
                let args = arguments(info, &info.schema.inputs[*i].fields, registry);
                registry
                    .build_input_object_type::<Node>(info, &args)
                    .into_meta()
            }
            Ty::EmptyRoot(_) => registry.build_object_type::<Node>(info, &[]).into_meta(),
        }
    }
}

impl FromInputValue<S> for Node {
    type Error = FieldError<S>;

    // Arguments are converted to Python from the query itself (`crate::plan`); juniper
    // only needs this to validate literals, which its own rules do from the type metadata.
    fn from_input_value(_: &InputValue<S>) -> Result<Self, FieldError<S>> {
        Ok(Node::Null)
    }
}

/// The list item type of a (possibly nullable) list type.
fn list_item(ty: &'static Ty) -> Option<&'static Ty> {
    match ty {
        Ty::List(inner) => Some(inner),
        Ty::Nullable(inner) => list_item(inner),
        _ => None,
    }
}

impl GraphQLValue<S> for Node {
    type Context = Ctx;
    type TypeInfo = Info;

    fn type_name(&self, info: &Info) -> Option<ArcStr> {
        type_name(info)
    }

    fn concrete_type_name(&self, _: &Ctx, info: &Info) -> String {
        type_name(info).map(|n| n.to_string()).unwrap_or_default()
    }

    fn resolve_field(
        &self,
        info: &Info,
        field_name: &str,
        _arguments: &Arguments<S>,
        executor: &Executor<Ctx, S>,
    ) -> ExecutionResult<S> {
        match self {
            Node::Object(object) => object.resolve_field(info, field_name, executor),
            _ => Err(FieldError::new(
                format!("`{field_name}` cannot be resolved here"),
                Value::null(),
            )),
        }
    }

    fn resolve(
        &self,
        info: &Info,
        selection_set: Option<&[Selection<S>]>,
        executor: &Executor<Ctx, S>,
    ) -> ExecutionResult<S> {
        let info = match info.ty {
            Ty::Nullable(inner) => info.with(inner),
            _ => *info,
        };
        match self {
            Node::Null => Ok(Value::null()),
            Node::Scalar(v) => Ok(v.clone()),
            Node::Error(message) => Err(FieldError::new(message, Value::null())),
            Node::List(items) => {
                let Some(item_ty) = list_item(info.ty) else {
                    return Err(FieldError::new(
                        "a list where the schema has none",
                        Value::null(),
                    ));
                };
                let stop_on_null = !matches!(item_ty, Ty::Nullable(_));
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let v = executor.resolve_with_ctx(&info.with(item_ty), item)?;
                    if stop_on_null && v.is_null() {
                        return Ok(Value::null());
                    }
                    out.push(v);
                }
                Ok(Value::list(out))
            }
            Node::Object(object) => ObjectView(object).resolve(&info, selection_set, executor),
            Node::Root => {
                ObjectView(&Arc::new(ObjNode::empty())).resolve(&info, selection_set, executor)
            }
        }
    }
}

/// An object seen through juniper's default selection-set resolution (field by field).
struct ObjectView<'a>(&'a Arc<ObjNode>);

impl GraphQLValue<S> for ObjectView<'_> {
    type Context = Ctx;
    type TypeInfo = Info;

    fn type_name(&self, info: &Info) -> Option<ArcStr> {
        type_name(info)
    }

    fn concrete_type_name(&self, _: &Ctx, info: &Info) -> String {
        type_name(info).map(|n| n.to_string()).unwrap_or_default()
    }

    fn resolve_field(
        &self,
        info: &Info,
        field_name: &str,
        _arguments: &Arguments<S>,
        executor: &Executor<Ctx, S>,
    ) -> ExecutionResult<S> {
        self.0.resolve_field(info, field_name, executor)
    }
}

impl ObjNode {
    fn resolve_field(
        &self,
        info: &Info,
        field_name: &str,
        executor: &Executor<Ctx, S>,
    ) -> ExecutionResult<S> {
        let Some(slot) = self
            .plan
            .slot(field_name, || executor.look_ahead().field_name())
        else {
            return Err(FieldError::new(
                format!("`{field_name}` was not planned"),
                Value::null(),
            ));
        };
        let Ty::Object(object) = info.ty else {
            return Err(FieldError::new(
                "an object where the schema has none",
                Value::null(),
            ));
        };
        let field = &info.schema.objects[*object].fields[self.plan.fields[slot].field];
        executor.resolve_with_ctx(&info.with(&field.ty), &self.values[slot])
    }
}

impl GraphQLValueAsync<S> for Node {
    fn resolve_field_async<'a>(
        &'a self,
        info: &'a Info,
        field_name: &'a str,
        arguments: &'a Arguments<S>,
        executor: &'a Executor<Ctx, S>,
    ) -> BoxFuture<'a, ExecutionResult<S>> {
        match self {
            Node::Root => Box::pin(crate::exec::resolve_root_field(info, field_name, executor)),
            _ => Box::pin(std::future::ready(
                self.resolve_field(info, field_name, arguments, executor),
            )),
        }
    }
}

/// Puff's own scalars: serialized as strings (JSON as itself); inputs are checked when
/// they are converted for Python, where the argument's type is known.
macro_rules! string_scalar {
    ($ty:ident, $name:literal, $description:literal, $accepts:expr) => {
        #[doc = $description]
        pub struct $ty;

        impl GraphQLType<S> for $ty {
            fn name(_: &()) -> Option<ArcStr> {
                Some(ArcStr::from($name))
            }

            fn meta(_: &(), registry: &mut Registry<S>) -> MetaType<S> {
                registry
                    .build_scalar_type::<Self>(&())
                    .description($description)
                    .into_meta()
            }
        }

        impl GraphQLValue<S> for $ty {
            type Context = ();
            type TypeInfo = ();

            fn type_name(&self, _: &()) -> Option<ArcStr> {
                Some(ArcStr::from($name))
            }
        }

        impl FromInputValue<S> for $ty {
            type Error = FieldError<S>;

            fn from_input_value(v: &InputValue<S>) -> Result<Self, Self::Error> {
                let accepts: fn(&InputValue<S>) -> bool = $accepts;
                if accepts(v) {
                    Ok($ty)
                } else {
                    Err(FieldError::new(
                        format!("expected {}, found {v}", $name),
                        Value::null(),
                    ))
                }
            }
        }

        impl ParseScalarValue<S> for $ty {
            fn from_str(value: ScalarToken<'_>) -> ParseScalarResult<S> {
                match value {
                    ScalarToken::String(_) => <String as ParseScalarValue<S>>::from_str(value),
                    ScalarToken::Int(_) => <i32 as ParseScalarValue<S>>::from_str(value)
                        .or_else(|_| <f64 as ParseScalarValue<S>>::from_str(value)),
                    ScalarToken::Float(_) => <f64 as ParseScalarValue<S>>::from_str(value),
                }
            }
        }
    };
}

fn is_string(v: &InputValue<S>) -> bool {
    matches!(v, InputValue::Scalar(DefaultScalarValue::String(_)))
}

string_scalar!(
    DateTimeScalar,
    "DateTime",
    "An ISO 8601 date and time, e.g. `2024-05-01T12:30:00+00:00`.",
    is_string
);
string_scalar!(
    DateScalar,
    "Date",
    "An ISO 8601 calendar date, e.g. `2024-05-01`.",
    is_string
);
string_scalar!(
    UuidScalar,
    "UUID",
    "A UUID in its hyphenated text form.",
    is_string
);
string_scalar!(JsonScalar, "JSON", "Any JSON value.", |_| true);
