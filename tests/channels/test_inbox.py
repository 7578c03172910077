"""The durable inbox against real Redis: once, in order, nothing lost across a restart."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.channels.inbox import Entry, Inbox, RetryLater
from tests.channels.conftest import until


def make_inbox(redis: Redis, prefix: str, consumer: str = "test-1", **kw: Any) -> Inbox:
    kw.setdefault("retry_base_seconds", 0.01)
    return Inbox(redis, prefix, consumer, dedup_ttl_seconds=60, **kw)


@contextlib.asynccontextmanager
async def running(inbox: Inbox) -> AsyncIterator[None]:
    task = asyncio.create_task(inbox.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_duplicate_delivery_is_processed_once(redis: Redis, redis_prefix: str) -> None:
    inbox = make_inbox(redis, redis_prefix)
    seen: list[str] = []

    async def handler(entry: Entry) -> None:
        seen.append(entry.data)

    inbox.register("telegram", handler)
    assert await inbox.accept("telegram", "1001", "tg:1", "halo") is True
    assert await inbox.accept("telegram", "1001", "tg:1", "halo") is False  # a retry
    async with running(inbox):
        await until(lambda: len(seen) == 1)
        await asyncio.sleep(0.2)
    assert seen == ["halo"]
    assert await inbox.pending_count() == 0
    assert await redis.xlen(inbox.stream) == 0  # answered entries are deleted


async def test_one_users_messages_are_answered_in_order_while_others_run(
    redis: Redis, redis_prefix: str
) -> None:
    inbox = make_inbox(redis, redis_prefix)
    log: list[tuple[str, str]] = []

    async def handler(entry: Entry) -> None:
        # The first message of user A is slow; A's later ones must still come after it,
        # and user B must not wait for A.
        if entry.data == "a1":
            await asyncio.sleep(0.3)
        log.append((entry.order_key, entry.data))

    inbox.register("whatsapp", handler)
    for i, (user, text) in enumerate([("A", "a1"), ("A", "a2"), ("B", "b1"), ("A", "a3")]):
        await inbox.accept("whatsapp", f"wamid.{i}", user, text)
    async with running(inbox):
        await until(lambda: len(log) == 4)
    assert [text for user, text in log if user == "A"] == ["a1", "a2", "a3"]
    assert log[0] == ("B", "b1")


async def test_accepted_but_unanswered_entries_survive_a_restart(
    redis: Redis, redis_prefix: str
) -> None:
    first = make_inbox(redis, redis_prefix)
    started = asyncio.Event()

    async def hangs(entry: Entry) -> None:
        started.set()
        await asyncio.sleep(3600)  # the process dies while answering

    first.register("telegram", hangs)
    await first.accept("telegram", "7", "tg:9", "pesan penting")
    async with running(first):
        await asyncio.wait_for(started.wait(), 5)
    assert await first.pending_count() == 1

    # The same instance starts again and answers what it had taken.
    second = make_inbox(redis, redis_prefix)
    answered: list[str] = []

    async def handler(entry: Entry) -> None:
        answered.append(entry.data)

    second.register("telegram", handler)
    async with running(second):
        await until(lambda: answered == ["pesan penting"])
        await until(lambda: second._inflight == set())
    assert await second.pending_count() == 0


async def test_another_instance_claims_what_a_dead_one_left(
    redis: Redis, redis_prefix: str
) -> None:
    dead = make_inbox(redis, redis_prefix, consumer="replica-a")
    started = asyncio.Event()

    async def hangs(entry: Entry) -> None:
        started.set()
        await asyncio.sleep(3600)

    dead.register("telegram", hangs)
    await dead.accept("telegram", "8", "tg:9", "halo")
    async with running(dead):
        await asyncio.wait_for(started.wait(), 5)

    other = make_inbox(redis, redis_prefix, consumer="replica-b", claim_idle_ms=100)
    answered: list[str] = []

    async def handler(entry: Entry) -> None:
        answered.append(entry.data)

    other.register("telegram", handler)
    await asyncio.sleep(0.15)
    async with running(other):
        await until(lambda: answered == ["halo"])


async def test_retry_later_keeps_the_entry_and_the_users_order(
    redis: Redis, redis_prefix: str
) -> None:
    inbox = make_inbox(redis, redis_prefix)
    attempts: list[tuple[str, int]] = []

    async def handler(entry: Entry) -> None:
        attempts.append((entry.data, entry.attempt))
        if entry.data == "first" and entry.attempt < 2:
            raise RetryLater("Rasa down")

    inbox.register("telegram", handler)
    await inbox.accept("telegram", "1", "tg:1", "first")
    await inbox.accept("telegram", "2", "tg:1", "second")
    async with running(inbox):
        await until(lambda: len(attempts) == 4)
    assert attempts == [("first", 0), ("first", 1), ("first", 2), ("second", 0)]


async def test_a_handler_bug_does_not_block_the_user_forever(
    redis: Redis, redis_prefix: str
) -> None:
    inbox = make_inbox(redis, redis_prefix)
    done: list[str] = []

    async def handler(entry: Entry) -> None:
        if entry.data == "poison":
            raise ValueError("bug")
        done.append(entry.data)

    inbox.register("telegram", handler)
    await inbox.accept("telegram", "1", "tg:1", "poison")
    await inbox.accept("telegram", "2", "tg:1", "next")
    async with running(inbox):
        await until(lambda: done == ["next"])


async def test_accept_raises_when_redis_is_down(redis_prefix: str) -> None:
    from redis.exceptions import ConnectionError as RedisConnectionError

    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    inbox = make_inbox(down, redis_prefix)
    with pytest.raises(RedisConnectionError):
        await inbox.accept("telegram", "1", "tg:1", "halo")
    await down.aclose()
