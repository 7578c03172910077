"""Channel benchmark: webhook in, reply out at the fake Telegram and Graph API servers.

Two runs, each for Telegram and WhatsApp at 1, 10 and 100 concurrent users:

- `gateway`: the gateway process alone, with Rasa replaced by an instant echo
  server, so what is measured is the gateway's own cost (webhook check, Redis
  inbox, worker, Rasa call, outbound request).
- `full`: the gateway, Rasa (the trained model) and the action server, with
  real Indonesian messages from the held-out set.

Every user waits for all replies to a message before sending the next (a fresh
chat per message, so each conversation starts where a new user would). One in
ten webhooks is delivered twice, as the platforms do after a timeout. At the end
every message must have exactly its expected replies: none lost, none doubled.

Run: make bench-channels   (`--quick` for a smaller run; results in build/bench/channels.json)
The fakes, the load and the timing share this process; the gateway, Rasa and the
action server are separate processes, as in production. Rate limits are raised for
the run (Telegram's real 30 messages/s would otherwise be the ceiling measured).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.nlu import drop_keys, load_heldout, percentile, redis_for_bench, rss_mb
from scripts.stack import APP_PYTHON, QUIET_ENV, ROOT, Stack, free_port, wait_http
from tests.fakes import graph_api as wa
from tests.fakes import telegram_api as tg
from tests.fakes.graph_api import FakeGraph
from tests.fakes.rasa_api import EchoRasa
from tests.fakes.telegram_api import FakeTelegram

RESULTS = ROOT / "build" / "bench" / "channels.json"
TG_SECRET = "bench-secret_0123456789"
WA_SECRET = "bench-app-secret"
PHONE_ID = "1098765432"
GRAPH_VERSION = "v23.0"
REPLY_TIMEOUT = 60.0
SETTLE_SECONDS = 2.0
DUPLICATE_SHARE = 0.1
GATEWAY_OVERHEAD_TARGET_MS = 5.0

_update_ids = itertools.count(int(time.time()))
_chats = itertools.count(10_000_000)


@dataclass
class Replies:
    """Reply arrival times per address (chat id or wa_id), filled by the fakes' listeners."""

    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    expected: dict[str, int] = field(default_factory=dict)
    done: dict[str, asyncio.Event] = field(default_factory=dict)

    def arrived(self, address: str) -> None:
        self.times[address].append(time.perf_counter())
        want = self.expected.get(address)
        if want is not None and len(self.times[address]) >= want:
            self.done[address].set()

    def expect(self, address: str, count: int) -> asyncio.Event:
        self.expected[address] = count
        self.done[address] = asyncio.Event()
        return self.done[address]


@dataclass
class Sample:
    address: str
    sent: float
    expected: int


class Channel:
    """How the load generator talks to one channel's webhook."""

    name: str

    def __init__(self, session: aiohttp.ClientSession, gateway: str) -> None:
        self.session = session
        self.gateway = gateway

    def new_address(self) -> str:
        raise NotImplementedError

    def webhook(self, address: str, text: str) -> tuple[str, bytes, dict[str, str]]:
        """Path, raw body and headers of one delivery, as the platform would send it."""
        raise NotImplementedError

    async def deliver(self, address: str, text: str, duplicate: bool) -> int:
        """POST the delivery (twice when `duplicate`); the last status."""
        path, raw, headers = self.webhook(address, text)
        headers = {"Content-Type": "application/json", **headers}
        status = 0
        for _ in range(2 if duplicate else 1):
            async with self.session.post(
                f"{self.gateway}{path}", data=raw, headers=headers
            ) as response:
                status = response.status
        return status


class TelegramLoad(Channel):
    name = "telegram"

    def new_address(self) -> str:
        return str(next(_chats))

    def webhook(self, address: str, text: str) -> tuple[str, bytes, dict[str, str]]:
        update = tg.text_update(next(_update_ids), int(address), text)
        headers = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
        return "/webhooks/telegram", json.dumps(update).encode(), headers


class WhatsAppLoad(Channel):
    name = "whatsapp"

    def new_address(self) -> str:
        return f"628{next(_chats):09d}"

    def webhook(self, address: str, text: str) -> tuple[str, bytes, dict[str, str]]:
        message = wa.text_message(f"wamid.bench{uuid.uuid4().hex}", address, text)
        raw = json.dumps(wa.envelope(messages=[message], phone_number_id=PHONE_ID)).encode()
        return "/webhooks/whatsapp", raw, {"X-Hub-Signature-256": wa.sign(raw, WA_SECRET)}


async def run_level(
    channel: Channel,
    replies: Replies,
    messages: list[tuple[str, int]],
    users: int,
) -> dict[str, Any]:
    """`users` concurrent users send `messages` (text, expected replies) between them."""
    queue = list(reversed(messages))
    samples: list[Sample] = []
    errors = 0
    rng = random.Random(users)

    async def user() -> None:
        nonlocal errors
        while queue:
            text, expected = queue.pop()
            address = channel.new_address()
            done = replies.expect(address, expected)
            sent = time.perf_counter()
            status = await channel.deliver(address, text, rng.random() < DUPLICATE_SHARE)
            samples.append(Sample(address, sent, expected))
            if status != 200:
                errors += 1
                continue
            with contextlib.suppress(TimeoutError):  # counted as lost below
                await asyncio.wait_for(done.wait(), REPLY_TIMEOUT)

    started = time.perf_counter()
    await asyncio.gather(*(user() for _ in range(users)))
    wall = time.perf_counter() - started
    await asyncio.sleep(SETTLE_SECONDS)  # late duplicates would show up here
    first, complete = [], []
    lost = doubled = 0
    for sample in samples:
        arrivals = replies.times.get(sample.address, [])
        if len(arrivals) < sample.expected:
            lost += 1
            continue
        if len(arrivals) > sample.expected:
            doubled += 1
        first.append((arrivals[0] - sample.sent) * 1000)
        complete.append((arrivals[sample.expected - 1] - sample.sent) * 1000)
    return {
        "channel": channel.name,
        "users": users,
        "messages": len(samples),
        "messages_per_second": round(len(samples) / wall, 1),
        "first_reply_p50_ms": round(statistics.median(first), 1) if first else None,
        "first_reply_p95_ms": round(percentile(first, 0.95), 1) if first else None,
        "all_replies_p50_ms": round(statistics.median(complete), 1) if complete else None,
        "all_replies_p95_ms": round(percentile(complete, 0.95), 1) if complete else None,
        "lost": lost,
        "duplicated": doubled,
        "webhook_errors": errors,
    }


def channel_env(telegram_url: str, graph_url: str, rasa_url: str | None) -> dict[str, str]:
    env = {
        "KS_PUBLIC_URL": "https://kawan.bench.example.id",
        "KS_INSTANCE": "bench-gateway",
        "KS_USER_MESSAGES_PER_MINUTE": "1000",
        "TELEGRAM_BOT_TOKEN": FakeTelegram().token,
        "TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
        "TELEGRAM_API_BASE_URL": telegram_url,
        "TELEGRAM_MODE": "webhook",
        "TELEGRAM_MESSAGES_PER_SECOND": "5000",
        "TELEGRAM_CHAT_MESSAGES_PER_SECOND": "5000",
        "WHATSAPP_ACCESS_TOKEN": FakeGraph().access_token,
        "WHATSAPP_APP_SECRET": WA_SECRET,
        "WHATSAPP_VERIFY_TOKEN": "bench-verify",
        "WHATSAPP_PHONE_NUMBER_ID": PHONE_ID,
        "WHATSAPP_API_BASE_URL": f"{graph_url}/{GRAPH_VERSION}",
        "WHATSAPP_MESSAGES_PER_SECOND": "5000",
    }
    if rasa_url:
        env["RASA_URL"] = rasa_url
    return env


async def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.1)


async def in_thread(function: Callable[[], Any]) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, function)


async def expected_replies(gateway: str, texts: list[str]) -> list[tuple[str, int]]:
    """How many replies each text gets in a new conversation, asked through the chat API."""
    counted = []
    async with aiohttp.ClientSession() as session:
        for text in texts:
            body = {"user_id": f"bench-{uuid.uuid4().hex}", "text": text}
            async with session.post(f"{gateway}/api/v1/chat", json=body) as response:
                answer = await response.json()
            if response.status == 200 and answer.get("replies"):
                counted.append((text, len(answer["replies"])))
    return counted


async def measure(
    run: str,
    gateway: str,
    telegram: FakeTelegram,
    graph: FakeGraph,
    messages: list[tuple[str, int]],
    levels: dict[int, int],
) -> list[dict[str, Any]]:
    replies = Replies()
    telegram.listeners.append(lambda params: replies.arrived(str(params["chat_id"])))
    graph.listeners.append(lambda body: replies.arrived(str(body["to"])))
    await wait_until(
        lambda: any(c.method == "setWebhook" for c in telegram.calls), 60, "Telegram webhook"
    )
    results = []
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        for channel in (TelegramLoad(session, gateway), WhatsAppLoad(session, gateway)):
            await run_level(channel, replies, messages[:20], 5)  # warm-up, not reported
            for users, count in levels.items():
                batch = list(itertools.islice(itertools.cycle(messages), count))
                result = {"run": run, **await run_level(channel, replies, batch, users)}
                print(format_row(result), flush=True)
                results.append(result)
    return results


def format_row(result: dict[str, Any]) -> str:
    return (
        f"{result['run']:>7} {result['channel']:>8} {result['users']:>5} users "
        f"{result['messages']:>5} msgs {result['messages_per_second']:>7.1f} msg/s  "
        f"first p50 {result['first_reply_p50_ms']} p95 {result['first_reply_p95_ms']} ms  "
        f"all p50 {result['all_replies_p50_ms']} p95 {result['all_replies_p95_ms']} ms  "
        f"lost {result['lost']} duplicated {result['duplicated']} errors {result['webhook_errors']}"
    )


def start_gateway(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [str(APP_PYTHON), "-m", "bot"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )


async def gateway_run(redis_url: str, prefix: str, levels: dict[int, int]) -> dict[str, Any]:
    """The gateway alone, Rasa replaced by an instant echo server."""
    telegram, graph, rasa = FakeTelegram(), FakeGraph(phone_number_id=PHONE_ID), EchoRasa()
    telegram_url, graph_url, rasa_url = (
        await telegram.start(),
        await graph.start(),
        await rasa.start(),
    )
    port = free_port()
    log_dir = ROOT / "build" / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        **QUIET_ENV,
        "PYTHONPATH": str(ROOT),
        "PORT": str(port),
        "REDIS_URL": redis_url,
        "KS_REDIS_PREFIX": prefix,
        **channel_env(telegram_url, graph_url, rasa_url),
    }
    process = await in_thread(lambda: start_gateway(env, log_dir / "bench-channels-gateway.log"))
    gateway = f"http://127.0.0.1:{port}"
    try:
        await in_thread(lambda: wait_http(f"{gateway}/readyz", 60, process))
        # The echo answers each message once (its keywords for menus and long text left out).
        keywords = ("tombol", "daftar", "banyak", "kode", "panjang")
        texts = [text for text, _ in load_heldout() if not any(k in text for k in keywords)]
        messages = [(text, 1) for text in texts]
        rows = await measure("gateway", gateway, telegram, graph, messages, levels)
        memory = rss_mb(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        await in_thread(lambda: process.wait(20))
        for fake in (telegram, graph, rasa):
            await fake.close()
    return {"rows": rows, "gateway_rss_mb": round(memory, 1)}


async def full_run(
    redis_url: str | None, prefix: str, levels: dict[int, int], sample: int
) -> dict[str, Any]:
    """Gateway, Rasa and the action server, with real messages."""
    telegram, graph = FakeTelegram(), FakeGraph(phone_number_id=PHONE_ID)
    telegram_url, graph_url = await telegram.start(), await graph.start()
    stack = Stack(
        redis_url=redis_url,
        redis_prefix=prefix,
        gateway_port=free_port(),
        rasa_port=free_port(),
        actions_port=free_port(),
        extra_env=channel_env(telegram_url, graph_url, None),
    )
    await in_thread(stack.start)
    gateway = stack.chat_url.rstrip("/")
    try:
        texts = [text for text, _ in load_heldout()]
        random.Random(4).shuffle(texts)
        messages = await expected_replies(gateway, texts[:sample])
        rows = await measure("full", gateway, telegram, graph, messages, levels)
        memory = {name: round(rss_mb(p.pid), 1) for name, p in stack.processes.items()}
    finally:
        await in_thread(stack.stop)
        for fake in (telegram, graph):
            await fake.close()
    return {"rows": rows, "memory_rss_mb": memory, "redis": stack.redis_url}


async def main(quick: bool, runs: list[str]) -> int:
    redis_url = redis_for_bench()
    report: dict[str, Any] = {}
    jobs: dict[str, Callable[[str], Awaitable[dict[str, Any]]]] = {
        "gateway": lambda prefix: gateway_run(
            redis_url or "redis://127.0.0.1:6379/14",
            prefix,
            {1: 100, 10: 400, 100: 1000} if quick else {1: 300, 10: 1000, 100: 3000},
        ),
        "full": lambda prefix: full_run(
            redis_url,
            prefix,
            {1: 20, 10: 100, 100: 200} if quick else {1: 60, 10: 300, 100: 600},
            60 if quick else 200,
        ),
    }
    for run in runs:
        prefix = f"ksbench:{uuid.uuid4().hex[:8]}:"
        print(f"-- {run} run (Redis: {redis_url or 'private redis-server'})", flush=True)
        try:
            report[run] = await jobs[run](prefix)
        finally:
            drop_keys(redis_url, prefix)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1))
    failed = False
    for result in report.get("gateway", {}).get("rows", []):
        p95 = result["first_reply_p95_ms"]
        if result["users"] == 1 and (p95 is None or p95 >= GATEWAY_OVERHEAD_TARGET_MS):
            print(f"{result['channel']}: gateway p95 {p95} ms is over the 5 ms target")
            failed = True
    for run in report.values():
        for result in run["rows"]:
            if result["lost"] or result["duplicated"] or result["webhook_errors"]:
                print(f"{result['run']} {result['channel']} {result['users']}: lost or doubled")
                failed = True
    print(f"Results: {RESULTS}")
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer messages per level")
    parser.add_argument(
        "--run", choices=["gateway", "full"], action="append", help="only this run (repeatable)"
    )
    arguments = parser.parse_args()
    sys.exit(asyncio.run(main(arguments.quick, arguments.run or ["gateway", "full"])))
