"""The FAQ workflow: draft, review by a second person, publish, history and rollback.

Redis layout (under the deployment prefix):
- `console:draft:<topic>`: the one draft of a topic (JSON): the entry, its status
  ("draft" or "review"), everyone who edited it, the reviewer's last comment.
- `console:versions:<topic>`: every version published from the console (a list of
  JSON, oldest first). The first console publish of a topic records the version it
  replaces (from data/faq) as version 1, so it can be rolled back to.

Publishing writes the entry with ContentStore.put, marked as edited: it answers at
once, without retraining, and survives the start-up publish of data/faq.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from redis.asyncio import Redis
from redis.exceptions import WatchError

from actions.content import ContentStore, FaqEntry
from bot.console.audit import AuditLog

__all__ = ["DRAFT_CHANGED", "ContentWorkflow", "Draft", "Version", "WorkflowError"]

FILE_AUTHOR = "data/faq"
Status = Literal["draft", "review"]


DRAFT_CHANGED = (
    "Draf ini sudah berubah sejak Anda membukanya. Silakan baca lagi versi terbarunya,"
    " lalu putuskan."
)


class WorkflowError(Exception):
    """A step that cannot be taken now; the message is for the user (Indonesian)."""


@dataclass(frozen=True)
class Draft:
    entry: FaqEntry
    status: Status
    editors: tuple[str, ...]
    updated: str
    comment: str | None = None  # why a reviewer sent it back
    commented_by: str | None = None

    @property
    def marker(self) -> str:
        """A fingerprint of the draft as shown: review forms send it back, so a decision
        applies only to the text the reviewer read."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:32]

    def to_json(self) -> str:
        return json.dumps(
            {
                "entry": self.entry.model_dump(mode="json"),
                "status": self.status,
                "editors": list(self.editors),
                "updated": self.updated,
                "comment": self.comment,
                "commented_by": self.commented_by,
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> Draft:
        value = json.loads(raw)
        return cls(
            entry=FaqEntry.model_validate(value["entry"]),
            status=value["status"],
            editors=tuple(value["editors"]),
            updated=value["updated"],
            comment=value.get("comment"),
            commented_by=value.get("commented_by"),
        )


@dataclass(frozen=True)
class Version:
    number: int
    entry: FaqEntry
    author: str
    approver: str | None
    published: str  # ISO time, UTC
    note: str = ""

    def to_json(self) -> str:
        return json.dumps(
            {
                "number": self.number,
                "entry": self.entry.model_dump(mode="json"),
                "author": self.author,
                "approver": self.approver,
                "published": self.published,
                "note": self.note,
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> Version:
        value = json.loads(raw)
        value["entry"] = FaqEntry.model_validate(value["entry"])
        return cls(**value)


class ContentWorkflow:
    def __init__(self, redis: Redis, prefix: str, store: ContentStore, audit: AuditLog) -> None:
        self._redis = redis
        self._prefix = prefix
        self._store = store
        self._audit = audit

    def _draft_key(self, topic: str) -> str:
        return f"{self._prefix}console:draft:{topic}"

    def _versions_key(self, topic: str) -> str:
        return f"{self._prefix}console:versions:{topic}"

    # -- reading --------------------------------------------------------------------------

    async def draft(self, topic: str) -> Draft | None:
        raw = await self._redis.get(self._draft_key(topic))
        return None if raw is None else Draft.from_json(raw)

    async def drafts(self, topics: list[str]) -> dict[str, Draft]:
        if not topics:
            return {}
        raws = await self._redis.mget([self._draft_key(t) for t in topics])
        return {t: Draft.from_json(r) for t, r in zip(topics, raws, strict=True) if r is not None}

    async def history(self, topic: str) -> list[Version]:
        """Published console versions, newest first."""
        raws = await self._redis.lrange(self._versions_key(topic), 0, -1)
        return [Version.from_json(raw) for raw in reversed(raws)]

    async def version(self, topic: str, number: int) -> Version | None:
        if number < 1:
            return None
        raw = await self._redis.lindex(self._versions_key(topic), number - 1)
        return None if raw is None else Version.from_json(raw)

    # -- the draft's life -----------------------------------------------------------------

    async def save(self, actor: str, entry: FaqEntry) -> Draft:
        """Save the draft; an edit sends a draft under review back to "draft"."""
        before = await self.draft(entry.id)
        editors = tuple(dict.fromkeys([*(before.editors if before else ()), actor]))
        draft = Draft(
            entry,
            "draft",
            editors,
            _now(),
            before.comment if before else None,
            before.commented_by if before else None,
        )
        await self._redis.set(self._draft_key(entry.id), draft.to_json())
        old = before.entry if before else await self._store.get(entry.id)
        await self._audit.record(actor, "konten.draf_disimpan", entry.id, _dump(old), _dump(entry))
        return draft

    async def submit(self, actor: str, topic: str) -> Draft:
        draft = await self._require_draft(topic, "draft")
        return await self._change_status(actor, draft, "review", "konten.diajukan_review")

    async def reject(self, actor: str, topic: str, comment: str, seen: str | None = None) -> Draft:
        """Send the draft back with a comment; with `seen` (the marker of the draft the
        reviewer read), only if the draft is still that one."""
        comment = comment.strip()
        if not comment:
            raise WorkflowError("Tulis alasan penolakan agar penulis tahu apa yang perlu diubah.")
        draft = await self._require_draft(topic, "review")
        self._require_second_person(actor, draft)
        _require_seen(draft, seen)
        returned = Draft(draft.entry, "draft", draft.editors, _now(), comment[:1000], actor)
        await self._redis.set(self._draft_key(topic), returned.to_json())
        await self._audit.record(actor, "konten.ditolak", topic, None, {"komentar": comment})
        return returned

    async def discard(self, actor: str, topic: str) -> None:
        draft = await self.draft(topic)
        if draft is None:
            return
        await self._redis.delete(self._draft_key(topic))
        await self._audit.record(actor, "konten.draf_dibuang", topic, _dump(draft.entry), None)

    async def approve(self, actor: str, topic: str, seen: str | None = None) -> Version:
        """Four eyes: someone who did not edit the draft approves it, and it is published.
        With `seen` (the marker of the draft the reviewer read), only that very draft: a
        draft changed meanwhile is refused (WorkflowError)."""
        draft = await self._require_draft(topic, "review")
        self._require_second_person(actor, draft)
        _require_seen(draft, seen)
        version = await self._publish(
            topic,
            lambda number: Version(number, draft.entry, draft.editors[-1], actor, _now()),
            expected_draft=draft,
        )
        await self._audit.record(
            actor,
            "konten.diterbitkan",
            topic,
            None,
            {
                "versi": version.number,
                "penulis": ", ".join(draft.editors),
                **draft.entry.model_dump(mode="json"),
            },
        )
        return version

    async def rollback(self, actor: str, topic: str, number: int) -> Version:
        """Publish an earlier version again, as a new version (it was reviewed before)."""
        earlier = await self.version(topic, number)
        if earlier is None:
            raise WorkflowError(f"Versi {number} tidak ada.")
        current = await self._store.get(topic)
        version = await self._publish(
            topic,
            lambda n: Version(n, earlier.entry, actor, None, _now(), f"Kembali ke versi {number}"),
        )
        await self._audit.record(
            actor, "konten.dikembalikan", topic, _dump(current), {"ke_versi": number}
        )
        return version

    # -- internals ------------------------------------------------------------------------

    async def _publish(
        self,
        topic: str,
        make: Callable[[int], Version],
        expected_draft: Draft | None = None,
    ) -> Version:
        """Append a version and publish it; with `expected_draft`, also remove that draft,
        failing when someone changed it meanwhile."""
        versions_key, draft_key = self._versions_key(topic), self._draft_key(topic)
        current = await self._store.get(topic)
        async with self._redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(versions_key, draft_key)
                if expected_draft is not None:
                    raw = await pipe.get(draft_key)
                    if raw is None or Draft.from_json(raw) != expected_draft:
                        raise WorkflowError("Draf ini baru saja diubah orang lain. Muat ulang.")
                count = int(await pipe.llen(versions_key))
                pipe.multi()  # type: ignore[no-untyped-call]
                if count == 0 and current is not None:
                    # The version being replaced (from data/faq) becomes version 1.
                    pipe.rpush(versions_key, _file_version(current).to_json())
                    count = 1
                version = make(count + 1)
                pipe.rpush(versions_key, version.to_json())
                if expected_draft is not None:
                    pipe.delete(draft_key)
                await pipe.execute()
            except WatchError:
                raise WorkflowError("Topik ini baru saja diubah orang lain. Muat ulang.") from None
        await self._store.put(version.entry, edited_on=dt.datetime.now(dt.UTC).date())
        return version

    async def _require_draft(self, topic: str, status: Status) -> Draft:
        draft = await self.draft(topic)
        if draft is None:
            raise WorkflowError("Belum ada draf untuk topik ini.")
        if draft.status != status:
            raise WorkflowError(
                "Draf ini sedang menunggu review."
                if draft.status == "review"
                else "Draf ini belum diajukan untuk review."
            )
        return draft

    @staticmethod
    def _require_second_person(actor: str, draft: Draft) -> None:
        if actor in draft.editors:
            raise WorkflowError(
                "Anda ikut menyunting draf ini. Review harus oleh orang kedua (empat mata)."
            )

    async def _change_status(self, actor: str, draft: Draft, status: Status, action: str) -> Draft:
        changed = Draft(
            draft.entry, status, draft.editors, _now(), draft.comment, draft.commented_by
        )
        await self._redis.set(self._draft_key(draft.entry.id), changed.to_json())
        await self._audit.record(actor, action, draft.entry.id, draft.status, status)
        return changed


def _require_seen(draft: Draft, seen: str | None) -> None:
    if seen is not None and not hmac.compare_digest(seen.encode(), draft.marker.encode()):
        raise WorkflowError(DRAFT_CHANGED)


def _file_version(entry: FaqEntry) -> Version:
    reviewed = f"{entry.reviewed.isoformat()}T00:00:00+00:00"
    return Version(1, entry, FILE_AUTHOR, None, reviewed, "Versi awal dari berkas data/faq")


def _dump(entry: FaqEntry | None) -> dict[str, Any] | None:
    return None if entry is None else entry.model_dump(mode="json")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
