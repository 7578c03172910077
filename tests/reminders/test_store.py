"""Planning sends: once per key, changes seen until sent, cancelled, erased, and expiring."""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Awaitable, Callable

import pytest
from redis.asyncio import Redis

from actions.retention import POLICY
from bot.reminders import cancel, forget_subscriber, report, schedule
from bot.reminders.store import Keys, decode, encode, promote
from tests.reminders.conftest import Platforms, running, tg_send, until, wa_send


async def test_the_same_send_twice_is_planned_once(redis: Redis, redis_prefix: str) -> None:
    send = tg_send(1, due=time.time() + 3600)
    first = await schedule(redis, redis_prefix, [send])
    again = await schedule(redis, redis_prefix, [send, send])
    assert (first.added, again.added, again.unchanged) == (1, 0, 2)
    keys = Keys(redis_prefix)
    assert await redis.zcard(keys.due) == 1
    assert decode(send.key, await redis.get(keys.item(send.key))) == send
    assert (await report(redis, redis_prefix, "B1"))["scheduled"] == 1


async def test_a_changed_send_replaces_the_planned_one(redis: Redis, redis_prefix: str) -> None:
    now = time.time()
    await schedule(redis, redis_prefix, [tg_send(1, due=now + 3600)])
    changed = tg_send(1, due=now + 7200, text="Jadwal pindah ke Kamis")
    result = await schedule(redis, redis_prefix, [changed])
    assert result.changed == 1
    keys = Keys(redis_prefix)
    assert await redis.zscore(keys.due, changed.key) == pytest.approx(now + 7200)
    assert decode(changed.key, await redis.get(keys.item(changed.key))).text.endswith("Kamis")
    assert (await report(redis, redis_prefix, "B1"))["scheduled"] == 1


async def test_a_sent_send_is_never_planned_again(
    redis: Redis, redis_prefix: str, platforms: Platforms
) -> None:
    send = tg_send(1, due=time.time() - 1)
    await schedule(redis, redis_prefix, [send])
    async with running(redis, redis_prefix, platforms.senders):
        await until(lambda: len(platforms.telegram.sent) == 1)
        await until(lambda: redis.exists(Keys(redis_prefix).done(send.key)))
    changed = tg_send(1, due=time.time() - 1, text="lagi")
    assert (await schedule(redis, redis_prefix, [changed])).unchanged == 1
    assert not await redis.exists(Keys(redis_prefix).item(send.key))


async def test_cancelled_sends_are_not_sent_and_may_be_planned_again(
    redis: Redis, redis_prefix: str, platforms: Platforms
) -> None:
    sends = [tg_send(n, due=time.time() - 1) for n in range(3)]
    await schedule(redis, redis_prefix, sends)
    # One cancelled while still in the sorted set, one after being moved into the stream.
    assert await cancel(redis, redis_prefix, [sends[0].key]) == 1
    await promote(redis, redis_prefix)
    assert await cancel(redis, redis_prefix, [sends[1].key, "bc:B1:nobody"]) == 1
    async with running(redis, redis_prefix, platforms.senders):
        await until(lambda: len(platforms.telegram.sent) == 1)
        await until(_stream_empty(redis, redis_prefix))
    assert [c["chat_id"] for c in platforms.telegram.sent] == [int(sends[2].address)]
    counts = await report(redis, redis_prefix, "B1")
    assert (counts["cancelled"], counts["sent"], counts["pending"]) == (2, 1, 0)
    revived = await schedule(redis, redis_prefix, [sends[0]])
    assert revived.added == 1


def _stream_empty(redis: Redis, prefix: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        keys = Keys(prefix)
        return int(await redis.xlen(keys.stream)) == 0 and int(await redis.zcard(keys.due)) == 0

    return check


async def test_sends_that_could_never_go_out_are_refused(redis: Redis, redis_prefix: str) -> None:
    for bad in (
        tg_send(1, channel="sms"),
        tg_send(1, text=" "),
        tg_send(1, text="x" * 4097),
        tg_send(1, key="bc:B1:with space"),
        tg_send(1, due=time.time() + 3 * 365 * 86400),
        tg_send(1, due=float("nan")),
    ):
        with pytest.raises(ValueError):
            await schedule(redis, redis_prefix, [tg_send(2), bad])
    assert not await redis.exists(Keys(redis_prefix).item(tg_send(2).key))


async def test_a_stopped_subscriber_is_not_planned(redis: Redis, redis_prefix: str) -> None:
    send = wa_send(1, due=time.time() + 60)
    await redis.set(f"{redis_prefix}optout:{send.subscriber}", "1", ex=60)
    result = await schedule(redis, redis_prefix, [send])
    assert result.opted_out == 1
    assert not await redis.exists(Keys(redis_prefix).item(send.key))
    counts = await report(redis, redis_prefix, "B1")
    assert (counts["scheduled"], counts["opted_out"], counts["pending"]) == (1, 1, 0)


async def test_erasure_leaves_nothing_of_the_subscriber(redis: Redis, redis_prefix: str) -> None:
    mine = [
        tg_send(1, key="pos:P1:2025-06-10:eve:abc", subscriber="abc", due=time.time() + 60),
        tg_send(1, key="bc:B1:abc", subscriber="abc", due=time.time() + 60),
    ]
    other = tg_send(2, due=time.time() + 60)
    await schedule(redis, redis_prefix, [*mine, other])
    await redis.set(f"{redis_prefix}rem:done:chg:P1:2025-06-03:abc", "sent", ex=60)
    assert await forget_subscriber(redis, redis_prefix, "abc") == 2
    names = [k.decode() async for k in redis.scan_iter(match=f"{redis_prefix}*")]
    assert not [n for n in names if "abc" in n]
    keys = Keys(redis_prefix)
    assert await redis.zrange(keys.due, 0, -1) == [other.key.encode()]
    assert await redis.exists(keys.item(other.key))


async def test_every_key_the_engine_writes_expires_within_the_retention_policy(
    redis: Redis, redis_prefix: str, platforms: Platforms
) -> None:
    now = time.time()
    await schedule(
        redis,
        redis_prefix,
        [tg_send(n, due=now - 1) for n in range(3)]
        + [wa_send(n, due=now - 1) for n in range(3)]
        + [tg_send(9, due=now + 300 * 86400, buttons=(("Berhenti", "/unsubscribe"),))],
    )
    platforms.telegram.blocked_chats.add(900001)
    async with running(redis, redis_prefix, platforms.senders):
        await until(lambda: len(platforms.telegram.sent) + len(platforms.graph.messages) == 5)
        await until(_stream_empty_but_one(redis, redis_prefix))
    policy = {f"{redis_prefix}{kind.pattern}": kind.max_seconds for kind in POLICY}
    names = [k.decode() async for k in redis.scan_iter(match=f"{redis_prefix}*")]
    assert any(":rem:done:" in n for n in names) and any(":rem:report:" in n for n in names)
    for name in names:
        ttl = await redis.ttl(name)
        assert ttl > 0, f"{name} never expires"
        limits = [limit for pattern, limit in policy.items() if fnmatch.fnmatch(name, pattern)]
        if ":rem:" in name and name.split(":rem:")[1].split(":")[0] not in (
            "due",
            "stream",
            "events",
        ):
            assert limits, f"{name} is not in the retention policy"
        if limits:
            assert ttl <= min(limits), f"{name} outlives its kind"


def _stream_empty_but_one(redis: Redis, prefix: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        keys = Keys(prefix)
        return int(await redis.xlen(keys.stream)) == 0 and int(await redis.zcard(keys.due)) == 1

    return check


def test_the_stored_form_is_stable() -> None:
    send = wa_send(3, buttons=(("Berhenti", "/unsubscribe"),), extra={"kind": "posyandu-eve"})
    assert encode(send) == encode(decode(send.key, encode(send)))
    assert decode(send.key, encode(send)) == send
