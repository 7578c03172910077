"""Shared wiring for the reminder store tests: a small directory across the three time
zones, users, and a stub immunization schedule."""

from __future__ import annotations

import calendar
import datetime as dt
import fnmatch
from typing import Any, ClassVar

import pytest
from redis.asyncio import Redis

from actions.posyandu.directory import Directory
from actions.posyandu.records import PosyanduRecord
from actions.posyandu.schedule import TIME_ZONES
from actions.pseudonym import user_key
from actions.reminders.consent import (
    PURPOSE_CHILD,
    PURPOSE_POSYANDU,
    consent_text,
    record_consent,
)
from actions.reminders.store import Contact
from actions.store import as_text

RECORDS = [
    # Gambir, Jakarta (WIB): day 10 each month; day 31 below shows month ends.
    PosyanduRecord(
        id="JKT1",
        name="Posyandu Melati",
        village_code="31.71.01.1001",
        address="Balai RW 03",
        lat=-6.17,
        lon=106.82,
        schedule="setiap tanggal 10, 08.00-11.00",
    ),
    PosyanduRecord(
        id="JKT31",
        name="Posyandu Akhir Bulan",
        village_code="31.71.01.1002",
        address="Pos RW 05",
        lat=-6.17,
        lon=106.80,
        schedule="setiap tanggal 31, 08.00-11.00",
    ),
    # Buton Utara (WITA): second Tuesday.
    PosyanduRecord(
        id="BTN1",
        name="Posyandu Mawar",
        village_code="74.10.05.2003",
        address="Balai Desa",
        lat=-4.55,
        lon=123.08,
        schedule="Selasa kedua setiap bulan, 08.00-11.00",
    ),
    # Jayapura, Papua (WIT): day 1, so the eve is the last day of the month before.
    PosyanduRecord(
        id="JYP1",
        name="Posyandu Cenderawasih",
        village_code="91.71.01.1001",
        address="",
        lat=-2.53,
        lon=140.66,
        schedule="setiap tanggal 1, 07.00-10.00",
    ),
]


def at(zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    """Unix seconds of a wall-clock time in WIB/WITA/WIT (or UTC)."""
    tz = dt.UTC if zone == "UTC" else TIME_ZONES[zone]
    return dt.datetime(year, month, day, hour, minute, tzinfo=tz).timestamp()


def tg(number: int) -> tuple[str, Contact]:
    """A Telegram user: (pseudonym, contact)."""
    sender = f"tg:{number}"
    return user_key(sender), Contact("telegram", str(number))


def wa(number: str) -> tuple[str, Contact]:
    sender = f"wa:{number}"
    return user_key(sender), Contact("whatsapp", number)


@pytest.fixture
async def directory(redis: Redis, redis_prefix: str) -> Directory:
    directory = Directory(redis, redis_prefix)
    await directory.upsert(RECORDS)
    return directory


async def consent(redis: Redis, prefix: str, user: str, *purposes: str, now: float = 0) -> None:
    for purpose in purposes or (PURPOSE_POSYANDU, PURPOSE_CHILD):
        await record_consent(redis, prefix, user, purpose, consent_text(purpose).version, now)


class StubSchedule:
    """Five doses at fixed ages, by calendar month (the real one is data/immunization/)."""

    DOSES = (("hb0", 0), ("bcg", 1), ("polio1", 1), ("dpt1", 2), ("dpt2", 3))
    NAMES: ClassVar[dict[str, str]] = {
        "hb0": "HB0",
        "bcg": "BCG",
        "polio1": "Polio 1",
        "dpt1": "DPT 1",
        "dpt2": "DPT 2",
    }

    def __init__(self) -> None:
        self.provinces: list[str | None] = []

    def due_dates(
        self, birth: dt.date, done: frozenset[str], province_code: str | None
    ) -> list[tuple[str, dt.date]]:
        self.provinces.append(province_code)
        found = []
        for dose, months in self.DOSES:
            if dose in done:
                continue
            index = birth.month - 1 + months
            year, month = birth.year + index // 12, index % 12 + 1
            day = min(birth.day, calendar.monthrange(year, month)[1])
            found.append((dose, dt.date(year, month, day)))
        return found

    def name(self, dose_id: str) -> str:
        return self.NAMES[dose_id]


async def everything_under(redis: Redis, prefix: str) -> dict[str, Any]:
    """Every key under `prefix` with its content (for 'nothing about the user' checks)."""
    found: dict[str, Any] = {}
    async for raw in redis.scan_iter(match=f"{prefix}*", count=1000):
        key = raw.decode() if isinstance(raw, bytes) else str(raw)
        kind = as_text(await redis.type(key))
        if kind == "string":
            found[key] = await redis.get(key)
        elif kind == "hash":
            found[key] = await redis.hgetall(key)
        elif kind == "set":
            found[key] = await redis.smembers(key)
        elif kind == "zset":
            found[key] = await redis.zrange(key, 0, -1)
        else:
            found[key] = kind
    return found


def mentions(content: Any, needle: str) -> bool:
    return needle in repr(content)


def policy_kind(prefix: str, key: str) -> Any:
    from actions.retention import POLICY

    name = key[len(prefix) :]
    return next((k for k in POLICY if fnmatch.fnmatchcase(name, k.pattern)), None)
