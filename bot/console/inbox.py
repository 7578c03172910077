"""The console's side of the unanswered inbox: what promoters did with each question, and
the training examples they added.

Redis layout (under the deployment prefix):
- `console:inbox:mark:<item id>`: JSON {kind, by, at, intent?}: the question was added as
  an example ("contoh"), needs new content ("konten") or was dismissed ("abaikan"). A
  mark expires with its question (the inbox keeps questions 90 days), never later.
- `console:examples`: hash, field = a digest of the text, value = JSON {intent, text,
  author, at}: training examples added by promoters, exported with the training data
  (`export_examples`). One text is an example of one intent (the last one chosen).
  A text equal or nearly equal to a held-out utterance (bench/heldout*.yml) is refused:
  the held-out figures that gate a retrained model are only fair if it never saw them.

Marking a group marks every question as similar to its leading (newest) question as the
grouping itself asks (`bot.console.stats.group_unanswered` with the same cutoff).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis

from actions.inbox import UnansweredInbox, redact
from actions.store import as_text
from bench.overlap import HELDOUT_FILES, canonical, nearest, read_examples
from bot.console.audit import AuditLog
from bot.console.stats import UnansweredGroup, group_unanswered

__all__ = [
    "MAX_EXAMPLE_CHARS",
    "Example",
    "ExampleStore",
    "InboxError",
    "InboxGroup",
    "InboxMarks",
    "Mark",
    "export_examples",
    "like_heldout",
]

RECENT = 1000  # newest questions the page groups (the inbox keeps at most 10,000)
CUTOFF = 80.0  # similarity for a group, as stats.group_unanswered
MAX_GROUPS = 50
MAX_EXAMPLE_CHARS = 300
MIN_EXAMPLE_CHARS = 3


class InboxError(Exception):
    """A request that cannot be done; the message is for the user (Indonesian)."""


class Mark(StrEnum):
    EXAMPLE = "contoh"
    NEEDS_CONTENT = "konten"
    DISMISSED = "abaikan"


MARK_LABELS = {
    Mark.EXAMPLE: "dijadikan contoh latihan",
    Mark.NEEDS_CONTENT: "perlu konten baru",
    Mark.DISMISSED: "diabaikan",
}


@dataclass(frozen=True)
class InboxGroup:
    """A group as the page shows it: `lead` is the id of its newest question, what a form
    posts back; `mark` is set in the view of handled groups."""

    group: UnansweredGroup
    lead: str
    mark: Mark | None = None
    marked_by: str | None = None
    intent: str | None = None


@dataclass(frozen=True)
class Example:
    intent: str
    text: str
    author: str
    at: str


class InboxMarks:
    def __init__(self, redis: Redis, prefix: str, audit: AuditLog) -> None:
        self._redis = redis
        self._prefix = prefix
        self._inbox = UnansweredInbox(redis, prefix)
        self._audit = audit

    def _key(self, item_id: str) -> str:
        return f"{self._prefix}console:inbox:mark:{item_id}"

    async def items(self, recent: int = RECENT) -> list[dict[str, Any]]:
        """The newest questions still kept, each with its `id` and its `mark` (or None)."""
        ids = [
            as_text(i) for i in await self._redis.zrevrange(self._inbox.index_key, 0, recent - 1)
        ]
        if not ids:
            return []
        raws = await self._redis.mget([self._inbox.item_key(i) for i in ids])
        marks = await self._redis.mget([self._key(i) for i in ids])
        items = []
        for item_id, raw, mark in zip(ids, raws, marks, strict=True):
            if raw is not None:
                items.append({**json.loads(raw), "id": item_id, "mark": _mark(mark)})
        return items

    async def groups(self, *, scope: Sequence[str], handled: bool) -> list[InboxGroup]:
        """Groups of the questions inside `scope` ([] all) not yet handled (or, with
        `handled`, those handled), newest first."""
        items = [
            i
            for i in await self.items()
            if (i["mark"] is not None) == handled and _inside(i, scope)
        ]
        found = group_unanswered(items, cutoff=CUTOFF, top=MAX_GROUPS)
        shown = []
        for group in sorted(found, key=lambda g: g.latest, reverse=True):
            lead = next(i for i in items if str(i.get("text") or "").strip() == group.example)
            mark = lead["mark"] or {}
            shown.append(
                InboxGroup(
                    group,
                    lead["id"],
                    Mark(mark["kind"]) if mark else None,
                    mark.get("by"),
                    mark.get("intent"),
                )
            )
        return shown

    async def mark(
        self,
        actor: str,
        lead: str,
        kind: Mark,
        *,
        scope: Sequence[str] = (),
        intent: str | None = None,
    ) -> int:
        """Mark the group led by question `lead` (inside `scope`); returns how many questions
        were marked. InboxError when the question is gone (expired or already handled)."""
        items = [i for i in await self.items() if i["mark"] is None and _inside(i, scope)]
        leader = next((i for i in items if i["id"] == lead), None)
        if leader is None:
            raise InboxError("Pertanyaan ini sudah ditangani atau sudah kedaluwarsa. Muat ulang.")
        members = [i for i in items if i is leader or _similar(leader, i)]
        value: dict[str, str] = {"kind": kind.value, "by": actor, "at": _now()}
        if intent:
            value["intent"] = intent
        encoded = json.dumps(value, ensure_ascii=False)
        async with self._redis.pipeline(transaction=False) as pipe:
            for item in members:
                pipe.pttl(self._inbox.item_key(item["id"]))
            lifetimes = await pipe.execute()
        async with self._redis.pipeline(transaction=True) as pipe:
            for item, ttl in zip(members, lifetimes, strict=True):
                if int(ttl) > 0:  # the question is still kept: the mark goes with it
                    pipe.set(self._key(item["id"]), encoded, px=int(ttl))
            await pipe.execute()
        # The item id, not the question: the audit log is kept far longer than the
        # inbox's 90 days and "hapus data saya" does not reach it.
        await self._audit.record(
            actor,
            f"inbox.{kind.value}",
            str(leader["id"]),
            None,
            {"pertanyaan": len(members), **({"maksud": intent} if intent else {})},
        )
        return len(members)


class ExampleStore:
    def __init__(self, redis: Redis, prefix: str, audit: AuditLog) -> None:
        self._redis = redis
        self._key = f"{prefix}console:examples"
        self._audit = audit

    async def add(self, actor: str, intent: str, text: str, intents: Collection[str]) -> Example:
        """Keep `text` (redacted again) as a training example of `intent`, which must be
        one of the domain's `intents`; InboxError (Indonesian) otherwise."""
        if intent not in intents:
            raise InboxError("Pilih topik atau maksud yang ada di daftar.")
        cleaned = " ".join(redact(text).split())
        if len(cleaned) < MIN_EXAMPLE_CHARS:
            raise InboxError("Contoh kalimat terlalu pendek.")
        if len(cleaned) > MAX_EXAMPLE_CHARS:
            raise InboxError(f"Contoh kalimat paling panjang {MAX_EXAMPLE_CHARS} karakter.")
        if like_heldout(cleaned):
            raise InboxError(
                "Kalimat ini terlalu mirip dengan kalimat di data uji, jadi tidak dipakai untuk"
                " latihan (agar penilaian model tetap jujur)."
            )
        example = Example(intent, cleaned, actor, _now())
        field = hashlib.sha256(cleaned.casefold().encode()).hexdigest()[:32]
        before = await self._redis.hget(self._key, field)
        await self._redis.hset(self._key, field, json.dumps(asdict(example), ensure_ascii=False))
        await self._audit.record(
            actor,
            "latihan.contoh_ditambah",
            intent,
            json.loads(before) if before else None,
            {"maksud": intent, "teks": cleaned},
        )
        return example

    async def all(self) -> list[Example]:
        """Every example, oldest first."""
        raws = await self._redis.hvals(self._key)
        examples = [Example(**json.loads(raw)) for raw in raws]
        return sorted(examples, key=lambda e: (e.at, e.intent, e.text))

    async def export_examples(self) -> list[tuple[str, str]]:
        """(intent, text) of every example, sorted: what the retrain adds to the NLU data."""
        return sorted({(e.intent, e.text) for e in await self.all()})


async def export_examples(redis: Redis, prefix: str) -> list[tuple[str, str]]:
    """(intent, text) of every training example promoters added, sorted."""
    return await ExampleStore(redis, prefix, AuditLog(redis, prefix)).export_examples()


@functools.cache
def _heldout_keys() -> tuple[str, ...]:
    """The held-out utterances, canonical, read once per process. A missing set is an
    error (never a silent pass): the gateway must ship bench/heldout*.yml."""
    missing = [path.name for path in HELDOUT_FILES if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"held-out sets missing: {', '.join(missing)}")
    keys = (canonical(e.text) for path in HELDOUT_FILES for e in read_examples(path))
    return tuple(dict.fromkeys(key for key in keys if key))


def like_heldout(text: str) -> bool:
    """Whether `text` equals or nearly equals (bench.overlap's NEAR_DUPLICATE) a held-out
    utterance, after the same canonical form bench.overlap compares."""
    return nearest(canonical(text), _heldout_keys()) is not None


def _similar(leader: Mapping[str, Any], item: Mapping[str, Any]) -> bool:
    """Whether `item` would join the group `leader` leads (the grouping's own test)."""
    if not str(item.get("text") or "").strip():
        return False
    return len(group_unanswered([leader, item], cutoff=CUTOFF, top=2)) == 1


def _inside(item: Mapping[str, Any], scope: Sequence[str]) -> bool:
    region = item.get("region")
    return not scope or (isinstance(region, str) and any(region.startswith(c) for c in scope))


def _mark(raw: bytes | str | None) -> dict[str, Any] | None:
    return None if raw is None else dict(json.loads(raw))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
