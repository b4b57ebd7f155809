"""The row-shaping cursors and batch helpers of ``psycopg2.extras``, as ``puff.psycopg2``
provides them: ``DictCursor`` (rows indexable by position and column name),
``RealDictCursor`` (rows are dicts), ``NamedTupleCursor`` (rows are namedtuples), their
``*Connection`` classes, ``execute_batch`` and ``execute_values``.

The cursors shape the tuples the base cursor fetches, named (server-side) cursors
included. ``execute_batch`` and ``execute_values`` keep psycopg2's paging but bind the
values as parameters instead of quoting them into the SQL: ``execute_batch`` runs each
page as one ``executemany`` (pipelined inside a transaction), ``execute_values`` expands
its ``VALUES %s`` into one placeholder group per row.
"""

from __future__ import annotations

import re
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any

from puff.psycopg2.extensions import connection as _connection
from puff.psycopg2.extensions import cursor as _cursor


class _ShapingCursor(_cursor):
    """A cursor whose rows go through ``_shape`` (built once per result from its
    description) before they are returned."""

    _shaper: Callable[[tuple[Any, ...]], Any] | None = None
    _shaped_for: Any = None

    def _shape_fn(self) -> Callable[[tuple[Any, ...]], Any]:
        if self._shaper is None or self._shaped_for is not self.description:
            self._shaped_for = self.description
            self._shaper = self._make_shaper([c[0] for c in self.description or ()])
        return self._shaper

    def _make_shaper(self, names: list[str]) -> Callable[[tuple[Any, ...]], Any]:
        raise NotImplementedError

    def fetchone(self) -> Any:
        row = super().fetchone()
        return None if row is None else self._shape_fn()(row)

    def fetchmany(self, size: int | None = None) -> list[Any]:
        rows = super().fetchmany(size)
        shape = self._shape_fn()
        return [shape(r) for r in rows]

    def fetchall(self) -> list[Any]:
        rows = super().fetchall()
        shape = self._shape_fn()
        return [shape(r) for r in rows]


class DictRow(list):
    """A row readable by position (``row[0]``) and by column name (``row["id"]``)."""

    __slots__ = ("_index",)

    def __init__(self, values: Iterable[Any], index: Mapping[str, int]) -> None:
        super().__init__(values)
        self._index = index

    def __getitem__(self, x: Any) -> Any:
        if not isinstance(x, (int, slice)):
            x = self._index[x]
        return super().__getitem__(x)

    def __setitem__(self, x: Any, v: Any) -> None:
        if not isinstance(x, (int, slice)):
            x = self._index[x]
        super().__setitem__(x, v)

    def items(self) -> Iterator[tuple[str, Any]]:
        get = super().__getitem__
        return ((n, get(i)) for n, i in self._index.items())

    def keys(self) -> Iterator[str]:
        return iter(self._index)

    def values(self) -> Iterator[Any]:
        get = super().__getitem__
        return (get(i) for i in self._index.values())

    def get(self, x: Any, default: Any = None) -> Any:
        try:
            return self[x]
        except (KeyError, IndexError, TypeError):
            return default

    def copy(self) -> OrderedDict[str, Any]:  # type: ignore[override]
        return OrderedDict(self.items())

    def __contains__(self, x: object) -> bool:
        return x in self._index

    def __getstate__(self) -> tuple[list[Any], dict[str, int]]:
        return self[:], dict(self._index)

    def __setstate__(self, data: tuple[list[Any], dict[str, int]]) -> None:
        self[:] = data[0]
        self._index = data[1]

    def __reduce__(self) -> Any:
        return (_dictrow_from_state, (self[:], dict(self._index)))


def _dictrow_from_state(values: list[Any], index: dict[str, int]) -> DictRow:
    return DictRow(values, index)


class DictCursor(_ShapingCursor):
    """Rows are :class:`DictRow`: lists also indexable by column name (a repeated name
    refers to its last column, as in psycopg2)."""

    index: OrderedDict[str, int]

    def _make_shaper(self, names: list[str]) -> Callable[[tuple[Any, ...]], Any]:
        index: OrderedDict[str, int] = OrderedDict()
        for i, name in enumerate(names):
            index[name] = i
        self.index = index
        return lambda row: DictRow(row, index)


class RealDictRow(OrderedDict):
    """A row as a dict of column name to value."""


class RealDictCursor(_ShapingCursor):
    """Rows are :class:`RealDictRow` dicts (a repeated column name keeps its last value)."""

    column_mapping: list[str]

    def _make_shaper(self, names: list[str]) -> Callable[[tuple[Any, ...]], Any]:
        self.column_mapping = names
        return lambda row: RealDictRow(zip(names, row))


_NOT_IN_NAMES = re.compile("[" + re.escape(" !\"#$%&'()*+,-./:;<=>?@[\\]^`{|}~") + "]")


@lru_cache(512)
def _record_type(names: tuple[str, ...]) -> Any:
    fields = []
    for name in names:
        field = _NOT_IN_NAMES.sub("_", name)
        # Fields cannot start with a digit or an underscore: psycopg2 prefixes an "f".
        if field[:1] == "_" or field[:1].isdigit():
            field = "f" + field
        fields.append(field)
    return namedtuple("Record", fields)  # noqa: PYI024 (the type is built at run time)


class NamedTupleCursor(_ShapingCursor):
    """Rows are namedtuples ``Record`` with the column names as fields (characters not
    allowed in identifiers become ``_``, as in psycopg2)."""

    Record: Any = None

    def _make_shaper(self, names: list[str]) -> Callable[[tuple[Any, ...]], Any]:
        record = _record_type(tuple(names))
        self.Record = record
        make: Callable[[tuple[Any, ...]], Any] = record._make
        return make


class DictConnection(_connection):
    """A connection whose cursors are :class:`DictCursor` unless told otherwise."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["cursor_factory"] = kwargs.get("cursor_factory") or DictCursor
        super().__init__(*args, **kwargs)


class RealDictConnection(_connection):
    """A connection whose cursors are :class:`RealDictCursor` unless told otherwise."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["cursor_factory"] = kwargs.get("cursor_factory") or RealDictCursor
        super().__init__(*args, **kwargs)


class NamedTupleConnection(_connection):
    """A connection whose cursors are :class:`NamedTupleCursor` unless told otherwise."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["cursor_factory"] = kwargs.get("cursor_factory") or NamedTupleCursor
        super().__init__(*args, **kwargs)


# ---- batches ----------------------------------------------------------------------------


def _pages(seq: Iterable[Any], size: int) -> Iterator[list[Any]]:
    page: list[Any] = []
    for item in seq:
        page.append(item)
        if len(page) >= size:
            yield page
            page = []
    if page:
        yield page


def execute_batch(cur: Any, sql: str, argslist: Iterable[Any], page_size: int = 100) -> None:
    """Run ``sql`` once per parameter set of ``argslist``, ``page_size`` sets per round
    trip (each page is one ``executemany``)."""
    for page in _pages(argslist, page_size):
        cur.executemany(sql, page)


_PLACEHOLDER = re.compile(r"%(?:\(([^)]*)\))?s|%%")


def _split_values_sql(sql: str) -> tuple[str, str]:
    """``sql`` around its single ``%s`` (``%%`` stays as it is, for the later placeholder
    conversion)."""
    found = [m for m in _PLACEHOLDER.finditer(sql) if m.group(0) != "%%"]
    if len(found) != 1 or found[0].group(0) != "%s":
        raise ValueError("the query must contain exactly one '%s' placeholder")
    m = found[0]
    return sql[: m.start()], sql[m.end() :]


def _row_sql(template: str, row: Any, n: int, params: list[Any]) -> str:
    """``template`` for the ``n``-th row, with its placeholders renamed so that the values
    of ``row`` can be appended to ``params`` in order (positional ``%s``)."""
    if isinstance(row, Mapping):

        def named(m: re.Match[str]) -> str:
            if m.group(0) == "%%":
                return "%%"
            if m.group(1) is None:
                raise TypeError("a %s placeholder in the template needs sequence rows")
            params.append(row[m.group(1)])
            return "%s"

        return _PLACEHOLDER.sub(named, template)
    values = iter(row)

    def positional(m: re.Match[str]) -> str:
        if m.group(0) == "%%":
            return "%%"
        if m.group(1) is not None:
            raise TypeError(f"row {n} is a sequence but the template names %({m.group(1)})s")
        try:
            params.append(next(values))
        except StopIteration:
            raise IndexError(f"row {n} has fewer values than the template needs") from None
        return "%s"

    return _PLACEHOLDER.sub(positional, template)


def execute_values(
    cur: Any,
    sql: str,
    argslist: Iterable[Sequence[Any] | Mapping[str, Any]],
    template: str | None = None,
    page_size: int = 100,
    fetch: bool = False,
) -> list[Any] | None:
    """Run ``sql`` (with one ``%s``, usually ``VALUES %s``) with that placeholder replaced
    by one ``template`` group per row, ``page_size`` rows per statement. ``fetch``:
    return the rows every page returned (``INSERT ... RETURNING``)."""
    pre, post = _split_values_sql(sql)
    result: list[Any] | None = [] if fetch else None
    for page in _pages(argslist, page_size):
        params: list[Any] = []
        groups = []
        for n, row in enumerate(page):
            row_template = template
            if row_template is None:
                if isinstance(row, Mapping):
                    raise TypeError("rows given as mappings need a template naming their keys")
                row_template = "(" + ",".join(["%s"] * len(row)) + ")"
            groups.append(_row_sql(row_template, row, n, params))
        cur.execute(pre + ",".join(groups) + post, params)
        if result is not None:
            result.extend(cur.fetchall())
    return result


__all__ = [
    "DictConnection",
    "DictCursor",
    "DictRow",
    "NamedTupleConnection",
    "NamedTupleCursor",
    "RealDictConnection",
    "RealDictCursor",
    "RealDictRow",
    "execute_batch",
    "execute_values",
]
