"""``psycopg2.sql``: composing SQL text safely (identifiers, literals, placeholders)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from puff.psycopg2.extensions import adapt, quote_ident


class Composable:
    """A piece of SQL; ``as_string(context)`` renders it."""

    def __init__(self, wrapped: Any) -> None:
        self._wrapped = wrapped

    def as_string(self, context: Any = None) -> str:
        raise NotImplementedError

    def __add__(self, other: Composable) -> Composed:
        return Composed([self, other])

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._wrapped == other._wrapped

    def __hash__(self) -> int:
        return hash((type(self), repr(self._wrapped)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._wrapped!r})"


class Composed(Composable):
    def __init__(self, seq: Iterable[Composable]) -> None:
        super().__init__(list(seq))

    @property
    def seq(self) -> list[Composable]:
        return list(self._wrapped)

    def as_string(self, context: Any = None) -> str:
        return "".join(part.as_string(context) for part in self._wrapped)

    def join(self, joiner: str | SQL) -> Composed:
        sep = SQL(joiner) if isinstance(joiner, str) else joiner
        return sep.join(self._wrapped)


class SQL(Composable):
    """SQL text written as is; ``format`` fills ``{}`` with other composables."""

    @property
    def string(self) -> str:
        return str(self._wrapped)

    def as_string(self, context: Any = None) -> str:
        return str(self._wrapped)

    def format(self, *args: Composable, **kwargs: Composable) -> Composed:
        text = str(self._wrapped)
        parts: list[Composable] = []
        auto = iter(args)
        i = 0
        while i < len(text):
            j = text.find("{", i)
            if j < 0:
                parts.append(SQL(text[i:]))
                break
            if text.startswith("{{", j):
                parts.append(SQL(text[i : j + 1]))
                i = j + 2
                continue
            parts.append(SQL(text[i:j]))
            k = text.index("}", j)
            key = text[j + 1 : k]
            if not key:
                parts.append(next(auto))
            elif key.isdigit():
                parts.append(args[int(key)])
            else:
                parts.append(kwargs[key])
            i = k + 1
        return Composed([p for p in parts if not (isinstance(p, SQL) and not p.string)])

    def join(self, seq: Iterable[Composable]) -> Composed:
        out: list[Composable] = []
        for i, part in enumerate(seq):
            if i:
                out.append(self)
            out.append(part)
        return Composed(out)


class Identifier(Composable):
    def __init__(self, *strings: str) -> None:
        super().__init__(strings)

    @property
    def strings(self) -> tuple[str, ...]:
        return tuple(self._wrapped)

    def as_string(self, context: Any = None) -> str:
        return ".".join(quote_ident(s) for s in self._wrapped)


class Literal(Composable):
    def as_string(self, context: Any = None) -> str:
        return adapt(self._wrapped).getquoted().decode()


class Placeholder(Composable):
    def __init__(self, name: str | None = None) -> None:
        super().__init__(name)

    def as_string(self, context: Any = None) -> str:
        return f"%({self._wrapped})s" if self._wrapped else "%s"


NULL = SQL("NULL")
DEFAULT = SQL("DEFAULT")


def quote(value: Any, connection: Any = None) -> str:
    """``value`` as a SQL literal."""
    return adapt(value).getquoted().decode()
