"""The opt-out marker: a user who said STOP, or had their data erased, is sent nothing.

`{prefix}optout:{user}`, where `user` is `actions.pseudonym.user_key(sender id)`. The value
is "1": no text, no id, no time. The reminder engine checks it before every send, so a
broadcast or a reminder planned before the stop never goes out.

Lifetime: a year (`OPT_OUT_SECONDS`, retention policy `optout:*`). A subscription lasts a
year and a child's reminders are planned up to two years ahead, but every one of them is
ended at the stop; nobody can be subscribed again without their own new "Setuju" (which
removes the marker, as MULAI does). The marker only guards against what was already in
flight, and a year outlasts that. It is not kept forever because its name is still a
pseudonym of the user.
"""

from __future__ import annotations

from redis.asyncio import Redis

__all__ = ["OPT_OUT_SECONDS", "clear_opt_out", "is_opted_out", "mark_opted_out", "opt_out_key"]

OPT_OUT_SECONDS = 365 * 24 * 3600


def opt_out_key(prefix: str, user: str) -> str:
    return f"{prefix}optout:{user}"


async def mark_opted_out(redis: Redis, prefix: str, user: str) -> None:
    await redis.set(opt_out_key(prefix, user), "1", ex=OPT_OUT_SECONDS)


async def clear_opt_out(redis: Redis, prefix: str, user: str) -> bool:
    """Remove the marker (MULAI); False when there was none."""
    return bool(await redis.delete(opt_out_key(prefix, user)))


async def is_opted_out(redis: Redis, prefix: str, user: str) -> bool:
    return bool(await redis.exists(opt_out_key(prefix, user)))
