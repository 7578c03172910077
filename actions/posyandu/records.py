"""Posyandu records: the CSV format, row validation, one-off changes and holidays.

posyandu CSV (UTF-8, header row):
  id, name, village_code, address, lat, lon, cadre_contact, schedule
  - id: 1-64 of A-Z a-z 0-9 . _ -        - village_code: Kemendagri code (74.10.05.2003)
  - lat, lon: decimal degrees inside Indonesia
  - cadre_contact: optional, shown to citizens as given (a name and/or phone)
  - schedule: "setiap tanggal 10, 08.00-11.00" or "Selasa kedua, 08.00-11.00" (see schedule.py)
changes CSV: posyandu_id, date, action (batal|pindah / cancel|move), new_date, new_hours, note
holidays CSV: date, name
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

__all__ = ["PosyanduRecord", "RowError", "read_changes", "read_holidays", "read_records"]

COLUMNS = ("id", "name", "village_code", "address", "lat", "lon", "cadre_contact", "schedule")
_HOURS = re.compile(r"^(\d{1,2})[.:](\d{2})\s*-\s*(\d{1,2})[.:](\d{2})$")


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
    errors: list[RowError] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            try:
                posyandu_id, change = _change(row)
            except (ValueError, KeyError) as error:
                errors.append(RowError(reader.line_num, str(error)))
                continue
            changes.setdefault(posyandu_id, []).append(change)
    return changes, errors


def _change(row: dict[str, str]) -> tuple[str, Change]:
    posyandu_id = (row.get("posyandu_id") or "").strip()
    if not posyandu_id:
        raise ValueError("posyandu_id kosong")
    original = dt.date.fromisoformat((row.get("date") or "").strip())
    action = (row.get("action") or "").strip().lower()
    note = (row.get("note") or "").strip()
    if action in ("batal", "cancel"):
        return posyandu_id, Change(original=original, cancelled=True, note=note)
    if action not in ("pindah", "move"):
        raise ValueError(f"action harus batal/pindah, bukan {action!r}")
    new_date = dt.date.fromisoformat((row.get("new_date") or "").strip() or original.isoformat())
    start = end = None
    hours = (row.get("new_hours") or "").strip()
    if hours:
        match = _HOURS.match(hours)
        if not match:
            raise ValueError(f"new_hours tidak sah: {hours!r} (contoh 08.00-11.00)")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = dt.time(h1, m1), dt.time(h2, m2)
    return posyandu_id, Change(original, False, new_date, start, end, note)


def read_holidays(path: Path) -> frozenset[dt.date]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return frozenset(
            dt.date.fromisoformat(row["date"].strip()) for row in csv.DictReader(handle)
        )
