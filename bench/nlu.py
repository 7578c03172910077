"""NLU benchmark on the held-out set (bench/heldout.yml, never trained on).

Starts the whole stack (Rasa with the trained model, action server, gateway),
sends every held-out utterance through the chat API as a new conversation, and
reports intent accuracy, macro-F1, FAQ-topic accuracy, out-of-scope precision
and recall, emergency recall, chat API latency p50/p95 and each process's memory.

Run: make bench-nlu   (results also in build/bench/nlu.json)
"""

from __future__ import annotations

import json
import os
import statistics
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import redis as redis_sync
import yaml

from scripts.stack import ROOT, Stack, free_port

HELDOUT = ROOT / "bench" / "heldout.yml"
RESULTS = ROOT / "build" / "bench" / "nlu.json"
# Both decline politely and show the menu.
DECLINED = {"out_of_scope", "nlu_fallback"}
TARGETS = {"macro_f1": 0.92, "emergency_recall": 1.0, "latency_p95_ms": 150.0}


def load_heldout(path: Path = HELDOUT) -> list[tuple[str, str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    cases = []
    for item in data["nlu"]:
        for line in item["examples"].splitlines():
            line = line.strip()
            if line.startswith("- "):
                cases.append((line[2:].strip(), item["intent"]))
    return cases


def post(url: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body, status = json.loads(response.read()), response.status
    except urllib.error.HTTPError as error:
        body, status = json.loads(error.read()), error.code
    return status, body, (time.perf_counter() - started) * 1000


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def macro_f1(pairs: list[tuple[str, str]]) -> float:
    labels = {gold for gold, _ in pairs}
    scores = []
    for label in labels:
        tp = sum(1 for g, p in pairs if g == label and p == label)
        fp = sum(1 for g, p in pairs if g != label and p == label)
        fn = sum(1 for g, p in pairs if g == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def evaluate(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Scores with the predicted intent as is: a low-confidence nlu_fallback counts as wrong.

    Out-of-scope precision is over messages the assistant called out_of_scope; recall
    counts an out-of-scope message as caught when the assistant declined it, either as
    out_of_scope or as nlu_fallback (both answer with "I can help with ..." and the menu).
    """
    pairs = [(r["gold"], r["intent"] or "none") for r in results]
    faq = [r for r in results if "." in r["gold"]]
    oos_gold = [r for r in results if r["gold"] == "out_of_scope"]
    oos_pred = [r for r in results if r["intent"] == "out_of_scope"]
    emergencies = [r for r in results if r["gold"] == "emergency"]
    latencies = [r["ms"] for r in results]
    return {
        "utterances": len(results),
        "labels": len({r["gold"] for r in results}),
        "intent_accuracy": sum(g == p for g, p in pairs) / len(pairs),
        "macro_f1": macro_f1(pairs),
        "faq_topic_accuracy": sum(r["faq_id"] == r["gold"] for r in faq) / len(faq),
        "oos_precision": sum(r["gold"] == "out_of_scope" for r in oos_pred) / max(1, len(oos_pred)),
        "oos_recall": sum(r["intent"] in DECLINED for r in oos_gold) / max(1, len(oos_gold)),
        "emergency_recall": sum(r["intent"] == "emergency" for r in emergencies)
        / max(1, len(emergencies)),
        "fallback_rate_in_scope": sum(
            r["intent"] == "nlu_fallback" for r in results if r["gold"] != "out_of_scope"
        )
        / max(1, len(results) - len(oos_gold)),
        "latency_p50_ms": statistics.median(latencies),
        "latency_p95_ms": percentile(latencies, 0.95),
        "errors": sum(r["status"] != 200 for r in results),
    }


def redis_for_bench() -> str | None:
    """REDIS_URL if set, else the local server if it answers, else the embedded store."""
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    try:
        redis_sync.Redis(port=6379, socket_connect_timeout=1).ping()
        return "redis://127.0.0.1:6379/14"
    except redis_sync.RedisError:
        return None


def drop_keys(redis_url: str | None, prefix: str) -> None:
    """Delete what a benchmark stored under its prefix (nothing to do on the embedded store)."""
    if not redis_url:
        return
    client = redis_sync.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])


def main() -> None:
    cases = load_heldout()
    prefix = f"ksbench:{uuid.uuid4().hex[:8]}:"
    stack = Stack(
        redis_url=redis_for_bench(),
        redis_prefix=prefix,
        gateway_port=free_port(),
        rasa_port=free_port(),
        actions_port=free_port(),
    )
    print(f"Starting the stack (Redis: {stack.redis_url or 'embedded'})...")
    stack.start()
    try:
        url = f"{stack.chat_url}api/v1/chat"
        for warmup in ("halo", "jadwal imunisasi", "makasih"):
            post(url, {"user_id": "warmup", "text": warmup})
        results = []
        for text, gold in cases:
            status, body, ms = post(url, {"user_id": uuid.uuid4().hex, "text": text})
            results.append(
                {
                    "text": text,
                    "gold": gold,
                    "intent": body.get("intent"),
                    "faq_id": body.get("faq_id"),
                    "status": status,
                    "ms": ms,
                }
            )
        memory = {name: rss_mb(p.pid) for name, p in stack.processes.items()}
    finally:
        stack.stop()
        drop_keys(stack.redis_url, prefix)
    report = evaluate(results)
    report["memory_rss_mb"] = memory
    report["redis"] = "embedded" if stack.embedded_redis else "redis-server"
    wrong = Counter(
        (r["gold"], r["intent"]) for r in results if r["gold"] != r["intent"] and r["intent"]
    )
    report["top_confusions"] = [f"{g} -> {p}: {n}" for (g, p), n in wrong.most_common(12)]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"report": report, "results": results}, indent=1))
    for key, value in report.items():
        shown = f"{value:.3f}" if isinstance(value, float) else value
        target = f"  (target {TARGETS[key]})" if key in TARGETS else ""
        print(f"{key:>20}: {shown}{target}")


if __name__ == "__main__":
    main()
