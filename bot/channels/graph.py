"""WhatsApp Cloud API client: one aiohttp session, timeouts, rate limit, retries."""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

import aiohttp
from aiolimiter import AsyncLimiter

from bot.metrics import RATE_LIMIT_WAIT

__all__ = ["GraphClient", "GraphError"]

logger = logging.getLogger(__name__)

# Meta's throughput errors: retry after a pause.
THROUGHPUT_CODES = frozenset({4, 80007, 130429, 131048})
PAIR_RATE_CODE = 131056  # too many messages to one user: about one per 6 s sustained
TRANSIENT_CODES = frozenset({1, 2, 131000, 133004})
OUTSIDE_WINDOW_CODE = 131047
UNDELIVERABLE_CODES = frozenset({131026, 131050})  # unreachable number; user stopped messages


class GraphError(Exception):
    """A send the Graph API refused for good (after retries where retrying made sense)."""

    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(f"HTTP {status}, code {code}: {message}")
        self.status = status
        self.code = code


class GraphClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        phone_number_id: str,
        access_token: str,
        *,
        per_second: float,
        max_attempts: int = 5,
        timeout_seconds: float = 10.0,
        backoff_seconds: float = 1.0,
    ) -> None:
        self._session = session
        self._url = f"{base_url.rstrip('/')}/{phone_number_id}/messages"
        self._headers = {"Authorization": f"Bearer {access_token}"}
        self._limiter = AsyncLimiter(max(1.0, per_second), 1.0)
        self._max_attempts = max_attempts
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds, connect=5.0)
        self._backoff = backoff_seconds

    async def send(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST one message (or read receipt); the parsed answer, or GraphError."""
        payload = {"messaging_product": "whatsapp", **body}
        last: GraphError | None = None
        for attempt in range(self._max_attempts):
            await self._limiter.acquire()
            try:
                async with self._session.post(
                    self._url, json=payload, headers=self._headers, timeout=self._timeout
                ) as response:
                    status = response.status
                    answer = await response.json(content_type=None)
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
                last = GraphError(0, None, type(error).__name__)
                await self._pause(attempt, 1.0)
                continue
            if 200 <= status < 300 and isinstance(answer, dict):
                return answer
            code, message = _error_of(answer)
            last = GraphError(status, code, message)
            if status == 429 or code in THROUGHPUT_CODES:
                await self._pause(attempt, 1.0, rate_limited=True)
            elif code == PAIR_RATE_CODE:
                await self._pause(attempt, 6.0, rate_limited=True)
            elif status >= 500 or code in TRANSIENT_CODES:
                await self._pause(attempt, 0.5)
            else:
                raise last
        assert last is not None
        raise last

    async def _pause(self, attempt: int, base: float, rate_limited: bool = False) -> None:
        delay = self._backoff * base * 2**attempt * random.uniform(0.8, 1.2)
        if rate_limited:
            RATE_LIMIT_WAIT.labels("whatsapp").inc(delay)
        await asyncio.sleep(delay)


def _error_of(answer: Any) -> tuple[int | None, str]:
    error = answer.get("error") if isinstance(answer, dict) else None
    if not isinstance(error, dict):
        return None, "unexpected answer"
    code = error.get("code")
    return (code if isinstance(code, int) else None), str(error.get("message", ""))[:200]
