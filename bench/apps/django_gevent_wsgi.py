"""`bench django`, gunicorn+gevent: the polls example's WSGI app with psycopg2 made
cooperative (psycogreen), so a greenlet waiting on Postgres lets the others run.

    gunicorn -k gevent ... django_gevent_wsgi:application

gunicorn's gevent worker monkey-patches the process before it imports this module. The
settings are django_gevent_settings.py: the bench's, with Django's connections from a
django-db-geventpool pool (its docstring says why).
"""

from __future__ import annotations

import os

from psycogreen.gevent import patch_psycopg

patch_psycopg()
os.environ["DJANGO_SETTINGS_MODULE"] = "django_gevent_settings"

from polls_site.wsgi import application  # noqa: E402

__all__ = ["application"]
