"""Redis connection for the action server, configured from the environment."""

from __future__ import annotations

import os
from typing import Any

from redis.asyncio import Redis

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_url() -> str:
    return os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL


def redis_prefix() -> str:
    return os.environ.get("KS_REDIS_PREFIX", "ks:")


def redis_from_env() -> Redis:
    """A client with short timeouts: a slow Redis must not hang a reply."""
    return Redis.from_url(
        redis_url(), socket_timeout=2.0, socket_connect_timeout=2.0, health_check_interval=30
    )


_shared: Redis | None = None


def shared_redis() -> Redis:
    """The action server's one Redis client, created on first use."""
    global _shared
    if _shared is None:
        _shared = redis_from_env()
    return _shared


def as_text(value: Any) -> str:
    """A Redis reply (bytes or str) as text."""
    return value.decode() if isinstance(value, bytes) else str(value)
