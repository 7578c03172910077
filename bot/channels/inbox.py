"""Durable inbox: webhooks persist, workers answer; once, in order, and nothing lost.

A webhook calls `accept()` before it acknowledges. In one atomic Redis script
the delivery's id (Telegram `update_id`, WhatsApp `wamid`) is recorded with an
expiry and the message is appended to a Redis stream; a delivery seen before
is dropped. Workers read the stream through a consumer group: an entry is
acknowledged and deleted only after it has been answered, so a crash or restart
between the webhook's 200 and the reply leaves it pending, and the next start
of the same instance (or, after `claim_idle`, any other instance) answers it.

Order: entries of one user (`order_key`) are handled one after another by one
task; different users run concurrently, up to `concurrency` at a time. A
handler that raises `RetryLater` (Rasa down) is called again for the same
entry with backoff, and the user's later messages wait behind it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

__all__ = ["Entry", "Inbox", "RetryLater"]

logger = logging.getLogger(__name__)

# KEYS: dedup key, stream. ARGV: ttl seconds, channel, order key, data.
_ACCEPT = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return redis.call('XADD', KEYS[2], '*', 'channel', ARGV[2], 'key', ARGV[3], 'data', ARGV[4])
end
return false
"""

GROUP = "gateway"
MAX_ATTEMPTS_ON_ERROR = 3


class RetryLater(Exception):
    """The entry could not be answered now (a dependency is down); keep it and retry."""


@dataclass(frozen=True)
class Entry:
    id: str
    channel: str
    order_key: str
    data: str
    attempt: int = 0  # how many times a handler already failed on it in this process


Handler = Callable[[Entry], Awaitable[None]]


class Inbox:
    def __init__(
        self,
        redis: Redis,
        prefix: str,
        consumer: str,
        *,
        dedup_ttl_seconds: int,
        concurrency: int = 64,
        claim_idle_ms: int = 300_000,
        retry_base_seconds: float = 1.0,
        retry_max_seconds: float = 30.0,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self.stream = f"{prefix}inbox"
        self._consumer = consumer
        self._dedup_ttl = dedup_ttl_seconds
        self._accept = redis.register_script(_ACCEPT)
        self._handlers: dict[str, Handler] = {}
        self._semaphore = asyncio.Semaphore(concurrency)
        self._claim_idle_ms = claim_idle_ms
        self._retry_base = retry_base_seconds
        self._retry_max = retry_max_seconds
        self._queues: dict[str, deque[Entry]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._inflight: set[str] = set()
        self._max_inflight = concurrency * 16

    def register(self, channel: str, handler: Handler) -> None:
        self._handlers[channel] = handler

    async def accept(self, channel: str, delivery_id: str, order_key: str, data: str) -> bool:
        """Persist a delivery; False when it was accepted before (a duplicate).

        Raises RedisError when Redis is down: the webhook must then not acknowledge.
        """
        dedup_key = f"{self._prefix}seen:{channel}:{delivery_id}"
        result = await self._accept(
            keys=[dedup_key, self.stream], args=[self._dedup_ttl, channel, order_key, data]
        )
        return result is not None

    async def pending_count(self) -> int:
        info = await self._redis.xpending(self.stream, GROUP)
        return int(info["pending"]) if isinstance(info, dict) else 0

    async def run(self) -> None:
        """Read and dispatch until cancelled; survives Redis outages."""
        recover_from: str | None = "0"
        failures = 0
        last_claim = 0.0
        loop = asyncio.get_running_loop()
        try:
            current = asyncio.current_task()
            while True:
                if current is not None and current.cancelling():
                    # redis-py may swallow a cancellation that lands inside a command.
                    raise asyncio.CancelledError
                try:
                    await self._ensure_group()
                    if recover_from is not None:
                        # Our own pending entries first: accepted before a restart, never answered.
                        entries, last_id = await self._read(recover_from, block_ms=None)
                        recover_from = last_id
                    elif loop.time() - last_claim > self._claim_idle_ms / 2000:
                        last_claim = loop.time()
                        entries = await self._claim_abandoned()
                    elif len(self._inflight) >= self._max_inflight:
                        await asyncio.sleep(0.05)
                        continue
                    else:
                        entries, _ = await self._read(">", block_ms=1000)
                    if failures:
                        logger.info("Inbox: Redis is back")
                    failures = 0
                    for entry in entries:
                        self._dispatch(entry)
                except (RedisError, OSError) as error:
                    failures += 1
                    if failures == 1:
                        logger.warning(
                            "Inbox: Redis unavailable (%s); retrying", type(error).__name__
                        )
                    await asyncio.sleep(self._backoff(failures))
        finally:
            workers = list(self._workers.values())
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _ensure_group(self) -> None:
        try:
            await self._redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def _read(self, start: str, block_ms: int | None) -> tuple[list[Entry], str | None]:
        """Up to 100 entries after `start`, and the last id read (None when there were none)."""
        response: Any = await self._redis.xreadgroup(
            GROUP, self._consumer, {self.stream: start}, count=100, block=block_ms
        )
        entries: list[Entry] = []
        last_id: str | None = None
        for _stream, items in response or []:
            for entry_id, fields in items:
                last_id = _text(entry_id)
                entry = self._entry(entry_id, fields)
                if entry:
                    entries.append(entry)
        return entries, last_id

    async def _claim_abandoned(self) -> list[Entry]:
        """Entries another instance took and never answered (it died), and a heartbeat for ours."""
        if self._inflight:
            # Reset the idle time of what we are working on, so nobody claims it from us.
            await self._redis.xclaim(
                self.stream, GROUP, self._consumer, 0, list(self._inflight), justid=True
            )
        result = await self._redis.xautoclaim(
            self.stream, GROUP, self._consumer, self._claim_idle_ms, count=100
        )
        items: list[Any] = list(result[1]) if isinstance(result, list | tuple) else []
        return [e for e in (self._entry(i, f) for i, f in items) if e]

    def _entry(self, entry_id: Any, fields: Any) -> Entry | None:
        entry_id = _text(entry_id)
        if not fields:  # deleted while pending
            asyncio.get_running_loop().create_task(self._ack(entry_id))
            return None
        values = {_text(k): _text(v) for k, v in fields.items()}
        return Entry(
            id=entry_id,
            channel=values.get("channel", ""),
            order_key=values.get("key", ""),
            data=values.get("data", ""),
        )

    def _dispatch(self, entry: Entry) -> None:
        if entry.id in self._inflight:
            return
        self._inflight.add(entry.id)
        self._queues.setdefault(entry.order_key, deque()).append(entry)
        if entry.order_key not in self._workers:
            task = asyncio.get_running_loop().create_task(self._work(entry.order_key))
            self._workers[entry.order_key] = task

    async def _work(self, order_key: str) -> None:
        queue = self._queues[order_key]
        try:
            while queue:
                entry = queue[0]
                await self._handle(entry)
                queue.popleft()
                self._inflight.discard(entry.id)
        finally:
            if not queue:
                self._queues.pop(order_key, None)
            self._workers.pop(order_key, None)

    async def _handle(self, entry: Entry) -> None:
        handler = self._handlers.get(entry.channel)
        attempt = 0
        while handler is not None:
            try:
                async with self._semaphore:
                    await handler(replace(entry, attempt=attempt))
                break
            except RetryLater as reason:
                attempt += 1
                delay = self._backoff(attempt - 1)
                logger.info("Inbox: %s; retrying entry in %.1f s", reason, delay)
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            except Exception:
                attempt += 1
                logger.exception("Inbox: handler failed on entry %s", entry.id)
                if attempt >= MAX_ATTEMPTS_ON_ERROR:
                    logger.error("Inbox: giving up on entry %s after %d errors", entry.id, attempt)
                    break
                await asyncio.sleep(self._retry_base)
        if handler is None:
            logger.warning("Inbox: no handler for channel %r; entry dropped", entry.channel)
        await self._ack(entry.id)

    async def _ack(self, entry_id: str) -> None:
        """Acknowledge and delete; keeps trying while Redis is down (the reply went out)."""
        failures = 0
        while True:
            try:
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.xack(self.stream, GROUP, entry_id)
                    pipe.xdel(self.stream, entry_id)
                    await pipe.execute()
                return
            except (RedisError, OSError):
                failures += 1
                await asyncio.sleep(self._backoff(failures))

    def _backoff(self, failures: int) -> float:
        return float(min(self._retry_max, self._retry_base * 2 ** min(failures, 6)))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
