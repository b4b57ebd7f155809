"""Settings of the minimal project `puff-cli django` is tested on."""

SECRET_KEY = "test-only-not-secret"
DEBUG = False
INSTALLED_APPS = ["django.contrib.contenttypes", "greet"]
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
