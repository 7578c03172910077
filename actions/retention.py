"""How long each kind of per-user data lives, and the job that enforces it.

Every writer sets an expiry when it writes (the table below is the policy; the
README's "Retention" section says the same in words). The job is the safety
net: keys written by older code, by hand, or by a writer that forgot get the
expiry of their kind (never a longer one), old dead letters are trimmed, and
the index of the unanswered inbox forgets entries whose texts have expired.

The gateway runs it every hour (one instance at a time, by a Redis lock);
`python -m actions.retention` runs it once (cron, or after an import).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from actions.store import redis_prefix, shared_redis

__all__ = ["POLICY", "Kind", "RetentionReport", "enforce", "run_once_per_interval"]

logger = logging.getLogger(__name__)

DAY = 24 * 3600


@dataclass(frozen=True)
class Kind:
    pattern: str  # after the key prefix
    max_seconds: int
    what: str


POLICY: tuple[Kind, ...] = (
    Kind("tracker:*", 30 * DAY, "Rasa conversation (latest session, at most 50 events)"),
    Kind("lock:*", DAY, "Rasa conversation lock"),
    Kind("answer:*", 3600, "an answer waiting to be sent"),
    Kind("seen:*", 7 * DAY, "ids of delivered webhooks (duplicates dropped)"),
    Kind("flood:*", 120, "messages per minute of one user"),
    Kind("rl:*", 120, "web chat requests per minute (IP, session)"),
    Kind("notice:down:*", 600, "'try again shortly' already sent"),
    Kind("web:issued:*", DAY, "buttons offered in the web chat"),
    Kind("button:*", 30 * DAY, "long button payloads (no personal data)"),
    Kind("wa:window:*", DAY, "WhatsApp 24-hour service window"),
    Kind("wa:menu:*", DAY, "WhatsApp numbered menu"),
    Kind("wa:status:*", 7 * DAY, "WhatsApp delivery status of a message"),
    Kind("unreachable:*", 90 * DAY, "user blocked the bot or left"),
    Kind("pos:mine:*", 365 * DAY, "the user's saved Posyandu"),
    Kind("inbox:unanswered:item:*", 90 * DAY, "an unanswered question (redacted)"),
    Kind("inbox:unanswered:user:*", 90 * DAY, "ids of one user's unanswered questions (erasure)"),
    # Data rights (actions/optout.py): value "1", no content. A year outlasts anything planned
    # before a STOP or an erasure; nobody is subscribed again without a new "Setuju" (which,
    # like MULAI, removes it), and its name is still a pseudonym, so it is not kept for ever.
    Kind("optout:*", 365 * DAY, "opt-out marker: no reminder or broadcast is sent"),
    # The sending engine (bot/reminders/store.py); every one also expires when written.
    Kind("rem:item:*", 365 * DAY, "a planned reminder or broadcast message (address, text)"),
    Kind("rem:sub:*", 365 * DAY, "keys of a subscriber's planned messages (no content)"),
    Kind("rem:done:*", 60 * DAY, "outcome of a send, by its key (sent, failed, ...)"),
    Kind("rem:try:*", 7 * DAY, "a send in progress (worker and start time)"),
    Kind("rem:alive:*", 60, "a reminder worker's heartbeat"),
    Kind("rem:report:*", 90 * DAY, "a broadcast's delivery counters (no personal data)"),
    Kind("rem:wamid:*", 7 * DAY, "the broadcast a WhatsApp message belongs to"),
    # The reminder store (actions/reminders/keys.py): a subscription lasts a year; a
    # child's reminders last until the second birthday, the planner extending the record
    # a year at most at a time (were the planner gone, it would go within a year).
    Kind("u:*:rem", 365 * DAY, "a user's reminders: contact, consents, subscriptions, children"),
    Kind("u:*:cadre", 365 * DAY, "the cadre an account is linked to"),
    Kind("possubs:*", 365 * DAY, "subscribers of one Posyandu (pseudonyms)"),
    Kind("posplan", 365 * DAY, "Posyandu with subscribers, by next planning time"),
    Kind("imm:due", 365 * DAY, "children with reminders, by next planning time (pseudonyms)"),
    Kind("cadre:rec:*", 365 * DAY, "a cadre: their Posyandu and linked account"),
    Kind("cadre:ids", 365 * DAY, "ids of registered cadres"),
    Kind("cadre:code:*", DAY, "a cadre's one-time link code"),
    Kind("cadre:tries:*", DAY, "link-code attempts of one account"),
    Kind("cadre:draft:*", DAY, "a broadcast waiting for the cadre's confirmation"),
    Kind("cadre:bc:*", 30 * DAY, "a confirmed broadcast (no text), for its delivery report"),
    Kind("cadre:week:*", 8 * DAY, "a Posyandu's broadcasts of the last 7 days"),
    # Cadre commands in the chat (bot/cadre.py).
    Kind("cadre:ask:*", 3600, "a cadre's command waiting for their choice or confirmation"),
    Kind("cadre:out:*", 3600, "notices of a confirmed cadre command until they are planned"),
    Kind("cadre:recent:*", 30 * DAY, "ids of a cadre's latest broadcasts (no text), for LAPORAN"),
    # The console's dashboard (bot/console/stats.py). Its aggregates (`stats:q:`, `stats:p:`,
    # `stats:kabs:`, `stats:rem:`) are not per-user data and are not listed: counts per topic,
    # region and week, and HyperLogLogs of a keyed pseudonym that cannot list, or remove, one
    # person; each expires two years after its week (EXPIREAT when written). Erasure has
    # nothing to take out of them. What is per message is this map, named by a keyed hash of
    # the WhatsApp message id (which carries the number):
    Kind("stats:wamid:*", 7 * DAY, "the Posyandu a WhatsApp reminder was for (delivery count)"),
)
DEAD_LETTER_MAX_AGE = 30 * DAY
UNANSWERED_INDEX = "inbox:unanswered"
DEAD_LETTERS = "deadletter"
LOCK = "retention:lock"


@dataclass
class RetentionReport:
    scanned: int = 0
    expiry_set: int = 0
    dead_letters_trimmed: int = 0
    index_trimmed: int = 0


async def enforce(redis: Redis, prefix: str, now: float | None = None) -> RetentionReport:
    """Apply the policy to every key under `prefix`; safe to run at any time, repeatedly."""
    report = RetentionReport()
    now = time.time() if now is None else now
    for kind in POLICY:
        batch: list[bytes | str] = []
        async for key in redis.scan_iter(match=f"{prefix}{kind.pattern}", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                await _cap(redis, batch, kind, report)
                batch = []
        if batch:
            await _cap(redis, batch, kind, report)
    oldest = f"{int((now - DEAD_LETTER_MAX_AGE) * 1000)}-0"
    try:
        report.dead_letters_trimmed = int(
            await redis.xtrim(f"{prefix}{DEAD_LETTERS}", minid=oldest, approximate=False)
        )
    except RedisError as error:  # no stream yet, or another type under the name
        logger.debug("Retention: dead letters not trimmed (%s)", type(error).__name__)
    report.index_trimmed = int(
        await redis.zremrangebyscore(f"{prefix}{UNANSWERED_INDEX}", "-inf", now - 90 * DAY)
    )
    return report


async def _cap(redis: Redis, keys: list[bytes | str], kind: Kind, report: RetentionReport) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.ttl(key)
        ttls = await pipe.execute()
    report.scanned += len(keys)
    too_long = [k for k, ttl in zip(keys, ttls, strict=True) if ttl == -1 or ttl > kind.max_seconds]
    if not too_long:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for key in too_long:
            pipe.expire(key, kind.max_seconds)
        await pipe.execute()
    report.expiry_set += len(too_long)


async def run_once_per_interval(redis: Redis, prefix: str, interval_seconds: int) -> bool:
    """Run the job unless another instance ran it in this interval; True when it ran."""
    if not await redis.set(f"{prefix}{LOCK}", "1", nx=True, ex=interval_seconds):
        return False
    report = await enforce(redis, prefix)
    logger.info(
        "Retention: %d keys checked, %d given their expiry, %d dead letters and %d inbox"
        " index entries past their time removed",
        report.scanned,
        report.expiry_set,
        report.dead_letters_trimmed,
        report.index_trimmed,
    )
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Enforce the retention policy once")
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    async def run() -> RetentionReport:
        redis = shared_redis()
        try:
            return await enforce(redis, redis_prefix())
        finally:
            await redis.aclose()

    report = asyncio.run(run())
    print(
        f"{report.scanned} keys checked, {report.expiry_set} given their expiry,"
        f" {report.dead_letters_trimmed} dead letters and {report.index_trimmed} inbox index"
        " entries removed"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
