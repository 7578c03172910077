"""A job run again and again until shutdown: the retention job, the reminder planning turn."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from redis.exceptions import RedisError

__all__ = ["repeat"]

logger = logging.getLogger(__name__)


async def repeat(
    job: Callable[[], Awaitable[object]], pause: float, stop: asyncio.Event, name: str
) -> None:
    """Run `job`, then wait `pause` seconds, until `stop` is set.

    A Redis outage skips a run with a warning. The wait is on the event, not only on
    cancel(): a cancellation that lands inside a Redis call can be absorbed by the
    client's own timeouts, and shutdown must never wait a whole pause for it.
    """
    while not stop.is_set():
        try:
            await job()
        except (RedisError, OSError) as error:
            logger.warning("%s skipped: Redis unavailable (%s)", name, type(error).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=pause)
