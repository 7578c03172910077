"""Where planned sends live: Redis only, every change one atomic script.

Keys (after the deployment's prefix; `<key>` is a send's idempotency key):

- `rem:item:<key>` the send itself (JSON: address, text, ...). The only place the
  recipient's address is kept; deleted once the send is done, and it expires a week
  after it was due whatever happens.
- `rem:due` sorted set, idempotency key by the time it may go (quiet hours applied).
- `rem:stream` the stream due sends are moved into (field `k`, the key); gateway
  instances read it through the consumer group `reminders`.
- `rem:done:<key>` the outcome once sent, refused for good, opted out or cancelled:
  the at-most-once marker. No personal content.
- `rem:try:<key>` who is sending it right now (process incarnation and start time).
- `rem:alive:<incarnation>` a running worker's heartbeat.
- `rem:sub:<subscriber>` the subscriber's pending sends (to erase them on request).
- `rem:report:<broadcast>` a broadcast's delivery counters.
- `rem:wamid:<pseudonym of the wamid>` which broadcast a WhatsApp message belongs to.
- `rem:events` notable outcomes for operators (failures, resends in doubt), capped.

Every key expires (see `actions/retention.py` for the lifetimes).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from actions.pseudonym import pseudonym
from actions.reminders.model import CHANNELS, Send
from bot.reminders.quiet import next_allowed

__all__ = [
    "GROUP",
    "Keys",
    "ScheduleResult",
    "cancel",
    "decode",
    "encode",
    "expiry",
    "forget_subscriber",
    "promote",
    "schedule",
]

DAY = 24 * 3600
GROUP = "reminders"
# Planners plan hours to days ahead; within a year, nothing of a send outlives a year.
MAX_AHEAD_SECONDS = 357 * DAY
ITEM_GRACE_SECONDS = 7 * DAY  # a planned send is forgotten a week after it was due, at worst
DONE_TTL_SECONDS = 60 * DAY
TRY_TTL_SECONDS = 7 * DAY
STREAM_TTL_SECONDS = 7 * DAY
REPORT_TTL_SECONDS = 90 * DAY
WAMID_TTL_SECONDS = 7 * DAY
EVENTS_TTL_SECONDS = 30 * DAY
EVENTS_MAX_LEN = 100_000
MAX_KEY_CHARS = 400
MAX_TEXT_CHARS = 4096
PROMOTE_BATCH = 500
SCHEDULE_BATCH = 500  # sends per script call
MAX_STREAM_BACKLOG = 20_000  # due sends waiting in the stream; more stay in the sorted set
CANCELLED = "cancelled"
CONFIRMED = "confirmed:"  # WhatsApp said it was sent (status webhook), not yet finalised

# KEYS: due, then five per send: item, done, optout, index ('' for none), report ('' for none).
# ARGV: report ttl, done ttl, then four per send: key, payload, score, expire at (unix s).
# One code per send: 0 unchanged or already done, 1 added, 2 changed, 3 opted out.
_SCHEDULE = """
local codes = {}
local latest = 0
for i = 0, (#KEYS - 1) / 5 - 1 do
  local item, done_key, optout, index, report = KEYS[2 + i * 5], KEYS[3 + i * 5],
    KEYS[4 + i * 5], KEYS[5 + i * 5], KEYS[6 + i * 5]
  local key, payload, score, expire_at = ARGV[3 + i * 4], ARGV[4 + i * 4], ARGV[5 + i * 4],
    ARGV[6 + i * 4]
  local code = 0
  local done = redis.call('GET', done_key)
  if not done or done == 'cancelled' then
    local current = redis.call('GET', item)
    if optout ~= '' and redis.call('EXISTS', optout) == 1 then
      code = 3
      if not current then
        redis.call('SET', done_key, 'opted_out', 'EX', ARGV[2])
        if report ~= '' then
          redis.call('HINCRBY', report, 'scheduled', 1)
          redis.call('HINCRBY', report, 'opted_out', 1)
          redis.call('EXPIRE', report, ARGV[1])
        end
      end
    elseif current ~= payload then
      redis.call('SET', item, payload, 'EXAT', expire_at)
      redis.call('ZADD', KEYS[1], score, key)
      if tonumber(expire_at) > latest then
        latest = tonumber(expire_at)
      end
      if done then
        redis.call('DEL', done_key)
      end
      if index ~= '' then
        redis.call('HSET', index, key, '1')
        redis.call('EXPIREAT', index, expire_at, 'NX')
        redis.call('EXPIREAT', index, expire_at, 'GT')
      end
      if current then
        code = 2
      else
        code = 1
        if report ~= '' then
          redis.call('HINCRBY', report, 'scheduled', 1)
          redis.call('EXPIRE', report, ARGV[1])
        end
      end
    end
  end
  codes[#codes + 1] = code
end
if latest > 0 then
  redis.call('EXPIREAT', KEYS[1], latest, 'NX')
  redis.call('EXPIREAT', KEYS[1], latest, 'GT')
end
return codes
"""

# KEYS: item, done, due, index ('' for none), report ('' for none).
# ARGV: key, the item as read (changed meanwhile: nothing done), done ttl, report ttl.
_CANCEL = """
local current = redis.call('GET', KEYS[1])
if not current then
  return 0
end
if current ~= ARGV[2] then
  return -1
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[3], ARGV[1])
if KEYS[4] ~= '' then
  redis.call('HDEL', KEYS[4], ARGV[1])
end
if not redis.call('GET', KEYS[2]) then
  redis.call('SET', KEYS[2], 'cancelled', 'EX', ARGV[3])
  if KEYS[5] ~= '' then
    redis.call('HINCRBY', KEYS[5], 'cancelled', 1)
    redis.call('EXPIRE', KEYS[5], ARGV[4])
  end
end
return 1
"""

# KEYS: due, stream. ARGV: now, limit, stream ttl, max backlog.
# Moves due keys into the stream in one step: none lost, none moved twice.
_PROMOTE = """
if redis.call('XLEN', KEYS[2]) >= tonumber(ARGV[4]) then
  return -1
end
local keys = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #keys == 0 then
  return 0
end
for i = 1, #keys do
  redis.call('XADD', KEYS[2], '*', 'k', keys[i])
end
redis.call('ZREM', KEYS[1], unpack(keys))
redis.call('EXPIRE', KEYS[2], ARGV[3])
return #keys
"""


class Keys:
    """Key names under one deployment prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.due = f"{prefix}rem:due"
        self.stream = f"{prefix}rem:stream"
        self.events = f"{prefix}rem:events"

    def item(self, key: str) -> str:
        return f"{self.prefix}rem:item:{key}"

    def done(self, key: str) -> str:
        return f"{self.prefix}rem:done:{key}"

    def attempt(self, key: str) -> str:
        return f"{self.prefix}rem:try:{key}"

    def alive(self, incarnation: str) -> str:
        return f"{self.prefix}rem:alive:{incarnation}"

    def index(self, subscriber: str) -> str:
        return f"{self.prefix}rem:sub:{subscriber}" if subscriber else ""

    def report(self, broadcast: str | None) -> str:
        return f"{self.prefix}rem:report:{broadcast}" if broadcast else ""

    def wamid(self, wamid: str) -> str:
        # A wamid carries the recipient's number: the name holds a keyed pseudonym of it.
        return f"{self.prefix}rem:wamid:{pseudonym(wamid, 'wamid', 24)}"

    def optout(self, subscriber: str) -> str:
        # Written by the data-rights flow (STOP, erasure); holds no personal content.
        return f"{self.prefix}optout:{subscriber}" if subscriber else ""


def encode(send: Send) -> str:
    """The stored form: compact, and the same text for the same send (changes are seen)."""
    fields: dict[str, Any] = {
        "d": send.due,
        "c": send.channel,
        "a": send.address,
        "t": send.text,
        "o": send.utc_offset_hours,
    }
    if send.template:
        fields["tp"] = send.template
    if send.params:
        fields["p"] = list(send.params)
    if send.buttons:
        fields["b"] = [list(b) for b in send.buttons]
    if send.broadcast:
        fields["bc"] = send.broadcast
    if send.subscriber:
        fields["s"] = send.subscriber
    if send.extra:
        fields["x"] = dict(sorted(send.extra.items()))
    # The fields in a fixed order: the same send always gives the same text.
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


def decode(key: str, raw: str | bytes) -> Send:
    fields = json.loads(raw)
    return Send(
        key=key,
        due=float(fields["d"]),
        channel=fields["c"],
        address=fields["a"],
        text=fields["t"],
        utc_offset_hours=int(fields.get("o", 7)),
        template=fields.get("tp"),
        params=tuple(fields.get("p", ())),
        buttons=tuple((str(t), str(p)) for t, p in fields.get("b", ())),
        broadcast=fields.get("bc"),
        subscriber=fields.get("s", ""),
        extra=dict(fields.get("x", {})),
    )


def _problem(send: Send, now: float) -> str | None:
    if not send.key or len(send.key) > MAX_KEY_CHARS or any(c.isspace() for c in send.key):
        return f"key must be 1-{MAX_KEY_CHARS} characters without spaces"
    if send.channel not in CHANNELS:
        return f"channel must be one of {CHANNELS}"
    if not send.address:
        return "address is empty"
    if not send.text.strip() or len(send.text) > MAX_TEXT_CHARS:
        return f"text must be 1-{MAX_TEXT_CHARS} characters"
    if not math.isfinite(send.due) or send.due > now + MAX_AHEAD_SECONDS:
        return "due must be a time within the planning horizon"
    if not -12 <= send.utc_offset_hours <= 14:
        return "utc_offset_hours out of range"
    return None


def expiry(when: float) -> int:
    """When a send planned for `when` is forgotten at the latest (never in the past: an
    EXPIREAT in the past would delete the sorted set of every planned send)."""
    return math.ceil(max(when, time.time()) + ITEM_GRACE_SECONDS)


@dataclass
class ScheduleResult:
    added: int = 0
    changed: int = 0
    unchanged: int = 0  # the same send again, or one already done (sent, failed, opted out)
    opted_out: int = 0


async def schedule(
    redis: Redis, prefix: str, sends: Iterable[Send], now: float | None = None
) -> ScheduleResult:
    """Plan sends. The same key again is a no-op unless the send changed before it went out.

    Raises ValueError for a send that could never go out (nothing of the batch is stored
    then); a RedisError leaves the sends stored so far in place (scheduling again is safe).
    """
    now = time.time() if now is None else now
    batch = list(sends)
    for send in batch:
        problem = _problem(send, now)
        if problem is not None:
            raise ValueError(f"send {send.key[:60]!r}: {problem}")
    keys = Keys(prefix)
    script = redis.register_script(_SCHEDULE)
    result = ScheduleResult()
    for start in range(0, len(batch), SCHEDULE_BATCH):
        names: list[str] = [keys.due]
        args: list[str | int] = [REPORT_TTL_SECONDS, DONE_TTL_SECONDS]
        for send in batch[start : start + SCHEDULE_BATCH]:
            when = next_allowed(max(send.due, now), send.utc_offset_hours)
            names += [
                keys.item(send.key),
                keys.done(send.key),
                keys.optout(send.subscriber),
                keys.index(send.subscriber),
                keys.report(send.broadcast),
            ]
            args += [send.key, encode(send), repr(when), expiry(when)]
        for code in await script(keys=names, args=args):
            if code == 1:
                result.added += 1
            elif code == 2:
                result.changed += 1
            elif code == 3:
                result.opted_out += 1
            else:
                result.unchanged += 1
    return result


async def cancel(redis: Redis, prefix: str, idempotency_keys: Sequence[str]) -> int:
    """Unplan sends not yet done; how many were cancelled. A cancelled key may be planned
    again later (`schedule` revives it)."""
    keys = Keys(prefix)
    script = redis.register_script(_CANCEL)
    cancelled = 0
    for key in idempotency_keys:
        for _ in range(5):  # the item changed between reading and cancelling: read again
            raw = await redis.get(keys.item(key))
            if raw is None:
                break
            send = decode(key, raw)
            code = await script(
                keys=[
                    keys.item(key),
                    keys.done(key),
                    keys.due,
                    keys.index(send.subscriber),
                    keys.report(send.broadcast),
                ],
                args=[key, raw, DONE_TTL_SECONDS, REPORT_TTL_SECONDS],
            )
            if code != -1:
                cancelled += int(code)
                break
    return cancelled


async def forget_subscriber(redis: Redis, prefix: str, subscriber: str) -> int:
    """Erase a subscriber's planned sends (their addresses and texts) and every reminder key
    named after them; how many planned sends were erased. For "hapus data saya": call it
    after writing the opt-out marker, so nothing planned meanwhile is sent."""
    if not subscriber:
        return 0
    keys = Keys(prefix)
    index = keys.index(subscriber)
    planned = [_text(k) for k in await redis.hkeys(index)]
    erased = 0
    for start in range(0, len(planned), PROMOTE_BATCH):
        chunk = planned[start : start + PROMOTE_BATCH]
        async with redis.pipeline(transaction=True) as pipe:
            for key in chunk:
                pipe.delete(keys.item(key), keys.attempt(key))
            pipe.zrem(keys.due, *chunk)
            results = await pipe.execute()
        erased += sum(1 for r in results[:-1] if r)
    await redis.delete(index)
    # Keys whose names carry the pseudonym (broadcast and change-notice outcomes).
    async for name in redis.scan_iter(match=f"{prefix}rem:*{subscriber}*", count=1000):
        await redis.delete(name)
    return erased


async def promote(
    redis: Redis,
    prefix: str,
    now: float | None = None,
    *,
    limit: int = PROMOTE_BATCH,
    max_backlog: int = MAX_STREAM_BACKLOG,
) -> int:
    """Move sends due by `now` into the stream (up to `limit`); -1 when the stream is full."""
    keys = Keys(prefix)
    moved = await redis.register_script(_PROMOTE)(
        keys=[keys.due, keys.stream],
        args=[repr(time.time() if now is None else now), limit, STREAM_TTL_SECONDS, max_backlog],
    )
    return int(moved)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
