"""The durable inbox against real Redis: once, in order, nothing lost across a restart,
nothing dropped: what fails for good goes to the dead letters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.channels.deadletter import dead_letter_count, read, replay
from bot.channels.inbox import Entry, Inbox, RetryLater
from tests.channels.conftest import until, until_async


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


async def test_an_entry_whose_handler_always_fails_is_dead_lettered_with_its_reason(
    redis: Redis, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    inbox = make_inbox(redis, redis_prefix)
    calls: list[int] = []

    async def handler(entry: Entry) -> None:
        calls.append(entry.attempt)
        raise KeyError("jadwal imunisasi 6281234567890")  # messages may quote the user

    inbox.register("whatsapp", handler)
    await inbox.accept("whatsapp", "wamid.P1", "wa:6281234567890", '{"text": "jadwal imunisasi"}')
    async with running(inbox):
        await until_async(lambda: dead_letter_count(redis, redis_prefix))
    assert calls == [0, 1, 2]  # MAX_ATTEMPTS_ON_ERROR, then no more
    [letter] = [letter async for letter in read(redis, redis_prefix)]
    fields = letter.fields
    assert fields["kind"] == "entry" and fields["channel"] == "whatsapp"
    assert fields["key"] == "wa:6281234567890"
    assert fields["data"] == '{"text": "jadwal imunisasi"}'  # exactly as accepted
    assert fields["reason"].startswith("KeyError: ")
    assert "6281234567890" not in fields["reason"]  # long numbers are masked
    assert "tests/channels/test_inbox.py" in fields["where"] and "in handler" in fields["where"]
    assert fields["attempts"] == "3" and float(fields["at"]) > 0
    assert await redis.xlen(inbox.stream) == 0  # acknowledged and deleted from the inbox
    assert await inbox.pending_count() == 0
    assert await inbox.dead_letter_count() == 1
    assert "6281234567890" not in caplog.text and "jadwal" not in caplog.text


async def test_retries_while_rasa_is_down_do_not_count_as_errors(
    redis: Redis, redis_prefix: str
) -> None:
    inbox = make_inbox(redis, redis_prefix)
    calls: list[int] = []

    async def handler(entry: Entry) -> None:
        calls.append(entry.attempt)
        if entry.attempt < 4:
            raise RetryLater("Rasa down")
        if entry.attempt < 6:
            raise ValueError("bug")
        # the third error would have dead-lettered it; this time it is answered

    inbox.register("telegram", handler)
    await inbox.accept("telegram", "1", "tg:1", "sabar")
    async with running(inbox):
        await until(lambda: len(calls) == 7)
        await until_async(lambda: _empty(redis, inbox.stream))
    assert await dead_letter_count(redis, redis_prefix) == 0


async def test_an_entry_without_a_handler_is_dead_lettered_not_dropped(
    redis: Redis, redis_prefix: str
) -> None:
    inbox = make_inbox(redis, redis_prefix)
    inbox.register("telegram", _ignore)
    await inbox.accept("whatsapp", "wamid.N1", "wa:1", "tanpa penangan")
    async with running(inbox):
        await until_async(lambda: dead_letter_count(redis, redis_prefix))
    [letter] = [letter async for letter in read(redis, redis_prefix)]
    assert letter.fields["reason"].startswith("NoHandler")
    assert letter.fields["data"] == "tanpa penangan"
    assert await redis.xlen(inbox.stream) == 0


async def test_the_move_to_dead_letters_happens_once_even_when_repeated(
    redis: Redis, redis_prefix: str
) -> None:
    inbox = make_inbox(redis, redis_prefix)
    await inbox.accept("telegram", "1", "tg:1", "sekali saja")
    await inbox._ensure_group()
    [entry], _ = await inbox._read(">", block_ms=None)
    # A move whose answer was lost (the connection dropped after EXEC) is simply retried.
    await inbox._dead_letter(entry, "ValueError: bug", "", 3)
    await inbox._dead_letter(entry, "ValueError: bug", "", 3)
    assert await dead_letter_count(redis, redis_prefix) == 1
    assert await redis.xlen(inbox.stream) == 0
    assert await inbox.pending_count() == 0


async def test_a_replayed_entry_is_answered(redis: Redis, redis_prefix: str) -> None:
    inbox = make_inbox(redis, redis_prefix)
    broken = True
    answered: list[Entry] = []

    async def handler(entry: Entry) -> None:
        if broken:
            raise RuntimeError("a bug, fixed by the next release")
        answered.append(entry)

    inbox.register("telegram", handler)
    await inbox.accept("telegram", "55", "tg:9", "tolong jawab")
    async with running(inbox):
        await until_async(lambda: dead_letter_count(redis, redis_prefix))
        [letter] = [letter async for letter in read(redis, redis_prefix)]
        broken = False
        outcomes = [
            o async for o in replay(redis, redis_prefix, read(redis, redis_prefix), _NoSend())
        ]
        assert [o.ok for o in outcomes] == [True]
        # The delivery id is still remembered, and the replay is not taken for a duplicate.
        assert await redis.exists(inbox.dedup_key("telegram", "55"))
        await until(lambda: len(answered) == 1)
        await until_async(lambda: _empty(redis, inbox.stream))
    [entry] = answered
    assert (entry.channel, entry.order_key, entry.data) == ("telegram", "tg:9", "tolong jawab")
    assert entry.id != letter.fields["entry_id"]  # a fresh id
    assert await dead_letter_count(redis, redis_prefix) == 0
    # Replaying it again finds nothing: it was deleted with the re-enqueue, atomically.
    again = [
        o
        async for o in replay(
            redis, redis_prefix, read(redis, redis_prefix, [letter.id]), _NoSend()
        )
    ]
    assert again == []


async def test_the_probe_succeeds_on_redis_and_leaves_no_entry(
    redis: Redis, redis_prefix: str
) -> None:
    inbox = make_inbox(redis, redis_prefix)
    assert await inbox.probe() is True
    assert await inbox.probe() is True
    assert not await redis.exists(inbox.stream)  # nothing in the real inbox
    leftovers = [key async for key in redis.scan_iter(match=f"{redis_prefix}*")]
    for key in leftovers:  # the probe stream, empty and expiring
        assert await redis.xlen(key) == 0 and await redis.ttl(key) > 0


async def test_the_probe_fails_when_redis_is_unreachable(redis_prefix: str) -> None:
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    inbox = make_inbox(down, redis_prefix)
    assert await inbox.probe() is False
    await down.aclose()


@pytest.fixture
def read_only_redis() -> Iterator[str]:
    """A replica of a master that does not answer: PING works, every write is refused."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    arguments = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    server = subprocess.Popen(
        [binary, *arguments, "--replicaof", "127.0.0.1", "1"], stdout=subprocess.DEVNULL
    )
    for _ in range(100):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
            break
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait(10)


async def test_the_probe_fails_where_ping_passes_but_writes_are_refused(
    read_only_redis: str, redis_prefix: str
) -> None:
    replica = Redis.from_url(read_only_redis, socket_connect_timeout=0.5)
    try:
        assert await replica.ping()
        inbox = make_inbox(replica, redis_prefix)
        assert await inbox.probe() is False
    finally:
        await replica.aclose()


class _NoSend:
    async def send(self, channel: str, message: dict[str, Any]) -> None:
        raise AssertionError("entries are re-enqueued, never sent by the replay")


async def _ignore(entry: Entry) -> None:
    return None


async def _empty(redis: Redis, stream: str) -> bool:
    return int(await redis.xlen(stream)) == 0


async def test_accept_raises_when_redis_is_down(redis_prefix: str) -> None:
    from redis.exceptions import ConnectionError as RedisConnectionError

    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    inbox = make_inbox(down, redis_prefix)
    with pytest.raises(RedisConnectionError):
        await inbox.accept("telegram", "1", "tg:1", "halo")
    await down.aclose()


async def test_a_full_inbox_refuses_new_deliveries_and_keeps_what_it_holds(
    redis: Redis, redis_prefix: str
) -> None:
    from redis.exceptions import RedisError

    inbox = make_inbox(redis, redis_prefix, max_backlog=2)
    assert await inbox.accept("telegram", "1", "tg:1", "satu")
    assert await inbox.accept("telegram", "2", "tg:1", "dua")
    # The webhook then answers 503 and the platform delivers again later.
    with pytest.raises(RedisError):
        await inbox.accept("telegram", "3", "tg:1", "tiga")
    assert await redis.xlen(inbox.stream) == 2
    # The refused delivery was not marked as seen: its redelivery is accepted later.
    await redis.delete(inbox.stream)
    assert await inbox.accept("telegram", "3", "tg:1", "tiga")
