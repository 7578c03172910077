"""The reminder side's words (messages.yml) and Indonesian dates and times."""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from actions.posyandu.schedule import DAYS_ID, MONTHS_ID, TIME_ZONES

__all__ = ["UTC_OFFSETS", "at_local", "day_words", "local", "messages", "say", "time_words"]

UTC_OFFSETS = {"WIB": 7, "WITA": 8, "WIT": 9}


@cache
def messages() -> dict[str, Any]:
    path = Path(__file__).with_name("messages.yml")
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


def say(section: str, key: str, /, **values: object) -> str:
    """One sentence of messages.yml with its placeholders filled in."""
    template: str = messages()[section][key]
    return template.format(**values) if values else template


def day_words(day: dt.date, weekday: bool = True) -> str:
    """ "Selasa, 9 Desember 2025" (or "9 Desember 2025")."""
    text = f"{day.day} {MONTHS_ID[day.month - 1]} {day.year}"
    return f"{DAYS_ID[day.weekday()]}, {text}" if weekday else text


def time_words(start: dt.time, end: dt.time, zone: str) -> str:
    """ "08.00-11.00 WITA"."""
    return f"{start:%H.%M}-{end:%H.%M} {zone}"


def local(timestamp: float, zone: str) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, TIME_ZONES[zone])


def at_local(day: dt.date, clock: dt.time, zone: str) -> float:
    """Unix seconds of `clock` on `day` in the time zone `zone` (WIB/WITA/WIT)."""
    return dt.datetime.combine(day, clock, TIME_ZONES[zone]).timestamp()
