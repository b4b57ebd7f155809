"""`puff-cli django <command>`: Django management commands inside the Puff runtime."""

from __future__ import annotations

from pathlib import Path

from puffserver import REPO_ROOT, run_cli

PROJECT = REPO_ROOT / "tests/integration/apps/djangocmd"
CONFIG = str(PROJECT / "puff.toml")


def test_check_runs_on_the_project() -> None:
    result = run_cli(["--config", CONFIG, "django", "check"])
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_shell_command_runs_inside_puff() -> None:
    code = "import puff; puff.sleep_ms(1); from django.conf import settings; print('apps', settings.INSTALLED_APPS)"
    result = run_cli(["--config", CONFIG, "django", "shell", "-c", code])
    assert result.returncode == 0, result.stderr
    assert "apps ['django.contrib.contenttypes', 'greet']" in result.stdout


def test_custom_command_with_arguments_and_its_failure() -> None:
    result = run_cli(["--config", CONFIG, "django", "greet", "ada"])
    assert result.returncode == 0, result.stderr
    assert "hello ada from a greenlet" in result.stdout
    failed = run_cli(["--config", CONFIG, "django", "greet", "ada", "--fail"])
    assert failed.returncode == 1
    assert "CommandError: asked to fail" in failed.stderr


def test_unknown_command_and_missing_settings(tmp_path: Path) -> None:
    result = run_cli(["--config", CONFIG, "django", "no_such_command"])
    assert result.returncode == 1
    assert "Unknown command: 'no_such_command'" in result.stderr
    bare = tmp_path / "puff.toml"
    bare.write_text('python_path = ["."]\n')
    result = run_cli(["--config", str(bare), "django", "check"])
    assert result.returncode == 1
    assert "DJANGO_SETTINGS_MODULE is not set" in result.stderr
