"""The sending engine: due sends out of Redis, once, through the platforms' limits.

Every gateway instance runs one `ReminderWorker`:

- the *mover* moves sends whose time has come from the sorted set into the stream
  (one atomic script; any instance may run it);
- the *reader* takes stream entries through the consumer group (`XREADGROUP`), its
  own unfinished entries first after a restart, and entries another instance took
  and left idle too long (`XAUTOCLAIM`: that instance died);
- each entry is handled by one task: the send is claimed (`rem:try:<key>`, so no
  two workers send it at once), checked (cancelled, opted out, quiet hours, not
  due yet), sent, and then, in one script, marked done (`rem:done:<key>`, the
  at-most-once marker), counted in its broadcast's report and acknowledged. An
  entry is acknowledged only after the platform accepted the message or refused it
  for good, or after the send was planned again (rate limits, quiet hours): what is
  taken is never lost.

A worker killed mid-send leaves a claim behind. Its successor sees the claim of a
dead process (its heartbeat `rem:alive:<incarnation>` has expired): the send is
*in doubt*, the platform may or may not have accepted it. On WhatsApp the status
webhook of an accepted message carries the send's key (`biz_opaque_callback_data`)
and marks it sent, so the successor waits `doubt_wait_seconds` for it before
sending again. Telegram tells nothing: the send is made again (a reminder twice
is better than none) and recorded as `resent_in_doubt` in `rem:events`. Only sends
that were in flight at the moment of the crash can be in doubt.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import time
import uuid
from collections import Counter as Tally
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from actions.posyandu.directory import Directory
from actions.reminders.keys import subscribers
from actions.reminders.model import Send
from bot.channels.conversation import user_tag
from bot.channels.message import CHANNEL_PREFIXES
from bot.console.stats import record_reminder_outcome
from bot.reminders.quiet import next_allowed
from bot.reminders.senders import Outcome, Sender
from bot.reminders.store import (
    CONFIRMED,
    DONE_TTL_SECONDS,
    EVENTS_MAX_LEN,
    EVENTS_TTL_SECONDS,
    GROUP,
    MAX_STREAM_BACKLOG,
    PROMOTE_BATCH,
    REPORT_TTL_SECONDS,
    STREAM_TTL_SECONDS,
    TRY_TTL_SECONDS,
    WAMID_TTL_SECONDS,
    Keys,
    decode,
    expiry,
    promote,
)

__all__ = ["SENDS", "ReminderWorker", "WorkerOptions", "send_digest"]

logger = logging.getLogger(__name__)

SENDS = Counter(
    "ks_reminder_sends_total",
    "Reminder and broadcast sends, per channel and outcome "
    "(sent, failed, blocked, opted_out, retry, held, resent_in_doubt)",
    ["channel", "outcome"],
)

# KEYS: item, done, try. ARGV: claim token, claim ttl.
_CLAIM = """
local done = redis.call('GET', KEYS[2])
if done and string.sub(done, 1, 10) ~= 'confirmed:' then
  return {'done', done}
end
local item = redis.call('GET', KEYS[1])
if not item then
  return {'gone', done or ''}
end
local holder = redis.call('GET', KEYS[3])
if holder then
  return {'held', item, done or '', holder}
end
if done then
  return {'confirmed', item, done}
end
redis.call('SET', KEYS[3], ARGV[1], 'EX', ARGV[2])
return {'ok', item}
"""

# KEYS: try. ARGV: the claim expected, the new claim, claim ttl.
_TAKEOVER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
"""

# KEYS: item, done, try, due, stream, index, report, wamid map, events ('' for none).
# ARGV: 1 key, 2 outcome, 3 done ttl, 4 entry id, 5 group, 6 counter, 7 reason, 8 report ttl,
#       9 broadcast, 10 wamid ttl, 11 event kind, 12 send digest, 13 channel, 14 at,
#       15 events max length, 16 events ttl.
# Counts only the first time (a successor finishing what a dead worker did counts nothing).
_FINALIZE = """
local prev = redis.call('GET', KEYS[2])
local first = (not prev) or string.sub(prev, 1, 10) == 'confirmed:'
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[1])
if KEYS[6] ~= '' then
  redis.call('HDEL', KEYS[6], ARGV[1])
end
if first and KEYS[7] ~= '' and ARGV[6] ~= '' then
  redis.call('HINCRBY', KEYS[7], ARGV[6], 1)
  if ARGV[7] ~= '' then
    redis.call('HINCRBY', KEYS[7], 'reason:' .. ARGV[7], 1)
  end
  redis.call('EXPIRE', KEYS[7], ARGV[8])
end
if KEYS[8] ~= '' then
  redis.call('HSET', KEYS[8], 'b', ARGV[9])
  redis.call('EXPIRE', KEYS[8], ARGV[10])
end
if first and ARGV[11] ~= '' then
  redis.call('XADD', KEYS[9], 'MAXLEN', '~', ARGV[15], '*', 'kind', ARGV[11], 'send', ARGV[12],
    'channel', ARGV[13], 'reason', ARGV[7], 'broadcast', ARGV[9], 'at', ARGV[14])
  redis.call('EXPIRE', KEYS[9], ARGV[16])
end
if ARGV[4] ~= '' then
  redis.call('XACK', KEYS[5], ARGV[5], ARGV[4])
  redis.call('XDEL', KEYS[5], ARGV[4])
end
if first then
  return 1
end
return 0
"""

# KEYS: item, try, due, stream, index ('' for none).
# ARGV: key, when, expire at, our claim ('' keeps the claim), entry id, group.
_RESCHEDULE = """
if ARGV[4] ~= '' and redis.call('GET', KEYS[2]) == ARGV[4] then
  redis.call('DEL', KEYS[2])
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
  redis.call('EXPIREAT', KEYS[3], ARGV[3], 'NX')
  redis.call('EXPIREAT', KEYS[3], ARGV[3], 'GT')
  redis.call('EXPIREAT', KEYS[1], ARGV[3], 'GT')
  if KEYS[5] ~= '' then
    redis.call('EXPIREAT', KEYS[5], ARGV[3], 'GT')
  end
end
if ARGV[5] ~= '' then
  redis.call('XACK', KEYS[4], ARGV[6], ARGV[5])
  redis.call('XDEL', KEYS[4], ARGV[5])
end
return 1
"""

# Refusals that are no failure, as the dashboard counts them: the user left that Posyandu,
# or the session was moved or cancelled (its notice tells them instead).
_CANCELLED_REASONS = frozenset({"unsubscribed", "session_changed"})

# KEYS: stream, events. ARGV: entry id, group, event fields...
_ACK_WITH_EVENT = """
redis.call('XACK', KEYS[1], ARGV[2], ARGV[1])
redis.call('XDEL', KEYS[1], ARGV[1])
if #ARGV > 2 then
  local fields = {}
  for i = 3, #ARGV do
    fields[#fields + 1] = ARGV[i]
  end
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', 100000, '*', unpack(fields))
  redis.call('EXPIRE', KEYS[2], 2592000)
end
return 1
"""


def send_digest(key: str) -> str:
    """How `rem:events` names a send: its idempotency key may carry a pseudonym."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class WorkerOptions:
    concurrency: int = 16  # sends in flight in this process
    poll_seconds: float = 1.0  # the mover's tick and the longest blocking read
    claim_idle_seconds: float = 60.0  # another instance's entry this idle: it died, take it
    alive_seconds: float = 15.0  # heartbeat lifetime; a crashed worker is known dead after it
    doubt_wait_seconds: float = 120.0  # WhatsApp: wait this long for a status before resending
    not_ready_retry_seconds: float = 5.0
    max_late_seconds: float = 24 * 3600.0  # transient failures: give up this long after due
    stop_grace_seconds: float = 5.0  # sends in flight may finish this long after stop
    max_backlog: int = MAX_STREAM_BACKLOG


class ReminderWorker:
    def __init__(
        self,
        redis: Redis,
        prefix: str,
        consumer: str,
        senders: Mapping[str, Sender],
        options: WorkerOptions | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._clock = clock  # wall time (tests set it to a chosen hour)
        self._keys = Keys(prefix)
        self.consumer = consumer
        self._senders = dict(senders)
        self.options = options or WorkerOptions()
        self.incarnation = uuid.uuid4().hex[:16]
        self._claim = redis.register_script(_CLAIM)
        self._takeover = redis.register_script(_TAKEOVER)
        self._finalize_script = redis.register_script(_FINALIZE)
        self._reschedule_script = redis.register_script(_RESCHEDULE)
        self._ack_script = redis.register_script(_ACK_WITH_EVENT)
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._slot_free = asyncio.Event()
        self._stop = asyncio.Event()
        self.outcomes: Tally[str] = Tally()  # what this worker did, by outcome (tests, bench)

    # -- life cycle ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; sends in flight then get `stop_grace_seconds` to finish
        (a send cut short is in doubt, and found so by the next worker)."""
        self._stop = stop
        with contextlib.suppress(RedisError, OSError):
            # Alive before claiming anything: a claim without a heartbeat is a dead worker's.
            await self._heartbeat()
        loops = [
            asyncio.create_task(self._loop("heartbeat", self._heartbeat)),
            asyncio.create_task(self._loop("mover", self._move)),
            asyncio.create_task(self._loop("reader", self._read_once)),
        ]
        logger.info(
            "Reminder worker %s started (%d sends at once, channels: %s)",
            self.consumer,
            self.options.concurrency,
            ", ".join(sorted(self._senders)) or "none",
        )
        try:
            await stop.wait()
        finally:
            # The reader may be blocked in XREADGROUP: cancelled, not waited for. Entries it
            # was being handed stay pending to this consumer and are taken up again.
            for task in loops:
                task.cancel()
            await asyncio.wait(loops, timeout=1.0)
            if self._inflight:
                await asyncio.wait(
                    list(self._inflight.values()), timeout=self.options.stop_grace_seconds
                )
            leftover = [*loops, *self._inflight.values()]
            for task in leftover:
                task.cancel()
            await asyncio.wait(leftover, timeout=1.0)
            with contextlib.suppress(RedisError, OSError, asyncio.TimeoutError):
                # Successors need not wait for the heartbeat to expire.
                await asyncio.wait_for(
                    self._redis.delete(self._keys.alive(self.incarnation)), timeout=1.0
                )
            logger.info("Reminder worker %s stopped", self.consumer)

    async def _loop(self, name: str, step: Any) -> None:
        """Run `step` until stop; Redis outages are waited out, bugs logged and survived."""
        failures = 0
        while not self._stop.is_set():
            try:
                pause = await step()
                failures = 0
            except (RedisError, OSError) as error:
                failures += 1
                if failures == 1:
                    logger.warning(
                        "Reminders (%s): Redis unavailable (%s)", name, type(error).__name__
                    )
                pause = min(30.0, 0.5 * 2 ** min(failures, 6))
            except Exception as error:
                logger.exception("Reminders (%s) failed (%s)", name, type(error).__name__)
                pause = 5.0
            if pause:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=pause)

    # -- heartbeat, mover ---------------------------------------------------------------------

    async def _heartbeat(self) -> float:
        options = self.options
        await self._redis.set(
            self._keys.alive(self.incarnation), self.consumer, px=int(options.alive_seconds * 1000)
        )
        if self._inflight:
            # What we are working on stays ours: its idle time starts again.
            await self._redis.xclaim(
                self._keys.stream, GROUP, self.consumer, 0, list(self._inflight), justid=True
            )
        return min(options.alive_seconds, options.claim_idle_seconds) / 3

    async def _move(self) -> float:
        moved = await promote(
            self._redis,
            self._keys.prefix,
            self._clock(),
            limit=PROMOTE_BATCH,
            max_backlog=self.options.max_backlog,
        )
        return 0.0 if moved == PROMOTE_BATCH else self.options.poll_seconds

    # -- reader -------------------------------------------------------------------------------

    _recover_from: str | None = "0"
    _claim_cursor = "0-0"
    _next_claim = 0.0
    _next_cleanup = 0.0
    _group_ready = False

    async def _read_once(self) -> float:
        options = self.options
        free = options.concurrency - len(self._inflight)
        if free <= 0:
            self._slot_free.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._slot_free.wait(), timeout=options.poll_seconds)
            return 0.0
        if not self._group_ready:
            await self._ensure_group()
        now = time.monotonic()
        try:
            if self._recover_from is not None:
                # Our own entries from before a restart, never finished.
                entries, last = await self._read(self._recover_from, free, block_ms=None)
                self._recover_from = last
            elif now >= self._next_claim:
                self._next_claim = now + options.claim_idle_seconds / 2
                entries = await self._claim_abandoned(free)
                if now >= self._next_cleanup:
                    self._next_cleanup = now + 600
                    await self._forget_dead_consumers()
            else:
                entries, _ = await self._read(">", free, int(options.poll_seconds * 1000))
        except ResponseError as error:
            if "NOGROUP" not in str(error):
                raise
            self._group_ready = False
            return 0.0
        for entry_id, key in entries:
            self._dispatch(entry_id, key)
        return 0.0

    async def _ensure_group(self) -> None:
        try:
            await self._redis.xgroup_create(self._keys.stream, GROUP, id="0", mkstream=True)
            await self._redis.expire(self._keys.stream, STREAM_TTL_SECONDS, nx=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
        self._group_ready = True

    async def _read(
        self, start: str, count: int, block_ms: int | None
    ) -> tuple[list[tuple[str, str]], str | None]:
        """Entries after `start`, and the last id read (None when there was none)."""
        response: Any = await self._redis.xreadgroup(
            GROUP, self.consumer, {self._keys.stream: start}, count=count, block=block_ms
        )
        items = [item for _stream, found in response or [] for item in found]
        last = _text(items[-1][0]) if items else None
        return await self._entries(items), last

    async def _claim_abandoned(self, count: int) -> list[tuple[str, str]]:
        result: Any = await self._redis.xautoclaim(
            self._keys.stream,
            GROUP,
            self.consumer,
            int(self.options.claim_idle_seconds * 1000),
            start_id=self._claim_cursor,
            count=count,
        )
        self._claim_cursor = _text(result[0]) if result else "0-0"
        entries = await self._entries(list(result[1]) if result else [])
        if entries:
            logger.info("Reminders: took over %d sends another worker left", len(entries))
        return entries

    async def _entries(self, items: list[Any]) -> list[tuple[str, str]]:
        entries = []
        for entry_id, fields in items:
            key = (fields or {}).get(b"k") or (fields or {}).get("k")
            if key is None:  # deleted while pending
                await self._redis.xack(self._keys.stream, GROUP, entry_id)
                continue
            entries.append((_text(entry_id), _text(key)))
        return entries

    async def _forget_dead_consumers(self) -> None:
        """Consumers of instances long gone, with nothing pending, leave the group."""
        consumers: Any = await self._redis.xinfo_consumers(self._keys.stream, GROUP)
        for consumer in consumers:
            name = _text(consumer.get("name", ""))
            if (
                name != self.consumer
                and not consumer.get("pending")
                and (int(consumer.get("idle", 0)) > 24 * 3600 * 1000)
            ):
                await self._redis.xgroup_delconsumer(self._keys.stream, GROUP, name)

    def _dispatch(self, entry_id: str, key: str) -> None:
        if entry_id in self._inflight:
            return
        task = asyncio.create_task(self._process(entry_id, key))
        self._inflight[entry_id] = task

        def done(_: asyncio.Task[None]) -> None:
            self._inflight.pop(entry_id, None)
            self._slot_free.set()

        task.add_done_callback(done)

    async def _process(self, entry_id: str, key: str) -> None:
        try:
            await self._handle(entry_id, key)
        except (RedisError, OSError) as error:
            # Left pending: taken up again once idle (by us or another instance).
            logger.warning("Reminders: a send was interrupted (%s)", type(error).__name__)
        except Exception as error:
            logger.exception("Reminders: a send failed (%s)", type(error).__name__)

    # -- one send -----------------------------------------------------------------------------

    async def _handle(self, entry_id: str, key: str) -> None:
        keys = self._keys
        now = self._clock()
        claim = f"{self.incarnation}|{now:.3f}"
        state: Any = await self._claim(
            keys=[keys.item(key), keys.done(key), keys.attempt(key)],
            args=[claim, TRY_TTL_SECONDS],
        )
        kind = _text(state[0])
        if kind == "done":
            await self._ack(entry_id)
            return
        if kind == "gone":
            # No send and no outcome: it expired or was erased before its time.
            event = [] if _text(state[1]) else ["kind", "missing", "send", send_digest(key)]
            await self._ack(entry_id, event)
            return
        send = decode(key, state[1])
        if kind == "confirmed":  # WhatsApp confirmed it; its sender never finished
            await self._finalize(entry_id, send, Outcome("sent", wamid=_wamid(state[2])))
            return
        if kind == "ok":
            await self._send(entry_id, send, claim, now)
            return
        done, holder = _text(state[2]), _text(state[3])
        owner, _, started = holder.partition("|")
        if owner == self.incarnation:  # the same send again, being sent by another task here
            await self._ack(entry_id)
            return
        if await self._redis.exists(keys.alive(owner)):
            # A live worker is sending it; look again once it must have finished.
            await self._reschedule(entry_id, send, now + self.options.alive_seconds)
            return
        if done.startswith(CONFIRMED):
            await self._finalize(entry_id, send, Outcome("sent", wamid=_wamid(done)))
            return
        wait_until = _float(started) + self.options.doubt_wait_seconds
        if send.channel == "whatsapp" and now < wait_until:
            # A status webhook may still say it was sent.
            await self._reschedule(entry_id, send, wait_until)
            return
        await self._send(entry_id, send, claim, now, dead_claim=holder)

    async def _send(
        self, entry_id: str, send: Send, claim: str, now: float, dead_claim: str | None = None
    ) -> None:
        """Send now, or plan again, or record why never. With `dead_claim` the send was in
        flight when its worker died: it stays in doubt (the dead claim kept) until sent."""
        keys, options = self._keys, self.options
        release = "" if dead_claim is not None else claim
        if send.due > now + 1:  # planned again for later since it was moved
            when = next_allowed(send.due, send.utc_offset_hours)
            await self._reschedule(entry_id, send, when, release)
            return
        expires = send.extra.get("expires")
        if expires is not None and now > _float(expires, math.inf):
            await self._finalize(entry_id, send, Outcome("failed", "expired"))
            return
        allowed = next_allowed(now, send.utc_offset_hours)
        if allowed > now:  # quiet hours: held until 06.00 local time
            SENDS.labels(send.channel, "held").inc()
            self.outcomes["held"] += 1
            await self._reschedule(entry_id, send, allowed, release)
            return
        if send.subscriber and await self._redis.exists(keys.optout(send.subscriber)):
            await self._finalize(entry_id, send, Outcome("failed", "opted_out"), opted_out=True)
            return
        if await self._left_posyandu(send):
            # Stopped this one Posyandu (not everything) after its reminder was planned.
            await self._finalize(entry_id, send, Outcome("failed", "unsubscribed"))
            return
        if await self._session_changed(send):
            # Moved or cancelled after its reminder was planned: the change notice tells,
            # and the planner plans the moved session's own reminders.
            await self._finalize(entry_id, send, Outcome("failed", "session_changed"))
            return
        sender = self._senders.get(send.channel)
        if sender is None:
            await self._finalize(entry_id, send, Outcome("failed", "channel_off"))
            return
        if not sender.ready():
            await self._reschedule(entry_id, send, now + options.not_ready_retry_seconds, release)
            return
        if dead_claim is not None:
            if not await self._takeover(
                keys=[keys.attempt(send.key)], args=[dead_claim, claim, TRY_TTL_SECONDS]
            ):  # another worker took it over first
                await self._reschedule(entry_id, send, now + 1)
                return
            SENDS.labels(send.channel, "resent_in_doubt").inc()
            self.outcomes["resent_in_doubt"] += 1
            logger.warning(
                "Reminders: a send to %s was in flight when its worker died; sent again",
                _user(send),
            )
            await self._event("resent_in_doubt", send)
        outcome = await sender.send(send)
        if outcome.kind == "retry":
            if self._clock() - send.due > options.max_late_seconds:
                outcome = Outcome("failed", f"gave_up_{outcome.reason}")
            else:
                SENDS.labels(send.channel, "retry").inc()
                self.outcomes["retry"] += 1
                await self._reschedule(entry_id, send, self._clock() + outcome.retry_in, claim)
                return
        await self._finalize(entry_id, send, outcome)

    # -- outcomes -----------------------------------------------------------------------------

    async def _left_posyandu(self, send: Send) -> bool:
        """A session reminder whose subscriber no longer follows that Posyandu."""
        posyandu = send.extra.get("posyandu")
        if not (
            send.subscriber and posyandu and send.extra.get("kind", "").startswith("posyandu-")
        ):
            return False
        index = subscribers(self._prefix, posyandu)
        return await self._redis.zscore(index, send.subscriber) is None

    async def _session_changed(self, send: Send) -> bool:
        """A session reminder for a session that has since been moved or cancelled."""
        posyandu, session = send.extra.get("posyandu"), send.extra.get("session")
        if not (posyandu and session and send.extra.get("kind", "").startswith("posyandu-")):
            return False
        changes = await Directory(self._redis, self._prefix).changes_for(posyandu)
        # A change of hours on the same day keeps the key: the planner's next run rewrites
        # the text of the planned reminder instead.
        return any(
            change.original.isoformat() == session
            and (change.cancelled or (change.new_date or change.original).isoformat() != session)
            for change in changes
        )

    async def _finalize(
        self, entry_id: str, send: Send, outcome: Outcome, *, opted_out: bool = False
    ) -> None:
        keys = self._keys
        if opted_out:
            done, counter, reason, event = "opted_out", "opted_out", "", ""
        elif outcome.kind == "sent":
            done, counter, reason, event = "sent", "sent", "", ""
        elif outcome.kind == "blocked":
            done, counter, reason, event = "blocked", "blocked", outcome.reason, "blocked"
        else:
            done = f"failed:{outcome.reason}"
            counter, reason, event = "failed", outcome.reason, "failed"
        wamid_map = keys.wamid(outcome.wamid) if outcome.wamid and send.broadcast else ""
        first = await self._finalize_script(
            keys=[
                keys.item(send.key),
                keys.done(send.key),
                keys.attempt(send.key),
                keys.due,
                keys.stream,
                keys.index(send.subscriber),
                keys.report(send.broadcast),
                wamid_map,
                keys.events,
            ],
            args=[
                send.key,
                done,
                DONE_TTL_SECONDS,
                entry_id,
                GROUP,
                counter,
                reason,
                REPORT_TTL_SECONDS,
                send.broadcast or "",
                WAMID_TTL_SECONDS,
                event,
                send_digest(send.key),
                send.channel,
                f"{time.time():.3f}",
                EVENTS_MAX_LEN,
                EVENTS_TTL_SECONDS,
            ],
        )
        posyandu = send.extra.get("posyandu")
        if first and posyandu:  # once per send, like its broadcast's report
            cancelled = counter == "failed" and reason in _CANCELLED_REASONS
            await self._count_for_dashboard(
                send, posyandu, "cancelled" if cancelled else counter, outcome.wamid
            )
        SENDS.labels(send.channel, counter).inc()
        self.outcomes[counter] += 1

    async def _count_for_dashboard(
        self, send: Send, posyandu: str, outcome: str, wamid: str | None
    ) -> None:
        """The Posyandu's reminders sent, failed, ... in the console's dashboard. The send
        is done whatever happens here: a failure only logs a warning."""
        try:
            await record_reminder_outcome(
                self._redis,
                self._prefix,
                posyandu_id=posyandu,
                outcome=outcome,
                when=self._clock(),
                utc_offset_hours=send.utc_offset_hours,
                wamid=wamid or None,
            )
        except Exception as error:
            logger.warning("Dashboard: a reminder was not counted (%s)", type(error).__name__)

    async def _reschedule(self, entry_id: str, send: Send, when: float, claim: str = "") -> None:
        keys = self._keys
        await self._reschedule_script(
            keys=[
                keys.item(send.key),
                keys.attempt(send.key),
                keys.due,
                keys.stream,
                keys.index(send.subscriber),
            ],
            args=[
                send.key,
                repr(when),
                expiry(when),
                claim,
                entry_id,
                GROUP,
            ],
        )

    async def _ack(self, entry_id: str, event: list[str] | None = None) -> None:
        fields = [*event, "at", f"{time.time():.3f}"] if event else []
        await self._ack_script(
            keys=[self._keys.stream, self._keys.events], args=[entry_id, GROUP, *fields]
        )

    async def _event(self, kind: str, send: Send) -> None:
        fields: dict[Any, Any] = {
            "kind": kind,
            "send": send_digest(send.key),
            "channel": send.channel,
            "broadcast": send.broadcast or "",
            "at": f"{time.time():.3f}",
        }
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(self._keys.events, fields, maxlen=EVENTS_MAX_LEN, approximate=True)
            pipe.expire(self._keys.events, EVENTS_TTL_SECONDS)
            await pipe.execute()


def _user(send: Send) -> str:
    return user_tag(f"{CHANNEL_PREFIXES.get(send.channel, send.channel)}:{send.address}")


def _wamid(done: Any) -> str:
    value = _text(done)
    return value[len(CONFIRMED) :] if value.startswith(CONFIRMED) else ""


def _float(value: Any, default: float = 0.0) -> float:
    try:
        return float(_text(value))
    except ValueError:
        return default


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
