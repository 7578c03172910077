"""Nothing lost, nothing twice: crashes mid-send, kill -9 mid-broadcast, several workers."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.reminders import record_status, report, schedule
from bot.reminders.store import GROUP, Keys, promote
from bot.reminders.worker import WorkerOptions, send_digest
from tests.conftest import TEST_REDIS_URL
from tests.reminders.conftest import (
    FAST,
    GRAPH_VERSION,
    PHONE_ID,
    REMINDER_TEMPLATE,
    Platforms,
    running,
    tg_send,
    until,
    wa_send,
)

ROOT = Path(__file__).resolve().parents[2]


async def all_done(redis: Redis, prefix: str) -> bool:
    keys = Keys(prefix)
    return not (int(await redis.xlen(keys.stream)) or int(await redis.zcard(keys.due)))


async def leave_in_flight(redis: Redis, prefix: str, started: float) -> list[str]:
    """The state a worker killed mid-send leaves: entries taken, claims made, no outcome."""
    keys = Keys(prefix)
    await promote(redis, prefix)
    await redis.xgroup_create(keys.stream, GROUP, id="0", mkstream=True)
    taken: Any = await redis.xreadgroup(GROUP, "dead-worker", {keys.stream: ">"}, count=100)
    sends = [fields[b"k"].decode() for _, entries in taken for _, fields in entries]
    for key in sends:
        await redis.set(keys.attempt(key), f"deadbeef|{started:.3f}", ex=60)
    return sends


async def test_two_workers_share_one_stream_and_send_each_message_once(
    redis: Redis, redis_prefix: str, platforms: Platforms
) -> None:
    sends = [tg_send(n) for n in range(150)] + [wa_send(n) for n in range(150)]
    await schedule(redis, redis_prefix, sends)
    async with (
        running(redis, redis_prefix, platforms.senders, consumer="gw-a") as first,
        running(redis, redis_prefix, platforms.senders, consumer="gw-b") as second,
    ):
        await until(lambda: first.outcomes["sent"] + second.outcomes["sent"] >= 300, timeout=30)
        await until(lambda: all_done(redis, redis_prefix))
    chats = Counter(m["chat_id"] for m in platforms.telegram.sent)
    numbers = Counter(m["to"] for m in platforms.graph.messages)
    assert len(chats) == 150 and set(chats.values()) == {1}
    assert len(numbers) == 150 and set(numbers.values()) == {1}
    assert first.outcomes["sent"] > 0 and second.outcomes["sent"] > 0
    assert (await report(redis, redis_prefix, "B1"))["sent"] == 300


async def test_sends_a_dead_worker_took_are_taken_over(
    redis: Redis, redis_prefix: str, platforms: Platforms
) -> None:
    # Taken by a consumer that died before claiming anything: plain at-least-once.
    await schedule(redis, redis_prefix, [tg_send(n) for n in range(20)])
    keys = Keys(redis_prefix)
    await promote(redis, redis_prefix)
    await redis.xgroup_create(keys.stream, GROUP, id="0", mkstream=True)
    await redis.xreadgroup(GROUP, "dead-worker", {keys.stream: ">"}, count=100)
    async with running(redis, redis_prefix, platforms.senders, consumer="alive") as worker:
        await until(lambda: worker.outcomes["sent"] == 20, timeout=10)
    assert len(platforms.telegram.sent) == 20
    assert worker.outcomes["resent_in_doubt"] == 0


async def test_a_whatsapp_send_in_doubt_that_meta_confirmed_is_not_sent_again(
    redis: Redis, redis_prefix: str, platforms: Platforms
) -> None:
    sends = [wa_send(1), wa_send(2)]
    await schedule(redis, redis_prefix, sends)
    await leave_in_flight(redis, redis_prefix, time.time())
    # Meta accepted the first (its status webhook names the send), never saw the second.
    await record_status(redis, redis_prefix, "wamid.ONE", "sent", reference=sends[0].key)
    async with running(redis, redis_prefix, platforms.senders) as worker:
        await until(lambda: worker.outcomes["sent"] == 2, timeout=10)
    assert [m["to"] for m in platforms.graph.messages] == [sends[1].address]
    assert (await report(redis, redis_prefix, "B1"))["sent"] == 2
    assert worker.outcomes["resent_in_doubt"] == 1
    # The confirmed one's statuses count for the broadcast.
    await record_status(redis, redis_prefix, "wamid.ONE", "read")
    assert (await report(redis, redis_prefix, "B1"))["read"] == 1


async def test_a_telegram_send_in_doubt_is_sent_again_and_recorded(
    redis: Redis, redis_prefix: str, platforms: Platforms
) -> None:
    send = tg_send(1)
    await schedule(redis, redis_prefix, [send])
    await leave_in_flight(redis, redis_prefix, time.time())
    async with running(redis, redis_prefix, platforms.senders) as worker:
        await until(lambda: worker.outcomes["sent"] == 1, timeout=10)
    assert len(platforms.telegram.sent) == 1
    events = await redis.xrange(Keys(redis_prefix).events)
    assert [(e[b"kind"], e[b"send"]) for _, e in events] == [
        (b"resent_in_doubt", send_digest(send.key).encode())
    ]


async def test_a_live_workers_send_is_left_to_it(
    redis: Redis, redis_prefix: str, platforms: Platforms
) -> None:
    send = tg_send(1)
    await schedule(redis, redis_prefix, [send])
    keys = Keys(redis_prefix)
    await redis.set(keys.alive("livework"), "gw-x", ex=60)
    await leave_in_flight(redis, redis_prefix, time.time())
    await redis.set(keys.attempt(send.key), f"livework|{time.time():.3f}", ex=60)
    async with running(redis, redis_prefix, platforms.senders) as worker:
        await asyncio.sleep(2.5)
        assert not platforms.telegram.sent  # the other worker is still at it
        # It finishes: the send is done, and nobody sends it again.
        await redis.set(keys.done(send.key), "sent", ex=60)
        await redis.delete(keys.item(send.key), keys.attempt(send.key))
        await until(lambda: all_done(redis, redis_prefix))
    assert not platforms.telegram.sent and worker.outcomes["sent"] == 0


def worker_process(
    prefix: str, telegram_url: str, graph_url: str, consumer: str
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "REDIS_URL": TEST_REDIS_URL,
        "KS_REDIS_PREFIX": prefix,
        "KS_SECRET_KEY": "kill-test-secret-0123456789",
        "KS_REMINDER_WORKERS": "16",
        "TELEGRAM_BOT_TOKEN": "123456:TEST-token",
        "TELEGRAM_API_BASE_URL": telegram_url,
        "TELEGRAM_MESSAGES_PER_SECOND": "150",
        "TELEGRAM_CHAT_MESSAGES_PER_SECOND": "10",
        "WHATSAPP_ACCESS_TOKEN": "EAAtest",
        "WHATSAPP_PHONE_NUMBER_ID": PHONE_ID,
        "WHATSAPP_API_BASE_URL": f"{graph_url}/{GRAPH_VERSION}",
        "WHATSAPP_MESSAGES_PER_SECOND": "150",
        "KS_WA_TEMPLATE_BROADCAST": REMINDER_TEMPLATE,
        "KS_RETRY_BACKOFF_SECONDS": "0.05",
        "LOG_LEVEL": "ERROR",
    }
    arguments = ["--consumer", consumer, "--alive-seconds", "1", "--doubt-wait-seconds", "2"]
    arguments += ["--claim-idle-seconds", "2", "--poll-seconds", "0.1"]
    return subprocess.Popen([sys.executable, "-m", "bot.reminders", *arguments], env=env, cwd=ROOT)


@pytest.mark.parametrize("restarted_as", ["w1", "w2"], ids=["same-instance", "another-instance"])
async def test_kill_9_mid_broadcast_loses_nothing_and_sends_nothing_twice(
    redis: Redis,
    redis_prefix: str,
    platforms: Platforms,
    telegram_api: tuple[Any, str],
    graph_api: tuple[Any, str],
    restarted_as: str,
) -> None:
    telegram, graph = platforms.telegram, platforms.graph
    sends = [tg_send(n) for n in range(300)] + [wa_send(n) for n in range(300)]
    by_chat = {int(s.address): s.key for s in sends if s.channel == "telegram"}
    received: Counter[str] = Counter()
    telegram.listeners.append(lambda params: received.update([by_chat[params["chat_id"]]]))
    statuses: list[asyncio.Task[None]] = []
    webhooks = asyncio.Semaphore(10)  # Meta's deliveries, a few at a time

    async def status(key: str) -> None:
        async with webhooks:
            await record_status(redis, redis_prefix, f"wamid.{key}", "sent", reference=key)

    def on_whatsapp(body: dict[str, Any]) -> None:
        # Meta's "sent" status webhook for every accepted message, naming its send.
        key = body["biz_opaque_callback_data"]
        received.update([key])
        statuses.append(asyncio.ensure_future(status(key)))

    graph.listeners.append(on_whatsapp)
    await schedule(redis, redis_prefix, sends)
    first = worker_process(redis_prefix, telegram_api[1], graph_api[1], "w1")
    try:
        await until(lambda: sum(received.values()) >= 200, timeout=60)
        await asyncio.sleep(random.uniform(0, 0.05))  # a crash comes at no particular moment
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        at_kill = sum(received.values())
        second = worker_process(redis_prefix, telegram_api[1], graph_api[1], restarted_as)
        try:
            await until(lambda: len(received) == len(sends), timeout=90)
            await until(lambda: all_done(redis, redis_prefix), timeout=30)
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(15) == 0
    finally:
        if first.poll() is None:
            first.kill()
    await asyncio.gather(*statuses)
    assert 0 < at_kill < len(sends), "the kill did not land mid-broadcast"
    lost = [s.key for s in sends if received[s.key] == 0]
    doubled = {key for key, count in received.items() if count > 1}
    events = await redis.xrange(Keys(redis_prefix).events)
    resent = {e[b"send"].decode() for _, e in events if e[b"kind"] == b"resent_in_doubt"}
    assert lost == []
    # A Telegram message in flight at the kill may have been accepted before the worker
    # heard so: it is sent again and recorded. Nothing else is ever sent twice.
    assert {send_digest(key) for key in doubled} <= resent
    assert not [key for key in doubled if ":wa" in key]
    counts = await report(redis, redis_prefix, "B1")
    assert (counts["sent"], counts["pending"], counts["failed"]) == (600, 0, 0)
    print(f"killed after {at_kill} of 600; resent in doubt: {len(resent)}; doubled: {len(doubled)}")


def test_worker_options_defaults_are_sane() -> None:
    options = WorkerOptions()
    assert options.alive_seconds < options.claim_idle_seconds < options.doubt_wait_seconds
    assert FAST.concurrency > 1
