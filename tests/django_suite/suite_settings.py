"""Django settings for Django's own test suite on a private Postgres (tests/django_suite).

``run.py`` passes it to Django's ``runtests.py`` as ``--settings suite_settings`` in both
runs: plain Python with the real psycopg2 (the baseline) and ``puff-cli`` with
``django = true`` (there the ``[[postgres]]`` pools named ``default`` and ``other`` decide
server and database; ``HOST``/``PORT``/``USER`` are not used). The stock ENGINE in both.
The rest mirrors Django's own ``tests/test_sqlite.py``.
"""

from __future__ import annotations

import os

_SERVER = {
    "ENGINE": "django.db.backends.postgresql",
    "HOST": os.environ.get("DJANGO_SUITE_PG_HOST", "127.0.0.1"),
    "PORT": os.environ.get("DJANGO_SUITE_PG_PORT", "5432"),
    "USER": "postgres",
}
# Each runtests.py process of a run gets its own databases (and so its own test_*
# databases), so several can run side by side on one server.
_PREFIX = os.environ.get("DJANGO_SUITE_DB", "suite")

DATABASES = {
    "default": {**_SERVER, "NAME": _PREFIX},
    "other": {**_SERVER, "NAME": f"{_PREFIX}_other"},
}

# What runtests.py installs itself; set here too because Puff's `django = true` runs
# django.setup() before runtests.py does, and both runs must start from the same apps.
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sites",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin.apps.SimpleAdminConfig",
    "django.contrib.staticfiles",
]

SECRET_KEY = "django_tests_secret_key"

# Use a fast hasher to speed up tests.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

USE_TZ = False

# Records each test's outcome in $DJANGO_SUITE_RESULTS (runtests.py has no --testrunner).
TEST_RUNNER = "suite_runner.RecordingRunner"
