"""Django's per-request state (connections, caches, urlconf and script prefix, active
language and time zone) lives in Puff's ContextLocal, with asgiref Local's semantics: each
context its own, a copied context starting from what was set, nothing leaking back;
connections also stay on the thread that made them, as Django's threading.local does."""

from __future__ import annotations

from pathlib import Path

from conftest import Cli, Seeded

PROBE = Path(__file__).parent / "probes" / "context_locals.py"


def test_django_state_is_context_local(migrated: Seeded, cli: Cli) -> None:
    done = cli.check("django", "shell", "-c", PROBE.read_text())
    lines = done.stdout.splitlines()
    assert "connections ThreadContextLocal" in lines, done.stdout
    for name in ("caches", "urlconfs", "prefixes", "timezone", "translation"):
        assert f"{name} ContextLocal" in lines, done.stdout
    expected = [
        "script prefix /",
        "own connection True True",
        "other thread True True",
        "copy sees 1 2 outer keeps 1",
        "empty context False",
        "deleted False",
        "delete missing AttributeError value",
        "inner de Asia/Tokyo",
        "outer en-us UTC",
    ]
    for line in expected:
        assert line in lines, done.stdout
