"""Posyandu records: the CSV format, row validation, one-off changes and holidays.

posyandu CSV (UTF-8, header row):
  id, name, village_code, address, lat, lon, cadre_contact, schedule
  - id: 1-64 of A-Z a-z 0-9 . _ -        - village_code: Kemendagri code (74.10.05.2003)
  - lat, lon: decimal degrees inside Indonesia
  - cadre_contact: optional, shown to citizens as given (a name and/or phone)
  - schedule: "setiap tanggal 10, 08.00-11.00" or "Selasa kedua, 08.00-11.00" (see schedule.py)
changes CSV: posyandu_id, date, action (batal|pindah / cancel|move), new_date, new_hours, note
holidays CSV: date (YYYY-MM-DD), name; every line must be right (parse_holidays lists the
  wrong ones by line number) because a missed holiday puts a session on it
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from actions.posyandu.regions import Regions
from actions.posyandu.schedule import Change, ScheduleError, ScheduleRule, parse_rule

__all__ = [
    "PosyanduRecord",
    "RowError",
    "parse_holidays",
    "read_change_rows",
    "read_changes",
    "read_holidays",
    "read_records",
]

COLUMNS = ("id", "name", "village_code", "address", "lat", "lon", "cadre_contact", "schedule")
_HOURS = re.compile(r"^(\d{1,2})[.:](\d{2})\s*-\s*(\d{1,2})[.:](\d{2})$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class PosyanduRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    id: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    name: str = Field(min_length=3, max_length=120)
    village_code: str = Field(pattern=r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$")
    address: str = Field(default="", max_length=300)
    lat: float = Field(ge=-11.5, le=6.5)
    lon: float = Field(ge=94.0, le=141.5)
    cadre_contact: str = Field(default="", max_length=120)
    schedule: str = Field(min_length=5, max_length=200)

    @field_validator("schedule")
    @classmethod
    def schedule_parses(cls, value: str) -> str:
        parse_rule(value)
        return value

    @property
    def rule(self) -> ScheduleRule:
        return parse_rule(self.schedule)


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"baris {self.line}: {self.message}"


def read_records(path: Path, regions: Regions) -> Iterator[tuple[int, PosyanduRecord | RowError]]:
    """(line number, record or error) for each data row; the header is line 1."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            yield 1, RowError(1, f"kolom tidak ada: {', '.join(missing)}")
            return
        for row in reader:
            line = reader.line_num
            yield line, _record(line, row, regions)


def _record(line: int, row: dict[str, str | None], regions: Regions) -> PosyanduRecord | RowError:
    values = {column: (row.get(column) or "").strip() for column in COLUMNS}
    try:
        record = PosyanduRecord.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "baris"
        reason = str(first.get("ctx", {}).get("error") or first["msg"])
        return RowError(line, f"{field}: {reason}")
    except ScheduleError as error:
        return RowError(line, f"schedule: {error}")
    if regions.get(record.village_code) is None:
        return RowError(line, f"village_code: kode desa {record.village_code} tidak dikenal")
    return record


def read_changes(path: Path) -> tuple[dict[str, list[Change]], list[RowError]]:
    changes: dict[str, list[Change]] = {}
    rows, errors = read_change_rows(path)
    for _, posyandu_id, change in rows:
        changes.setdefault(posyandu_id, []).append(change)
    return changes, errors


def read_change_rows(path: Path) -> tuple[list[tuple[int, str, Change]], list[RowError]]:
    """(line number, posyandu id, change) for each good row, and the bad rows' errors."""
    rows: list[tuple[int, str, Change]] = []
    errors: list[RowError] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            try:
                posyandu_id, change = _change(row)
            except (ValueError, KeyError) as error:
                errors.append(RowError(reader.line_num, str(error)))
                continue
            rows.append((reader.line_num, posyandu_id, change))
    return rows, errors


def _change(row: dict[str, str]) -> tuple[str, Change]:
    posyandu_id = (row.get("posyandu_id") or "").strip()
    if not posyandu_id:
        raise ValueError("posyandu_id kosong")
    original = _iso_date((row.get("date") or "").strip(), "date")
    action = (row.get("action") or "").strip().lower()
    note = (row.get("note") or "").strip()
    if action in ("batal", "cancel"):
        return posyandu_id, Change(original=original, cancelled=True, note=note)
    if action not in ("pindah", "move"):
        raise ValueError(f"action harus batal/pindah, bukan {action!r}")
    new_value = (row.get("new_date") or "").strip()
    new_date = _iso_date(new_value, "new_date") if new_value else original
    start = end = None
    hours = (row.get("new_hours") or "").strip()
    if hours:
        match = _HOURS.match(hours)
        if not match:
            raise ValueError(f"new_hours tidak sah: {hours!r} (contoh 08.00-11.00)")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        try:
            start, end = dt.time(h1, m1), dt.time(h2, m2)
        except ValueError:
            raise ValueError(f"new_hours tidak sah: {hours!r} (contoh 08.00-11.00)") from None
        if end <= start:
            raise ValueError(f"new_hours: jam selesai harus setelah jam mulai ({hours!r})")
    return posyandu_id, Change(original, False, new_date, start, end, note)


def _iso_date(value: str, column: str) -> dt.date:
    if not value:
        raise ValueError(f"{column} kosong")
    if not _ISO_DATE.match(value):
        raise ValueError(f"{column} tidak sah: {value!r} (tulis YYYY-MM-DD, contoh 2026-08-17)")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{column}: tanggal {value} tidak ada") from None


def read_holidays(path: Path) -> frozenset[dt.date]:
    """The holidays; ValueError naming every bad line if any line is wrong."""
    holidays, errors = parse_holidays(path)
    if errors:
        raise ValueError(f"{path.name}: " + "; ".join(str(error) for error in errors))
    return holidays


def parse_holidays(path: Path) -> tuple[frozenset[dt.date], list[RowError]]:
    """The holidays of the good lines, and an error for each bad line (the header is line 1)."""
    days: set[dt.date] = set()
    errors: list[RowError] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if "date" not in [(name or "").strip() for name in reader.fieldnames or []]:
            return frozenset(), [RowError(1, "kolom tidak ada: date")]
        for row in reader:
            value = next(
                (v or "" for k, v in row.items() if k is not None and k.strip() == "date"), ""
            ).strip()
            try:
                days.add(_iso_date(value, "date"))
            except ValueError as error:
                errors.append(RowError(reader.line_num, str(error)))
    return frozenset(days), errors
