"""Cadres (kader Posyandu): registered to their Posyandu, linked to a chat account with a
one-time code, broadcasting to their Posyandu's subscribers and moving or cancelling its
next session.

A cadre is known by a cadre id (`kdr-...`), not by a phone number. The Puskesmas
registers them (`python -m actions.reminders.cli cadre add --posyandu ID`) and gives them
a link code (6 digits, 24 hours, single use); the cadre sends it from Telegram or
WhatsApp and that account (its pseudonym and address) becomes the cadre's. A cadre record
lives a year after it was last used.

Limits against misuse: only the cadre's own Posyandu; a broadcast is at most
BROADCAST_MAX_CHARS characters; at most `KS_BROADCASTS_PER_WEEK` (default 3) broadcasts
per Posyandu in any 7 days; link codes allow MAX_LINK_ATTEMPTS tries per account per day.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
from dataclasses import dataclass

from redis.asyncio import Redis

from actions.posyandu.directory import Directory
from actions.posyandu.records import PosyanduRecord
from actions.posyandu.regions import time_zone_of
from actions.posyandu.schedule import TIME_ZONES, Change, ScheduleRule, Session, upcoming_sessions
from actions.reminders import keys
from actions.reminders.errors import (
    InvalidInput,
    LimitReached,
    LinkCodeError,
    NotAllowed,
    NotFound,
)
from actions.reminders.model import Send
from actions.reminders.planner import (
    change_notices,
    contacts_of,
    live_subscribers,
    stop_button,
    template_name,
)
from actions.reminders.store import Contact
from actions.reminders.texts import UTC_OFFSETS, day_words, local, say
from actions.store import as_text

__all__ = [
    "BROADCAST_MAX_CHARS",
    "Cadre",
    "Draft",
    "Preview",
    "add_cadre",
    "broadcast_message",
    "broadcasts_per_week",
    "cadre_for",
    "cancel_session",
    "confirm_broadcast",
    "discard_broadcast",
    "draft_broadcast",
    "get_cadre",
    "issue_link_code",
    "link_cadre",
    "list_cadres",
    "move_session",
    "next_session",
    "preview",
    "remove_cadre",
]

DAY = 24 * 3600
CADRE_SECONDS = 365 * DAY  # a cadre record and its link, after their last use
CODE_SECONDS = DAY
MAX_LINK_ATTEMPTS = 5  # per account per day
BROADCAST_MAX_CHARS = 700
BROADCASTS_PER_WEEK_VARIABLE = "KS_BROADCASTS_PER_WEEK"
DEFAULT_BROADCASTS_PER_WEEK = 3
WEEK = 7 * DAY
DRAFT_SECONDS = DAY
SENT_SECONDS = 30 * DAY  # a broadcast's record (no text), for its delivery report
SCHEDULE_MAX_DAYS = 30  # a broadcast can be scheduled this far ahead
SCHEDULE_GRACE = 600  # a send time this far in the past means "now"
MOVE_MAX_DAYS = 62
NOTE_MAX = 100
_CODE = re.compile(r"^\d{6}$")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")

_WEEK_LIMIT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


@dataclass(frozen=True)
class Cadre:
    id: str
    posyandu_ids: tuple[str, ...]
    created: float
    user: str = ""  # the linked account's pseudonym ("" until linked)
    contact: Contact | None = None


@dataclass(frozen=True)
class Draft:
    id: str
    cadre_id: str
    posyandu_id: str
    text: str
    send_at: float
    created: float


@dataclass(frozen=True)
class Preview:
    draft_id: str
    text: str  # what the cadre sees before confirming (Indonesian)
    recipients: int


def broadcasts_per_week() -> int:
    raw = os.environ.get(BROADCASTS_PER_WEEK_VARIABLE, "")
    try:
        value = int(raw) if raw else DEFAULT_BROADCASTS_PER_WEEK
    except ValueError:
        raise ValueError(f"{BROADCASTS_PER_WEEK_VARIABLE} must be a whole number") from None
    if value < 0:
        raise ValueError(f"{BROADCASTS_PER_WEEK_VARIABLE} must be 0 or more")
    return value


# --- registry ------------------------------------------------------------------------------


async def add_cadre(
    redis: Redis,
    prefix: str,
    posyandu_ids: list[str],
    now: float,
    *,
    directory: Directory | None = None,
) -> Cadre:
    """Register a cadre for one or more Posyandu of the directory."""
    ids = tuple(dict.fromkeys(posyandu_ids))
    if not ids:
        raise InvalidInput(say("errors", "unknown_posyandu"))
    directory = directory or Directory(redis, prefix)
    for posyandu_id in ids:
        if await directory.get(posyandu_id) is None:
            raise NotFound(f"{say('errors', 'unknown_posyandu')} ({posyandu_id})")
    while True:
        cadre_id = f"kdr-{secrets.token_hex(4)}"
        record = keys.cadre_record(prefix, cadre_id)
        if await redis.hsetnx(record, "created", str(int(now))):
            break
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(record, "posyandu", ",".join(ids))
        pipe.expire(record, CADRE_SECONDS)
        pipe.sadd(keys.cadre_ids(prefix), cadre_id)
        pipe.expire(keys.cadre_ids(prefix), CADRE_SECONDS)
        await pipe.execute()
    return Cadre(cadre_id, ids, float(int(now)))


async def get_cadre(redis: Redis, prefix: str, cadre_id: str) -> Cadre | None:
    raw = await redis.hgetall(keys.cadre_record(prefix, cadre_id))
    return _parse_cadre(cadre_id, raw) if raw else None


async def list_cadres(redis: Redis, prefix: str) -> list[Cadre]:
    """Every registered cadre (records past their year are dropped from the list)."""
    ids = sorted(as_text(i) for i in await redis.smembers(keys.cadre_ids(prefix)))
    found, gone = [], []
    for cadre_id in ids:
        cadre = await get_cadre(redis, prefix, cadre_id)
        if cadre is None:
            gone.append(cadre_id)
        else:
            found.append(cadre)
    if gone:
        await redis.srem(keys.cadre_ids(prefix), *gone)
    return found


async def remove_cadre(redis: Redis, prefix: str, cadre_id: str) -> bool:
    """Remove a cadre, their link to an account and their unused link code."""
    cadre = await get_cadre(redis, prefix, cadre_id)
    record = keys.cadre_record(prefix, cadre_id)
    code = await redis.hget(record, "code")
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(record)
        pipe.srem(keys.cadre_ids(prefix), cadre_id)
        if cadre is not None and cadre.user:
            pipe.delete(keys.cadre_link(prefix, cadre.user))
        if code is not None:
            pipe.delete(keys.cadre_code(prefix, as_text(code)))
        results = await pipe.execute()
    return bool(results[0])


# --- linking an account --------------------------------------------------------------------


async def issue_link_code(redis: Redis, prefix: str, cadre_id: str, now: float) -> str:
    """A new 6-digit code for the cadre to send from their chat (24 hours, single use);
    an earlier unused code stops working."""
    record = keys.cadre_record(prefix, cadre_id)
    if not await redis.exists(record):
        raise NotFound(say("errors", "unknown_cadre", cadre=cadre_id))
    while True:
        code = f"{secrets.randbelow(10**6):06d}"
        if await redis.set(keys.cadre_code(prefix, code), cadre_id, nx=True, ex=CODE_SECONDS):
            break
    previous = await redis.hget(record, "code")
    async with redis.pipeline(transaction=True) as pipe:
        if previous is not None:
            pipe.delete(keys.cadre_code(prefix, as_text(previous)))
        pipe.hset(record, "code", code)
        await pipe.execute()
    return code


async def link_cadre(
    redis: Redis, prefix: str, code: str, user: str, contact: Contact, now: float
) -> Cadre:
    """Link the account `user` (reached at `contact`) to the cadre whose code this is."""
    tries = keys.cadre_tries(prefix, user)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(tries)
        pipe.expire(tries, DAY, nx=True)
        attempts, _ = await pipe.execute()
    if int(attempts) > MAX_LINK_ATTEMPTS:
        raise LinkCodeError(say("errors", "code_attempts"))
    code = code.strip().replace(" ", "")
    cadre_id = await redis.getdel(keys.cadre_code(prefix, code)) if _CODE.match(code) else None
    cadre = await get_cadre(redis, prefix, as_text(cadre_id)) if cadre_id is not None else None
    if cadre is None:
        raise LinkCodeError(say("errors", "code_wrong"))
    record = keys.cadre_record(prefix, cadre.id)
    async with redis.pipeline(transaction=True) as pipe:
        if cadre.user and cadre.user != user:
            pipe.delete(keys.cadre_link(prefix, cadre.user))
        pipe.hset(
            record,
            mapping={"user": user, "to": contact.encoded(), "linked": str(int(now))},
        )
        pipe.hdel(record, "code")
        pipe.expire(record, CADRE_SECONDS)
        pipe.set(keys.cadre_link(prefix, user), cadre.id, ex=CADRE_SECONDS)
        pipe.delete(tries)
        await pipe.execute()
    return Cadre(cadre.id, cadre.posyandu_ids, cadre.created, user, contact)


async def cadre_for(redis: Redis, prefix: str, user: str) -> Cadre | None:
    """The cadre this account is linked to, or None (using it keeps it a year longer)."""
    link = keys.cadre_link(prefix, user)
    cadre_id = await redis.get(link)
    if cadre_id is None:
        return None
    cadre = await get_cadre(redis, prefix, as_text(cadre_id))
    if cadre is None or cadre.user != user:  # removed, or linked to another account since
        await redis.delete(link)
        return None
    async with redis.pipeline(transaction=False) as pipe:
        pipe.expire(link, CADRE_SECONDS)
        pipe.expire(keys.cadre_record(prefix, cadre.id), CADRE_SECONDS)
        pipe.expire(keys.cadre_ids(prefix), CADRE_SECONDS)
        await pipe.execute()
    return cadre


# --- broadcasts ----------------------------------------------------------------------------


async def draft_broadcast(
    redis: Redis,
    prefix: str,
    cadre: Cadre,
    posyandu_id: str,
    text: str,
    send_at: float | None,
    now: float,
    *,
    directory: Directory | None = None,
) -> Draft:
    """Check and keep a broadcast for the cadre to preview and confirm (a day at most).
    `send_at` None is now."""
    directory = directory or Directory(redis, prefix)
    record = await _own_posyandu(redis, prefix, cadre, posyandu_id, directory)
    text = _clean_text(text)
    if not text:
        raise InvalidInput(say("errors", "broadcast_empty"))
    if len(text) > BROADCAST_MAX_CHARS:
        raise InvalidInput(
            say("errors", "broadcast_too_long", length=len(text), limit=BROADCAST_MAX_CHARS)
        )
    when = now if send_at is None or now - SCHEDULE_GRACE <= send_at <= now else send_at
    if when < now:
        raise InvalidInput(say("errors", "broadcast_past"))
    if when > now + SCHEDULE_MAX_DAYS * DAY:
        raise InvalidInput(say("errors", "broadcast_too_far", days=SCHEDULE_MAX_DAYS))
    await _check_week_limit(redis, prefix, record, now)
    draft = Draft(secrets.token_hex(6), cadre.id, posyandu_id, text, when, float(int(now)))
    key = keys.cadre_draft(prefix, draft.id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(
            key,
            mapping={
                "cadre": draft.cadre_id,
                "posyandu": draft.posyandu_id,
                "text": draft.text,
                "send_at": repr(draft.send_at),
                "created": str(int(draft.created)),
            },
        )
        pipe.expire(key, DRAFT_SECONDS)
        await pipe.execute()
    return draft


async def preview(
    redis: Redis,
    prefix: str,
    cadre: Cadre,
    draft_id: str,
    now: float,
    *,
    directory: Directory | None = None,
) -> Preview:
    """What the broadcast will say, to whom and when, before the cadre confirms it."""
    directory = directory or Directory(redis, prefix)
    draft = await _draft(redis, prefix, cadre, draft_id)
    record = await _own_posyandu(redis, prefix, cadre, draft.posyandu_id, directory)
    users = await live_subscribers(redis, prefix, draft.posyandu_id, now)
    recipients = len(await contacts_of(redis, prefix, users, draft.posyandu_id))
    zone = time_zone_of(record.village_code)
    if draft.send_at <= now + SCHEDULE_GRACE:
        when = say("broadcast", "now")
    else:
        at = local(draft.send_at, zone)
        when = say("broadcast", "at", date=day_words(at.date()), time=f"{at:%H.%M}", zone=zone)
    text = say(
        "broadcast",
        "preview",
        count=recipients,
        name=record.name,
        when=when,
        message=_broadcast_text(record, draft.text),
    )
    return Preview(draft.id, text, recipients)


async def confirm_broadcast(
    redis: Redis,
    prefix: str,
    cadre: Cadre,
    draft_id: str,
    now: float,
    *,
    directory: Directory | None = None,
) -> list[Send]:
    """Send a previewed broadcast: one Send per subscriber of the Posyandu who has not
    opted out (key `bc:{broadcast}:{user}`). A draft is confirmed once."""
    directory = directory or Directory(redis, prefix)
    draft = await _draft(redis, prefix, cadre, draft_id)
    record = await _own_posyandu(redis, prefix, cadre, draft.posyandu_id, directory)
    # The week's count first (the same draft counts once), so a refusal keeps the draft
    # for later; then the draft goes, so it is confirmed once.
    await _check_week_limit(redis, prefix, record, now, taking=draft.id)
    if not await redis.delete(keys.cadre_draft(prefix, draft.id)):
        raise NotFound(say("errors", "no_draft"))  # confirmed meanwhile
    users = await live_subscribers(redis, prefix, draft.posyandu_id, now)
    contacts = await contacts_of(redis, prefix, users, draft.posyandu_id)
    zone = time_zone_of(record.village_code)
    text = broadcast_message(record, draft.text)
    template = template_name("broadcast")
    due = max(draft.send_at, now)
    sent = keys.cadre_sent(prefix, draft.id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(
            sent,
            mapping={
                "cadre": cadre.id,
                "posyandu": draft.posyandu_id,
                "send_at": repr(due),
                "recipients": str(len(contacts)),
                "confirmed": str(int(now)),
            },
        )
        pipe.expire(sent, SENT_SECONDS)
        await pipe.execute()
    return [
        Send(
            key=f"bc:{draft.id}:{user}",
            due=due,
            channel=contact.channel,
            address=contact.address,
            text=text,
            utc_offset_hours=UTC_OFFSETS[zone],
            template=template,
            params=(record.name, " ".join(draft.text.split())),  # no newlines in template params
            buttons=stop_button(),
            broadcast=draft.id,
            subscriber=user,
            extra={"kind": "broadcast", "posyandu": draft.posyandu_id, "cadre": cadre.id},
        )
        for user, contact in contacts
    ]


async def discard_broadcast(redis: Redis, prefix: str, cadre: Cadre, draft_id: str) -> bool:
    """Drop a draft the cadre does not want to send."""
    try:
        draft = await _draft(redis, prefix, cadre, draft_id)
    except NotFound:
        return False
    return bool(await redis.delete(keys.cadre_draft(prefix, draft.id)))


# --- moving or cancelling the next session --------------------------------------------------


async def next_session(
    redis: Redis,
    prefix: str,
    cadre: Cadre,
    posyandu_id: str,
    now: float,
    *,
    directory: Directory | None = None,
) -> Session:
    """The session a move or cancel would change (show it before asking to confirm)."""
    directory = directory or Directory(redis, prefix)
    record = await _own_posyandu(redis, prefix, cadre, posyandu_id, directory)
    session, _, _ = await _next(directory, record, now)
    return session


async def move_session(
    redis: Redis,
    prefix: str,
    cadre: Cadre,
    posyandu_id: str,
    new_date: dt.date,
    now: float,
    *,
    new_start: dt.time | None = None,
    new_end: dt.time | None = None,
    note: str = "",
    directory: Directory | None = None,
) -> list[Send]:
    """Move the next session of the cadre's Posyandu to `new_date` (and new hours, else the
    same hours); returns the change notices for its subscribers."""
    directory = directory or Directory(redis, prefix)
    record = await _own_posyandu(redis, prefix, cadre, posyandu_id, directory)
    session, original, changes = await _next(directory, record, now)
    zone = time_zone_of(record.village_code)
    today = local(now, zone).date()
    if new_date < today:
        raise InvalidInput(say("errors", "move_in_past"))
    if new_date > today + dt.timedelta(days=MOVE_MAX_DAYS):
        raise InvalidInput(say("errors", "move_too_far", days=MOVE_MAX_DAYS))
    if (new_start is None) != (new_end is None):
        raise InvalidInput(say("errors", "bad_hours"))
    start = new_start or session.start.time().replace(tzinfo=None)
    end = new_end or session.end.time().replace(tzinfo=None)
    if end <= start:
        raise InvalidInput(say("errors", "bad_hours"))
    if (new_date, start, end) == (
        session.start.date(),
        session.start.time().replace(tzinfo=None),
        session.end.time().replace(tzinfo=None),
    ):
        raise InvalidInput(say("errors", "nothing_changes"))
    change = Change(original, False, new_date, start, end, _clean_note(note))
    return await _store_change(redis, prefix, directory, posyandu_id, changes, change, now)


async def cancel_session(
    redis: Redis,
    prefix: str,
    cadre: Cadre,
    posyandu_id: str,
    now: float,
    *,
    note: str = "",
    directory: Directory | None = None,
) -> list[Send]:
    """Cancel the next session of the cadre's Posyandu; returns the change notices."""
    directory = directory or Directory(redis, prefix)
    record = await _own_posyandu(redis, prefix, cadre, posyandu_id, directory)
    _, original, changes = await _next(directory, record, now)
    change = Change(original, cancelled=True, note=_clean_note(note))
    return await _store_change(redis, prefix, directory, posyandu_id, changes, change, now)


async def _next(
    directory: Directory, record: PosyanduRecord, now: float
) -> tuple[Session, dt.date, list[Change]]:
    """The next session, the rule's date it comes from, and the Posyandu's changes."""
    zone = time_zone_of(record.village_code)
    after = dt.datetime.fromtimestamp(now, TIME_ZONES[zone])
    changes = await directory.changes_for(record.id)
    holidays = await directory.holidays()
    found = upcoming_sessions(record.rule, after, zone, changes, holidays, limit=1)
    if not found:
        raise NotFound(say("errors", "no_session", name=record.name))
    session = found[0]
    original = _original_date(record.rule, session, after, zone, changes, holidays)
    if original is None:
        raise NotFound(say("errors", "no_session", name=record.name))
    return session, original, changes


def _original_date(
    rule: ScheduleRule,
    session: Session,
    after: dt.datetime,
    zone: str,
    changes: list[Change],
    holidays: frozenset[dt.date],
) -> dt.date | None:
    """The rule's date whose session `session` is (moved by a holiday or a change or not):
    the planned date that, cancelled, takes this session away."""
    day = session.start.date()
    candidates: set[dt.date] = set()
    for offset in range(-2, 3):
        index = day.year * 12 + day.month - 1 + offset
        candidates.update(rule.dates_in(index // 12, index % 12 + 1))
    for planned in sorted(candidates, key=lambda d: (abs((d - day).days), d)):
        trial = [c for c in changes if c.original != planned] + [Change(planned, cancelled=True)]
        first = upcoming_sessions(rule, after, zone, trial, holidays, limit=1)
        if not first or (first[0].start, first[0].end) != (session.start, session.end):
            return planned
    return None


async def _store_change(
    redis: Redis,
    prefix: str,
    directory: Directory,
    posyandu_id: str,
    changes: list[Change],
    change: Change,
    now: float,
) -> list[Send]:
    """Write the change as the changes importer does (one list per Posyandu) and notify."""
    kept = [c for c in changes if c.original != change.original] + [change]
    await directory.set_changes({posyandu_id: kept})
    return await change_notices(redis, prefix, posyandu_id, change, now, directory=directory)


# --- shared --------------------------------------------------------------------------------


async def _own_posyandu(
    redis: Redis, prefix: str, cadre: Cadre, posyandu_id: str, directory: Directory
) -> PosyanduRecord:
    """The Posyandu, if it is one of the cadre's own (as registered now)."""
    current = await get_cadre(redis, prefix, cadre.id)
    if current is None:
        raise NotAllowed(say("errors", "not_cadre"))
    if posyandu_id not in current.posyandu_ids:
        names = []
        for own in current.posyandu_ids:
            record = await directory.get(own)
            names.append(record.name if record else own)
        raise NotAllowed(say("errors", "not_your_posyandu", own=", ".join(names)))
    record = await directory.get(posyandu_id)
    if record is None:
        raise NotFound(say("errors", "unknown_posyandu"))
    return record


async def _check_week_limit(
    redis: Redis, prefix: str, record: PosyanduRecord, now: float, taking: str | None = None
) -> None:
    """Refuse when the Posyandu had its broadcasts for the last 7 days; with `taking`, count
    that broadcast in (atomically, so two confirms cannot both pass the limit)."""
    limit = broadcasts_per_week()
    week = keys.cadre_week(prefix, record.id)
    if taking is not None:
        allowed = await redis.eval(_WEEK_LIMIT, 1, week, now - WEEK, limit, now, taking, WEEK + DAY)
        if allowed:
            return
    else:
        await redis.zremrangebyscore(week, "-inf", now - WEEK)
        if await redis.zcard(week) < limit:
            return
    oldest = await redis.zrange(week, 0, 0, withscores=True)
    free = (float(oldest[0][1]) if oldest else now) + WEEK
    zone = time_zone_of(record.village_code)
    when = day_words(local(free, zone).date())
    raise LimitReached(
        say("errors", "broadcast_week_limit", name=record.name, limit=limit, when=when)
    )


async def _draft(redis: Redis, prefix: str, cadre: Cadre, draft_id: str) -> Draft:
    raw = {
        as_text(k): as_text(v)
        for k, v in (await redis.hgetall(keys.cadre_draft(prefix, draft_id))).items()
    }
    if not raw or raw.get("cadre") != cadre.id:
        raise NotFound(say("errors", "no_draft"))
    return Draft(
        draft_id,
        raw["cadre"],
        raw["posyandu"],
        raw["text"],
        float(raw["send_at"]),
        float(raw["created"]),
    )


def _parse_cadre(cadre_id: str, raw: dict[bytes | str, bytes | str]) -> Cadre:
    fields = {as_text(k): as_text(v) for k, v in raw.items()}
    contact = Contact.decoded(fields["to"]) if fields.get("to") else None
    return Cadre(
        cadre_id,
        tuple(p for p in fields.get("posyandu", "").split(",") if p),
        float(fields.get("created") or 0),
        fields.get("user", ""),
        contact,
    )


def _broadcast_text(record: PosyanduRecord, text: str) -> str:
    return say("broadcast", "message", name=record.name, text=text)


def broadcast_message(record: PosyanduRecord, text: str) -> str:
    """The text each subscriber gets for a broadcast (with how to stop): what
    `confirm_broadcast` sends, for previews that show it exactly."""
    return f"{_broadcast_text(record, _clean_text(text))}\n{say('reminder', 'stop_hint')}"


def _clean_text(text: str) -> str:
    lines = [" ".join(line.split()) for line in _CONTROL.sub(" ", text).split("\n")]
    return "\n".join(lines).strip()


def _clean_note(note: str) -> str:
    cleaned = " ".join(_CONTROL.sub(" ", note).split())
    if len(cleaned) > NOTE_MAX:
        raise InvalidInput(say("errors", "note_too_long", limit=NOTE_MAX))
    return cleaned
