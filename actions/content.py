"""FAQ content: the reviewed YAML entries in data/faq/ and the published store in Redis.

`python -m actions.content check data/faq` validates the entries;
`python -m actions.content publish data/faq` validates them and publishes them
to Redis, where the actions read them: an edit takes effect without retraining.
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
    """Published FAQ entries in one Redis hash (topic id -> JSON)."""

    def __init__(self, redis: Redis, prefix: str = "ks:") -> None:
        self._redis = redis
        self._key = f"{prefix}faq:published"

    async def publish(self, entries: dict[str, FaqEntry]) -> None:
        """Replace the published set atomically."""
        mapping: dict[str | bytes | bytearray | memoryview | int | float, Any] = {
            topic: entry.model_dump_json() for topic, entry in entries.items()
        }
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._key)
            if mapping:
                pipe.hset(self._key, mapping=mapping)
            await pipe.execute()

    async def put(self, entry: FaqEntry) -> None:
        """Publish one entry (validated again: a copy with changes may have skipped validation)."""
        checked = FaqEntry.model_validate(entry.model_dump())
        await self._redis.hset(self._key, checked.id, checked.model_dump_json())

    async def remove(self, topic: str) -> None:
        await self._redis.hdel(self._key, topic)

    async def get(self, topic: str) -> FaqEntry | None:
        raw = await self._redis.hget(self._key, topic)
        return None if raw is None else FaqEntry.model_validate_json(raw)

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
        return {
            key.decode() if isinstance(key, bytes) else key
            for key in await self._redis.hkeys(self._key)
        }


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

    async def publish() -> None:
        redis = redis_from_env()
        try:
            await ContentStore(redis, redis_prefix()).publish(entries)
        finally:
            await redis.aclose()

    asyncio.run(publish())
    print(f"Published {len(entries)} FAQ entries.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
