"""Consent first: what the user is told, and the record of their "Setuju".

Each purpose has a short Indonesian text (what is kept, why, how long, how to erase) with
a version. The store refuses to keep anything for a purpose without a recorded consent to
its current version (`ConsentRequired`). A consent is kept with the data it covers, in the
user's record; given and then not used, it is gone after a day.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from actions.reminders import keys
from actions.reminders.errors import ConsentRequired, InvalidInput
from actions.reminders.texts import messages, say
from actions.store import as_text

__all__ = [
    "PURPOSES",
    "PURPOSE_CHILD",
    "PURPOSE_POSYANDU",
    "Consent",
    "ConsentText",
    "consent_text",
    "consents",
    "has_consent",
    "record_consent",
    "require_consent",
]

PURPOSE_POSYANDU = "posyandu"  # Posyandu session reminders
PURPOSE_CHILD = "child"  # a child's immunization reminders (the guardian consents)
PURPOSES = (PURPOSE_POSYANDU, PURPOSE_CHILD)
PENDING_SECONDS = 24 * 3600  # a consent with nothing stored under it yet


@dataclass(frozen=True)
class ConsentText:
    purpose: str
    version: str
    text: str  # two or three short lines, ending with the question


@dataclass(frozen=True)
class Consent:
    purpose: str
    version: str
    at: float  # unix seconds

    @property
    def current(self) -> bool:
        return self.version == consent_text(self.purpose).version


def consent_text(purpose: str) -> ConsentText:
    """What to show before asking for "Setuju", with the version to record."""
    _check_purpose(purpose)
    entry = messages()["consent"][purpose]
    return ConsentText(purpose, str(entry["version"]), str(entry["text"]))


async def record_consent(
    redis: Redis, prefix: str, user: str, purpose: str, version: str, now: float
) -> Consent:
    """Record that `user` agreed to the text of `version` for `purpose` at `now`.

    An explicit "Setuju" is also an explicit opt-in: an earlier opt-out marker is removed.
    """
    _check_purpose(purpose)
    if not version or "|" in version:
        raise InvalidInput(f"consent version {version!r}")
    record = keys.user_record(prefix, user)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(record, f"c:{purpose}", f"{version}|{int(now)}")
        pipe.expire(record, PENDING_SECONDS, nx=True)
        pipe.delete(keys.optout(prefix, user))
        await pipe.execute()
    return Consent(purpose, version, float(int(now)))


async def consents(redis: Redis, prefix: str, user: str) -> list[Consent]:
    """Every consent on record for `user`, by purpose."""
    raw = await redis.hgetall(keys.user_record(prefix, user))
    found = []
    for field, value in raw.items():
        name = as_text(field)
        if name.startswith("c:"):
            found.append(parse_consent(name[2:], as_text(value)))
    return sorted(found, key=lambda c: c.purpose)


async def has_consent(redis: Redis, prefix: str, user: str, purpose: str) -> bool:
    """Whether `user` agreed to the current text for `purpose`."""
    _check_purpose(purpose)
    raw = await redis.hget(keys.user_record(prefix, user), f"c:{purpose}")
    return raw is not None and parse_consent(purpose, as_text(raw)).current


async def require_consent(
    redis: Redis, prefix: str, user: str, purpose: str, *, current: bool = True
) -> None:
    """Raise ConsentRequired unless `user` agreed (to the current text, unless `current` is
    False: changing what was stored under an older consent is allowed)."""
    _check_purpose(purpose)
    raw = await redis.hget(keys.user_record(prefix, user), f"c:{purpose}")
    if raw is None or (current and not parse_consent(purpose, as_text(raw)).current):
        raise ConsentRequired(say("errors", "consent_needed"), purpose)


def parse_consent(purpose: str, value: str) -> Consent:
    version, _, at = value.rpartition("|")
    return Consent(purpose, version, float(at or 0))


def _check_purpose(purpose: str) -> None:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown consent purpose {purpose!r} (one of {PURPOSES})")
