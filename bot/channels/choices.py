"""Button payloads too long for a platform's id field, kept in Redis behind a short key.

Telegram's `callback_data` holds 64 bytes and WhatsApp's row ids 200 characters,
while Rasa payloads (`/choose_village{"village_code": ...}`) can be longer. Such a
payload is stored under a hash of itself and the button carries `k:<hash>`.
"""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis

__all__ = ["ChoiceStore"]

KEY_MARK = "k:"
TTL_SECONDS = 30 * 24 * 3600  # a menu may be answered days later


class ChoiceStore:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    async def button_id(self, payload: str, limit_bytes: int) -> str:
        """The payload itself when it fits in `limit_bytes`, else a short key to it."""
        if len(payload.encode()) <= limit_bytes:
            return payload
        key = hashlib.sha256(payload.encode()).hexdigest()[:20]
        await self._redis.set(f"{self._prefix}button:{key}", payload, ex=TTL_SECONDS)
        return f"{KEY_MARK}{key}"

    async def payload(self, button_id: str) -> str | None:
        """What a pressed button means; None when its stored payload has expired."""
        if not button_id.startswith(KEY_MARK):
            return button_id or None
        stored = await self._redis.get(f"{self._prefix}button:{button_id[len(KEY_MARK) :]}")
        return stored.decode() if isinstance(stored, bytes) else stored
