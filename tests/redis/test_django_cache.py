"""puff.contrib.django.cache.PuffRedisCache: Django's cache API on a Puff Redis pool."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from django.conf import settings

PREFIX = f"puff-test-dj-{uuid.uuid4().hex[:8]}"

if not settings.configured:
    settings.configure(
        CACHES={
            "default": {
                "BACKEND": "puff.contrib.django.cache.PuffRedisCache",
                "LOCATION": "default",
                "KEY_PREFIX": PREFIX,
                "TIMEOUT": 60,
            },
            "other": {
                "BACKEND": "puff.contrib.django.cache.PuffRedisCache",
                "KEY_PREFIX": PREFIX + "-other",
            },
            "noprefix": {"BACKEND": "puff.contrib.django.cache.PuffRedisCache"},
        }
    )

from django.core.cache import caches  # noqa: E402 (after settings.configure)


@pytest.fixture
def cache() -> Any:
    c = caches["default"]
    yield c
    c.clear()
    caches["other"].clear()


class Thing:
    def __init__(self, n: int) -> None:
        self.n = n

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Thing) and other.n == self.n


def test_set_get_delete_and_objects(cache: Any) -> None:
    assert cache.get("missing") is None
    assert cache.get("missing", "fallback") == "fallback"
    cache.set("s", "text")
    cache.set("o", {"a": [1, Thing(3)]})
    cache.set("b", True)
    assert cache.get("s") == "text"
    assert cache.get("o") == {"a": [1, Thing(3)]}
    assert cache.get("b") is True
    assert cache.has_key("s")
    assert cache.delete("s") is True
    assert cache.delete("s") is False
    assert cache.get("s") is None
    # Stored in Redis under Django's key scheme, on the Puff pool.
    from puff.redis import global_redis

    assert global_redis.exists(f"{PREFIX}:1:o") == 1


def test_expiry_add_touch(cache: Any) -> None:
    cache.set("short", 1, timeout=0.3)
    assert cache.get("short") == 1
    time.sleep(0.5)
    assert cache.get("short") is None
    cache.set("gone", 1, timeout=0)
    assert cache.get("gone") is None
    assert cache.add("a", "first") is True
    assert cache.add("a", "second") is False
    assert cache.get("a") == "first"
    cache.set("t", "x", timeout=0.3)
    assert cache.touch("t", timeout=None) is True
    time.sleep(0.5)
    assert cache.get("t") == "x"  # touch(None) made it permanent
    from puff.redis import global_redis

    assert global_redis.ttl(f"{PREFIX}:1:t") == -1
    cache.set("d", "y")  # default TIMEOUT of 60 s
    assert 0 < global_redis.ttl(f"{PREFIX}:1:d") <= 60


def test_many_incr_decr_versions(cache: Any) -> None:
    assert cache.set_many({"x": 1, "y": "two", "z": [3]}) == []
    assert cache.get_many(["x", "y", "z", "nope"]) == {"x": 1, "y": "two", "z": [3]}
    assert cache.incr("x") == 2
    assert cache.incr("x", 10) == 12
    assert cache.decr("x", 2) == 10
    with pytest.raises(ValueError, match="not found"):
        cache.incr("nope")
    cache.delete_many(["x", "y"])
    assert cache.get_many(["x", "y", "z"]) == {"z": [3]}
    cache.set("v", "one", version=1)
    cache.set("v", "two", version=2)
    assert cache.get("v", version=1) == "one"
    assert cache.get("v", version=2) == "two"


def test_clear_removes_only_this_caches_keys(cache: Any) -> None:
    other = caches["other"]
    cache.set("k", 1)
    other.set("k", 2)
    from puff.redis import global_redis

    global_redis.set(f"{PREFIX}-unrelated", "keep")
    try:
        cache.clear()
        assert cache.get("k") is None
        assert other.get("k") == 2
        assert global_redis.get(f"{PREFIX}-unrelated") == b"keep"
    finally:
        global_redis.delete(f"{PREFIX}-unrelated")


def test_clear_without_prefix_keeps_other_keys() -> None:
    from puff.redis import global_redis

    plain = caches["noprefix"]
    plain.set("k", 1)
    global_redis.set(f"{PREFIX}-unrelated", "keep")
    try:
        assert global_redis.exists(":1:k") == 1
        plain.clear()
        assert plain.get("k") is None
        assert global_redis.get(f"{PREFIX}-unrelated") == b"keep"
    finally:
        global_redis.delete(f"{PREFIX}-unrelated", ":1:k")


def test_unknown_options_are_rejected() -> None:
    from puff.contrib.django.cache import PuffRedisCache

    with pytest.raises(ValueError, match="unknown OPTIONS"):
        PuffRedisCache("default", {"OPTIONS": {"socket_timeout": 1}})
