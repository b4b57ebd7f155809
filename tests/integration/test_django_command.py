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


def django_config(tmp_path: Path, settings: str | None, extra: str = "") -> str:
    config = tmp_path / "puff.toml"
    env = f'[env]\nDJANGO_SETTINGS_MODULE = "{settings}"\n' if settings else ""
    config.write_text(f'python_path = ["{PROJECT}"]\ndjango = true\n{extra}\n{env}')
    return str(config)


def test_django_true_installs_the_psycopg2_shim(tmp_path: Path) -> None:
    config = django_config(tmp_path, "djangocmd.settings")
    code = "import psycopg2, psycopg2.extensions; print(psycopg2.__name__, psycopg2.extensions.__name__)"
    result = run_cli(["--config", config, "django", "shell", "-c", code])
    assert result.returncode == 0, result.stderr
    assert "puff.psycopg2 puff.psycopg2.extensions" in result.stdout


def test_django_true_names_an_alias_without_a_pool(tmp_path: Path) -> None:
    pool = '[[postgres]]\nname = "default"\nurl = "postgres://postgres@127.0.0.1:9/none"\n'
    config = django_config(tmp_path, "djangocmd.settings_pg", pool)
    result = run_cli(["--config", config, "django", "check"])
    assert result.returncode != 0
    assert "DATABASES['reports']" in result.stderr, result.stderr
    assert 'name = "reports"' in result.stderr, result.stderr


def test_django_true_needs_settings(tmp_path: Path) -> None:
    result = run_cli(["--config", django_config(tmp_path, None), "django", "check"])
    assert result.returncode != 0
    assert "django = true needs DJANGO_SETTINGS_MODULE" in result.stderr, result.stderr


def test_djangos_dev_server_is_refused_with_a_hint() -> None:
    result = run_cli(["--config", CONFIG, "django", "runserver"])
    assert result.returncode == 1
    assert "serve the project with `puff-cli runserver`" in result.stderr, result.stderr
