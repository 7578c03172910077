"""The inbox of questions the assistant could not answer, for health promoters.

Filed: low-confidence messages (nlu_fallback), health questions outside our
topics (out_of_scope_health) and other requests (out_of_scope). Phone numbers,
NIK and e-mail addresses are redacted before anything is stored, and nothing
identifies who asked (the reply promises "tanpa nama atau nomor Anda").
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from typing import Any

from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Action, Tracker
from rasa_sdk.types import DomainDict
from redis.asyncio import Redis
from redis.exceptions import RedisError

from actions.store import redis_prefix, shared_redis

logger = logging.getLogger(__name__)

INBOX_LIMIT = 10_000

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
# 16-digit NIK, and any other long run of digits (spaces, dots and dashes allowed).
_NIK = re.compile(r"(?<!\d)\d(?:[ .-]?\d){15}(?!\d)")
_PHONE = re.compile(r"(?<![\w+])(?:\+62|62|0)[ .-]?8(?:[ .-]?\d){6,12}(?!\d)")
_LONG_NUMBER = re.compile(r"(?<!\d)\d(?:[ .-]?\d){9,}(?!\d)")


def redact(text: str) -> str:
    """The text with e-mail addresses, NIK and phone numbers replaced by placeholders."""
    text = _EMAIL.sub("[email]", text)
    text = _NIK.sub("[nik]", text)
    text = _PHONE.sub("[telepon]", text)
    return _LONG_NUMBER.sub("[angka]", text)


class UnansweredInbox:
    """Newest first, capped; keeps the question and the channel, never who asked."""

    def __init__(self, redis: Redis, prefix: str = "ks:") -> None:
        self._redis = redis
        self._key = f"{prefix}inbox:unanswered"

    async def add(
        self,
        text: str,
        channel: str | None,
        guesses: list[dict[str, Any]],
        intent: str | None = None,
    ) -> None:
        item = {
            "text": redact(text),
            "intent": intent,
            "channel": channel,
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "guesses": [
                {"intent": g.get("name"), "confidence": round(float(g.get("confidence") or 0), 3)}
                for g in guesses[:3]
            ],
        }
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.lpush(self._key, json.dumps(item, ensure_ascii=False))
            pipe.ltrim(self._key, 0, INBOX_LIMIT - 1)
            await pipe.execute()

    async def latest(self, count: int = 50) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in await self._redis.lrange(self._key, 0, count - 1)]


class ActionLogUnanswered(Action):
    def __init__(self, inbox: UnansweredInbox | None = None) -> None:
        self._inbox = inbox

    def name(self) -> str:
        return "action_log_unanswered"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        message = tracker.latest_message
        text = message.get("text") or ""
        metadata = message.get("metadata") or {}
        inbox = self._inbox or UnansweredInbox(shared_redis(), redis_prefix())
        try:
            await inbox.add(
                text,
                metadata.get("channel"),
                message.get("intent_ranking") or [],
                (message.get("intent") or {}).get("name"),
            )
        except RedisError:
            logger.exception("Could not file an unanswered question")
        return []
