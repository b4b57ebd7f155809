"""``python/puff/_native.pyi`` matches the native module the runtime builds.

mypy's stubtest cannot follow this stub's layout (each native submodule is described by a
private class, ``postgres: _PostgresModule``), so this test does the same job: it walks the
stub with ``ast`` and the live module with ``inspect`` and fails on any drift:
- a public name the runtime has and the stub lacks, or the other way round;
- a function or method whose parameter names (and which have defaults) differ from the
  runtime's signature, where pyo3 exposes one.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

import puff

STUB = Path(puff.__file__).with_name("_native.pyi")


def _public(name: str) -> bool:
    return not name.startswith("_") or name in {"__version__", "__call__", "__len__"}


def _stub_type_name(annotation: ast.expr | None) -> str | None:
    """`_Foo` for `_Foo` or `type[_Foo]`; None for anything else."""
    if isinstance(annotation, ast.Name):
        return annotation.id
    if (
        isinstance(annotation, ast.Subscript)
        and isinstance(annotation.value, ast.Name)
        and annotation.value.id == "type"
        and isinstance(annotation.slice, ast.Name)
    ):
        return annotation.slice.id
    return None


def _members(body: list[ast.stmt]) -> dict[str, ast.stmt]:
    found: dict[str, ast.stmt] = {}
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            found[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found[node.target.id] = node
    return found


def _params(fn: ast.FunctionDef, method: bool) -> list[tuple[str, bool]]:
    args = fn.args.posonlyargs + fn.args.args
    defaults = [False] * (len(args) - len(fn.args.defaults)) + [True] * len(fn.args.defaults)
    pairs = list(zip((a.arg for a in args), defaults))
    pairs += [
        (a.arg, d is not None) for a, d in zip(fn.args.kwonlyargs, fn.args.kw_defaults)
    ]
    return pairs[1:] if method else pairs


def _runtime_params(obj: Any) -> list[tuple[str, bool]] | None:
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return None  # no __text_signature__: nothing to compare
    if any(p.kind is p.VAR_POSITIONAL for p in signature.parameters.values()):
        return None  # `(*args, **kwargs)`: the stub documents what the code accepts
    return [
        (p.name, p.default is not inspect.Parameter.empty)
        for p in signature.parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name != "self"
    ]


class _Drift:
    def __init__(self, classes: dict[str, ast.ClassDef]) -> None:
        self.classes = classes
        self.problems: list[str] = []

    def compare(self, where: str, runtime: Any, body: list[ast.stmt], method: bool) -> None:
        stub = _members(body)
        names = {n for n in dir(runtime) if _public(n)}
        if inspect.isclass(runtime):
            # Members of built-in bases (object, Exception...) are not this class's.
            own = [k for k in runtime.__mro__ if k.__module__ != "builtins"]
            names = {n for n in names if any(n in vars(k) for k in own)}
            names -= {n for n in names if n.startswith("__") and n not in vars(runtime)}
        for name in sorted(names - stub.keys()):
            self.problems.append(f"{where}.{name}: in the runtime, missing from the stub")
        for name in sorted(stub.keys() - names):
            if hasattr(runtime, name):
                continue
            # Exceptions get their attributes per instance (set when raised).
            if (
                inspect.isclass(runtime)
                and issubclass(runtime, BaseException)
                and isinstance(stub[name], ast.AnnAssign)
            ):
                continue
            self.problems.append(f"{where}.{name}: in the stub, missing from the runtime")
        for name in sorted(names & stub.keys()):
            self.member(f"{where}.{name}", getattr(runtime, name), stub[name], method)

    def member(self, where: str, runtime: Any, node: ast.stmt, method: bool) -> None:
        if isinstance(node, ast.FunctionDef):
            if any(isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list):
                return
            expected = _runtime_params(runtime)
            actual = _params(node, method)
            if expected is not None and expected != actual:
                self.problems.append(f"{where}: stub parameters {actual} != runtime {expected}")
        elif isinstance(node, ast.ClassDef):
            self.compare(where, runtime, node.body, method=True)
        elif isinstance(node, ast.AnnAssign):
            target = _stub_type_name(node.annotation)
            described = self.classes.get(target or "")
            if described is not None and target is not None and target.startswith("_"):
                # A submodule (`postgres: _PostgresModule`) or a native class
                # (`NativeConnection: type[_PostgresNativeConnection]`).
                self.compare(where, runtime, described.body, method=True)


def test_the_stub_matches_the_native_module() -> None:
    tree = ast.parse(STUB.read_text())
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    top = [
        n
        for n in tree.body
        if not (isinstance(n, ast.ClassDef) and n.name.startswith("_"))
    ]
    drift = _Drift(classes)
    drift.compare("puff._native", puff._native, top, method=False)
    assert not drift.problems, "_native.pyi has drifted:\n" + "\n".join(drift.problems)


def test_the_checker_sees_drift() -> None:
    """The comparison above can fail: a stub missing a function and one with a wrong
    parameter are both reported."""
    tree = ast.parse("def sleep_ms(milliseconds: int) -> None: ...\n")
    drift = _Drift({})
    drift.compare("puff._native", puff._native, tree.body, method=False)
    assert any("sleep_ms: stub parameters" in p for p in drift.problems), drift.problems
    assert any("read_file_bytes: in the runtime" in p for p in drift.problems), drift.problems
