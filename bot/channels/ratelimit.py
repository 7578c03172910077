"""Outbound rate limits shared by every sender in the process (aiolimiter leaky buckets)."""

from __future__ import annotations

import asyncio
import datetime as dtm
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.metrics import RATE_LIMIT_WAIT

__all__ = ["KeyedLimiter", "TelegramRateLimiter", "retry_after_seconds"]

# Calls that carry a message into a chat; the per-chat limit applies to these only.
_CHAT_MESSAGE_ENDPOINTS = frozenset(
    {"sendMessage", "sendLocation", "sendPhoto", "sendDocument", "copyMessage", "forwardMessage"}
)


class KeyedLimiter:
    """One leaky bucket per key (a chat, a user), the least recently used forgotten first."""

    def __init__(self, per_second: float, burst: int, max_keys: int = 10_000) -> None:
        self._rate = per_second
        self._burst = max(1, burst)
        self._max_keys = max_keys
        self._limiters: OrderedDict[str, AsyncLimiter] = OrderedDict()

    def __call__(self, key: str) -> AsyncLimiter:
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = AsyncLimiter(self._burst, self._burst / self._rate)
            self._limiters[key] = limiter
            if len(self._limiters) > self._max_keys:
                self._limiters.popitem(last=False)
        else:
            self._limiters.move_to_end(key)
        return limiter


def retry_after_seconds(error: RetryAfter) -> float:
    value = error.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


class TelegramRateLimiter(BaseRateLimiter[None]):
    """About 30 messages/s overall and about 1/s per chat (bursts of 3), as Telegram asks.

    A 429 (`RetryAfter`) pauses every request of this bot for the time Telegram
    names, then the request is made again, up to `max_retries` times.
    """

    def __init__(
        self,
        per_second: float,
        per_chat_per_second: float,
        *,
        chat_burst: int = 3,
        max_retries: int = 3,
    ) -> None:
        self._overall = AsyncLimiter(max(1.0, per_second), 1.0)
        self._per_chat = KeyedLimiter(per_chat_per_second, chat_burst)
        self._max_retries = max_retries
        self._paused_until = 0.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        chat_id = data.get("chat_id")
        for attempt in range(self._max_retries + 1):
            pause = self._paused_until - loop.time()
            if pause > 0:
                RATE_LIMIT_WAIT.labels("telegram").inc(pause)
                await asyncio.sleep(pause)
            if chat_id is not None and endpoint in _CHAT_MESSAGE_ENDPOINTS:
                await self._per_chat(str(chat_id)).acquire()
            await self._overall.acquire()
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                if attempt == self._max_retries:
                    raise
                self._paused_until = max(
                    self._paused_until, loop.time() + retry_after_seconds(error) + 0.1
                )
        raise AssertionError("unreachable")
