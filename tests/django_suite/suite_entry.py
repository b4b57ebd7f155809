"""Runs Django's ``runtests.py`` inside ``puff-cli`` (tests/django_suite).

``puff.toml`` here has a ``[[commands]]`` entry ``runtests`` calling ``main()``: the
command takes no arguments, so run.py passes runtests.py's path and arguments as JSON in
``$DJANGO_SUITE_ARGV``. ``django = true`` has already installed ``puff.psycopg2`` as
``psycopg2`` and set Django up when this runs; runtests.py then runs as its ``__main__``
would under ``python``, in the runtime's greenlet.
"""

from __future__ import annotations

import json
import os
import runpy
import sys


def main() -> int:
    argv = json.loads(os.environ["DJANGO_SUITE_ARGV"])
    script = argv[0]
    sys.argv = list(argv)
    # As `python runtests.py` would: the script's folder first on sys.path.
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    runpy.run_path(script, run_name="__main__")  # ends with sys.exit(failures)
    return 0
