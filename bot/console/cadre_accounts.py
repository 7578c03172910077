"""Console accounts of cadres (role kader) and the cadres the reminders engine knows.

A kader account acts as a cadre of `actions.reminders.cadres`, so the engine's rules
(their own Posyandu, text length, broadcasts per week) apply to the console exactly as
to the chat. `console:kader:<username>` names the account's cadre id: set when a
Puskesmas officer registers a cadre with a console invitation, or made on first use for
a kader account an admin invited (a cadre of the account's Posyandu).

Delivery reports list the cadre's latest broadcasts (`cadre:recent:<cadre>`, the list the
chat's LAPORAN reads too), counted by the engine (`bot.reminders.report`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis.asyncio import Redis

from actions.posyandu.directory import Directory
from actions.posyandu.regions import time_zone_of
from actions.reminders import keys
from actions.reminders.cadres import CADRE_SECONDS, Cadre, add_cadre, get_cadre
from actions.reminders.texts import day_words, local
from actions.store import as_text
from bot.cadre import RECENT_KEPT, RECENT_SECONDS
from bot.console.auth import Account
from bot.reminders.report import report

__all__ = [
    "BroadcastReport",
    "cadre_of",
    "link_account",
    "linked_accounts",
    "remember_broadcast",
    "reports",
    "unlink_account",
]


def _key(prefix: str, username: str) -> str:
    return f"{prefix}console:kader:{username}"


async def link_account(redis: Redis, prefix: str, username: str, cadre_id: str) -> None:
    """The console account `username` (invited or not yet) acts as this cadre."""
    await redis.set(_key(prefix, username), cadre_id, ex=CADRE_SECONDS)


async def linked_accounts(
    redis: Redis, prefix: str, accounts: list[Account], cadre_id: str
) -> list[str]:
    """The console accounts (of `accounts`) that act as this cadre."""
    if not accounts:
        return []
    stored = await redis.mget([_key(prefix, a.username) for a in accounts])
    return [
        a.username for a, s in zip(accounts, stored, strict=True) if s and as_text(s) == cadre_id
    ]


async def unlink_account(redis: Redis, prefix: str, username: str) -> None:
    await redis.delete(_key(prefix, username))


async def cadre_of(
    redis: Redis, prefix: str, account: Account, directory: Directory, now: float
) -> Cadre | None:
    """The account's cadre, registered for the account's Posyandu that exist; None when
    none of them is in the directory."""
    own = [pid for pid in account.regions if await directory.get(pid) is not None]
    stored = await redis.get(_key(prefix, account.username))
    cadre = await get_cadre(redis, prefix, as_text(stored)) if stored is not None else None
    if cadre is not None and set(own) <= set(cadre.posyandu_ids):
        await redis.expire(_key(prefix, account.username), CADRE_SECONDS)
        return cadre
    if not own:
        return None
    cadre = await add_cadre(redis, prefix, own, now, directory=directory)
    await link_account(redis, prefix, account.username, cadre.id)
    return cadre


async def remember_broadcast(redis: Redis, prefix: str, cadre_id: str, broadcast_id: str) -> None:
    """Keep a confirmed broadcast in the cadre's latest, as the chat does after SIARAN."""
    recent = keys.cadre_recent(prefix, cadre_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zadd(recent, {broadcast_id: time.time()})
        pipe.zremrangebyrank(recent, 0, -(RECENT_KEPT + 1))
        pipe.expire(recent, RECENT_SECONDS)
        await pipe.execute()


@dataclass(frozen=True)
class BroadcastReport:
    id: str
    posyandu_id: str
    name: str
    when: str  # "Jumat, 9 Januari 2026 pukul 16.00 WITA"
    recipients: int
    counts: dict[str, int]


async def reports(
    redis: Redis, prefix: str, cadre: Cadre, visible: tuple[str, ...], directory: Directory
) -> list[BroadcastReport]:
    """The cadre's latest broadcasts to the Posyandu in `visible`, newest first."""
    found = []
    for raw in await redis.zrevrange(keys.cadre_recent(prefix, cadre.id), 0, RECENT_KEPT - 1):
        broadcast_id = as_text(raw)
        sent = {
            as_text(k): as_text(v)
            for k, v in (await redis.hgetall(keys.cadre_sent(prefix, broadcast_id))).items()
        }
        posyandu_id = sent.get("posyandu", "")
        if posyandu_id not in visible:
            continue
        record = await directory.get(posyandu_id)
        zone = time_zone_of(record.village_code) if record else "WIB"
        at = local(float(sent.get("send_at") or 0), zone)
        found.append(
            BroadcastReport(
                id=broadcast_id,
                posyandu_id=posyandu_id,
                name=record.name if record else posyandu_id,
                when=f"{day_words(at.date())} pukul {at:%H.%M} {zone}",
                recipients=int(sent.get("recipients") or 0),
                counts=await report(redis, prefix, broadcast_id),
            )
        )
    return found
