"""Key/value cache with TTLs: local disk by default, Redis when ``REDIS_URL`` is set."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import diskcache
import redis


class Cache(ABC):
    """A cache backend: get/set/delete with TTLs and an atomic windowed counter.

    Values must be JSON-serialisable so every backend stores them the same way.
    """

    name: str = "base"

    @abstractmethod
    def get(self, key: str, default: Any = None) -> Any:
        """Return the value under ``key`` or ``default``."""

    @abstractmethod
    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` under ``key``, expiring after ``ttl`` seconds when given."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""

    @abstractmethod
    def incr(self, key: str, ttl: float) -> int:
        """Add one to the counter under ``key`` (created with ``ttl``) and return it."""

    @abstractmethod
    def release(self, key: str) -> None:
        """Take one back from the counter under ``key`` if it still exists (never create it)."""

    @abstractmethod
    def ping(self) -> None:
        """Raise if the backend cannot be reached."""

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections or file handles."""


class DiskCache(Cache):
    """A cache in a local folder (SQLite-backed, safe across processes)."""

    name = "disk"

    def __init__(self, directory: Path | str) -> None:
        self._cache = diskcache.Cache(str(directory))

    def get(self, key: str, default: Any = None) -> Any:
        return self._cache.get(key, default)

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        self._cache.set(key, value, expire=ttl)

    def delete(self, key: str) -> None:
        self._cache.delete(key)

    def incr(self, key: str, ttl: float) -> int:
        while True:
            # add() only writes when absent, so the window starts at the first hit and is not
            # extended; default=None makes incr() refuse a counter that expired in between
            # (instead of re-creating it without expiry), and the loop opens a new window.
            self._cache.add(key, 0, expire=ttl)
            try:
                return self._cache.incr(key, default=None)
            except KeyError:
                continue

    def release(self, key: str) -> None:
        try:
            # default=None: a missing or expired counter raises instead of being created at -1.
            self._cache.incr(key, -1, default=None)
        except KeyError:
            pass

    def ping(self) -> None:
        self._cache.get("__ping__")

    def close(self) -> None:
        self._cache.close()


class RedisCache(Cache):
    """A cache in Redis, shared by every process and replica (values stored as JSON)."""

    name = "redis"

    def __init__(self, url: str, prefix: str = "paissive:") -> None:
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
        self._prefix = prefix
        # DECR alone would create a missing (expired) counter at -1 with no expiry.
        self._release = self._redis.register_script(
            "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end "
            "return 0"
        )

    def _key(self, key: str) -> str:
        return self._prefix + key

    def get(self, key: str, default: Any = None) -> Any:
        raw = self._redis.get(self._key(key))
        return default if raw is None else json.loads(raw)

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        px = int(ttl * 1000) if ttl is not None else None
        self._redis.set(self._key(key), json.dumps(value), px=px)

    def delete(self, key: str) -> None:
        self._redis.delete(self._key(key))

    def incr(self, key: str, ttl: float) -> int:
        pipe = self._redis.pipeline()
        pipe.incr(self._key(key))
        pipe.pexpire(self._key(key), int(ttl * 1000), nx=True)
        count, _ = pipe.execute()
        return int(count)

    def release(self, key: str) -> None:
        self._release(keys=[self._key(key)])

    def ping(self) -> None:
        self._redis.ping()

    def close(self) -> None:
        self._redis.close()


def create_cache(*, redis_url: str | None, directory: Path | str) -> Cache:
    """Return a Redis cache when ``redis_url`` is set, else a disk cache in ``directory``."""
    if redis_url:
        return RedisCache(redis_url)
    return DiskCache(directory)
