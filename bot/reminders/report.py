"""A broadcast's delivery report: outcomes of its sends and WhatsApp's status updates."""

from __future__ import annotations

import logging
import time
from typing import Any

from redis.asyncio import Redis

from bot.channels.graph import UNDELIVERABLE_CODES
from bot.reminders.store import CONFIRMED, DONE_TTL_SECONDS, REPORT_TTL_SECONDS, Keys

__all__ = ["COUNTS", "record_status", "report"]

logger = logging.getLogger(__name__)

COUNTS = ("scheduled", "sent", "delivered", "read", "failed", "blocked", "opted_out", "cancelled")

# KEYS: item, done. ARGV: outcome, done ttl.
# An accepted message's status names its send (biz_opaque_callback_data): if the worker that
# sent it died before recording it, its successor finds it sent instead of sending again.
_CONFIRM = """
if redis.call('EXISTS', KEYS[1]) == 1 and not redis.call('GET', KEYS[2]) then
  redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
  return 1
end
return 0
"""

# KEYS: wamid map, report. ARGV: ttl, then pairs of (status seen, counter): each status of a
# message is counted once, however often WhatsApp delivers the webhook.
_STATUS = """
local counted = 0
for i = 2, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], '1') == 1 then
    redis.call('HINCRBY', KEYS[2], ARGV[i + 1], 1)
    counted = counted + 1
  end
end
if counted > 0 then
  redis.call('EXPIRE', KEYS[2], ARGV[1])
end
return counted
"""


async def report(redis: Redis, prefix: str, broadcast_id: str) -> dict[str, int]:
    """Counts for a broadcast's report.

    `sent` is what the platform accepted; `delivered` and `read` come from WhatsApp's
    status updates (Telegram reports neither); `failed` and `blocked` are sends refused
    for good (blocked: the user blocked the bot or the number cannot be reached),
    including those WhatsApp accepted and later reported failed; `opted_out` were not
    sent because the user had stopped; `pending` are not done yet. Each refusal's reason
    is counted too, as `reason:<reason>`.
    """
    stored: Any = await redis.hgetall(Keys(prefix).report(broadcast_id))
    values = {_text(k): int(v) for k, v in stored.items()}
    counts = {name: values.get(name, 0) for name in COUNTS}
    finished = sum(counts[n] for n in ("sent", "failed", "blocked", "opted_out", "cancelled"))
    counts["pending"] = max(0, counts["scheduled"] - finished)
    counts["failed"] += values.get("failed_after_sent", 0)
    counts["blocked"] += values.get("blocked_after_sent", 0)
    counts.update({k: v for k, v in values.items() if k.startswith("reason:")})
    return counts


async def record_status(
    redis: Redis,
    prefix: str,
    wamid: str,
    status: str,
    error_code: int | None = None,
    reference: str | None = None,
) -> None:
    """A WhatsApp status update (webhook) for a message we sent; raises RedisError."""
    await _count_for_dashboard(redis, prefix, wamid, status)
    keys = Keys(prefix)
    if reference and status in ("sent", "delivered", "read"):
        await redis.register_script(_CONFIRM)(
            keys=[keys.item(reference), keys.done(reference)],
            args=[f"{CONFIRMED}{wamid}", DONE_TTL_SECONDS],
        )
    broadcast = await redis.hget(keys.wamid(wamid), "b")
    if broadcast is None:
        return
    pairs: list[str] = []
    if status in ("delivered", "read"):
        pairs += ["delivered", "delivered"]
    if status == "read":
        pairs += ["read", "read"]
    if status == "failed":
        blocked = error_code in UNDELIVERABLE_CODES
        pairs += ["failed", "blocked_after_sent" if blocked else "failed_after_sent"]
        pairs += [f"reason:code_{error_code}", f"reason:code_{error_code}"]
    if pairs:
        await redis.register_script(_STATUS)(
            keys=[keys.wamid(wamid), keys.report(_text(broadcast))],
            args=[REPORT_TTL_SECONDS, *pairs],
        )


async def _count_for_dashboard(redis: Redis, prefix: str, wamid: str, status: str) -> None:
    """A reminder of a Posyandu delivered, in the console's dashboard (reminders and
    broadcasts alike; counted once). A failure here only logs a warning."""
    # Imported here: bot.console imports the channels, and WhatsApp's imports this module.
    from bot.console.stats import record_reminder_status

    try:
        await record_reminder_status(redis, prefix, wamid=wamid, status=status, when=time.time())
    except Exception as error:
        logger.warning("Dashboard: a delivery was not counted (%s)", type(error).__name__)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
