"""The retention job: nothing personal outlives its time, whoever wrote it."""

from __future__ import annotations

import time

from redis.asyncio import Redis

from actions.posyandu.directory import MyPosyandu
from actions.retention import POLICY, enforce, run_once_per_interval

DAY = 24 * 3600


async def test_keys_without_an_expiry_get_the_expiry_of_their_kind(
    redis: Redis, redis_prefix: str
) -> None:
    await redis.set(f"{redis_prefix}tracker:wa:6281200000001", "{}")  # written without EX
    await redis.set(f"{redis_prefix}unreachable:tg:5", "blocked")
    await redis.set(f"{redis_prefix}pos:mine:abc", "P1", ex=10 * 365 * DAY)  # far too long
    await redis.set(f"{redis_prefix}flood:abc:1", "3", ex=30)  # already shorter: untouched
    await redis.set(f"{redis_prefix}content:faq:gizi.mpasi", "{}")  # not per-user: untouched
    report = await enforce(redis, redis_prefix)
    assert report.expiry_set == 3
    assert 29 * DAY < await redis.ttl(f"{redis_prefix}tracker:wa:6281200000001") <= 30 * DAY
    assert 89 * DAY < await redis.ttl(f"{redis_prefix}unreachable:tg:5") <= 90 * DAY
    assert 364 * DAY < await redis.ttl(f"{redis_prefix}pos:mine:abc") <= 365 * DAY
    assert await redis.ttl(f"{redis_prefix}flood:abc:1") <= 30
    assert await redis.ttl(f"{redis_prefix}content:faq:gizi.mpasi") == -1


async def test_what_the_writers_store_already_expires_within_the_policy(
    redis: Redis, redis_prefix: str
) -> None:
    await MyPosyandu(redis, redis_prefix).remember("wa:6281200000002", "P9")
    report = await enforce(redis, redis_prefix)
    assert report.scanned >= 1 and report.expiry_set == 0


async def test_old_dead_letters_and_inbox_index_entries_are_removed(
    redis: Redis, redis_prefix: str
) -> None:
    now = time.time()
    stream = f"{redis_prefix}deadletter"
    old_ms = int((now - 40 * DAY) * 1000)
    await redis.xadd(stream, {"reason": "old"}, id=f"{old_ms}-0")
    await redis.xadd(stream, {"reason": "recent"})
    index = f"{redis_prefix}inbox:unanswered"
    await redis.zadd(index, {"old": now - 100 * DAY, "recent": now - DAY})
    report = await enforce(redis, redis_prefix, now=now)
    assert report.dead_letters_trimmed == 1
    assert [fields[b"reason"] for _, fields in await redis.xrange(stream)] == [b"recent"]
    assert await redis.zrange(index, 0, -1) == [b"recent"]


async def test_one_instance_runs_it_per_interval(redis: Redis, redis_prefix: str) -> None:
    assert await run_once_per_interval(redis, redis_prefix, 3600)
    assert not await run_once_per_interval(redis, redis_prefix, 3600)


def test_every_kind_has_a_finite_limit_of_at_most_a_year() -> None:
    assert all(0 < kind.max_seconds <= 365 * DAY for kind in POLICY)
    assert len({kind.pattern for kind in POLICY}) == len(POLICY)
