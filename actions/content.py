"""FAQ content: the reviewed YAML entries in data/faq/ and the published store in Redis.

`python -m actions.content check data/faq` validates the entries;
`python -m actions.content publish data/faq` validates them and publishes them
to Redis, where the actions read them: an edit takes effect without retraining.
Entries published later in the web console are kept (see ContentStore.publish).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from redis.asyncio import Redis
from redis.exceptions import WatchError

from actions.store import as_text

__all__ = ["ContentError", "ContentStore", "FaqEntry", "Source", "load_entries"]

MAX_ANSWER_CHARS = 700
TopicId = Annotated[str, StringConstraints(pattern=r"^[a-z_]+\.[a-z_]+$")]
Issuer = Literal[
    "Kemenkes RI", "Permenkes", "KMK", "WHO", "WHO Indonesia", "UNICEF Indonesia", "IDAI"
]


class ContentError(Exception):
    """Content that must not be published; the message says where and why."""


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Annotated[str, StringConstraints(min_length=3, strip_whitespace=True)]
    issuer: Issuer
    year: int = Field(ge=1990, le=2100)
    url: str | None = None


class FaqEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: TopicId
    title: Annotated[str, StringConstraints(min_length=3, max_length=40, strip_whitespace=True)]
    answer: Annotated[
        str, StringConstraints(min_length=40, max_length=MAX_ANSWER_CHARS, strip_whitespace=True)
    ]
    sources: list[Source] = Field(min_length=1)
    reviewed: dt.date
    related: list[TopicId] = Field(default_factory=list, max_length=3)
    notes: str | None = None

    def source_line(self) -> str:
        cited = "; ".join(f"{s.title} ({s.issuer}, {s.year})" for s in self.sources)
        return f"Sumber: {cited}"


def load_entries(folder: Path, today: dt.date | None = None) -> dict[str, FaqEntry]:
    """Read and validate every `<topic id>.yml` in the folder.

    Raises ContentError listing every problem found.
    """
    today = today or dt.date.today()
    entries: dict[str, FaqEntry] = {}
    problems: list[str] = []
    for path in sorted(folder.glob("*.yml")):
        try:
            entry = FaqEntry.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except (yaml.YAMLError, ValidationError) as error:
            problems.append(f"{path.name}: {error}")
            continue
        if path.stem != entry.id:
            problems.append(f"{path.name}: id {entry.id!r} does not match the file name")
        if entry.reviewed > today:
            problems.append(f"{path.name}: reviewed date {entry.reviewed} is in the future")
        entries[entry.id] = entry
    for entry in entries.values():
        unknown = [topic for topic in entry.related if topic not in entries or topic == entry.id]
        if unknown:
            problems.append(f"{entry.id}.yml: related topics not found: {', '.join(unknown)}")
    if not entries and not problems:
        problems.append(f"{folder}: no FAQ entries found")
    if problems:
        raise ContentError("\n".join(problems))
    return entries


class ContentStore:
    """Published FAQ entries in one Redis hash (topic id -> JSON).

    A second hash, `faq:edited` (topic id -> ISO date), marks the entries an editor
    published in the console, so that publishing the files at start-up keeps them.
    """

    def __init__(self, redis: Redis, prefix: str = "ks:") -> None:
        self._redis = redis
        self._key = f"{prefix}faq:published"
        self._edited = f"{prefix}faq:edited"

    async def publish(self, entries: dict[str, FaqEntry]) -> list[str]:
        """Replace the published set with the reviewed files, atomically; returns the topics kept.

        An entry an editor published on or after its file's `reviewed` date is kept (a
        restart must not undo the console's work); a file reviewed later wins. Topics no
        longer in the files are removed, edited or not.
        """
        while True:
            async with self._redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(self._key, self._edited)
                    edited = {
                        as_text(topic): dt.date.fromisoformat(as_text(day))
                        for topic, day in (await pipe.hgetall(self._edited)).items()
                    }
                    newer = [
                        t
                        for t, day in edited.items()
                        if t in entries and day >= entries[t].reviewed
                    ]
                    current = await pipe.hmget(self._key, newer) if newer else []
                    kept = {
                        t: raw for t, raw in zip(newer, current, strict=True) if raw is not None
                    }
                    mapping: dict[str | bytes | bytearray | memoryview | int | float, Any] = {
                        topic: entry.model_dump_json() for topic, entry in entries.items()
                    }
                    mapping.update(kept)
                    stale = [t for t in edited if t not in kept]
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.delete(self._key)
                    if mapping:
                        pipe.hset(self._key, mapping=mapping)
                    if stale:
                        pipe.hdel(self._edited, *stale)
                    await pipe.execute()
                    return sorted(kept)
                except WatchError:
                    continue  # an editor published meanwhile: read again

    async def put(self, entry: FaqEntry, edited_on: dt.date | None = None) -> None:
        """Publish one entry (validated again: a copy with changes may have skipped validation).

        `edited_on`: the day an editor published it; such an entry survives `publish`.
        """
        checked = FaqEntry.model_validate(entry.model_dump())
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._key, checked.id, checked.model_dump_json())
            if edited_on is not None:
                pipe.hset(self._edited, checked.id, edited_on.isoformat())
            await pipe.execute()

    async def remove(self, topic: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self._key, topic)
            pipe.hdel(self._edited, topic)
            await pipe.execute()

    async def get(self, topic: str) -> FaqEntry | None:
        raw = await self._redis.hget(self._key, topic)
        return None if raw is None else FaqEntry.model_validate_json(raw)

    async def all(self) -> dict[str, FaqEntry]:
        return {
            as_text(topic): FaqEntry.model_validate_json(raw)
            for topic, raw in (await self._redis.hgetall(self._key)).items()
        }

    async def titles(self, topics: list[str]) -> dict[str, str]:
        """Titles of the published topics among `topics` (unpublished ones are left out)."""
        if not topics:
            return {}
        raws = await self._redis.hmget(self._key, topics)
        return {
            topic: json.loads(raw)["title"]
            for topic, raw in zip(topics, raws, strict=True)
            if raw is not None
        }

    async def topic_ids(self) -> set[str]:
        return {as_text(key) for key in await self._redis.hkeys(self._key)}


def main(argv: list[str] | None = None) -> int:
    import asyncio

    from actions.store import redis_from_env, redis_prefix

    parser = argparse.ArgumentParser(prog="python -m actions.content", description=__doc__)
    parser.add_argument("command", choices=["check", "publish"])
    parser.add_argument("folder", type=Path, nargs="?", default=Path("data/faq"))
    args = parser.parse_args(argv)
    try:
        entries = load_entries(args.folder)
    except ContentError as error:
        print(f"FAQ content is not valid:\n{error}", file=sys.stderr)
        return 1
    if args.command == "check":
        print(f"{len(entries)} FAQ entries are valid.")
        return 0

    async def publish() -> list[str]:
        redis = redis_from_env()
        try:
            return await ContentStore(redis, redis_prefix()).publish(entries)
        finally:
            await redis.aclose()

    kept = asyncio.run(publish())
    print(f"Published {len(entries)} FAQ entries.")
    if kept:
        print(f"Kept {len(kept)} newer edit(s) from the console: {', '.join(kept)}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
