"""HTTP client for the Rasa server (our `gateway` input channel and the status API)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from yarl import URL

__all__ = ["RasaClient", "RasaTurn", "RasaUnavailable"]

logger = logging.getLogger(__name__)


class RasaUnavailable(Exception):
    """Rasa did not answer in time, refused the connection or failed the message."""


@dataclass(frozen=True)
class RasaTurn:
    """What Rasa did with one user message."""

    messages: list[dict[str, Any]]
    intent: str | None
    confidence: float | None
    faq_id: str | None
    entities: list[dict[str, Any]] = field(default_factory=list)


class RasaClient:
    """One aiohttp session for every call to Rasa, with explicit timeouts."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        timeout_seconds: float,
        token: str | None = None,
    ) -> None:
        self._session = session
        self._base = URL(base_url)
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds, connect=2.0)
        self._params = {"token": token} if token else {}

    async def send(self, sender_id: str, text: str, metadata: dict[str, Any]) -> RasaTurn:
        payload = {"sender": sender_id, "message": text, "metadata": metadata}
        url = self._base / "webhooks" / "gateway" / "webhook"
        try:
            async with self._session.post(
                url, json=payload, timeout=self._timeout, params=self._params
            ) as response:
                if response.status != 200:
                    raise RasaUnavailable(f"Rasa answered HTTP {response.status}")
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            # The class name only: a URL in the message could carry RASA_TOKEN into the logs.
            raise RasaUnavailable(f"Rasa request failed: {type(error).__name__}") from error
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            raise RasaUnavailable("Rasa answered with an unexpected body")
        confidence = body.get("confidence")
        return RasaTurn(
            messages=[m for m in body["messages"] if isinstance(m, dict)],
            intent=body.get("intent"),
            confidence=float(confidence) if isinstance(confidence, int | float) else None,
            faq_id=body.get("faq_id"),
            entities=body.get("entities") or [],
        )

    async def model_loaded(self) -> bool:
        """True when Rasa answers its status API with a loaded model."""
        try:
            async with self._session.get(
                self._base / "status",
                timeout=aiohttp.ClientTimeout(total=2.0),
                params=self._params,
            ) as response:
                if response.status != 200:
                    return False
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            return False
        return isinstance(body, dict) and bool(body.get("model_file"))
