"""Latency over one long conversation: Kawan Sehat's chat API beside plain Rasa.

One user sends 500 messages, one at a time. Each turn goes through the
gateway's chat API (Rasa with our bounded tracker store, the action server,
Redis) and, right after, the same text goes to a second Rasa process on the
same model, action server and Redis, but with Rasa's stock REST channel and
stock RedisTrackerStore ("plain Rasa"). Both see the same machine load.

Reported: the median latency of turns 0-9 and of turns 490-499 for each, and
their ratio (target for Kawan Sehat: at most 1.2x), plus medians every 50 turns
and the size of each stored tracker at the end.

Run: make bench-conversation   (TURNS=200 for a shorter run; results also in
build/bench/conversation.json)
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import time
import urllib.request
import uuid
from typing import Any

import redis as redis_sync

from bench.nlu import drop_keys, redis_for_bench
from scripts.stack import MODEL, RASA_BIN, ROOT, Stack, endpoints_yaml, free_port, wait_http

RESULTS = ROOT / "build" / "bench" / "conversation.json"
TARGET_RATIO = 1.2
# What one person might send over a few months: questions, thanks, lookups, menus.
MESSAGES = [
    "halo",
    "jadwal imunisasi bayi apa aja",
    "makasih",
    "mpasi umur 6 bulan boleh apa aja",
    "posyandu di desa lambale kapan?",
    "apa itu stunting",
    "ok",
    "cara mencegah dbd gimana",
    "tanda bahaya kehamilan apa saja",
    "kamu robot ya?",
    "berapa kali periksa hamil",
    "sip makasih ya",
]


def post(url: str, payload: dict[str, Any], headers: dict[str, str]) -> float:
    """Milliseconds for one answered request (raises on a failed one)."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", **headers},
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{url} answered {response.status}")
    return (time.perf_counter() - started) * 1000


def median_of(values: list[float], start: int, stop: int) -> float:
    return statistics.median(values[start:stop])


def start_plain_rasa(stack: Stack, port: int, prefix: str) -> str:
    """Plain Rasa: stock REST channel and RedisTrackerStore, our model and action server."""
    assert stack.redis_url is not None
    directory = stack.log_dir
    credentials = directory / f"credentials-rest-{port}.yml"
    credentials.write_text("rest:\n")
    endpoints = directory / f"endpoints-rest-{port}.yml"
    endpoints.write_text(
        endpoints_yaml(stack.redis_url, stack.actions_port, prefix, tracker_store="redis")
    )
    command = [str(RASA_BIN), "run", "-i", "127.0.0.1", "-p", str(port), "--model", str(MODEL)]
    command += ["--credentials", str(credentials), "--endpoints", str(endpoints)]
    stack.spawn("rasa-rest", command, stack.env)
    wait_http(f"http://127.0.0.1:{port}/", 300, stack.processes["rasa-rest"])
    return f"http://127.0.0.1:{port}/webhooks/rest/webhook"


def tracker_bytes(redis_url: str, pattern: str) -> int:
    client = redis_sync.Redis.from_url(redis_url)
    return sum(int(client.strlen(key)) for key in client.scan_iter(match=pattern))


def main() -> int:
    turns = int(os.environ.get("TURNS", "500"))
    prefix = f"ksbench{uuid.uuid4().hex[:8]}:"
    plain_prefix = f"ksplain{uuid.uuid4().hex[:8]}:"
    stack = Stack(
        redis_url=redis_for_bench(),
        redis_prefix=prefix,
        gateway_port=free_port(),
        rasa_port=free_port(),
        actions_port=free_port(),
        log_dir=ROOT / "build" / "logs" / "bench-conversation",
    )
    print("Starting the stack and a plain Rasa beside it (two models load; a few minutes)...")
    stack.start()
    ours_ms: list[float] = []
    plain_ms: list[float] = []
    sizes: dict[str, int] = {}
    try:
        plain_url = start_plain_rasa(stack, free_port(), plain_prefix)
        chat_url = f"{stack.chat_url}api/v1/chat"
        key = {"Authorization": f"Bearer {stack.api_key}"}
        for warm in range(3):  # warm both processes on other conversations
            post(chat_url, {"user_id": f"warm{warm}", "text": "halo"}, key)
            post(plain_url, {"sender": f"warm{warm}", "message": "halo"}, {})
        user = uuid.uuid4().hex
        for turn in range(turns):
            text = MESSAGES[turn % len(MESSAGES)]
            ours_ms.append(post(chat_url, {"user_id": user, "text": text}, key))
            plain_ms.append(post(plain_url, {"sender": user, "message": text}, {}))
            if turn % 50 == 49:
                ours, plain = (median_of(m, turn - 9, turn + 1) for m in (ours_ms, plain_ms))
                print(
                    f"  turn {turn + 1:4d}: Kawan Sehat {ours:6.0f} ms, plain Rasa {plain:6.0f} ms",
                    flush=True,
                )
        assert stack.redis_url is not None
        sizes = {
            "kawan_sehat_tracker_bytes": tracker_bytes(stack.redis_url, f"{prefix}tracker:*{user}"),
            "plain_rasa_tracker_bytes": tracker_bytes(
                stack.redis_url, f"{plain_prefix}tracker:*{user}"
            ),
        }
    finally:
        for name in (prefix, plain_prefix):
            with contextlib.suppress(redis_sync.RedisError):
                drop_keys(stack.redis_url, name.rstrip(":"))
        stack.stop()
    first, last = (0, 10), (turns - 10, turns)
    report = {
        "turns": turns,
        "kawan_sehat_first_ms": median_of(ours_ms, *first),
        "kawan_sehat_last_ms": median_of(ours_ms, *last),
        "plain_rasa_first_ms": median_of(plain_ms, *first),
        "plain_rasa_last_ms": median_of(plain_ms, *last),
        **sizes,
        "per_50_turns": [
            {
                "turns": f"{t - 9}-{t}",
                "kawan_sehat_ms": median_of(ours_ms, t - 9, t + 1),
                "plain_rasa_ms": median_of(plain_ms, t - 9, t + 1),
            }
            for t in range(49, turns, 50)
        ],
    }
    report["kawan_sehat_ratio"] = report["kawan_sehat_last_ms"] / report["kawan_sehat_first_ms"]
    report["plain_rasa_ratio"] = report["plain_rasa_last_ms"] / report["plain_rasa_first_ms"]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1))
    print(
        f"\nOne user, {turns} turns (median of 10 turns):\n"
        f"| | turns 0-9 | turns {turns - 10}-{turns - 1} | ratio | tracker in Redis |\n"
        f"|---|---|---|---|---|\n"
        f"| Kawan Sehat chat API | {report['kawan_sehat_first_ms']:.0f} ms"
        f" | {report['kawan_sehat_last_ms']:.0f} ms | **{report['kawan_sehat_ratio']:.2f}x**"
        f" | {sizes.get('kawan_sehat_tracker_bytes', 0) / 1024:.0f} KB |\n"
        f"| plain Rasa REST channel | {report['plain_rasa_first_ms']:.0f} ms"
        f" | {report['plain_rasa_last_ms']:.0f} ms | {report['plain_rasa_ratio']:.2f}x"
        f" | {sizes.get('plain_rasa_tracker_bytes', 0) / 1024:.0f} KB |"
    )
    met = report["kawan_sehat_ratio"] <= TARGET_RATIO
    print(f"Target: Kawan Sehat at most {TARGET_RATIO}x: {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
