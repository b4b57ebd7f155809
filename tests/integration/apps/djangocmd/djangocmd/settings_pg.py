"""The minimal project with a postgresql alias that no [[postgres]] pool serves."""

from djangocmd.settings import *  # noqa: F403

DATABASES = {"reports": {"ENGINE": "django.db.backends.postgresql", "NAME": "reports"}}
