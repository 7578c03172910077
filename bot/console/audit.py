"""The audit log: who changed what, when, with the value before and after.

One capped Redis stream, `console:audit`; the entry id gives the time.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from actions.store import as_text

__all__ = ["AuditEntry", "AuditLog"]

MAX_ENTRIES = 100_000  # approximate cap (XADD MAXLEN ~): years of console work


@dataclass(frozen=True)
class AuditEntry:
    id: str
    at: dt.datetime
    actor: str
    action: str
    target: str
    before: Any
    after: Any


class AuditLog:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._key = f"{prefix}console:audit"

    async def record(self, actor: str, action: str, target: str, before: Any, after: Any) -> None:
        """Append one change. `before`/`after` are JSON-able and never hold secrets."""
        fields: dict[str | bytes, str] = {
            "actor": actor,
            "action": action,
            "target": target,
            "before": json.dumps(before, ensure_ascii=False, default=str),
            "after": json.dumps(after, ensure_ascii=False, default=str),
        }
        await self._redis.xadd(self._key, fields, maxlen=MAX_ENTRIES, approximate=True)  # type: ignore[arg-type]

    async def latest(self, count: int = 100, before_id: str | None = None) -> list[AuditEntry]:
        """The newest entries first; `before_id` pages back from an entry."""
        top = f"({before_id}" if before_id else "+"
        rows = await self._redis.xrevrange(self._key, max=top, min="-", count=count) or []
        return [_entry(entry_id, fields) for entry_id, fields in rows if entry_id and fields]


def _entry(entry_id: bytes | str, raw: dict[Any, Any]) -> AuditEntry:
    ident = as_text(entry_id)
    fields = {as_text(k): as_text(v) for k, v in raw.items()}
    millis = int(ident.split("-")[0])
    return AuditEntry(
        id=ident,
        at=dt.datetime.fromtimestamp(millis / 1000, dt.UTC),
        actor=fields.get("actor", ""),
        action=fields.get("action", ""),
        target=fields.get("target", ""),
        before=json.loads(fields.get("before", "null")),
        after=json.loads(fields.get("after", "null")),
    )
