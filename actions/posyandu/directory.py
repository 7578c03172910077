"""The Posyandu directory in Redis: records, per-village index, geo index, changes, holidays."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from actions.posyandu.records import PosyanduRecord
from actions.posyandu.schedule import Change
from actions.pseudonym import pseudonym
from actions.store import as_text

__all__ = ["Directory", "ImportCounts", "MyPosyandu", "Nearby"]

BATCH = 2000


@dataclass
class ImportCounts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True)
class Nearby:
    record: PosyanduRecord
    km: float


class Directory:
    def __init__(self, redis: Redis, prefix: str = "ks:") -> None:
        self._redis = redis
        self.redis, self.prefix = redis, prefix
        self._records = f"{prefix}pos:rec"
        self._geo = f"{prefix}pos:geo"
        self._changes = f"{prefix}pos:changes"
        self._holidays = f"{prefix}pos:holidays"
        self._village = f"{prefix}pos:village:"

    async def upsert(self, records: Iterable[PosyanduRecord]) -> ImportCounts:
        """Add or update records by id; identical records are left alone."""
        counts = ImportCounts()
        batch: list[PosyanduRecord] = []
        for record in records:
            batch.append(record)
            if len(batch) >= BATCH:
                await self._upsert_batch(batch, counts)
                batch = []
        if batch:
            await self._upsert_batch(batch, counts)
        return counts

    async def _upsert_batch(self, batch: list[PosyanduRecord], counts: ImportCounts) -> None:
        existing = await self._redis.hmget(self._records, [r.id for r in batch])
        async with self._redis.pipeline(transaction=False) as pipe:
            for record, raw in zip(batch, existing, strict=True):
                encoded = record.model_dump_json()
                if raw is not None and as_text(raw) == encoded:
                    counts.unchanged += 1
                    continue
                if raw is None:
                    counts.added += 1
                else:
                    counts.updated += 1
                    old = PosyanduRecord.model_validate_json(raw)
                    if old.village_code != record.village_code:
                        pipe.srem(self._village + old.village_code, record.id)
                pipe.hset(self._records, record.id, encoded)
                pipe.sadd(self._village + record.village_code, record.id)
                pipe.geoadd(self._geo, (record.lon, record.lat, record.id))
            await pipe.execute()

    async def add_new(self, record: PosyanduRecord) -> bool:
        """Add a record only if its id is free (atomic: of two at once, one wins); False
        when the id is taken, leaving the directory unchanged."""
        if not await self._redis.hsetnx(self._records, record.id, record.model_dump_json()):
            return False
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.sadd(self._village + record.village_code, record.id)
            pipe.geoadd(self._geo, (record.lon, record.lat, record.id))
            await pipe.execute()
        return True

    async def get(self, posyandu_id: str) -> PosyanduRecord | None:
        raw = await self._redis.hget(self._records, posyandu_id)
        return None if raw is None else PosyanduRecord.model_validate_json(raw)

    async def get_many(self, ids: list[str]) -> dict[str, PosyanduRecord]:
        """The records of `ids` that exist (one round trip)."""
        if not ids:
            return {}
        raws = await self._redis.hmget(self._records, ids)
        return {
            posyandu_id: PosyanduRecord.model_validate_json(raw)
            for posyandu_id, raw in zip(ids, raws, strict=True)
            if raw is not None
        }

    async def in_village(self, village_code: str) -> list[PosyanduRecord]:
        members = await self._redis.smembers(self._village + village_code)
        ids = sorted(as_text(member) for member in members)
        if not ids:
            return []
        raws = await self._redis.hmget(self._records, ids)
        return [PosyanduRecord.model_validate_json(raw) for raw in raws if raw is not None]

    async def nearest(
        self, lat: float, lon: float, count: int = 3, radius_km: float = 25.0
    ) -> list[Nearby]:
        found: list[Any] = await self._redis.geosearch(
            self._geo,
            longitude=lon,
            latitude=lat,
            radius=radius_km,
            unit="km",
            sort="ASC",
            count=count,
            withdist=True,
        )
        if not found:
            return []
        ids = [as_text(member) for member, _ in found]
        raws = await self._redis.hmget(self._records, ids)
        return [
            Nearby(PosyanduRecord.model_validate_json(raw), float(distance))
            for (_, distance), raw in zip(found, raws, strict=True)
            if raw is not None
        ]

    async def set_changes(self, changes: dict[str, list[Change]]) -> None:
        if not changes:
            return
        mapping = {
            pid: json.dumps([_change_json(c) for c in items]) for pid, items in changes.items()
        }
        await self._redis.hset(self._changes, mapping=mapping)  # type: ignore[arg-type]

    async def changes_for(self, posyandu_id: str) -> list[Change]:
        raw = await self._redis.hget(self._changes, posyandu_id)
        return [] if raw is None else [_change_from(item) for item in json.loads(raw)]

    async def set_holidays(self, holidays: Iterable[dt.date]) -> None:
        days = [d.isoformat() for d in holidays]
        if days:
            await self._redis.sadd(self._holidays, *days)

    async def holidays(self) -> frozenset[dt.date]:
        members = await self._redis.smembers(self._holidays)
        return frozenset(dt.date.fromisoformat(as_text(day)) for day in members)


def _change_json(change: Change) -> dict[str, object]:
    return {
        "original": change.original.isoformat(),
        "cancelled": change.cancelled,
        "new_date": change.new_date.isoformat() if change.new_date else None,
        "new_start": change.new_start.isoformat() if change.new_start else None,
        "new_end": change.new_end.isoformat() if change.new_end else None,
        "note": change.note,
    }


def _change_from(item: dict[str, object]) -> Change:
    def day(key: str) -> dt.date | None:
        value = item.get(key)
        return dt.date.fromisoformat(str(value)) if value else None

    def time(key: str) -> dt.time | None:
        value = item.get(key)
        return dt.time.fromisoformat(str(value)) if value else None

    original = day("original")
    assert original is not None
    return Change(
        original=original,
        cancelled=bool(item.get("cancelled")),
        new_date=day("new_date"),
        new_start=time("new_start"),
        new_end=time("new_end"),
        note=str(item.get("note") or ""),
    )


class MyPosyandu:
    """Each user's chosen Posyandu: one key per user, named by a keyed pseudonym of the
    sender id (not the id itself), kept a year after it was last set or used."""

    TTL_SECONDS = 365 * 24 * 3600

    def __init__(self, redis: Redis, prefix: str = "ks:") -> None:
        self._redis = redis
        self._prefix = f"{prefix}pos:mine:"

    def key(self, sender_id: str) -> str:
        return self._prefix + pseudonym(sender_id, "my-posyandu")

    async def remember(self, sender_id: str, posyandu_id: str) -> None:
        await self._redis.set(self.key(sender_id), posyandu_id, ex=self.TTL_SECONDS)

    async def get(self, sender_id: str) -> str | None:
        # Reading it is using it: the year starts again.
        raw = await self._redis.getex(self.key(sender_id), ex=self.TTL_SECONDS)
        return None if raw is None else as_text(raw)

    async def forget(self, sender_id: str) -> None:
        await self._redis.delete(self.key(sender_id))
