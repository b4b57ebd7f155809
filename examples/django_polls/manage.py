#!/usr/bin/env python
"""Django's command-line utility for this project, for running it without Puff.

Under Puff, run the same commands inside the runtime (so Django uses Puff's pools):
``puff-cli --config examples/django_polls/puff.toml django <command>``.
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "polls_site.settings")
    try:
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        raise ImportError(
            "Couldn't import Django. Is it installed and is the virtualenv active?"
        ) from exc
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
