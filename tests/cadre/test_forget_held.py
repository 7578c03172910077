"""Erasure reaches a subscriber's address in a cadre's confirmed, not yet planned sends."""

from __future__ import annotations

import json

from redis.asyncio import Redis

from actions.reminders.model import Send
from bot.cadre import forget_held
from bot.datarights import engine_forgetters
from bot.reminders.store import encode


def send(subscriber: str, address: str) -> Send:
    return Send(
        key=f"bc:B9:{subscriber}",
        due=0.0,
        channel="telegram",
        address=address,
        text="Besok ada vitamin A",
        subscriber=subscriber,
    )


async def test_the_erased_subscriber_leaves_held_broadcasts_and_changes(
    redis: Redis, redis_prefix: str
) -> None:
    pairs = [[s.key, encode(s)] for s in (send("gone", "900111"), send("stays", "900222"))]
    await redis.set(f"{redis_prefix}cadre:out:B9", json.dumps(pairs), ex=3600)
    await redis.set(
        f"{redis_prefix}cadre:out:T1", json.dumps({"cadre": "c1", "sends": pairs}), ex=3600
    )
    assert forget_held in engine_forgetters()
    assert await forget_held(redis, redis_prefix, "gone") == 2
    for key in ("cadre:out:B9", "cadre:out:T1"):
        stored = (await redis.get(f"{redis_prefix}{key}")).decode()
        assert "900111" not in stored and "900222" in stored
        assert 0 < await redis.ttl(f"{redis_prefix}{key}") <= 3600
