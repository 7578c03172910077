"""Posyandu directory benchmark at national scale.

Generates (once) a synthetic record for every village (286,481 Posyandu,
build/posyandu/national.csv, not committed), imports it into Redis, adds a
holiday list (27 days a year, this year and next) and one-off changes for 1 % of
the Posyandu, and reports Redis memory. Then it sends 1,000 requests of each kind
through the production actions themselves (`ActionPosyanduSchedule.run` and
`ActionNearestPosyandu.run` with rasa-sdk's Tracker and CollectingDispatcher), so
each timed request does what a real one does: find the village(s), read their
Posyandu, read each Posyandu's changes and the holidays, compute and format the
next sessions, build the reply and its buttons. Rasa itself (NLU, tracker store)
is not included, and the requests carry no entities: the village is found from
the message text alone, as when Rasa extracts none. 50 requests warm the caches
first and are not counted.

Name lookups: 40 % the exact village name, 40 % the name with one typo, 20 % the
exact name plus its kecamatan, each made from a village drawn at random from all
83,762. A lookup counts as found only when that village is in the reply: its
Posyandu listed (the only village that matched), or one of the buttons offered
to choose from (2-10 villages of that name, or the villages of a kecamatan).

Run: make bench-posyandu   (uses REDIS_URL, else the local Redis on 6379, db 12;
all keys live under a fresh ksbench:<random>: prefix and are deleted at the end;
nothing is flushed)
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Tracker
from rasa_sdk.types import DomainDict
from redis.asyncio import Redis

from actions.posyandu.actions import (
    NEAREST_RADIUS_KM,
    SLOT_LISTED,
    SLOT_VILLAGE,
    ActionNearestPosyandu,
    ActionPosyanduSchedule,
    PosyanduAction,
    messages,
)
from actions.posyandu.directory import Directory
from actions.posyandu.importer import import_file
from actions.posyandu.lookup import PlaceQuery, VillageFinder
from actions.posyandu.regions import Region, Regions
from actions.posyandu.schedule import Change, parse_rule

ROOT = Path(__file__).resolve().parent.parent
NATIONAL = ROOT / "build" / "posyandu" / "national.csv"
RESULTS = ROOT / "build" / "bench" / "posyandu.json"
REDIS_URL = "redis://127.0.0.1:6379/12"  # tests use 15, bench-nlu/bench-channels 14
QUERIES = 1000
WARMUP = 50
HOLIDAYS_PER_YEAR = 27  # national holidays and cuti bersama
CHANGED_SHARE = 0.01  # Posyandu with a one-off change (cancelled or moved)
TARGETS = {"name_p99_ms": 20.0, "nearest_p99_ms": 5.0, "import_s": 60.0}
# The actions read nothing from the domain.
DOMAIN: DomainDict = {
    "intents": [],
    "entities": [],
    "slots": {},
    "responses": {},
    "actions": [],
    "forms": {},
}
KINDS = {"exact": "exact", "typo": "typo", "kecamatan": "+kec"}
# What a name lookup's reply showed (each request has exactly one).
OUTCOMES = ("listed", "choice", "wrong_listed", "wrong_choice", "too_many", "nothing")
# The printed rows of the name lookup table: figure and what it means.
NAME_ROWS = {
    "found_share": "found: the intended village is in the reply",
    "listed_share": "  its Posyandu listed (it was the only match)",
    "choice_share": "  one of the buttons to choose a village from",
    "first_share": "first: the intended village is the first shown",
    "wrong_share": "wrong: other village(s) shown, not the intended one",
    "wrong_listed_share": "  another village's Posyandu listed",
    "wrong_choice_share": "  buttons to choose from, without the intended one",
    "too_many_share": "none shown: >10 of that name, asks for the kecamatan",
    "nothing_share": 'none shown: "not found" (e.g. a typo not recognised)',
}


@dataclass(frozen=True)
class NameQuery:
    kind: str  # exact / typo / kecamatan
    village: Region  # the village the text was made from
    text: str


@dataclass(frozen=True)
class Reply:
    """What the action showed the user."""

    key: str  # the messages.yml text it answered with ("list" for a listing)
    villages: tuple[str, ...]  # village codes shown, in the order shown
    listed: bool  # one village's Posyandu listed (rather than villages to choose from)
    posyandu: tuple[str, ...]  # ids of the Posyandu listed


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def typo(rng: random.Random, name: str) -> str:
    letters = list(name.lower())
    position = rng.randrange(1, len(letters) - 1) if len(letters) > 3 else 0
    action = rng.choice(["drop", "double", "swap"])
    if action == "drop":
        del letters[position]
    elif action == "double":
        letters.insert(position, letters[position])
    else:
        letters[position - 1], letters[position] = letters[position], letters[position - 1]
    return "".join(letters)


def name_queries(
    rng: random.Random, villages: list[Region], regions: Regions, count: int
) -> list[NameQuery]:
    queries = []
    for _ in range(count):
        village = rng.choice(villages)
        district = regions.get(village.code[:8])
        kind = rng.random()
        if kind < 0.4:
            text = f"jadwal posyandu desa {village.name.lower()} kapan?"
            queries.append(NameQuery("exact", village, text))
        elif kind < 0.8:
            text = f"posyandu di desa {typo(rng, village.name)} kapan"
            queries.append(NameQuery("typo", village, text))
        else:
            area = district.name.lower() if district else ""
            text = f"posyandu desa {village.name.lower()} kec {area}"
            queries.append(NameQuery("kecamatan", village, text))
    return queries


def points(rng: random.Random, villages: list[Region], count: int) -> list[tuple[float, float]]:
    """Locations up to about 2 km from villages' centres."""
    centres = [(v.lat, v.lon) for v in villages if v.lat is not None and v.lon is not None]
    chosen = [rng.choice(centres) for _ in range(count)]
    return [(lat + rng.uniform(-0.02, 0.02), lon + rng.uniform(-0.02, 0.02)) for lat, lon in chosen]


def tracker(text: str, intent: str, entities: list[dict[str, Any]] | None = None) -> Tracker:
    """A new conversation's tracker with one user message, as the action server builds it."""
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 1.0},
        "entities": entities or [],
    }
    return Tracker("bench:user", {}, latest, [], False, None, {}, "action_listen")


@cache
def _templates() -> dict[str, re.Pattern[str]]:
    return {
        key: re.compile(
            ".*?".join(re.escape(part) for part in re.split(r"\{\w+\}", text)), re.DOTALL
        )
        for key, text in messages().items()
    }


def read_reply(sent: list[dict[str, Any]], events: list[dict[str, Any]]) -> Reply:
    """The villages and Posyandu a reply showed, from its slots and button payloads."""
    [message] = sent
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    posyandu = tuple(str(i) for i in slots.get(SLOT_LISTED) or [])
    if slots.get(SLOT_VILLAGE):  # _list: the one village found, its Posyandu listed
        return Reply("list", (str(slots[SLOT_VILLAGE]),), True, posyandu)
    text = message.get("text") or ""
    key = next((k for k, p in _templates().items() if p.fullmatch(text)), "?")
    if key == "unavailable":
        raise RuntimeError("the action could not read the directory (see the log)")
    villages = []
    for button in message.get("buttons") or []:
        payload = str(button.get("payload", ""))
        if "village_code" in payload:
            villages.append(str(json.loads(payload[payload.index("{") :])["village_code"]))
    return Reply(key, tuple(villages), False, posyandu)


def outcome(reply: Reply, intended: str) -> str:
    shown = reply.villages if reply.posyandu or not reply.listed else ()
    if intended in shown:
        return "listed" if reply.listed else "choice"
    if shown:
        return "wrong_listed" if reply.listed else "wrong_choice"
    return "too_many" if reply.key == "too_many" else "nothing"


async def ask(action: PosyanduAction, track: Tracker) -> tuple[float, Reply]:
    """One request through the action: milliseconds taken and what it showed."""
    dispatcher = CollectingDispatcher()
    started = time.perf_counter()
    events = await action.run(dispatcher, track, DOMAIN)
    elapsed = (time.perf_counter() - started) * 1000
    return elapsed, read_reply(dispatcher.messages, events)


def holidays(rng: random.Random, today: dt.date) -> list[dt.date]:
    days = []
    for year in (today.year, today.year + 1):
        start = dt.date(year, 1, 1)
        days += [start + dt.timedelta(days=d) for d in rng.sample(range(365), HOLIDAYS_PER_YEAR)]
    return days


def changes(rng: random.Random, today: dt.date) -> dict[str, list[Change]]:
    """Next month's session cancelled or moved two days, for a share of the Posyandu."""
    year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    found: dict[str, list[Change]] = {}
    with NATIONAL.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if rng.random() >= CHANGED_SHARE:
                continue
            original = parse_rule(row["schedule"]).date_in(year, month)
            if rng.random() < 0.5:
                change = Change(original, cancelled=True, note="kader berhalangan")
            else:
                moved = original + dt.timedelta(days=2)
                change = Change(original, new_date=moved, note="pindah ke balai desa")
            found[row["id"]] = [change]
    return found


def generate_national() -> None:
    if not NATIONAL.exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "scripts.generate_posyandu",
                "--national",
                "--out",
                str(NATIONAL),
            ],
            check=True,
        )


def shares(outcomes: list[str], firsts: list[bool]) -> dict[str, float]:
    counts = Counter(outcomes)
    total = len(outcomes)
    result = {
        "found_share": (counts["listed"] + counts["choice"]) / total,
        "first_share": sum(firsts) / total,
        "wrong_share": (counts["wrong_listed"] + counts["wrong_choice"]) / total,
    }
    result.update({f"{key}_share": counts[key] / total for key in OUTCOMES})
    return {key: round(value, 4) for key, value in result.items()}


async def main() -> None:
    url = os.environ.get("REDIS_URL") or REDIS_URL
    prefix = f"ksbench:{uuid.uuid4().hex[:8]}:"
    redis = Redis.from_url(url)
    directory = Directory(redis, prefix)
    regions = Regions()
    finder = VillageFinder(regions)
    finder.find(PlaceQuery("desa lambalee"))  # build the indexes before timing
    schedule = ActionPosyanduSchedule(directory=directory, finder=finder)
    nearest = ActionNearestPosyandu(directory=directory, finder=finder)
    villages = [r for r in regions.by_code.values() if r.level == "village"]
    today = dt.datetime.now(dt.UTC).date()
    rng = random.Random(42)
    try:
        before = (await redis.info("memory"))["used_memory"]
        started = time.perf_counter()
        counts, errors = await import_file(directory, NATIONAL, regions, progress=False)
        import_s = time.perf_counter() - started
        after = (await redis.info("memory"))["used_memory"]
        started = time.perf_counter()
        again, _ = await import_file(directory, NATIONAL, regions, progress=False)
        reimport_s = time.perf_counter() - started
        seeded = random.Random(7)
        await directory.set_holidays(holidays(seeded, today))
        changed = changes(seeded, today)
        await directory.set_changes(changed)

        warm = random.Random(1)
        for query in name_queries(warm, villages, regions, WARMUP):
            await ask(schedule, tracker(query.text, "ask_posyandu_schedule"))

        name_ms: dict[str, list[float]] = {kind: [] for kind in KINDS}
        name_outcomes: dict[str, list[str]] = {kind: [] for kind in KINDS}
        name_firsts: dict[str, list[bool]] = {kind: [] for kind in KINDS}
        for query in name_queries(rng, villages, regions, QUERIES):
            elapsed, reply = await ask(schedule, tracker(query.text, "ask_posyandu_schedule"))
            result = outcome(reply, query.village.code)
            name_ms[query.kind].append(elapsed)
            name_outcomes[query.kind].append(result)
            name_firsts[query.kind].append(
                result in ("listed", "choice") and reply.villages[0] == query.village.code
            )

        nearest_ms, nearest_empty = [], 0
        for lat, lon in points(rng, villages, QUERIES):
            entities = [{"entity": "lat", "value": str(lat)}, {"entity": "lon", "value": str(lon)}]
            elapsed, reply = await ask(nearest, tracker("", "share_location", entities))
            nearest_ms.append(elapsed)
            nearest_empty += not reply.posyandu
    finally:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=10000)]
        for start in range(0, len(keys), 10000):
            await redis.delete(*keys[start : start + 10000])
        await redis.aclose()

    all_ms = [ms for kind in KINDS for ms in name_ms[kind]]
    all_outcomes = [o for kind in KINDS for o in name_outcomes[kind]]
    all_firsts = [f for kind in KINDS for f in name_firsts[kind]]
    report: dict[str, Any] = {
        "rows_imported": counts.added,
        "rows_rejected": len(errors),
        "import_s": round(import_s, 1),
        "reimport_s_unchanged": round(reimport_s, 1),
        "reimport_unchanged_rows": again.unchanged,
        "redis_memory_mb": round((after - before) / 2**20, 1),
        "holidays": HOLIDAYS_PER_YEAR * 2,
        "posyandu_with_changes": len(changed),
        "name_queries": len(all_ms),
        **{f"name_{key}": value for key, value in shares(all_outcomes, all_firsts).items()},
        "name_p50_ms": round(statistics.median(all_ms), 2),
        "name_p99_ms": round(percentile(all_ms, 0.99), 2),
        "name_by_kind": {
            kind: {
                "queries": len(name_ms[kind]),
                **shares(name_outcomes[kind], name_firsts[kind]),
                "p50_ms": round(statistics.median(name_ms[kind]), 2),
                "p99_ms": round(percentile(name_ms[kind], 0.99), 2),
            }
            for kind in KINDS
        },
        "nearest_queries": len(nearest_ms),
        "nearest_none_share": round(nearest_empty / len(nearest_ms), 4),
        "nearest_p50_ms": round(statistics.median(nearest_ms), 3),
        "nearest_p99_ms": round(percentile(nearest_ms, 0.99), 3),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1))
    print_report(report, url, prefix)


def print_report(report: dict[str, Any], url: str, prefix: str) -> None:
    def line(label: str, *cells: str) -> None:
        print(f"{label:<58}" + "".join(f"{cell:>10}" for cell in cells))

    def target(key: str, unit: str) -> str:
        return f"target < {TARGETS[key]:g} {unit}"

    def ms(value: float) -> str:
        return f"{value:.2f} ms"

    print(f"Redis {url}, keys under {prefix} (deleted)\n")
    print(f"Import of {NATIONAL.relative_to(ROOT)}")
    line("  rows imported (validated, schedules parsed, written)", f"{report['rows_imported']:,}")
    line("  rows rejected", str(report["rows_rejected"]))
    line(f"  import time ({target('import_s', 's')})", f"{report['import_s']} s")
    line(
        f"  re-import of the same file ({report['reimport_unchanged_rows']:,} rows unchanged)",
        f"{report['reimport_s_unchanged']} s",
    )
    line("  Redis memory for the directory (used_memory growth)", f"{report['redis_memory_mb']} MB")
    line(
        "  then added: holidays / Posyandu with a one-off change",
        f"{report['holidays']} / {report['posyandu_with_changes']:,}",
    )

    by_kind = report["name_by_kind"]
    print(
        "\nLookup by village name: ActionPosyanduSchedule.run per request, text only"
        "\n(share of requests; the intended village is the one the text was made from)"
    )
    line("", "all", *KINDS.values())
    line("  requests", str(report["name_queries"]), *(str(by_kind[k]["queries"]) for k in KINDS))

    def share_row(label: str, key: str) -> None:
        cells = [report[f"name_{key}"]] + [by_kind[k][key] for k in KINDS]
        line(label, *(f"{100 * c:.1f} %" for c in cells))

    for key, label in NAME_ROWS.items():
        share_row("  " + label, key)
    line(
        "  time per request p50",
        ms(report["name_p50_ms"]),
        *(ms(by_kind[k]["p50_ms"]) for k in KINDS),
    )
    line(
        f"  time per request p99 ({target('name_p99_ms', 'ms')})",
        ms(report["name_p99_ms"]),
        *(ms(by_kind[k]["p99_ms"]) for k in KINDS),
    )
    print(
        "  found + wrong + none shown = 100 %. First: its Posyandu listed, or it is the"
        "\n  first button. Times: the whole action.run, from the text to the reply."
    )

    print(
        "\nNearest 3 by location: ActionNearestPosyandu.run per request, points up to"
        f"\nabout 2 km from village centres, search radius {NEAREST_RADIUS_KM:g} km"
    )
    line("  requests", str(report["nearest_queries"]))
    line("  no Posyandu within the radius", f"{100 * report['nearest_none_share']:.1f} %")
    line("  time per request p50", ms(report["nearest_p50_ms"]))
    line(f"  time per request p99 ({target('nearest_p99_ms', 'ms')})", ms(report["nearest_p99_ms"]))
    print(f"\nFigures written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    generate_national()
    asyncio.run(main())
