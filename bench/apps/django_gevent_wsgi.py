"""`bench django`, gunicorn+gevent: the polls example's WSGI app with psycopg2 made
cooperative (psycogreen), so a greenlet waiting on Postgres lets the others run.

    gunicorn -k gevent ... django_gevent_wsgi:application

gunicorn's gevent worker monkey-patches the process before it imports this module; Django's
connections live in a threading.local, which gevent makes greenlet-local, so every
connection greenlet (one per open HTTP connection) has its own persistent psycopg2
connection (CONN_MAX_AGE in django_bench_settings.py).
"""

from __future__ import annotations

from psycogreen.gevent import patch_psycopg

patch_psycopg()

from polls_site.wsgi import application  # noqa: E402

__all__ = ["application"]
