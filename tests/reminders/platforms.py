"""The fake Telegram and Graph API servers, holding senders to a platform's rate limit.

Subclasses of `tests.fakes` that answer like the platforms do when a sender goes too
fast: Telegram 429 with `retry_after`, the Graph API error 130429. The limit is a
token bucket (`per_second`, bursts of one second's worth), the model behind both
platforms' documented throughput. Used by the reminder tests and `bench/reminders.py`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.graph_api import FakeGraph, _error
from tests.fakes.telegram_api import FakeTelegram

__all__ = ["Bucket", "LimitedGraph", "LimitedTelegram"]


@dataclass
class Bucket:
    per_second: float
    burst: float = 0.0
    tokens: float = -1.0
    updated: float = field(default_factory=time.monotonic)
    refused: int = 0

    def take(self) -> bool:
        now = time.monotonic()
        capacity = self.burst or self.per_second
        if self.tokens < 0:
            self.tokens = capacity
        self.tokens = min(capacity, self.tokens + (now - self.updated) * self.per_second)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        self.refused += 1
        return False


@dataclass
class LimitedTelegram(FakeTelegram):
    limit: Bucket | None = None

    def _take_failure(self, method: str) -> tuple[int, Any] | None:
        failure = super()._take_failure(method)
        if failure is None and method == "sendMessage" and self.limit and not self.limit.take():
            return 429, {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 1",
                "parameters": {"retry_after": 1},
            }
        return failure


@dataclass
class LimitedGraph(FakeGraph):
    limit: Bucket | None = None

    def _answer(self, request: web.Request, body: Any) -> tuple[int, dict[str, Any]]:
        status, answer = super()._answer(request, body)
        if status == 200 and self.limit and body.get("status") != "read" and not self.limit.take():
            return _error(400, 130429, "Rate limit hit")
        return status, answer
