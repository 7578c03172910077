"""Reminder engine benchmark: a national-scale schedule, the send rate, and kill -9.

1. Plans 1,000,000 synthetic sends across the country through `bot.reminders.schedule`
   (the production script): 400,000 subscribers, villages in WIB, WITA and WIT by
   population (about 78/16/6 %), 85 % on WhatsApp, over the seven days from a Monday
   16.00 WIB, at the planners' hours (the eve at 16.00 local, the morning at 06.30, a
   child's dose three days ahead at 16.00, cadre broadcasts in daytime). Reports the
   planning rate, the Redis memory per planned send (used_memory growth: the send, its
   place in the sorted set, the subscriber's index), and the time the mover takes to
   find and enqueue everything due in the next hour (the busiest: 16.00-17.00 WIB).
2. Send rate: a worker process (`python -m bot.reminders`, the gateway's senders and
   limiters) sends to the fake Telegram and Graph API servers, which hold it to the
   platforms' limits (Telegram 30/s, WhatsApp 80/s: 429 / 130429 above them). Reports
   the rate (first to last message) as a share of the configured limit, the 429s the
   fakes answered and the sends that failed for good because of them (unhandled).
3. Kill -9: a broadcast of 5,000 (limits raised to 250/s so it runs for seconds), the
   worker killed with SIGKILL at 25 %, 50 % and 75 % and started again each time (as the
   same instance, then as another one). Meta's "sent" status webhook is emulated for every
   accepted WhatsApp message. Reports lost and duplicated messages as the platforms saw
   them, and the Telegram sends resent in doubt (in flight at a kill).

Run: make bench-reminders  (Redis: KS_BENCH_REDIS_URL, else 127.0.0.1:6379 db 13; every
key lives under a fresh ksbench:<random>: prefix and is deleted at the end.)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from actions.reminders.model import Send
from bot.reminders import record_status, report, schedule
from bot.reminders.quiet import is_quiet
from bot.reminders.store import Keys, promote
from bot.reminders.worker import send_digest
from tests.reminders.platforms import Bucket, LimitedGraph, LimitedTelegram

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "build" / "bench" / "reminders.json"
REDIS_URL = "redis://127.0.0.1:6379/13"  # tests 15, bench-nlu/channels 14, bench-posyandu 12
TOTAL = 1_000_000
SUBSCRIBERS = 400_000
ZONES = ((7, 0.78), (8, 0.16), (9, 0.06))  # WIB, WITA, WIT: share of the population
WHATSAPP_SHARE = 0.85
TELEGRAM_LIMIT, WHATSAPP_LIMIT = 30.0, 80.0
RATE_SECONDS = 30  # how long each channel is kept busy in the rate run
KILL_SENDS, KILL_LIMIT = 5000, 250.0
KILLS_AT = (0.25, 0.5, 0.75)
PHONE_ID, GRAPH_VERSION = "1098765432", "v23.0"
TEMPLATE = "kawan_sehat_pengingat"  # approved in the fake Graph API
TARGETS = {"rate_ratio": 0.95, "lost": 0, "duplicated": 0}
TEXT = (
    "Pengingat: besok {day} ada Posyandu {name} pukul 08.00-11.00 di {place}. "
    "Bawa buku KIA ya, Bu. Balas STOP untuk berhenti."
)


WIB = dt.timezone(dt.timedelta(hours=7))


def next_monday_16_wib() -> float:
    today = dt.datetime.now(WIB).date()
    monday = today + dt.timedelta(days=(7 - today.weekday()) % 7 or 7)
    return dt.datetime.combine(monday, dt.time(16, 0), WIB).timestamp()


def local_at(day: float, offset: int, hour: int, minute: int) -> float:
    """`hour:minute` local time on the day (in that zone) `day` falls on."""
    moment = dt.datetime.fromtimestamp(day, dt.timezone(dt.timedelta(hours=offset)))
    return moment.replace(hour=hour, minute=minute, second=0, microsecond=0).timestamp()


def plan(rng: random.Random, start: float) -> Iterator[Send]:
    """The synthetic national schedule: TOTAL sends due in the week from `start`."""
    zones = [offset for offset, _ in ZONES]
    weights = [share for _, share in ZONES]
    users = []
    for number in range(SUBSCRIBERS):
        whatsapp = rng.random() < WHATSAPP_SHARE
        address = (
            f"628{rng.randrange(10**9, 10**10)}"
            if whatsapp
            else str(rng.randrange(10**9, 7 * 10**9))
        )
        users.append(
            (
                f"{number:024x}",
                "whatsapp" if whatsapp else "telegram",
                address,
                rng.choices(zones, weights)[0],
                f"P{rng.randrange(300_000):06d}",
            )
        )
    for number in range(TOTAL):
        user, channel, address, offset, posyandu = users[number % SUBSCRIBERS]
        day = start + rng.randrange(7) * 86400
        kind = rng.random()
        if kind < 0.4:
            key, due, name = "eve", local_at(day, offset, 16, 0), "eve"
        elif kind < 0.75:
            key, due, name = "day", local_at(day, offset, 6, 30), "day"
        elif kind < 0.95:
            key, due, name = "imm", local_at(day, offset, 16, 0), "imm"
        else:
            key, due, name = (
                "bc",
                local_at(
                    day,
                    offset,
                    rng.randrange(8, 18),
                    rng.randrange(60),
                ),
                "bc",
            )
        if due < start:
            due += 7 * 86400
        session = dt.date.fromtimestamp(due + 86400).isoformat()
        broadcast = f"B{rng.randrange(2000)}" if name == "bc" else None  # ~2,000 a week
        yield Send(
            key=f"{key}:{posyandu}:{session}:{number}:{user}",
            due=due,
            channel=channel,
            address=address,
            text=TEXT.format(day="Selasa", name=f"Melati {posyandu[-3:]}", place="balai desa"),
            utc_offset_hours=offset,
            template=None,
            params=("Melati", "Selasa, 10 Juni", "08.00-11.00", "balai desa"),
            buttons=(("Berhenti", "/unsubscribe"),),
            broadcast=broadcast,
            subscriber=user,
            extra={"kind": name, "posyandu": posyandu, "session": session},
        )


def awake_offset() -> int:
    """A UTC offset where it is daytime now (the rate and kill runs must not be held)."""
    now = time.time()
    for offset in (7, 8, 9, *range(-12, 15)):
        hour = dt.datetime.fromtimestamp(now + offset * 3600, dt.UTC).hour
        if 7 <= hour < 19 and not is_quiet(now + 3600, offset):
            return offset
    raise AssertionError("unreachable")


def broadcast(count: int, prefix: str, offset: int) -> list[Send]:
    sends = []
    for number in range(count):
        whatsapp = number % 2 == 1
        sends.append(
            Send(
                key=f"bc:{prefix}:{number}",
                due=time.time() - 1,
                channel="whatsapp" if whatsapp else "telegram",
                address=f"62812{number:08d}" if whatsapp else str(100000 + number),
                text=TEXT.format(day="Selasa", name="Melati", place="balai desa"),
                utc_offset_hours=offset,
                params=("Melati", "Selasa, 10 Juni", "08.00-11.00", "balai desa"),
                broadcast="BENCH",
                subscriber=f"s{number}",
            )
        )
    return sends


class Platforms:
    """The fakes in this process, recording who got what and when."""

    def __init__(self, telegram_limit: float, whatsapp_limit: float) -> None:
        self.telegram = LimitedTelegram(limit=Bucket(telegram_limit))
        self.graph = LimitedGraph(
            phone_number_id=PHONE_ID, version=GRAPH_VERSION, limit=Bucket(whatsapp_limit)
        )
        self.received: Counter[str] = Counter()
        self.times: dict[str, list[float]] = {"telegram": [], "whatsapp": []}
        self.statuses: list[asyncio.Future[None]] = []
        self.urls = ("", "")

    async def start(self, redis: Redis, prefix: str, keys_by_chat: dict[int, str]) -> None:
        def on_telegram(params: dict[str, Any]) -> None:
            self.received.update([keys_by_chat[params["chat_id"]]])
            self.times["telegram"].append(time.monotonic())

        def on_whatsapp(body: dict[str, Any]) -> None:
            key = body["biz_opaque_callback_data"]
            self.received.update([key])
            self.times["whatsapp"].append(time.monotonic())
            # Meta's "sent" status webhook, naming the send.
            self.statuses.append(asyncio.ensure_future(status(key)))

        webhooks = asyncio.Semaphore(10)  # Meta's deliveries, a few at a time

        async def status(key: str) -> None:
            async with webhooks:
                await record_status(redis, prefix, f"wamid.{key}", "sent", reference=key)

        self.telegram.listeners.append(on_telegram)
        self.graph.listeners.append(on_whatsapp)
        self.urls = (await self.telegram.start(), await self.graph.start())

    async def close(self) -> None:
        await asyncio.gather(*self.statuses)
        await self.telegram.close()
        await self.graph.close()


def worker(
    redis_url: str, prefix: str, urls: tuple[str, str], limits: tuple[float, float], consumer: str
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "REDIS_URL": redis_url,
        "KS_REDIS_PREFIX": prefix,
        "KS_SECRET_KEY": "bench-reminders-secret-0123456789",
        "KS_REMINDER_WORKERS": "16",
        "TELEGRAM_BOT_TOKEN": "123456:TEST-token",
        "TELEGRAM_API_BASE_URL": urls[0],
        "TELEGRAM_MESSAGES_PER_SECOND": str(limits[0]),
        "TELEGRAM_CHAT_MESSAGES_PER_SECOND": "1",
        "WHATSAPP_ACCESS_TOKEN": "EAAtest",
        "WHATSAPP_PHONE_NUMBER_ID": PHONE_ID,
        "WHATSAPP_API_BASE_URL": f"{urls[1]}/{GRAPH_VERSION}",
        "WHATSAPP_MESSAGES_PER_SECOND": str(limits[1]),
        "KS_WA_TEMPLATE_REMINDER": TEMPLATE,
        "KS_WA_TEMPLATE_BROADCAST": TEMPLATE,
        "LOG_LEVEL": "ERROR",
    }
    arguments = ["--consumer", consumer, "--alive-seconds", "2", "--doubt-wait-seconds", "5"]
    arguments += ["--claim-idle-seconds", "3", "--poll-seconds", "0.2"]
    return subprocess.Popen([sys.executable, "-m", "bot.reminders", *arguments], env=env, cwd=ROOT)


async def until(check: Callable[[], bool | Awaitable[bool]], timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while True:
            result = check()
            if not isinstance(result, bool):
                result = await result
            if result:
                return
            await asyncio.sleep(0.01)


async def drained(redis: Redis, prefix: str) -> bool:
    keys = Keys(prefix)
    return not (int(await redis.xlen(keys.stream)) or int(await redis.zcard(keys.due)))


async def national(redis: Redis, prefix: str) -> dict[str, Any]:
    start = next_monday_16_wib()  # the busiest hour of the day comes first
    print(f"Planning {TOTAL:,} sends ...", flush=True)
    before = int((await redis.info("memory"))["used_memory"])
    started = time.perf_counter()
    batch: list[Send] = []
    for send in plan(random.Random(42), start):
        batch.append(send)
        if len(batch) == 10_000:
            await schedule(redis, prefix, batch, now=start)
            batch = []
    if batch:
        await schedule(redis, prefix, batch, now=start)
    plan_s = time.perf_counter() - started
    after = int((await redis.info("memory"))["used_memory"])
    keys = Keys(prefix)
    planned = int(await redis.zcard(keys.due))
    sample = [s for _, s in zip(range(100_000), plan(random.Random(42), start), strict=False)]
    again_started = time.perf_counter()
    again = await schedule(redis, prefix, sample, now=start)
    again_s = time.perf_counter() - again_started
    due_next_hour = int(await redis.zcount(keys.due, "-inf", start + 3600))
    started = time.perf_counter()
    moved = 0
    while True:
        count = await promote(redis, prefix, start + 3600, limit=1000, max_backlog=10**9)
        moved += max(0, count)
        if count < 1000:
            break
    enqueue_s = time.perf_counter() - started
    return {
        "planned": planned,
        "plan_seconds": round(plan_s, 1),
        "plan_per_second": round(TOTAL / plan_s),
        "replan_100k_seconds": round(again_s, 2),
        "replan_unchanged": again.unchanged,
        "bytes_per_send": round((after - before) / planned),
        "redis_mb": round((after - before) / 2**20, 1),
        "due_next_hour": due_next_hour,
        "enqueued_next_hour": moved,
        "enqueue_seconds": round(enqueue_s, 3),
    }


def steady_rate(times: list[float]) -> float:
    """Messages per second from the first to the last (the limiters' first burst included)."""
    if len(times) < 2:
        return float("nan")
    return (len(times) - 1) / (times[-1] - times[0])


async def rate_run(redis: Redis, redis_url: str, prefix: str) -> dict[str, Any]:
    offset = awake_offset()
    tg_count, wa_count = int(TELEGRAM_LIMIT * RATE_SECONDS), int(WHATSAPP_LIMIT * RATE_SECONDS)
    sends = [s for s in broadcast(2 * wa_count, prefix, offset) if s.channel == "whatsapp"]
    sends += [s for s in broadcast(2 * tg_count, prefix + "t", offset) if s.channel == "telegram"]
    platforms = Platforms(TELEGRAM_LIMIT, WHATSAPP_LIMIT)
    by_chat = {int(s.address): s.key for s in sends if s.channel == "telegram"}
    await platforms.start(redis, prefix, by_chat)
    await schedule(redis, prefix, sends)
    print(f"Sending {len(sends):,} at the platforms' limits ...", flush=True)
    process = worker(redis_url, prefix, platforms.urls, (TELEGRAM_LIMIT, WHATSAPP_LIMIT), "r1")
    try:
        await until(lambda: len(platforms.received) == len(sends), timeout=RATE_SECONDS * 3 + 60)
        await until(lambda: drained(redis, prefix), timeout=30)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        await platforms.close()
    counts = await report(redis, prefix, "BENCH")
    tg_rate, wa_rate = (
        steady_rate(platforms.times["telegram"]),
        steady_rate(platforms.times["whatsapp"]),
    )
    return {
        "offset": offset,
        "telegram_sent": len(platforms.times["telegram"]),
        "telegram_rate": round(tg_rate, 2),
        "telegram_ratio": round(tg_rate / TELEGRAM_LIMIT, 3),
        "telegram_429": platforms.telegram.limit.refused if platforms.telegram.limit else 0,
        "whatsapp_sent": len(platforms.times["whatsapp"]),
        "whatsapp_rate": round(wa_rate, 2),
        "whatsapp_ratio": round(wa_rate / WHATSAPP_LIMIT, 3),
        "whatsapp_429": platforms.graph.limit.refused if platforms.graph.limit else 0,
        "failed_for_good": counts["failed"],
        "lost": sum(1 for s in sends if platforms.received[s.key] == 0),
        "duplicated": sum(1 for n in platforms.received.values() if n > 1),
    }


async def kill_run(redis: Redis, redis_url: str, prefix: str) -> dict[str, Any]:
    sends = broadcast(KILL_SENDS, prefix, awake_offset())
    platforms = Platforms(KILL_LIMIT * 2, KILL_LIMIT * 2)
    by_chat = {int(s.address): s.key for s in sends if s.channel == "telegram"}
    await platforms.start(redis, prefix, by_chat)
    await schedule(redis, prefix, sends)
    print(f"Broadcast of {len(sends):,}, killed {len(KILLS_AT)} times ...", flush=True)
    consumers = ["k1", "k1", "k2", "k1"]
    process = worker(redis_url, prefix, platforms.urls, (KILL_LIMIT, KILL_LIMIT), consumers[0])
    kills = []
    started = time.monotonic()
    try:
        for number, share in enumerate(KILLS_AT, start=1):
            await until(lambda s=share: sum(platforms.received.values()) >= s * len(sends), 120)
            await asyncio.sleep(random.uniform(0, 0.1))  # a crash comes at no particular moment
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            kills.append(sum(platforms.received.values()))
            process = worker(
                redis_url, prefix, platforms.urls, (KILL_LIMIT, KILL_LIMIT), consumers[number]
            )
        await until(lambda: len(platforms.received) == len(sends), timeout=180)
        await until(lambda: drained(redis, prefix), timeout=60)
        elapsed = time.monotonic() - started
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        await platforms.close()
    events = await redis.xrange(Keys(prefix).events)
    resent_events = [e for _, e in events if e[b"kind"] == b"resent_in_doubt"]
    resent = {e[b"send"].decode() for e in resent_events}
    doubled = [k for k, n in platforms.received.items() if n > 1]
    counts = await report(redis, prefix, "BENCH")
    return {
        "sends": len(sends),
        "kills_at_received": kills,
        "seconds": round(elapsed, 1),
        "lost": sum(1 for s in sends if platforms.received[s.key] == 0),
        "duplicated": len(doubled),
        "duplicated_whatsapp": sum(1 for k in doubled if int(k.rsplit(":", 1)[1]) % 2),
        "duplicated_not_recorded": sum(1 for k in doubled if send_digest(k) not in resent),
        "resent_in_doubt_telegram": sum(1 for e in resent_events if e[b"channel"] == b"telegram"),
        "resent_in_doubt_whatsapp": sum(1 for e in resent_events if e[b"channel"] == b"whatsapp"),
        "report_sent": counts["sent"],
        "report_pending": counts["pending"],
    }


async def drop(redis: Redis, prefix: str) -> None:
    batch = []
    async for key in redis.scan_iter(match=f"{prefix}*", count=10_000):
        batch.append(key)
        if len(batch) >= 10_000:
            await redis.delete(*batch)
            batch = []
    if batch:
        await redis.delete(*batch)


async def main() -> None:
    # The fakes' server logs a traceback for each request a killed worker left half-sent.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    global TOTAL, SUBSCRIBERS, RATE_SECONDS, KILL_SENDS
    if "--quick" in sys.argv:  # a smaller run, to try the benchmark itself
        TOTAL, SUBSCRIBERS, RATE_SECONDS, KILL_SENDS = 50_000, 20_000, 5, 1000
    url = os.environ.get("KS_BENCH_REDIS_URL") or REDIS_URL
    base = f"ksbench:{uuid.uuid4().hex[:8]}"
    redis = Redis.from_url(url)
    results: dict[str, Any] = {"redis": url}
    try:
        results["national"] = await national(redis, f"{base}:n:")
        await drop(redis, f"{base}:n:")
        results["rate"] = await rate_run(redis, url, f"{base}:r:")
        results["kill"] = await kill_run(redis, url, f"{base}:k:")
    finally:
        await drop(redis, f"{base}:")
        await redis.aclose()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print_report(results)


def print_report(results: dict[str, Any]) -> None:
    national, rate, kill = results["national"], results["rate"], results["kill"]

    def line(label: str, value: Any, target: str = "") -> None:
        print(f"  {label:<62}{value!s:>14}{target:>12}")

    print(f"\nRedis {results['redis']} (keys under ksbench:<random>:, deleted)\n")
    print(f"  {'':<62}{'figure':>14}{'target':>12}")
    print("National schedule")
    line(
        f"sends planned ({SUBSCRIBERS:,} subscribers, WIB/WITA/WIT, 7 days)",
        f"{national['planned']:,}",
    )
    line("planning time (schedule(), batches of 10,000)", f"{national['plan_seconds']} s")
    line("  sends planned per second", f"{national['plan_per_second']:,}")
    line(
        "planning 100,000 of them again (unchanged: no-ops)", f"{national['replan_100k_seconds']} s"
    )
    line("Redis memory per planned send (used_memory growth)", f"{national['bytes_per_send']} B")
    line("  for all of them", f"{national['redis_mb']} MB")
    line("due in the next hour (16.00-17.00 WIB)", f"{national['due_next_hour']:,}")
    line(
        "time to find and enqueue them (mover, 1,000 per step)", f"{national['enqueue_seconds']} s"
    )
    print("Send rate against the fake platforms, held to their limits")
    line("Telegram: messages sent", f"{rate['telegram_sent']:,}")
    line(
        f"  rate, first to last message / limit ({TELEGRAM_LIMIT:.0f}/s)",
        f"{rate['telegram_rate']}/s = {rate['telegram_ratio']}",
        f">= {TARGETS['rate_ratio']}",
    )
    line("  429 answered by the platform (all waited out)", rate["telegram_429"])
    line("WhatsApp: messages sent", f"{rate['whatsapp_sent']:,}")
    line(
        f"  rate, first to last message / limit ({WHATSAPP_LIMIT:.0f}/s)",
        f"{rate['whatsapp_rate']}/s = {rate['whatsapp_ratio']}",
        f">= {TARGETS['rate_ratio']}",
    )
    line("  130429 answered by the platform (all waited out)", rate["whatsapp_429"])
    line("sends failed for good (unhandled 429 would show here)", rate["failed_for_good"], "0")
    line("lost / duplicated", f"{rate['lost']} / {rate['duplicated']}", "0 / 0")
    print(f"Kill -9 mid-broadcast ({kill['sends']:,} sends, {KILL_LIMIT:.0f}/s per platform)")
    line(
        "killed when the platforms had received",
        ", ".join(f"{n:,}" for n in kill["kills_at_received"]),
    )
    line("lost (never received)", kill["lost"], "0")
    line("duplicated (received twice)", kill["duplicated"], "0")
    line("  of them on WhatsApp", kill["duplicated_whatsapp"])
    line("  of them not recorded as resent in doubt", kill["duplicated_not_recorded"])
    line("taken, unfinished at a kill, sent again: Telegram", kill["resent_in_doubt_telegram"])
    line("  WhatsApp (no status webhook had named them sent)", kill["resent_in_doubt_whatsapp"])
    line("report: sent / pending", f"{kill['report_sent']:,} / {kill['report_pending']}")
    line("whole broadcast, kills and restarts included", f"{kill['seconds']} s")
    print(f"\nFigures written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    asyncio.run(main())
