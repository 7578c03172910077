"""Import Posyandu records into the directory.

    python -m actions.posyandu.importer data/posyandu/buton_utara.csv \\
        [--changes changes.csv] [--holidays holidays.csv]

Bad rows are reported with their line numbers and skipped; good rows are kept.
Importing the same file again changes nothing. The CSV formats are described in
actions/posyandu/records.py and the README.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from tqdm import tqdm

from actions.posyandu.directory import Directory, ImportCounts
from actions.posyandu.records import (
    PosyanduRecord,
    RowError,
    read_changes,
    read_holidays,
    read_records,
)
from actions.posyandu.regions import Regions
from actions.store import redis_from_env, redis_prefix


async def import_file(
    directory: Directory, path: Path, regions: Regions, progress: bool = True
) -> tuple[ImportCounts, list[RowError]]:
    errors: list[RowError] = []

    def good_rows() -> object:
        rows = read_records(path, regions)
        for _, item in tqdm(
            rows, desc=path.name, unit=" baris", disable=not progress, file=sys.stderr
        ):
            if isinstance(item, PosyanduRecord):
                yield item
            else:
                errors.append(item)

    counts = await directory.upsert(good_rows())  # type: ignore[arg-type]
    return counts, errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m actions.posyandu.importer", description=__doc__
    )
    parser.add_argument("csv", type=Path)
    parser.add_argument("--changes", type=Path)
    parser.add_argument("--holidays", type=Path)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if not args.csv.is_file():
        print(f"File tidak ditemukan: {args.csv}", file=sys.stderr)
        return 1

    async def run() -> int:
        redis = redis_from_env()
        directory = Directory(redis, redis_prefix())
        started = time.perf_counter()
        try:
            counts, errors = await import_file(directory, args.csv, Regions(), not args.quiet)
            for error in errors:
                print(f"{args.csv.name} {error} (dilewati)", file=sys.stderr)
            if args.changes:
                changes, change_errors = read_changes(args.changes)
                for error in change_errors:
                    print(f"{args.changes.name} {error} (dilewati)", file=sys.stderr)
                await directory.set_changes(changes)
            if args.holidays:
                await directory.set_holidays(read_holidays(args.holidays))
        finally:
            await redis.aclose()
        print(
            f"{args.csv.name}: {counts.added} ditambah, {counts.updated} diperbarui, "
            f"{counts.unchanged} tidak berubah, {len(errors)} baris ditolak "
            f"({time.perf_counter() - started:.1f} s)"
        )
        return 0

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
