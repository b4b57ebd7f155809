"""A custom management command that calls Puff: proof it runs inside the runtime."""

from __future__ import annotations

from typing import Any

import puff
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Greets, after sleeping on Puff's timer"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name")
        parser.add_argument("--fail", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["fail"]:
            raise CommandError("asked to fail")
        puff.sleep_ms(10)  # a Puff async function: only works inside the runtime
        self.stdout.write(f"hello {options['name']} from a greenlet")
