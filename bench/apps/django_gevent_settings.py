"""`bench django` settings for gunicorn+gevent: django_bench_settings.py with Django's
connections taken from a pool (django-db-geventpool), as a gevent deployment of Django on
Postgres runs.

Without a pool, gevent's Django keeps one persistent connection per greenlet (Django's
connections live in a threading.local, which gevent makes greenlet-local). A greenlet
ends with its HTTP connection, but its Postgres connection stays open until the cyclic
garbage collector frees Django's connection objects, so the next wave of clients opened
connections above `max_connections = 100` and got 500s ("FATAL: sorry, too many clients
already", measured in case (b) after the warm-up). The pool holds at most
BENCH_GEVENT_PG_CONNECTIONS connections (`cargo xtask bench django` passes the size Puff's
pool has in the case: 10 in (a), 90 in (b)); every greenlet takes one per request and gives
it back when the request ends (CONN_MAX_AGE = 0, as the package requires).
"""

from __future__ import annotations

import os

from django_bench_settings import *  # noqa: F403
from django_bench_settings import DATABASES

_size = int(os.environ.get("BENCH_GEVENT_PG_CONNECTIONS", "10"))
DATABASES["default"] = {
    **DATABASES["default"],
    "ENGINE": "django_db_geventpool.backends.postgresql_psycopg2",
    "CONN_MAX_AGE": 0,
    "OPTIONS": {"MAX_CONNS": _size, "REUSE_CONNS": _size},
}
