"""``puff.graphql``: GraphQL schemas from Python dataclasses, resolved layer by layer.

A schema is a class with ``query`` (and optionally ``mutation`` and ``subscription``)
annotated with root classes whose classmethods are the root fields. Object types are
``@dataclass`` classes: their annotated fields are GraphQL fields, and their public
classmethods taking positional-only ``context`` (optionally ``parents, context``) are
fields resolved once per *layer*, with every parent of that layer at once::

    @dataclass
    class Child:
        id: int
        name: str

    @dataclass
    class Parent:
        id: int

        @classmethod
        def children(cls, context, /) -> tuple[list[Child], str, list[Any], list[str], list[str]]:
            ids = [row[0] for row in context.parent_values(["id"])]
            sql = "SELECT id, parent_id, name FROM child WHERE parent_id = ANY($1)"
            return ..., sql, [ids], ["id"], ["parent_id"]

    @dataclass
    class Query:
        @classmethod
        def parents(cls, context, /) -> tuple[list[Parent], str, list[Any]]:
            return ..., "SELECT id FROM parent", []

    @dataclass
    class Schema:
        query: Query

A resolver returns a plain value, ``..., objects`` (any objects with the fields as
attributes, or dicts), ``..., sql, params`` (Puff runs it on the schema's Postgres pool and
maps columns to fields in Rust), or for a child layer ``..., sql, params, parent_keys,
child_keys`` / ``..., objects, parent_keys, child_keys`` (children go to the parents whose
``parent_keys`` values equal their ``child_keys`` values). A child resolver returning
without keys gives the same value to every parent. Subscription fields are generators.

``global_graphql.query(query, variables, auth_token=None)`` runs a query in process (for
tests) and returns ``{"data": ..., "errors": [...]}`` (no ``errors`` key when there are none).
"""

from __future__ import annotations

import collections.abc
import dataclasses
import datetime
import inspect
import types
import typing
import uuid
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from puff import PuffNotRunningError, _native

if TYPE_CHECKING:
    from puff._native import _GraphQLModule

__all__ = [
    "GraphQL",
    "GraphQLSchemaError",
    "borrow_db_context",
    "describe_schema",
    "global_graphql",
    "named_graphql",
]

F = TypeVar("F", bound=Callable[..., Any])

_native_gql: _GraphQLModule | None = (
    getattr(_native, "graphql", None) if _native is not None else None
)

if _native is not None and _native_gql is None:
    raise ImportError(
        "puff.graphql needs the `graphql` feature, which this build of Puff does not "
        "include: rebuild with it enabled (e.g. `cargo build -p puff-cli --features graphql`)"
    )


class GraphQLSchemaError(TypeError):
    """The Python classes do not describe a valid GraphQL schema (raised at start-up)."""


def borrow_db_context(fn: F) -> F:
    """Run a resolver on the GraphQL request's Postgres connection: inside it,
    ``puff.postgres.connect()`` (for the schema's ``database`` pool, and so Django) returns
    the connection the request's SQL runs on, open transactions included. A transaction
    still open when the request ends is rolled back. Put it under ``@classmethod``."""
    target = fn.__func__ if isinstance(fn, classmethod) else fn
    target.__puff_borrow_db_context__ = True  # type: ignore[attr-defined]
    return fn


class GraphQL:
    """One configured schema (``[[graphql]]`` entry). Looked up on first use."""

    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def query(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        auth_token: str | None = None,
        operation_name: str | None = None,
    ) -> dict[str, Any]:
        """Run ``query`` and return the GraphQL response as a dict (``data``, ``errors``)."""
        return _require_native().query(self._name, query, variables or {}, auth_token, operation_name)

    def __call__(self) -> GraphQL:
        """``global_graphql()`` and ``global_graphql`` are the same schema."""
        return self

    def __repr__(self) -> str:
        return f"<puff.graphql.GraphQL {self._name!r}>"


def named_graphql(name: str) -> GraphQL:
    """The ``[[graphql]]`` schema named ``name``."""
    return GraphQL(name)


global_graphql = GraphQL("default")


def _require_native() -> _GraphQLModule:
    if _native_gql is None:
        raise PuffNotRunningError(
            "puff.graphql works only inside the Puff runtime (`puff-cli` with a [[graphql]] "
            "entry, or a Rust binary built on puff-core with the `graphql` feature)"
        )
    return _native_gql


# --- schema description ------------------------------------------------------------------
#
# Rust builds the GraphQL schema from a plain description made here, where Python's own
# typing tools read the annotations. Types are encoded as tuples:
# ("scalar", "Int") / ("object", name) / ("input", name) / ("list", T) / ("nullable", T).

_SCALARS: dict[Any, str] = {
    int: "Int",
    float: "Float",
    str: "String",
    bool: "Boolean",
    datetime.datetime: "DateTime",
    datetime.date: "Date",
    uuid.UUID: "UUID",
    Any: "JSON",
    dict: "JSON",
}

_LIST_ORIGINS = (
    list,
    collections.abc.Sequence,
    collections.abc.Iterable,
    collections.abc.Iterator,
    collections.abc.Generator,
    collections.abc.AsyncIterator,
    collections.abc.AsyncIterable,
    collections.abc.AsyncGenerator,
    set,
    frozenset,
)


def _is_optional(hint: Any) -> tuple[bool, Any]:
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) != len(typing.get_args(hint)):
            if len(args) != 1:
                raise ValueError(f"unions are not supported: {hint!r}")
            return True, args[0]
        raise ValueError(f"unions are not supported: {hint!r}")
    return False, hint


class _Describer:
    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.inputs: dict[str, dict[str, Any]] = {}
        self._classes: dict[str, tuple[type, str]] = {}

    def _claim(self, cls: type, kind: str) -> str:
        name = cls.__name__
        seen = self._classes.get(name)
        if seen is not None:
            if seen[0] is not cls:
                raise GraphQLSchemaError(
                    f"two classes are named {name} ({seen[0].__module__}.{seen[0].__qualname__} "
                    f"and {cls.__module__}.{cls.__qualname__}); GraphQL type names must be unique"
                )
            if seen[1] != kind:
                raise GraphQLSchemaError(
                    f"{name} is used both as an input (argument) and as an output type; "
                    "GraphQL needs separate classes for the two"
                )
        self._classes[name] = (cls, kind)
        return name

    def type_of(self, hint: Any, where: str, *, as_input: bool) -> tuple[Any, ...]:
        try:
            optional, inner = _is_optional(hint)
        except ValueError as e:
            raise GraphQLSchemaError(f"{where}: {e}") from None
        described = self._non_null(inner, where, as_input=as_input)
        return ("nullable", described) if optional else described

    def _non_null(self, hint: Any, where: str, *, as_input: bool) -> tuple[Any, ...]:
        if hint in _SCALARS:
            return ("scalar", _SCALARS[hint])
        origin = typing.get_origin(hint)
        if origin is not None and origin in _LIST_ORIGINS:
            args = typing.get_args(hint)
            if len(args) != 1:
                raise GraphQLSchemaError(f"{where}: {hint!r} needs one item type")
            return ("list", self.type_of(args[0], where, as_input=as_input))
        if origin is dict:
            return ("scalar", "JSON")
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            if as_input:
                return ("input", self.input(hint))
            return ("object", self.object(hint))
        if hint is inspect.Parameter.empty:
            raise GraphQLSchemaError(f"{where}: missing type annotation")
        raise GraphQLSchemaError(
            f"{where}: unsupported type hint {hint!r} (use int, float, str, bool, datetime, "
            "date, UUID, Any, Optional[...], list[...] or a @dataclass)"
        )

    def input(self, cls: type) -> str:
        name = self._claim(cls, "input")
        if name in self.inputs:
            return name
        entry: dict[str, Any] = {"name": name, "cls": cls, "fields": []}
        self.inputs[name] = entry
        hints = _hints(cls, name)
        for field in dataclasses.fields(cls):
            where = f"{name}.{field.name}"
            has_default = (
                field.default is not dataclasses.MISSING
                or field.default_factory is not dataclasses.MISSING
            )
            default = field.default if field.default is not dataclasses.MISSING else None
            entry["fields"].append(
                {
                    "name": field.name,
                    "type": self.type_of(hints.get(field.name, inspect.Parameter.empty), where, as_input=True),
                    "has_default": has_default,
                    "default": default,
                }
            )
        return name

    def object(self, cls: type, *, root: str | None = None) -> str:
        name = self._claim(cls, "output")
        if name in self.objects:
            return name
        entry: dict[str, Any] = {"name": name, "cls": cls, "fields": []}
        self.objects[name] = entry
        if root is None:
            if not dataclasses.is_dataclass(cls):
                raise GraphQLSchemaError(f"{name}: object types must be @dataclass classes")
            hints = _hints(cls, name)
            for field in dataclasses.fields(cls):
                if field.name.startswith("_"):
                    continue
                where = f"{name}.{field.name}"
                entry["fields"].append(
                    {
                        "name": field.name,
                        "type": self.type_of(hints.get(field.name, inspect.Parameter.empty), where, as_input=False),
                        "resolver": None,
                    }
                )
        for attr, raw in _classmethods(cls):
            entry["fields"].append(self.resolver(cls, name, attr, raw, subscription=root == "subscription"))
        if not entry["fields"]:
            raise GraphQLSchemaError(f"{name}: a GraphQL type needs at least one field")
        return name

    def resolver(
        self, cls: type, type_name: str, attr: str, raw: classmethod, *, subscription: bool
    ) -> dict[str, Any]:
        where = f"{type_name}.{attr}"
        func = raw.__func__
        bound = getattr(cls, attr)
        try:
            hints = typing.get_type_hints(func)
        except Exception as e:  # a NameError in a string annotation, typically
            raise GraphQLSchemaError(f"{where}: cannot read its type hints: {e}") from None
        params = list(inspect.signature(bound).parameters.values())
        positional = [p for p in params if p.kind is inspect.Parameter.POSITIONAL_ONLY]
        if len(positional) not in (1, 2):
            raise GraphQLSchemaError(
                f"{where}: a resolver takes `context` (or `parents, context`) as positional-only "
                "parameters, e.g. `def field(cls, context, /, arg: int) -> str`"
            )
        args = []
        for p in params[len(positional):]:
            if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                raise GraphQLSchemaError(f"{where}: *args and **kwargs cannot be GraphQL arguments")
            has_default = p.default is not inspect.Parameter.empty
            args.append(
                {
                    "name": p.name,
                    "type": self.type_of(hints.get(p.name, inspect.Parameter.empty), f"{where}({p.name})", as_input=True),
                    "has_default": has_default,
                    "default": p.default if has_default else None,
                }
            )
        if "return" not in hints:
            raise GraphQLSchemaError(f"{where}: missing return annotation")
        returns = hints["return"]
        layer = typing.get_origin(returns) is tuple
        if layer:
            parts = typing.get_args(returns)
            if not parts:
                raise GraphQLSchemaError(f"{where}: tuple return annotations name the field type first")
            returns = parts[0]
        generator = inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func)
        if subscription:
            if not generator:
                raise GraphQLSchemaError(f"{where}: subscription fields are generators (use `yield`)")
            origin = typing.get_origin(returns)
            if origin is not None and origin in _LIST_ORIGINS:
                returns = typing.get_args(returns)[0]
        field_type = self.type_of(returns, f"{where} (return)", as_input=False)
        if layer and field_type[0] == "object":
            # A single object looked up by SQL or by key may be missing: null then.
            field_type = ("nullable", field_type)
        return {
            "name": attr,
            "type": field_type,
            "resolver": {
                "func": bound,
                "parents": len(positional) == 2,
                "args": args,
                "borrow_db_context": bool(getattr(func, "__puff_borrow_db_context__", False)),
                "is_async": inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func),
            },
        }


def _hints(cls: type, name: str) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception as e:
        raise GraphQLSchemaError(f"{name}: cannot read its type hints: {e}") from None


def _classmethods(cls: type) -> list[tuple[str, classmethod]]:
    found = []
    for attr, raw in vars(cls).items():
        if attr.startswith("_") or not isinstance(raw, classmethod):
            continue
        found.append((attr, raw))
    return found


def _has_fields(cls: type) -> bool:
    data_fields = dataclasses.fields(cls) if dataclasses.is_dataclass(cls) else ()
    return any(not f.name.startswith("_") for f in data_fields) or bool(_classmethods(cls))


def describe_schema(schema: type | str) -> dict[str, Any]:
    """The plain description of ``schema`` (a class or ``"module.Class"``) Rust builds the
    GraphQL schema from. Raises :class:`GraphQLSchemaError` naming the class and field."""
    if isinstance(schema, str):
        import importlib

        module_name, _, attr = schema.rpartition(".")
        if not module_name:
            raise GraphQLSchemaError(f"schema {schema!r} is not a `module.Class` path")
        schema = getattr(importlib.import_module(module_name), attr)
    if not isinstance(schema, type):
        raise GraphQLSchemaError(f"the schema must be a class, got {schema!r}")
    hints = _hints(schema, schema.__name__)
    unknown = sorted(set(hints) - {"query", "mutation", "subscription"})
    if unknown:
        raise GraphQLSchemaError(
            f"{schema.__name__}: unknown root field(s) {', '.join(unknown)} (expected query, "
            "mutation, subscription)"
        )
    if "query" not in hints:
        raise GraphQLSchemaError(f"{schema.__name__}: a schema needs a `query: QueryClass` field")
    describer = _Describer()
    roots: dict[str, str | None] = {}
    for root in ("query", "mutation", "subscription"):
        cls = hints.get(root)
        if cls is None:
            roots[root] = None
            continue
        if not isinstance(cls, type):
            raise GraphQLSchemaError(f"{schema.__name__}.{root}: expected a class, got {cls!r}")
        if root != "query" and not _has_fields(cls):
            # `class Subscription: pass` (as in the docs): a root with nothing in it is
            # left out of the schema, as GraphQL has no empty types.
            roots[root] = None
            continue
        roots[root] = describer.object(cls, root=root)
    return {
        **roots,
        "objects": list(describer.objects.values()),
        "inputs": list(describer.inputs.values()),
    }
