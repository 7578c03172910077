"""The inbox of questions the assistant could not answer, for health promoters.

Filed: low-confidence messages (nlu_fallback), health questions outside our
topics (out_of_scope_health) and other requests (out_of_scope). Phone numbers,
NIK and e-mail addresses are redacted before anything is stored, and nothing
promoters read identifies who asked (the reply promises "tanpa nama atau nomor
Anda"). So that "hapus data saya" can erase a user's questions, a separate set
per user (`inbox:unanswered:user:<user_key>`, a keyed pseudonym, 90 days) lists
the ids of their items; it is never shown with the questions.

An item may carry a `region`: the kecamatan code (never finer) of the asker's Posyandu,
when known, so the console shows a Puskesmas officer the questions of their kecamatan.
Items filed before regions were kept have none (read them with `.get("region")`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import uuid
from typing import Any

from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Action, Tracker
from rasa_sdk.types import DomainDict
from redis.asyncio import Redis
from redis.exceptions import RedisError

from actions.posyandu.regions import kecamatan_of
from actions.pseudonym import user_key
from actions.reminders.store import home_desa
from actions.store import as_text, redis_prefix, shared_redis

logger = logging.getLogger(__name__)

INBOX_LIMIT = 10_000
RETENTION = dt.timedelta(days=90)

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
    """Newest first, capped; keeps the question and the channel, never who asked.

    Each question is its own key with a 90-day expiry, so Redis itself deletes it
    on time (UU PDP retention; `utter_my_data` says "paling lama 90 hari"). A
    sorted set of ids by time, holding nothing personal, orders them. The asker's
    pseudonym is only in their own id set (`user_index_key`), for erasure.
    """

    def __init__(self, redis: Redis, prefix: str = "ks:", *, limit: int = INBOX_LIMIT) -> None:
        self._redis = redis
        self._prefix = prefix
        self._index = f"{prefix}inbox:unanswered"
        self._item = f"{prefix}inbox:unanswered:item:"
        self._by_user = f"{prefix}inbox:unanswered:user:"
        self._limit = limit

    async def home_desa(self, sender_id: str) -> str | None:
        """The desa code of the user's Posyandu (`home_desa`), or None."""
        return await home_desa(self._redis, self._prefix, sender_id)

    @property
    def index_key(self) -> str:
        return self._index

    def item_key(self, item_id: str) -> str:
        return self._item + item_id

    def user_index_key(self, user: str) -> str:
        """The set of one user's item ids (`user` is `actions.pseudonym.user_key`)."""
        return self._by_user + user

    async def item_ids_of(self, user: str, *, kept_only: bool = True) -> list[str]:
        """Ids of the user's questions still kept (with `kept_only=False`, also those whose
        text has expired and whose id may still be in the index)."""
        members = await self._redis.smembers(self.user_index_key(user))
        ids = sorted(as_text(m) for m in members)
        if not ids or not kept_only:
            return ids
        async with self._redis.pipeline(transaction=False) as pipe:
            for item_id in ids:
                pipe.exists(self.item_key(item_id))
            present = await pipe.execute()
        return [i for i, here in zip(ids, present, strict=True) if here]

    async def add(
        self,
        text: str,
        channel: str | None,
        guesses: list[dict[str, Any]],
        intent: str | None = None,
        sender_id: str | None = None,
        region: str | None = None,
    ) -> None:
        """File a question. `region`: the asker's kecamatan or desa code, if known; only
        the kecamatan is kept."""
        now = dt.datetime.now(dt.UTC)
        item = {
            "text": redact(text),
            "intent": intent,
            "channel": channel,
            "at": now.isoformat(timespec="seconds"),
            "guesses": [
                {"intent": g.get("name"), "confidence": round(float(g.get("confidence") or 0), 3)}
                for g in guesses[:3]
            ],
        }
        kecamatan = kecamatan_of(region)
        if kecamatan is not None:  # only when known: items keep their old shape otherwise
            item["region"] = kecamatan
        item_id = uuid.uuid4().hex
        stamp = now.timestamp()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._item + item_id, json.dumps(item, ensure_ascii=False), ex=RETENTION)
            pipe.zadd(self._index, {item_id: stamp})
            pipe.zremrangebyscore(self._index, "-inf", stamp - RETENTION.total_seconds())
            pipe.zrange(self._index, 0, -self._limit - 1)
            pipe.expire(self._index, RETENTION)
            if sender_id:
                # Outlives every item it lists: each expires 90 days after it was filed.
                by_user = self.user_index_key(user_key(sender_id))
                pipe.sadd(by_user, item_id)
                pipe.expire(by_user, RETENTION)
            overflow = (await pipe.execute())[3]
        if overflow:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zrem(self._index, *overflow)
                pipe.delete(*[self._item + as_text(old) for old in overflow])
                await pipe.execute()

    async def latest(self, count: int = 50) -> list[dict[str, Any]]:
        ids = await self._redis.zrevrange(self._index, 0, count - 1)
        if not ids:
            return []
        raws = await self._redis.mget([self._item + as_text(i) for i in ids])
        return [json.loads(raw) for raw in raws if raw is not None]


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
        region = None
        try:  # the kecamatan lets the console show Puskesmas officers their area's questions
            region = await inbox.home_desa(tracker.sender_id)
        except RedisError as error:
            logger.warning("Unanswered question filed without region (%s)", type(error).__name__)
        try:
            await inbox.add(
                text,
                metadata.get("channel"),
                message.get("intent_ranking") or [],
                (message.get("intent") or {}).get("name"),
                tracker.sender_id,
                region,
            )
        except RedisError:
            logger.exception("Could not file an unanswered question")
        return []
