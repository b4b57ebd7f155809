"""Schemas that cannot be built fail at start-up with the class and field named."""

from __future__ import annotations

import os
import subprocess

import pytest
from conftest import HERE, ROOT
from puff.graphql import GraphQLSchemaError, describe_schema


def start(
    config_text: str, tmp_path: os.PathLike[str]
) -> subprocess.CompletedProcess[str]:
    """Run `puff-cli runserver` on a config that must stop it at start-up."""
    config = os.path.join(str(tmp_path), "puff.toml")
    with open(config, "w") as f:
        f.write(config_text)
    return subprocess.run(
        [
            os.environ["PUFF_CLI_BINARY"],
            "--config",
            config,
            "runserver",
            "--bind",
            "127.0.0.1:0",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_unsupported_hint_names_class_and_field() -> None:
    with pytest.raises(GraphQLSchemaError, match=r"Holder\.bad: unsupported type hint"):
        describe_schema("bad_schema.Schema")


def test_missing_annotation_names_the_argument() -> None:
    with pytest.raises(
        GraphQLSchemaError,
        match=r"MissingHintQuery\.field\(arg\): missing type annotation",
    ):
        describe_schema("bad_schema.MissingHintSchema")


def test_startup_fails_with_the_schema_error(tmp_path: os.PathLike[str]) -> None:
    done = start(
        f'python_path = ["{HERE}"]\n[[graphql]]\nschema = "bad_schema.Schema"\n',
        tmp_path,
    )
    assert done.returncode != 0
    assert "Holder.bad: unsupported type hint" in done.stderr, done.stderr
    assert "[[graphql]] `default`" in done.stderr


def test_unknown_config_keys_are_rejected(tmp_path: os.PathLike[str]) -> None:
    done = start('[[graphql]]\nschema = "a.B"\nmax_dept = 3\n', tmp_path)
    assert done.returncode == 2
    assert "max_dept" in done.stderr, done.stderr


def test_a_database_naming_no_pool_stops_startup(tmp_path: os.PathLike[str]) -> None:
    done = start(
        f'python_path = ["{HERE}"]\n[[graphql]]\nschema = "layers_schema.Schema"\ndatabase = "reporting"\n',
        tmp_path,
    )
    assert done.returncode != 0
    assert "`database`: no [[postgres]] pool named `reporting`" in done.stderr, (
        done.stderr
    )


def test_two_schemas_on_one_path_stop_startup(tmp_path: os.PathLike[str]) -> None:
    done = start(
        f'python_path = ["{HERE}"]\n[[graphql]]\nschema = "layers_schema.Schema"\n'
        '[[graphql]]\nname = "b"\nschema = "layers_schema.Schema"\n',
        tmp_path,
    )
    assert done.returncode != 0
    assert "`url`: `/graphql` is also an endpoint of `default`" in done.stderr, (
        done.stderr
    )
    assert "panicked" not in done.stderr
