"""What ``django = true`` does at start-up (called by the puff-django subsystem).

1. ``import psycopg2`` gives Puff's shim (``puff.psycopg2``) and psycopg 3 is hidden, so
   the stock ``django.db.backends.postgresql`` engine talks to Puff's pools.
2. Django is set up from ``DJANGO_SETTINGS_MODULE``.
3. Every postgresql alias of ``DATABASES`` is bound to the ``[[postgres]]`` pool of the
   same name: the pool's URL decides server and database (``NAME`` is set to the pool's
   database), sessions run in Django's time zone, and a test database
   (``test_<NAME>``) is opened on the same server.
4. With ``asyncio = true``, Django's async-safety check is turned off for greenlets.
5. Django's connections become local to each greenlet (each request runs in its own
   greenlet and contextvars context, and a context copied to another thread, as asgiref
   does, starts without them), so concurrent requests never share a transaction;
   the pool bounds how many server connections they use. When a request finishes,
   its connection objects (outside any transaction) go to the next requests, so
   ``CONN_MAX_AGE`` keeps them as a thread-based server would. Django's other
   context-local state (urlconf, script prefix, language, time zone, caches) keeps
   asgiref's semantics in a cheaper ``ContextLocal``.
"""

from __future__ import annotations

import contextvars
import logging
import os
import sys
import threading
from typing import Any

__all__ = ["install_psycopg2", "setup"]

logger = logging.getLogger("puff.django")

_POSTGRES_ENGINES = ("django.db.backends.postgresql", "django.contrib.gis.db.backends.postgis")


class DjangoSetupError(RuntimeError):
    """``django = true`` cannot start: the message says what to change."""


def install_psycopg2() -> None:
    """Make ``import psycopg2`` (and its submodules) give Puff's shim."""
    import puff.psycopg2 as shim
    from puff.psycopg2 import errors, extensions, extras, sql

    backend = sys.modules.get("django.db.backends.postgresql.base")
    if backend is not None and getattr(backend, "Database", shim) is not shim:
        raise DjangoSetupError(
            "Django's postgresql backend was imported before Puff could install its "
            "psycopg2 shim; do not import django.db before the runtime starts"
        )
    sys.modules["psycopg2"] = shim
    sys.modules["psycopg2.extensions"] = extensions
    sys.modules["psycopg2.extras"] = extras
    sys.modules["psycopg2.errors"] = errors
    sys.modules["psycopg2.sql"] = sql
    # Where a class says it lives is what Django's migration writer imports to rebuild a
    # range default (`import psycopg2.extras`, as with psycopg2), so that a migration
    # written on Puff also runs on psycopg2; here that module is the shim's.
    for range_class in (extras.Range, extras.NumericRange, extras.DateRange,
                        extras.DateTimeRange, extras.DateTimeTZRange):  # fmt: skip
        range_class.__module__ = "psycopg2.extras"
    # Django's backend prefers psycopg 3 when it is importable; Puff mimics psycopg2.
    sys.modules["psycopg"] = None  # type: ignore[assignment]


def _bind_databases() -> None:
    from django.conf import settings
    from django.db import connections

    import puff.postgres as pg

    pools = set(pg.pool_names())
    for alias, conf in settings.DATABASES.items():
        engine = str(conf.get("ENGINE") or "")
        if not engine.startswith(_POSTGRES_ENGINES):
            continue
        if alias not in pools:
            raise DjangoSetupError(
                f"DATABASES[{alias!r}] uses {engine}, but puff.toml has no [[postgres]] pool "
                f"named {alias!r} (configured: {', '.join(sorted(pools)) or 'none'}); add "
                f'a [[postgres]] entry with name = "{alias}"'
            )
        options = conf.setdefault("OPTIONS", {})
        options["puff_pool"] = alias
        database = pg.pool_database(alias)
        if conf.get("NAME") != database:
            logger.debug(
                "DATABASES[%r]: NAME %r -> %r (the database of pool %r)",
                alias,
                conf.get("NAME"),
                database,
                alias,
            )
            conf["NAME"] = database
        # The zone Django's backend would SET on every new connection.
        tz = connections.create_connection(alias).timezone_name
        if tz:
            pg._require_native().set_session_timezone(alias, str(tz))


# Django connections of finished requests kept for the next ones, per alias (each holds
# no server connection while idle: the pool owns those).
_SPARE_LIMIT = 256
_spare: dict[str, list[Any]] = {}


def _reusable(conn: Any) -> bool:
    native = conn.connection
    return not (
        conn.in_atomic_block
        or conn.needs_rollback
        or conn.savepoint_ids
        or conn.run_on_commit
        or (native is not None and (native.closed or native.in_transaction))
    )


class ContextLocal:
    """A namespace whose attributes are local to the current contextvars context: what
    asgiref's ``Local(thread_critical=False)`` keeps (a copy-on-write dict in a
    ContextVar, so a copied context sees the values it was copied with and its own
    changes stay its own), without the lock and context manager it takes on every access
    (Django reads its connections several times per request)."""

    __slots__ = ("_var",)

    _EMPTY: dict[str, Any] = {}

    def __init__(self, name: str = "puff.contrib.django.local") -> None:
        object.__setattr__(self, "_var", contextvars.ContextVar(name))

    def _load(self) -> dict[str, Any]:
        return self._var.get(self._EMPTY)

    def _store(self, storage: dict[str, Any]) -> None:
        self._var.set(storage)

    def __getattr__(self, key: str) -> Any:
        try:
            return self._load()[key]
        except KeyError:
            # Plain, without formatting: Django probes with hasattr() on every request.
            raise AttributeError(key) from None

    def __setattr__(self, key: str, value: Any) -> None:
        storage = dict(self._load())
        storage[key] = value
        self._store(storage)

    def __delattr__(self, key: str) -> None:
        storage = dict(self._load())
        try:
            del storage[key]
        except KeyError:
            raise AttributeError(key) from None
        self._store(storage)


class ThreadContextLocal(ContextLocal):
    """A :class:`ContextLocal` whose values are also local to the thread that set them, as
    Django's thread-critical connections are: asgiref's ``async_to_sync`` runs its
    coroutine on a thread of its own with a copy of the caller's context, and there the
    coroutine must not find the caller's connection (with psycopg2 it finds none, makes a
    new one, and Django's async-safety check refuses to use it). Greenlets, all on Puff's
    one Python thread, still have one each."""

    __slots__ = ()

    _NO_THREADS: dict[int, dict[str, Any]] = {}

    def _load(self) -> dict[str, Any]:
        return self._var.get(self._NO_THREADS).get(threading.get_ident(), self._EMPTY)

    def _store(self, storage: dict[str, Any]) -> None:
        # A dict per thread: what the coroutine's thread makes stays out of the caller's
        # thread when asgiref's sync_to_async runs code back there in the same context.
        threads = dict(self._var.get(self._NO_THREADS))
        threads[threading.get_ident()] = storage
        self._var.set(threads)


def _lockless_locals() -> None:
    """Django's own non-thread-critical asgiref Locals (URL prefix and urlconf, active time
    zone and translation, cache connections) become ContextLocals: the same semantics
    without asgiref's lock per access (each request sets and reads them a few times)."""
    from asgiref.local import Local

    import django.urls.base as urls_base
    from django.conf import settings
    from django.core.cache import caches
    from django.utils import timezone

    owners: list[tuple[Any, str, str]] = [
        (urls_base, "_prefixes", "django.urls.base._prefixes"),
        (urls_base, "_urlconfs", "django.urls.base._urlconfs"),
        (timezone, "_active", "django.utils.timezone._active"),
        (caches, "_connections", "django.core.cache.caches"),
    ]
    if settings.USE_I18N:
        from django.utils.translation import trans_real

        owners.append((trans_real, "_active", "django.utils.translation.trans_real._active"))
    for owner, attr, name in owners:
        current = getattr(owner, attr, None)
        if not isinstance(current, Local) or current._thread_critical:
            continue
        replacement = ContextLocal(name)
        # What start-up already set in this context carries over (asgiref keeps it in a
        # ContextVar of its storage object).
        data = getattr(current._storage, "_data", None)
        if isinstance(data, contextvars.ContextVar):
            for key, value in data.get({}).items():
                setattr(replacement, key, value)
        setattr(owner, attr, replacement)


def _greenlet_local_connections() -> None:
    from django.core import signals
    from django.db import connections

    # Django keeps connections in a thread-critical Local (a threading.local): every
    # greenlet of Puff's one Python thread would share one connection and so one
    # transaction. A context-local namespace gives each request (greenlet) its own.
    connections._connections = ThreadContextLocal("puff.contrib.django.connections")
    create = connections.create_connection

    def create_connection(alias: str) -> Any:
        spare = _spare.get(alias)
        if spare:
            conn = spare.pop()
            # What request_started does for connections a request starts with.
            conn.queries_log.clear()
            conn.health_check_done = False
            return conn
        return create(alias)

    def recycle(**_: Any) -> None:
        # After Django's own close_old_connections (connected when django.db was
        # imported): what CONN_MAX_AGE keeps open is handed to the next request, as a
        # thread-based server would keep it for the thread's next request.
        storage = connections._connections
        for alias in connections:
            conn = getattr(storage, alias, None)
            bucket = _spare.setdefault(alias, [])
            # One still in a transaction stays where it is (a test's atomic block around
            # test-client requests, say); the request's context drops it later.
            if conn is None or not _reusable(conn) or len(bucket) >= _SPARE_LIMIT:
                continue
            delattr(storage, alias)
            bucket.append(conn)

    connections.create_connection = create_connection
    signals.request_finished.connect(
        recycle, weak=False, dispatch_uid="puff.contrib.django.recycle"
    )


def _log_server_errors() -> None:
    from django.conf import settings

    # Without DEBUG, Django's default logging sends a view's traceback only to
    # mail_admins; a server should print it. Projects with their own LOGGING keep it.
    if settings.DEBUG or settings.LOGGING:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.ERROR)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger("django.request").addHandler(handler)


def _static() -> tuple[str, str] | None:
    from django.conf import settings

    url = str(getattr(settings, "STATIC_URL", "") or "")
    root = getattr(settings, "STATIC_ROOT", None)
    if not url or not root or "://" in url or url.startswith("//"):
        return None
    if not url.startswith("/"):
        url = "/" + url
    return url, os.fspath(root)


def setup() -> tuple[str, str] | None:
    """Install the shim, set Django up and bind its databases to Puff's pools.

    Returns ``(STATIC_URL, STATIC_ROOT)`` for Puff to serve, or None."""
    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        raise DjangoSetupError(
            "django = true needs DJANGO_SETTINGS_MODULE (e.g. `export "
            "DJANGO_SETTINGS_MODULE=mysite.settings`, or [env] DJANGO_SETTINGS_MODULE = "
            '"mysite.settings" in puff.toml)'
        )
    install_psycopg2()
    import asyncio

    if asyncio._get_running_loop() is not None:
        # asyncio = true: the event loop runs on the thread every greenlet shares, so
        # Django's async-safety check would refuse the ORM in plain sync views. Greenlets
        # wait for the database without blocking the loop, so the check does not apply;
        # coroutines still need sync_to_async for the ORM.
        os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    import django

    django.setup()
    _bind_databases()
    _greenlet_local_connections()
    _lockless_locals()
    _log_server_errors()
    return _static()
