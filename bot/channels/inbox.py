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
import re
import time
import traceback
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from actions.pseudonym import pseudonym
from bot.metrics import DEAD_LETTERED, MESSAGES_IN

__all__ = [
    "DEAD_LETTER_MAX_LEN",
    "Entry",
    "Inbox",
    "RetryLater",
    "dead_letter_stream",
    "error_reason",
    "error_where",
    "inbox_stream",
]

logger = logging.getLogger(__name__)

# KEYS: dedup key, stream. ARGV: ttl seconds, channel, order key, data, max backlog.
_ACCEPT = """
if redis.call('XLEN', KEYS[2]) >= tonumber(ARGV[5]) then
  return redis.error_reply('INBOXFULL the inbox holds its maximum of unanswered messages')
end
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return redis.call('XADD', KEYS[2], '*', 'channel', ARGV[2], 'key', ARGV[3], 'data', ARGV[4])
end
return false
"""

# KEYS: inbox stream, dead-letter stream. ARGV: group, entry id, max length of the
# dead-letter stream, then field/value pairs describing the failure. The entry's own
# fields (channel, key, data) are copied from the stream, exactly as they were accepted.
_DEAD_LETTER = """
local found = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if #found == 0 then
  return false
end
local args = {KEYS[2], 'MAXLEN', '~', ARGV[3], '*'}
for i = 4, #ARGV do
  args[#args + 1] = ARGV[i]
end
local fields = found[1][2]
for i = 1, #fields do
  args[#args + 1] = fields[i]
end
local id = redis.call('XADD', unpack(args))
redis.call('XDEL', KEYS[1], ARGV[2])
return id
"""

GROUP = "gateway"
MAX_BACKLOG = 1_000_000  # unanswered messages
MAX_ATTEMPTS_ON_ERROR = 3
# Dead letters kept at most (approximate trimming drops the oldest beyond it): a bound on
# memory if something fails for every message; /readyz and metrics show the count long before.
DEAD_LETTER_MAX_LEN = 100_000
PROBE_TTL_SECONDS = 60
REASON_CHARS = 200
# Runs of digits (with the separators people type) long enough to be a phone number or chat id.
_LONG_NUMBER = re.compile(r"\+?\d[\d ().-]{5,}\d")
_PROJECT_ROOT = str(Path(__file__).resolve().parents[2]) + "/"


def inbox_stream(prefix: str) -> str:
    return f"{prefix}inbox"


def dead_letter_stream(prefix: str) -> str:
    return f"{prefix}deadletter"


def error_reason(error: BaseException | str) -> str:
    """`Type: short message` for a dead letter, long numbers masked, never the whole text."""
    if isinstance(error, str):
        return error[:REASON_CHARS]
    message = _LONG_NUMBER.sub("#", " ".join(str(error).split()))
    reason = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return reason if len(reason) <= REASON_CHARS else reason[: REASON_CHARS - 1] + "…"


def error_where(error: BaseException) -> str:
    """Where it was raised: the innermost frame of our code, and the innermost frame overall.

    Code locations only: safe for log lines, unlike exception messages, which may quote
    what a user wrote.
    """
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return ""
    ours = [f for f in frames if _is_ours(f.filename)]
    places = [ours[-1]] if ours else []
    if frames[-1] not in places:
        places.append(frames[-1])
    return " > ".join(f"{_short_path(f.filename)}:{f.lineno} in {f.name}" for f in places)


def _is_ours(filename: str) -> bool:
    return filename.startswith(_PROJECT_ROOT) and "site-packages" not in filename


def _short_path(filename: str) -> str:
    for marker in ("/site-packages/", _PROJECT_ROOT):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return "/".join(filename.split("/")[-2:])


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
        max_backlog: int = MAX_BACKLOG,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self.stream = inbox_stream(prefix)
        # Capped by refusing, never by trimming: over the cap a webhook answers 503 and
        # Telegram/Meta deliver again later; nothing accepted is ever lost.
        self.max_backlog = max_backlog
        self.dead_letters = dead_letter_stream(prefix)
        self._consumer = consumer
        self._dedup_ttl = dedup_ttl_seconds
        self._accept = redis.register_script(_ACCEPT)
        self._dead_letter_script = redis.register_script(_DEAD_LETTER)
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
        result = await self._accept(
            keys=[self.dedup_key(channel, delivery_id), self.stream],
            args=[self._dedup_ttl, channel, order_key, data, self.max_backlog],
        )
        if result is None:
            return False
        MESSAGES_IN.labels(channel).inc()
        return True

    def dedup_key(self, channel: str, delivery_id: str) -> str:
        """The key that marks a delivery as seen, named by a keyed pseudonym of its id: a
        WhatsApp message id carries the sender's number (base64 after `wamid.`)."""
        return f"{self._prefix}seen:{channel}:{pseudonym(delivery_id, 'seen')}"

    async def pending_count(self) -> int:
        info = await self._redis.xpending(self.stream, GROUP)
        return int(info["pending"]) if isinstance(info, dict) else 0

    async def dead_letter_count(self) -> int:
        """Dead letters waiting for an operator (entries and replies); raises RedisError."""
        return int(await self._redis.xlen(self.dead_letters))

    async def probe(self, deadline_seconds: float = 1.0) -> bool:
        """True when the inbox can take a message right now.

        Runs the script `accept()` runs (EVALSHA, SET NX EX, XADD) on a probe key and a
        probe stream of their own, then deletes what it wrote; the probe key expires anyway
        and so does the probe stream once probes stop. No inbox entry is created. Unlike
        PING this fails when Redis refuses writes: out of memory under `noeviction`, a
        read-only replica, scripts disabled, a full disk with `stop-writes-on-bgsave-error`.
        """
        token = uuid.uuid4().hex
        seen = f"{self._prefix}probe:seen:{token}"
        stream = f"{self._prefix}probe:inbox"

        async def attempt() -> bool:
            entry_id = await self._accept(
                keys=[seen, stream],
                args=[PROBE_TTL_SECONDS, "probe", "probe", token, self.max_backlog],
            )
            async with self._redis.pipeline(transaction=True) as pipe:
                if entry_id is not None:
                    pipe.xdel(stream, entry_id)
                pipe.expire(stream, PROBE_TTL_SECONDS)
                pipe.delete(seen)
                await pipe.execute()
            return entry_id is not None

        try:
            return await asyncio.wait_for(attempt(), deadline_seconds)
        except (RedisError, OSError, asyncio.TimeoutError) as error:
            logger.debug("Inbox probe failed (%s)", type(error).__name__)
            return False

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
        if handler is None:
            logger.error("Inbox: no handler for channel %r; entry %s", entry.channel, entry.id)
            await self._dead_letter(entry, "NoHandler: no handler for this channel", "", 0)
            return
        attempt = errors = 0
        while True:
            try:
                async with self._semaphore:
                    await handler(replace(entry, attempt=attempt))
                break
            except RetryLater as reason:
                attempt += 1
                delay = self._backoff(attempt - 1)
                logger.info("Inbox: %s; retrying entry in %.1f s", reason, delay)
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            except Exception as error:
                attempt += 1
                errors += 1
                # The type and where, never the message: it may quote what the user wrote.
                where = error_where(error)
                logger.error(
                    "Inbox: handler failed on entry %s (%s at %s)",
                    entry.id,
                    type(error).__name__,
                    where,
                )
                if errors >= MAX_ATTEMPTS_ON_ERROR:
                    await self._dead_letter(entry, error_reason(error), where, attempt)
                    return
                await asyncio.sleep(self._retry_base)
        await self._ack(entry.id)

    async def _dead_letter(self, entry: Entry, reason: str, where: str, attempts: int) -> None:
        """Move the entry to the dead-letter stream and acknowledge it, atomically.

        Keeps trying while Redis is down; a retry after an unclear failure (the move was
        done, the answer lost) finds the entry gone and changes nothing.
        """
        failures = 0
        args: list[str | int] = [
            GROUP,
            entry.id,
            DEAD_LETTER_MAX_LEN,
            *("kind", "entry", "entry_id", entry.id, "reason", reason, "where", where),
            *("attempts", attempts, "at", f"{time.time():.3f}"),
        ]
        while True:
            try:
                moved = await self._dead_letter_script(
                    keys=[self.stream, self.dead_letters], args=args
                )
                break
            except (RedisError, OSError):
                failures += 1
                await asyncio.sleep(self._backoff(failures))
        if moved is not None:
            DEAD_LETTERED.labels("entry").inc()
            logger.error(
                "Inbox: entry %s dead-lettered as %s after %d attempts (%s)",
                entry.id,
                _text(moved),
                attempts,
                reason.split(":", 1)[0],
            )

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
