"""Django on Puff.

- ``django = true`` in puff.toml runs a stock Django project on Puff's pools
  (``puff.contrib.django.runtime``: psycopg2 shim, greenlet-local connections).
- ``puff.contrib.django.cache.PuffRedisCache``: a cache backend on Puff's Redis pools.
- :func:`query_and_params`: a queryset as SQL and parameters for Puff's GraphQL layers.

Needs Django installed; nothing here is imported by ``puff`` itself.
"""

from __future__ import annotations

from typing import Any

__all__ = ["query_and_params"]


def query_and_params(queryset: Any, using: str | None = None) -> tuple[str, list[Any]]:
    """The SQL (with ``$1, $2, ...`` placeholders) and parameters of ``queryset``.

    Does no I/O: a GraphQL resolver returns them (``..., sql, params``) and Puff runs the
    query in Rust. A queryset that can match nothing (``filter(id__in=[])``) becomes a
    query with the same columns and no rows."""
    from django.core.exceptions import EmptyResultSet
    from django.db.models.sql.where import WhereNode

    from puff.postgres import convert_placeholders

    db = using or queryset.db
    try:
        sql, params = queryset.query.get_compiler(using=db).as_sql()
    except EmptyResultSet:
        query = queryset.query.clone()
        query.where = WhereNode()
        sql, params = query.get_compiler(using=db).as_sql()
        sql = f"SELECT * FROM ({sql}) AS puff_empty WHERE false"
    converted, _count = convert_placeholders(sql, False)
    return converted, list(params)
