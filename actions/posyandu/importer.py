"""Import Posyandu records into the directory.

    python -m actions.posyandu.importer data/posyandu/buton_utara.csv \\
        [--changes changes.csv] [--holidays holidays.csv]

Bad rows are reported with their line numbers and skipped; good rows are kept.
A schedule that is not fully understood (see actions/posyandu/schedule.py) is a bad
row, never a guess. The holiday file is read first: if any of its lines is wrong,
every wrong line is reported and nothing at all is imported (a holiday missed would
put a session on it). A change for a Posyandu that is not in the directory, or for
a day its schedule has no session, is reported and skipped. Importing the same
file again changes nothing. The CSV formats are described in
actions/posyandu/records.py and the README.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from actions.posyandu.directory import Directory, ImportCounts
from actions.posyandu.records import (
    PosyanduRecord,
    RowError,
    parse_holidays,
    read_change_rows,
    read_records,
)
from actions.posyandu.regions import Regions, time_zone_of
from actions.posyandu.schedule import Change
from actions.store import redis_from_env, redis_prefix

__all__ = ["ImportReport", "import_all", "import_file", "main", "store_changes"]


@dataclass
class ImportReport:
    """What an import did; `refused` means nothing was written."""

    counts: ImportCounts = field(default_factory=ImportCounts)
    errors: list[RowError] = field(default_factory=list)  # Posyandu rows skipped
    change_errors: list[RowError] = field(default_factory=list)  # change rows skipped
    holiday_errors: list[RowError] = field(default_factory=list)  # any: nothing imported
    changes: int = 0  # change rows stored
    notices: int = 0  # change notices planned for subscribers (new or different changes)
    holidays: int = 0  # holidays stored

    @property
    def refused(self) -> bool:
        return bool(self.holiday_errors)


async def import_file(
    directory: Directory, path: Path, regions: Regions, progress: bool = True
) -> tuple[ImportCounts, list[RowError]]:
    errors: list[RowError] = []

    def good_rows() -> Iterator[PosyanduRecord]:
        rows = read_records(path, regions)
        for line, item in tqdm(
            rows, desc=path.name, unit=" baris", disable=not progress, file=sys.stderr
        ):
            if isinstance(item, RowError):
                errors.append(item)
                continue
            zone, named = time_zone_of(item.village_code), item.rule.zone
            if named is not None and named != zone:
                errors.append(
                    RowError(
                        line,
                        f"schedule: zona waktu {named} tidak cocok dengan desa "
                        f"{item.village_code} ({zone})",
                    )
                )
                continue
            yield item

    counts = await directory.upsert(good_rows())
    return counts, errors


async def import_all(
    directory: Directory,
    path: Path,
    regions: Regions,
    changes: Path | None = None,
    holidays: Path | None = None,
    progress: bool = True,
) -> ImportReport:
    """Posyandu file, then changes and holidays; nothing is written if the holidays are wrong."""
    report = ImportReport()
    holiday_days: frozenset[dt.date] = frozenset()
    if holidays is not None:
        holiday_days, report.holiday_errors = parse_holidays(holidays)
        if report.holiday_errors:
            return report
    change_rows: list[tuple[int, str, Change]] = []
    if changes is not None:
        change_rows, report.change_errors = read_change_rows(changes)
    report.counts, report.errors = await import_file(directory, path, regions, progress)
    kept, errors = await _checked_changes(directory, change_rows)
    report.change_errors = sorted(report.change_errors + errors, key=lambda e: e.line)
    report.notices = await _store_changes(directory, kept)
    report.changes = sum(len(items) for items in kept.values())
    await directory.set_holidays(holiday_days)
    report.holidays = len(holiday_days)
    return report


async def store_changes(directory: Directory, changes: dict[str, list[Change]]) -> int:
    """Store one-off changes made elsewhere (the console) exactly as the changes file's:
    merged with those stored, subscribers told of each new or different one. The caller
    has checked them (a known Posyandu, a day its rule has a session). Returns the number
    of change notices handed to the reminder engine."""
    return await _store_changes(directory, changes)


async def _store_changes(directory: Directory, kept: dict[str, list[Change]]) -> int:
    """Store the file's changes and tell subscribers of every new or different one.

    A change already stored for another session of the same Posyandu (a cadre's move or
    cancellation from the chat) stays; the file wins for the sessions it names. Returns
    the number of change notices handed to the reminder engine.
    """
    before = {pid: await directory.changes_for(pid) for pid in kept}
    merged = {
        pid: [c for c in before[pid] if c.original not in {n.original for n in items}] + items
        for pid, items in kept.items()
    }
    await directory.set_changes(merged)
    fresh = [(pid, c) for pid, items in kept.items() for c in items if c not in before[pid]]
    if not fresh:
        return 0
    # The engine lives with the gateway (bot/reminders); importing it here keeps the
    # importer usable where only the directory is wanted.
    from actions.reminders.planner import change_notices
    from bot.reminders.store import schedule

    now = time.time()
    sends = []
    for pid, change in fresh:
        sends += await change_notices(
            directory.redis, directory.prefix, pid, change, now, directory=directory
        )
    if sends:
        await schedule(directory.redis, directory.prefix, sends, now=now)
    return len(sends)


async def _checked_changes(
    directory: Directory, rows: list[tuple[int, str, Change]]
) -> tuple[dict[str, list[Change]], list[RowError]]:
    """The changes for a known Posyandu on a day its schedule has a session."""
    kept: dict[str, list[Change]] = {}
    errors: list[RowError] = []
    records: dict[str, PosyanduRecord | None] = {}
    for line, posyandu_id, change in rows:
        if posyandu_id not in records:
            records[posyandu_id] = await directory.get(posyandu_id)
        record = records[posyandu_id]
        if record is None:
            errors.append(RowError(line, f"posyandu_id {posyandu_id} tidak ada di direktori"))
            continue
        rule, day = record.rule, change.original
        if day not in rule.dates_in(day.year, day.month):
            errors.append(
                RowError(
                    line,
                    f"date {day.isoformat()} bukan hari sesi {posyandu_id} menurut jadwalnya "
                    f"({record.schedule}); tulis tanggal sesi menurut jadwal",
                )
            )
            continue
        kept.setdefault(posyandu_id, []).append(change)
    return kept, errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m actions.posyandu.importer", description=__doc__
    )
    parser.add_argument("csv", type=Path)
    parser.add_argument("--changes", type=Path)
    parser.add_argument("--holidays", type=Path)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    for path in (args.csv, args.changes, args.holidays):
        if path is not None and not path.is_file():
            print(f"File tidak ditemukan: {path}", file=sys.stderr)
            return 1

    async def run() -> int:
        redis = redis_from_env()
        directory = Directory(redis, redis_prefix())
        started = time.perf_counter()
        try:
            report = await import_all(
                directory, args.csv, Regions(), args.changes, args.holidays, not args.quiet
            )
        finally:
            await redis.aclose()
        if report.refused:
            for error in report.holiday_errors:
                print(f"{args.holidays.name} {error}", file=sys.stderr)
            print(
                f"{args.holidays.name}: {len(report.holiday_errors)} baris salah; "
                "tidak ada yang diimpor. Perbaiki lalu impor lagi.",
                file=sys.stderr,
            )
            return 1
        for error in report.errors:
            print(f"{args.csv.name} {error} (dilewati)", file=sys.stderr)
        for error in report.change_errors:
            print(f"{args.changes.name} {error} (dilewati)", file=sys.stderr)
        counts = report.counts
        print(
            f"{args.csv.name}: {counts.added} ditambah, {counts.updated} diperbarui, "
            f"{counts.unchanged} tidak berubah, {len(report.errors)} baris ditolak "
            f"({time.perf_counter() - started:.1f} s)"
        )
        if args.changes:
            print(
                f"{args.changes.name}: {report.changes} perubahan disimpan, "
                f"{len(report.change_errors)} baris ditolak, "
                f"{report.notices} pemberitahuan perubahan untuk pelanggan"
            )
        if args.holidays:
            print(f"{args.holidays.name}: {report.holidays} hari libur disimpan")
        return 0

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
