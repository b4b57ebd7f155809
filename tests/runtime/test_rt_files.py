"""puff.read_file_bytes and the exception hierarchy."""

from __future__ import annotations

import os
from pathlib import Path

import puff
import pytest


def test_read_file_bytes_exact(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 5)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    got = puff.read_file_bytes(str(path))
    assert isinstance(got, bytes)
    assert got == data


def test_read_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert puff.read_file_bytes(str(path)) == b""


def test_read_file_bytes_missing_raises_puff_io_error(tmp_path: Path) -> None:
    missing = tmp_path / "does-not-exist.zip"
    with pytest.raises(puff.PuffIOError) as info:
        puff.read_file_bytes(str(missing))
    assert isinstance(info.value, puff.PuffError)
    assert "does-not-exist.zip" in str(info.value), "the error should name the file"


def test_read_files_from_concurrent_greenlets(tmp_path: Path) -> None:
    blobs = {}
    for i in range(20):
        path = tmp_path / f"f{i}"
        blobs[str(path)] = os.urandom(1000 + i)
        path.write_bytes(blobs[str(path)])
    handles = {p: puff.spawn(puff.read_file_bytes, p) for p in blobs}
    assert {p: h.join() for p, h in handles.items()} == blobs


def test_exception_hierarchy() -> None:
    for name in (
        "PuffTimeoutError",
        "PuffIOError",
        "PuffPanicError",
        "NotInGreenletError",
        "RequestBodyTooLarge",
    ):
        exc_type = getattr(puff, name)
        assert issubclass(exc_type, puff.PuffError), name
    assert issubclass(puff.PuffError, Exception)
    assert puff.PuffIOError is puff._native.PuffIOError


def test_env_from_config_is_applied() -> None:
    assert os.environ.get("PUFF_RUNTIME_TESTS") == "1", "[env] from puff.toml was not applied"
