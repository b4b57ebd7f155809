"""The WSGI callable Puff serves (``wsgi = "polls_site.wsgi.application"`` in puff.toml)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "polls_site.settings")

application = get_wsgi_application()
