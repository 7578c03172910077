"""The gateway's part of the user's data rights (the rest is actions/datarights.py).

- STOP and MULAI (bot/stopwords.py) are obeyed here, without Rasa.
- Erasure confirmed in a Rasa turn is done here, once that turn's reply is out: Rasa
  saves the tracker after the action, and WhatsApp needs the window key to send the reply.
- A stop understood by Rasa (`action_stop_all`) is finished here.

Planned sends of the reminder engine (bot/reminders/store.py, which the action server
does not have) are forgotten on each.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from redis.asyncio import Redis

from actions.datarights import (
    ErasureReport,
    Forget,
    erase,
    erasure_requested,
    start_again,
    stop_everything,
    stop_requested,
)
from bot.stopwords import Command

__all__ = ["after_turn", "engine_forgetters", "obey"]

ENGINE_STORE = "bot.reminders.store"


async def obey(redis: Redis, prefix: str, command: Command, sender_id: str) -> str | None:
    """Do what STOP or MULAI asks; the reply. None for a MULAI of a user who had not
    stopped: the message then goes to the assistant as usual. Raises RedisError."""
    if command == "stop":
        return await stop_everything(redis, prefix, sender_id, forget=engine_forgetters())
    return await start_again(redis, prefix, sender_id)


async def after_turn(
    redis: Redis, prefix: str, sender_id: str, rasa_messages: Iterable[Any]
) -> ErasureReport | None:
    """Finish what this turn's actions asked for: an erasure (its report), or a stop whose
    planned sends only the gateway can forget. None when the turn asked for neither.

    Raises RedisError (the final transaction of an erasure not done; safe to call again).
    """
    messages = list(rasa_messages)
    if erasure_requested(messages):
        return await erase(redis, prefix, sender_id, forget=engine_forgetters())
    if stop_requested(messages):
        await stop_everything(redis, prefix, sender_id, forget=engine_forgetters())
    return None


def engine_forgetters() -> tuple[Forget, ...]:
    """The engine's `forget_subscriber`, when the engine is installed."""
    try:
        engine = importlib.import_module(ENGINE_STORE)
    except ModuleNotFoundError as error:
        if error.name in ("bot.reminders", ENGINE_STORE):
            return ()
        raise
    from bot.cadre import forget_held

    forget: Forget = engine.forget_subscriber
    return (forget, forget_held)
