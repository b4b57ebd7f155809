"""The Django settings of `bench django`, the same for all three servers: the polls
example's own (examples/django_polls/polls_site/settings.py, middleware and apps unchanged)
with what a benchmark needs:

- DATABASES["default"] from BENCH_PG_URL (the database of django_pg_server.py), the stock
  postgresql engine, CONN_MAX_AGE = 60 as in the example: gunicorn+gevent and granian keep
  one persistent psycopg2 connection per greenlet / thread. Under Puff (`django = true`) the
  `default` [[postgres]] pool serves the alias and its URL (the same one) decides the server.
- DEBUG off (no query log kept per request); errors of `django.request` (a 500's traceback)
  logged to stderr, so they reach the server's bench log.
- a local-memory cache instead of the example's PuffRedisCache (which needs Puff's Redis
  pool; the measured view does not touch the cache).
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

from polls_site.settings import *  # noqa: F403

DEBUG = False

_url = urlsplit(os.environ.get("BENCH_PG_URL") or "postgres://postgres@127.0.0.1:5432/postgres")
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(_url.path.lstrip("/")) or "postgres",
        "USER": unquote(_url.username or "postgres"),
        "PASSWORD": unquote(_url.password or ""),
        "HOST": _url.hostname or "127.0.0.1",
        "PORT": str(_url.port or 5432),
        "CONN_MAX_AGE": 60,
    }
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "puff-bench-django",
    }
}

# A 500 during a run is logged with its traceback in the server's log
# (target/bench-logs/...), for every server: with DEBUG off Django would only mail it.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False}},
}
