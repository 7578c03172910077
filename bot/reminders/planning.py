"""The planners' turn: Posyandu session and immunization reminders into the engine.

Every `interval` seconds one gateway instance (a Redis lock) asks the planners
(actions/reminders/planner.py) for the reminders due in the next `horizon` hours and
schedules them (bot/reminders/store.py). Planning again is safe: a key already planned is
a no-op, a key already sent is never sent again, so a lost or doubled run costs nothing.
Its cost follows what is due (the planners' indices), not the size of the directory.
"""

from __future__ import annotations

import asyncio
import logging
import time

from redis.asyncio import Redis

from actions.reminders.planner import plan_children, plan_posyandu
from bot.periodic import repeat
from bot.reminders.store import schedule

__all__ = ["HORIZON_HOURS", "PLAN_LOCK", "plan_once", "planning_loop"]

logger = logging.getLogger(__name__)

PLAN_LOCK = "rem:planlock"
# The eve reminder (16.00 the day before) must be planned well before it is due.
HORIZON_HOURS = 36.0
BATCH = 5_000


async def plan_once(redis: Redis, prefix: str, now: float | None = None) -> int:
    """Plan everything due within the horizon; the number of sends handed to the engine."""
    now = time.time() if now is None else now
    sends = await plan_posyandu(redis, prefix, now, HORIZON_HOURS)
    sends += await plan_children(redis, prefix, now, HORIZON_HOURS)
    for start in range(0, len(sends), BATCH):
        await schedule(redis, prefix, sends[start : start + BATCH], now=now)
    return len(sends)


async def planning_loop(redis: Redis, prefix: str, interval: float, stop: asyncio.Event) -> None:
    """Plan once per `interval` across all instances until `stop` is set."""

    async def once() -> None:
        if await redis.set(f"{prefix}{PLAN_LOCK}", "1", nx=True, ex=max(1, int(interval))):
            try:
                planned = await plan_once(redis, prefix)
            except ValueError:
                logger.exception("Reminder planning produced a send the engine refused")
                return
            logger.info("Reminder planning: %d sends due within %.0f h", planned, HORIZON_HOURS)

    await repeat(once, interval, stop, "Reminder planning")
