"""Shared fixtures: a real Redis connection with a private key prefix, cleaned up."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_prefix() -> str:
    return f"kstest:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
async def redis(redis_prefix: str) -> AsyncIterator[object]:
    from redis.asyncio import Redis

    client = Redis.from_url(TEST_REDIS_URL)
    try:
        await client.ping()
    except Exception as error:
        pytest.fail(f"Tests need a real Redis at {TEST_REDIS_URL} (make test starts one): {error}")
    yield client
    keys = [key async for key in client.scan_iter(match=f"{redis_prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()
