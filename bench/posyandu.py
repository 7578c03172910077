"""Posyandu directory benchmark at national scale.

Generates (once) a synthetic record for every village (about 290,000 Posyandu,
build/posyandu/national.csv, not committed), imports it into Redis, then times
lookup by village name (exact, with typos through the fuzzy fallback, ambiguous
names narrowed by kecamatan) and nearest-3 by location, and reports Redis memory.

Run: make bench-posyandu   (uses REDIS_URL, else the local Redis on 6379, db 13)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from redis.asyncio import Redis

from actions.posyandu.directory import Directory
from actions.posyandu.importer import import_file
from actions.posyandu.lookup import PlaceQuery, VillageFinder
from actions.posyandu.regions import Region, Regions, time_zone_of
from actions.posyandu.schedule import next_session

ROOT = Path(__file__).resolve().parent.parent
NATIONAL = ROOT / "build" / "posyandu" / "national.csv"
RESULTS = ROOT / "build" / "bench" / "posyandu.json"
QUERIES = 1000
TARGETS = {"name_p99_ms": 20.0, "nearest_p99_ms": 5.0, "import_s": 60.0}


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


def name_queries(rng: random.Random, villages: list[Region], regions: Regions) -> list[PlaceQuery]:
    queries = []
    for _ in range(QUERIES):
        village = rng.choice(villages)
        district = regions.get(village.code[:8])
        kind = rng.random()
        if kind < 0.4:
            text = f"jadwal posyandu desa {village.name.lower()} kapan?"
        elif kind < 0.8:
            text = f"posyandu di desa {typo(rng, village.name)} kapan"
        else:
            area = district.name.lower() if district else ""
            text = f"posyandu desa {village.name.lower()} kec {area}"
        queries.append(PlaceQuery(text))
    return queries


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


async def main() -> None:
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/13"
    prefix = f"ksbench:{uuid.uuid4().hex[:8]}:"
    redis = Redis.from_url(url)
    directory = Directory(redis, prefix)
    regions = Regions()
    finder = VillageFinder(regions)
    finder.find(PlaceQuery("desa lambalee"))  # build the indexes before timing
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

        villages = [r for r in regions.by_code.values() if r.level == "village" and r.lat]
        holidays = await directory.holidays()
        now = dt.datetime.now(dt.UTC)
        name_ms, found = [], 0
        for query in name_queries(rng, villages, regions):
            t0 = time.perf_counter()
            matches = finder.find(query)
            if len(matches) == 1:
                records = await directory.in_village(matches[0].code)
                zone = time_zone_of(matches[0].code)
                for record in records:
                    next_session(record.rule, now, zone, (), holidays)
            name_ms.append((time.perf_counter() - t0) * 1000)
            found += bool(matches)

        nearest_ms = []
        for _ in range(QUERIES):
            village = rng.choice(villages)
            assert village.lat is not None and village.lon is not None
            lat, lon = (
                village.lat + rng.uniform(-0.02, 0.02),
                village.lon + rng.uniform(-0.02, 0.02),
            )
            t0 = time.perf_counter()
            await directory.nearest(lat, lon, count=3)
            nearest_ms.append((time.perf_counter() - t0) * 1000)
    finally:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=10000)]
        for start in range(0, len(keys), 10000):
            await redis.delete(*keys[start : start + 10000])
        await redis.aclose()

    report = {
        "rows_imported": counts.added,
        "rows_rejected": len(errors),
        "import_s": round(import_s, 1),
        "reimport_s_unchanged": round(reimport_s, 1),
        "reimport_unchanged_rows": again.unchanged,
        "redis_memory_mb": round((after - before) / 2**20, 1),
        "name_queries": QUERIES,
        "name_found_share": found / QUERIES,
        "name_p50_ms": round(statistics.median(name_ms), 2),
        "name_p99_ms": round(percentile(name_ms, 0.99), 2),
        "nearest_p50_ms": round(statistics.median(nearest_ms), 3),
        "nearest_p99_ms": round(percentile(nearest_ms, 0.99), 3),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1))
    for key, value in report.items():
        target = f"  (target {TARGETS[key]})" if key in TARGETS else ""
        print(f"{key:>24}: {value}{target}")


if __name__ == "__main__":
    generate_national()
    asyncio.run(main())
