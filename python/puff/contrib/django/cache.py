"""``PuffRedisCache``: a Django cache backend on a Puff ``[[redis]]`` pool.

    CACHES = {
        "default": {
            "BACKEND": "puff.contrib.django.cache.PuffRedisCache",
            "LOCATION": "default",          # the [[redis]] pool name (default "default")
            "TIMEOUT": 300,                 # Django's usual options apply
            "KEY_PREFIX": "myapp",
        }
    }

Every call runs on Puff's pool from Rust, so a greenlet waiting on Redis lets the others
run. Values are pickled, except integers, which are stored as they are so ``incr`` and
``decr`` are atomic Redis operations (as Django's own Redis backend does). ``clear()``
deletes only this cache's keys (those starting with ``KEY_PREFIX:``, as Django's default
``KEY_FUNCTION`` makes them), never the whole Redis database.
"""

from __future__ import annotations

import pickle
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache

from puff.redis import RedisClient, named_client

__all__ = ["PuffRedisCache"]


class PuffRedisCache(BaseCache):
    """Django cache backend on the Puff Redis pool named by ``LOCATION``."""

    def __init__(self, server: str | list[str] | None, params: dict[str, Any]) -> None:
        super().__init__(params)
        if isinstance(server, (list, tuple)):
            server = server[0] if server else None
        self._pool_name = server or "default"
        options = params.get("OPTIONS") or {}
        unknown = sorted(set(options) - {"pickle_protocol"})
        if unknown:
            raise ValueError(f"PuffRedisCache: unknown OPTIONS {unknown} (supported: pickle_protocol)")
        self._protocol = int(options.get("pickle_protocol", pickle.HIGHEST_PROTOCOL))
        self._client_obj: RedisClient | None = None

    @property
    def _client(self) -> RedisClient:
        if self._client_obj is None:
            self._client_obj = named_client(self._pool_name)
        return self._client_obj

    # -- values -------------------------------------------------------------------

    def _dump(self, value: Any) -> bytes | int:
        # Plain ints (not bools) stay ints so INCRBY works on them.
        if type(value) is int:
            return value
        return pickle.dumps(value, self._protocol)

    def _load(self, raw: bytes | None, default: Any = None) -> Any:
        if raw is None:
            return default
        try:
            return int(raw)
        except ValueError:
            return pickle.loads(raw)

    def _ttl_ms(self, timeout: Any) -> int | None:
        """Milliseconds to live: None for no expiry, 0 for "expire now" (Django's 0 or a
        negative timeout)."""
        seconds = self.get_backend_timeout(timeout)
        return None if seconds is None else int(seconds * 1000)

    def get_backend_timeout(self, timeout: Any = DEFAULT_TIMEOUT) -> float | None:
        # Relative seconds (None: forever); Django's base class returns an absolute time.
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        return None if timeout is None else max(float(timeout), 0.0)

    # -- Django's cache API ------------------------------------------------------

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        ttl = self._ttl_ms(timeout)
        if ttl is not None and ttl <= 0:
            return not self._client.exists(key)
        return bool(self._client.set(key, self._dump(value), px=ttl, nx=True))

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        key = self.make_and_validate_key(key, version=version)
        return self._load(self._client.get(key), default)

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        key = self.make_and_validate_key(key, version=version)
        ttl = self._ttl_ms(timeout)
        if ttl is not None and ttl <= 0:
            self._client.delete(key)
            return
        self._client.set(key, self._dump(value), px=ttl)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        ttl = self._ttl_ms(timeout)
        if ttl is None:
            return bool(self._client.persist(key)) or bool(self._client.exists(key))
        if ttl <= 0:
            return bool(self._client.delete(key))
        return bool(self._client.pexpire(key, ttl))

    def delete(self, key: Any, version: int | None = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        return bool(self._client.delete(key))

    def has_key(self, key: Any, version: int | None = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        return bool(self._client.exists(key))

    def get_many(self, keys: Any, version: int | None = None) -> dict[Any, Any]:
        keys = list(keys)
        if not keys:
            return {}
        made = {self.make_and_validate_key(k, version=version): k for k in keys}
        raws = self._client.mget(list(made))
        return {made[k]: self._load(raw) for k, raw in zip(made, raws) if raw is not None}

    def set_many(self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> list[Any]:
        if not data:
            return []
        ttl = self._ttl_ms(timeout)
        made = {self.make_and_validate_key(k, version=version): v for k, v in data.items()}
        if ttl is not None and ttl <= 0:
            self._client.delete(*made)
            return []
        pipe = self._client.pipeline(transaction=True)
        for key, value in made.items():
            pipe.set(key, self._dump(value), px=ttl)
        pipe.execute()
        return []

    def delete_many(self, keys: Any, version: int | None = None) -> None:
        made = [self.make_and_validate_key(k, version=version) for k in keys]
        if made:
            self._client.delete(*made)

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        key = self.make_and_validate_key(key, version=version)
        if not self._client.exists(key):
            raise ValueError(f"Key '{key}' not found.")
        return int(self._client.incr(key, delta))

    def clear(self) -> None:
        # Only this cache's keys: those Django's default key function makes start with
        # "<KEY_PREFIX>:" (":" with no prefix). Glob characters in the prefix are escaped.
        prefix = "".join("\\" + c if c in "*?[]\\" else c for c in self.key_prefix)
        pattern = f"{prefix}:*"
        cursor = 0
        while True:
            cursor, keys = self._client.scan(cursor, match=pattern, count=500)
            if keys:
                self._client.delete(*keys)
            if cursor == 0:
                break

    def close(self, **kwargs: Any) -> None:
        # The pool lives for the whole program; nothing to close per request.
        pass
