"""NLU benchmark on the held-out sets (bench/heldout.yml and bench/heldout_long.yml).

Nothing in them is trained on: `tests/unit/test_heldout.py` fails when a held-out
utterance equals or nearly equals a training example (bench/overlap.py).

Starts the whole stack (Rasa with the trained model, action server, gateway),
sends every held-out utterance through the chat API as a new conversation, and
reports, overall and for the long forum-style questions separately: intent
accuracy and macro-F1; FAQ-topic accuracy; emergency recall and precision; the
share of out_of_scope_health and out_of_scope messages answered with an FAQ
entry; chat API latency p50/p95; each process's memory. It also asks Rasa's
/model/parse for the classifier's own ranking and prints how macro-F1, wrong
answers and fallbacks move with the FallbackClassifier's threshold and
ambiguity threshold (the curve the thresholds in config.yml were chosen from).

Run: make bench-nlu   (results also in build/bench/nlu.json)
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import redis as redis_sync
import yaml

from bench.overlap import HELDOUT_FILES, read_examples, sentence_count
from bench.scores import macro_f1
from nlu.emergency import DECLINE_MIN, EmergencyRules, below_thresholds, decide
from nlu.normalize import SlangDictionary, normalize
from scripts.stack import ROOT, Stack, free_port

HELDOUT, HELDOUT_LONG, HELDOUT_BORDER, HELDOUT_SEALED, HELDOUT_SEALED2 = HELDOUT_FILES
RESULTS = ROOT / "build" / "bench" / "nlu.json"
OUT_OF_SCOPE = ("out_of_scope", "out_of_scope_health")
# Each declines politely and shows the menu.
DECLINED = {"out_of_scope", "out_of_scope_health", "nlu_fallback"}
FALLBACK = "nlu_fallback"
EMERGENCY = "emergency"
TARGETS = {
    "macro_f1": ">= 0.95",
    "long_macro_f1": ">= 0.90",
    "emergency_recall": "1.0",
    "emergency_precision": ">= 0.9",
    "out_of_scope_health_answered_with_faq": "<= 0.05",
    "out_of_scope_answered_with_faq": "<= 0.05",
    "latency_p95_ms": "< 150",
}
THRESHOLDS = [round(0.2 + 0.05 * i, 2) for i in range(15)]
AMBIGUITIES = [0.0, 0.02, 0.05, 0.08, 0.1, 0.15, 0.2]
# 1.01: declines never kept below the threshold (the FallbackClassifier alone).
DECLINE_MINS = [0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 1.01]


def load_heldout(path: Path = HELDOUT) -> list[tuple[str, str]]:
    return [(example.text, example.intent) for example in read_examples(path)]


def heldout_cases() -> list[tuple[str, str, bool, str]]:
    """(text, gold intent, long, set) of every held-out utterance; "long" is a
    forum-style question of three sentences or more."""
    cases = [(text, gold, False, "short") for text, gold in load_heldout(HELDOUT)]
    cases += [(text, gold, True, "long") for text, gold in load_heldout(HELDOUT_LONG)]
    # The later sets mix lengths: a message of three sentences or more counts as long.
    for path, subset in (
        (HELDOUT_BORDER, "border"),
        (HELDOUT_SEALED, "sealed"),
        (HELDOUT_SEALED2, "sealed2"),
    ):
        cases += [
            (text, gold, sentence_count(text) >= 3, subset) for text, gold in load_heldout(path)
        ]
    return cases


def config_component(name: str) -> dict[str, Any] | None:
    """The settings of config.yml's pipeline component `name` (a custom component is
    matched on the last part of its dotted name), or None if the pipeline has none."""
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    for component in config["pipeline"]:
        if component["name"].rsplit(".", 1)[-1] == name:
            return dict(component)
    return None


def load_config_thresholds() -> tuple[float, float]:
    component = config_component("FallbackClassifier")
    if component is None:
        raise ValueError("config.yml has no FallbackClassifier")
    return float(component["threshold"]), float(component["ambiguity_threshold"])


def post(
    url: str, payload: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], float]:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
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


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def share(items: list[dict[str, Any]], test: Any) -> float:
    return sum(1 for item in items if test(item)) / len(items) if items else float("nan")


def evaluate(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Scores with the predicted intent as is: a low-confidence nlu_fallback counts as wrong.

    "Answered with an FAQ entry" means the reply carried an FAQ answer (`faq_id` set),
    whatever the intent: the confidently wrong answer the issue is about.
    """
    pairs = [(r["gold"], r["intent"] or "none") for r in results]
    long = [(r["gold"], r["intent"] or "none") for r in results if r["long"]]
    faq = [r for r in results if "." in r["gold"]]
    emergencies = [r for r in results if r["gold"] == EMERGENCY]
    called_emergency = [r for r in results if r["intent"] == EMERGENCY]
    in_scope = [r for r in results if r["gold"] not in OUT_OF_SCOPE]
    latencies = [r["ms"] for r in results]
    report: dict[str, Any] = {
        "utterances": len(results),
        "long_utterances": len(long),
        "labels": len({r["gold"] for r in results}),
        "intent_accuracy": sum(g == p for g, p in pairs) / len(pairs),
        "macro_f1": macro_f1(pairs),
        "long_intent_accuracy": sum(g == p for g, p in long) / len(long) if long else None,
        "long_macro_f1": macro_f1(long) if long else None,
        "faq_topic_accuracy": share(faq, lambda r: r["faq_id"] == r["gold"]),
        "emergency_recall": share(emergencies, lambda r: r["intent"] == EMERGENCY),
        "emergency_precision": share(called_emergency, lambda r: r["gold"] == EMERGENCY),
        "emergencies": len(emergencies),
    }
    for label in OUT_OF_SCOPE:
        gold = [r for r in results if r["gold"] == label]
        report[f"{label}_messages"] = len(gold)
        report[f"{label}_answered_with_faq"] = share(gold, lambda r: bool(r["faq_id"]))
        report[f"{label}_declined"] = share(gold, lambda r: r["intent"] in DECLINED)
    report["fallback_rate_in_scope"] = share(in_scope, lambda r: r["intent"] == FALLBACK)
    report["latency_p50_ms"] = statistics.median(latencies)
    report["latency_p95_ms"] = percentile(latencies, 0.95)
    report["errors"] = sum(r["status"] != 200 for r in results)
    return report


def decide_at(
    result: dict[str, Any], threshold: float, ambiguity: float, decline_min: float = DECLINE_MIN
) -> str:
    """What the pipeline would predict with these FallbackClassifier settings.

    The same rule as the EmergencyDetector (nlu.emergency.decide): the danger-sign
    rules first, then the classifier's ranking under the thresholds.
    """
    ranking = result["ranking"]
    decision = decide(
        ranking,
        result["found"],
        result["considered"],
        threshold,
        ambiguity,
        decline_min=decline_min,
    )
    if decision is not None:
        return decision.intent
    if below_thresholds(ranking, threshold, ambiguity):
        return FALLBACK
    return str(ranking[0]["name"])


def curve_row(
    results: list[dict[str, Any]], threshold: float, ambiguity: float, decline_min: float
) -> dict[str, Any]:
    """Macro-F1, wrong answers and declines with these settings, replayed on the rankings."""
    predicted = [(r["gold"], decide_at(r, threshold, ambiguity, decline_min)) for r in results]
    in_scope = [(g, p) for g, p in predicted if g not in OUT_OF_SCOPE]
    oos = [(g, p) for g, p in predicted if g in OUT_OF_SCOPE]
    long = [(r["gold"], p) for r, (_, p) in zip(results, predicted, strict=True) if r["long"]]
    as_faq = {
        f"{label}_as_faq": sum("." in p for g, p in oos if g == label)
        / max(1, sum(g == label for g, _ in oos))
        for label in OUT_OF_SCOPE
    }
    return {
        "threshold": threshold,
        "ambiguity": ambiguity,
        "decline_min": decline_min,
        "macro_f1": macro_f1(predicted),
        "long_macro_f1": macro_f1(long),
        "accuracy": sum(g == p for g, p in predicted) / len(predicted),
        # in-scope messages answered with another topic or intent (declines not counted)
        "wrong_in_scope": sum(p not in (g, *DECLINED) for g, p in in_scope) / len(in_scope),
        # in-scope messages declined: the fallback or an out-of-scope reply
        "fallback_in_scope": sum(p in DECLINED for _, p in in_scope) / len(in_scope),
        # out-of-scope messages given an FAQ topic (both labels, then each)
        "oos_as_faq": sum("." in p for _, p in oos) / max(1, len(oos)),
        **as_faq,
    }


def threshold_curve(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (threshold, ambiguity, decline_min)."""
    return [
        curve_row(results, threshold, ambiguity, decline_min)
        for threshold in THRESHOLDS
        for ambiguity in AMBIGUITIES
        for decline_min in DECLINE_MINS
    ]


def print_table(rows: list[dict[str, Any]], varied: str, chosen: float, title: str) -> None:
    """One slice of the curve: the rows given, `varied` in the first column."""
    print(f"\n{title}:")
    print(f" {varied:>11}  macro-F1  long-F1  wrong(in)  declined(in)  oos->FAQ")
    for row in rows:
        mark = " <" if row[varied] == chosen else ""
        print(
            f"   {row[varied]:>9.2f}    {row['macro_f1']:.3f}    {row['long_macro_f1']:.3f}"
            f"    {row['wrong_in_scope']:.3f}       {row['fallback_in_scope']:.3f}"
            f"       {row['oos_as_faq']:.3f}{mark}"
        )


def print_curve(rows: list[dict[str, Any]], chosen: tuple[float, float]) -> None:
    threshold, ambiguity = chosen

    def where(**fixed: float) -> list[dict[str, Any]]:
        return [row for row in rows if all(row[k] == v for k, v in fixed.items())]

    print_table(
        where(ambiguity=ambiguity, decline_min=DECLINE_MIN),
        "threshold",
        threshold,
        f"FallbackClassifier threshold (ambiguity {ambiguity:.2f}, declines from {DECLINE_MIN})",
    )
    print_table(
        where(threshold=threshold, decline_min=DECLINE_MIN),
        "ambiguity",
        ambiguity,
        f"Ambiguity threshold (threshold {threshold:.2f})",
    )
    print_table(
        where(threshold=threshold, ambiguity=ambiguity),
        "decline_min",
        DECLINE_MIN,
        "Declines kept below the threshold from (1.01: never, the FallbackClassifier alone)",
    )
    best = max(rows, key=lambda r: (r["macro_f1"], -r["wrong_in_scope"]))
    print(
        f"\nBest macro-F1 on this set: threshold {best['threshold']:.2f}, ambiguity "
        f"{best['ambiguity']:.2f}, declines from {best['decline_min']:.2f} "
        f"({best['macro_f1']:.3f}); config.yml: {threshold:.2f}, {ambiguity:.2f}, {DECLINE_MIN}"
    )


def parse(url: str, text: str) -> dict[str, Any]:
    """The classifier's own ranking, before the EmergencyDetector judged it."""
    _, body, _ = post(url, {"text": text})
    if "intent" not in body:
        raise RuntimeError(f"/model/parse failed: {body}")
    ranking = body.get("classifier_ranking") or [
        r for r in body.get("intent_ranking") or [] if r["name"] != FALLBACK
    ]
    found = {"ranking": ranking}
    # The two rankings nlu.linear_classifier blended, when the pipeline has it (bench/linear.py).
    for key in ("diet_ranking", "linear_ranking"):
        if body.get(key):
            found[key] = body[key]
    return {
        key: [{"name": r["name"], "confidence": float(r["confidence"])} for r in value]
        for key, value in found.items()
    }


def redis_for_bench() -> str | None:
    """REDIS_URL if set, else the local server if it answers, else a private redis-server."""
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    try:
        redis_sync.Redis(port=6379, socket_connect_timeout=1).ping()
        return "redis://127.0.0.1:6379/14"
    except redis_sync.RedisError:
        return None


def drop_keys(redis_url: str | None, prefix: str) -> None:
    """Delete what a benchmark stored under its prefix (nothing to do on a private server)."""
    if not redis_url:
        return
    client = redis_sync.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])


def replay() -> None:
    """The curve again from the last run's rankings (build/bench/nlu.json), no stack needed.

    For choosing thresholds and decline rules after a code change that does not touch
    the model: `python -m bench.nlu --replay`.
    """
    results = json.loads(RESULTS.read_text(encoding="utf-8"))["results"]
    for result in results:
        sign = result["found"]
        result["found"] = SimpleNamespace(sign=sign, reply="umum") if sign else None
    print_curve(threshold_curve(results), load_config_thresholds())


def main() -> None:
    if "--replay" in sys.argv[1:]:
        replay()
        return
    cases = heldout_cases()
    prefix = f"ksbench:{uuid.uuid4().hex[:8]}:"
    stack = Stack(
        redis_url=redis_for_bench(),
        redis_prefix=prefix,
        gateway_port=free_port(),
        rasa_port=free_port(),
        actions_port=free_port(),
        rasa_api=True,
    )
    print(f"Starting the stack (Redis: {stack.redis_url or 'private redis-server'})...")
    stack.start()
    try:
        url = f"{stack.chat_url}api/v1/chat"
        key = {"Authorization": f"Bearer {stack.api_key}"}
        for warmup in ("halo", "jadwal imunisasi", "makasih"):
            post(url, {"user_id": "warmup", "text": warmup}, key)
        parse_url = f"http://127.0.0.1:{stack.rasa_port}/model/parse?token={stack.rasa_api_token}"
        rules, dictionary = EmergencyRules.load(), SlangDictionary.load()
        results = []
        for text, gold, long, subset in cases:
            normalized = normalize(text, dictionary).text
            status, body, ms = post(url, {"user_id": uuid.uuid4().hex, "text": text}, key)
            results.append(
                {
                    "text": text,
                    "gold": gold,
                    "long": long,
                    "set": subset,
                    "intent": body.get("intent"),
                    "faq_id": body.get("faq_id"),
                    "status": status,
                    "ms": ms,
                    **parse(parse_url, text),
                }
            )
            results[-1]["found"] = rules.match(normalized, text)
            results[-1]["considered"] = rules.considered(normalized, text)
        memory = {name: rss_mb(p.pid) for name, p in stack.processes.items()}
    finally:
        with contextlib.suppress(redis_sync.RedisError):
            drop_keys(stack.redis_url, prefix)
        stack.stop()
    report = evaluate(results)
    for subset in ("border", "sealed", "sealed2"):
        report[f"{subset}_set"] = {
            k: v
            for k, v in evaluate([r for r in results if r["set"] == subset]).items()
            if k not in ("latency_p50_ms", "latency_p95_ms", "errors")
        }
    report["memory_rss_mb"] = memory
    report["redis"] = "private redis-server" if stack.local_redis else "redis-server"
    wrong = Counter(
        (r["gold"], r["intent"]) for r in results if r["gold"] != r["intent"] and r["intent"]
    )
    report["top_confusions"] = [f"{g} -> {p}: {n}" for (g, p), n in wrong.most_common(15)]
    curve = threshold_curve(results)
    for key, value in report.items():
        shown = f"{value:.3f}" if isinstance(value, float) else value
        target = f"  (target {TARGETS[key]})" if key in TARGETS else ""
        print(f"{key:>40}: {shown}{target}")
    print_curve(curve, load_config_thresholds())
    for result in results:
        result["found"] = result["found"].sign if result["found"] else None
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"report": report, "curve": curve, "results": results}, indent=1))


if __name__ == "__main__":
    main()
