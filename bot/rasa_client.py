"""HTTP client for the Rasa server (our `gateway` input channel and the status API)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from yarl import URL

from bot.metrics import RASA_ERRORS, RASA_SECONDS

__all__ = ["RasaClient", "RasaTurn", "RasaUnavailable"]

logger = logging.getLogger(__name__)


class RasaUnavailable(Exception):
    """Rasa did not answer in time, refused the connection or failed the message."""

    def __init__(self, message: str, reason: str = "failed") -> None:
        super().__init__(message)
        self.reason = reason  # a metrics label: busy, http_<status>, failed, bad_body


@dataclass(frozen=True)
class RasaTurn:
    """What Rasa did with one user message."""

    messages: list[dict[str, Any]]
    intent: str | None
    confidence: float | None
    faq_id: str | None
    entities: list[dict[str, Any]] = field(default_factory=list)


class RasaClient:
    """One aiohttp session for every call to Rasa, with explicit timeouts.

    At most `max_concurrency` messages are at Rasa at once; the rest wait here (up to
    the timeout) rather than pile up inside Rasa, where a message that times out is
    still processed and a retry would make Rasa see it twice.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        timeout_seconds: float,
        token: str | None = None,
        max_concurrency: int = 8,
    ) -> None:
        self._session = session
        self._base = URL(base_url)
        self._timeout_seconds = timeout_seconds
        # Our channel in Rasa checks this header (connectors/chat_channel.py).
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._slots = asyncio.Semaphore(max_concurrency)

    async def send(self, sender_id: str, text: str, metadata: dict[str, Any]) -> RasaTurn:
        """One turn; waiting for a free slot and the request share one RASA_TIMEOUT."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self._timeout_seconds
        try:
            async with asyncio.timeout_at(deadline):
                await self._slots.acquire()
        except TimeoutError:
            RASA_ERRORS.labels("busy").inc()
            raise RasaUnavailable("Rasa is busy (no free slot in time)") from None
        try:
            remaining = max(0.05, deadline - loop.time())
            body = await self._post(sender_id, text, metadata, remaining)
        except RasaUnavailable as error:
            RASA_ERRORS.labels(error.reason).inc()
            raise
        finally:
            self._slots.release()
        RASA_SECONDS.observe(loop.time() - started)
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            RASA_ERRORS.labels("bad_body").inc()
            raise RasaUnavailable("Rasa answered with an unexpected body")
        confidence = body.get("confidence")
        return RasaTurn(
            messages=[m for m in body["messages"] if isinstance(m, dict)],
            intent=body.get("intent"),
            confidence=float(confidence) if isinstance(confidence, int | float) else None,
            faq_id=body.get("faq_id"),
            entities=body.get("entities") or [],
        )

    async def _post(
        self, sender_id: str, text: str, metadata: dict[str, Any], timeout_seconds: float
    ) -> Any:
        payload = {"sender": sender_id, "message": text, "metadata": metadata}
        url = self._base / "webhooks" / "gateway" / "webhook"
        timeout = aiohttp.ClientTimeout(total=timeout_seconds, connect=min(2.0, timeout_seconds))
        try:
            async with self._session.post(
                url, json=payload, timeout=timeout, headers=self._headers
            ) as response:
                if response.status != 200:
                    raise RasaUnavailable(
                        f"Rasa answered HTTP {response.status}", f"http_{response.status}"
                    )
                return await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            # The class name only: nothing of the request in the logs.
            raise RasaUnavailable(f"Rasa request failed: {type(error).__name__}") from error

    async def model_loaded(self) -> bool:
        """True when our channel in Rasa answers (with the secret) and a model is loaded."""
        try:
            async with self._session.get(
                self._base / "webhooks" / "gateway" / "",
                timeout=aiohttp.ClientTimeout(total=2.0),
                headers=self._headers,
            ) as response:
                if response.status != 200:
                    return False
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            return False
        return isinstance(body, dict) and body.get("model_loaded") is True
