"""Reminders planned from the store: Posyandu sessions, a child's doses, change notices.

The planner is run often (every few minutes to an hour) with a horizon; it returns the
`Send`s due between `now - late_hours` and `now + horizon_hours` and the engine keeps them
(each `key` at most once). A Posyandu or child is looked at again before its next reminder
is due (and at least daily / weekly), so a reminder is planned at every run until its time
has come: a run whose Sends were lost (a crash before they were queued) is made good by
the next one. The cost of a run follows the Posyandu and children with something due,
never the size of the directory: the planner walks `posplan` and `imm:due`, not records.

Times are the village's own (WIB, WITA, WIT): Posyandu reminders the day before at 16.00
and on the morning of the session at 06.30; a child's reminder three days before a dose
is due (16.00) and, when the user follows a Posyandu, on the morning of its session when
one is due.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from redis.asyncio import Redis

from actions.posyandu.directory import Directory
from actions.posyandu.records import PosyanduRecord
from actions.posyandu.regions import time_zone_of
from actions.posyandu.schedule import TIME_ZONES, Change, Session, upcoming_sessions
from actions.reminders import keys
from actions.reminders.model import Send
from actions.reminders.store import Child, Contact, UserRecord, extend, parse_record
from actions.reminders.texts import UTC_OFFSETS, at_local, day_words, say, time_words
from actions.store import as_text

__all__ = [
    "DoseSchedule",
    "NationalSchedule",
    "change_notices",
    "contacts_of",
    "live_subscribers",
    "plan_children",
    "plan_posyandu",
    "stop_button",
    "template_name",
    "touch_posyandu",
]

EVE_AT = dt.time(16, 0)
DAY_AT = dt.time(6, 30)
BEFORE_DOSE_DAYS = 3
BEFORE_DOSE_AT = dt.time(16, 0)
DOSE_WINDOW_DAYS = 60  # a dose is "due" at Posyandu sessions up to this long after its date
LATE_HOURS = 3.0  # a reminder this late (planner down) is still sent
POSYANDU_RECHECK = 24 * 3600
CHILD_RECHECK = 7 * 24 * 3600
CHUNK = 16  # concurrent lookups: the gateway shares its Redis connection pool
STOP_PAYLOAD = "/unsubscribe"

# WhatsApp templates (outside the 24-hour window), by environment variable:
TEMPLATES = {
    # params: Posyandu name, date, hours, place
    "reminder": ("KS_WA_TEMPLATE_REMINDER", "kawan_sehat_pengingat_posyandu"),
    # params: who (nickname or "anak Anda (lahir ...)"), doses, date
    "immunization": ("KS_WA_TEMPLATE_IMMUNIZATION", "kawan_sehat_pengingat_imunisasi"),
    # params: Posyandu name, the session's old date, the new date and hours (or "dibatalkan")
    "change": ("KS_WA_TEMPLATE_CHANGE", "kawan_sehat_perubahan_jadwal"),
    # params: Posyandu name, the cadre's text
    "broadcast": ("KS_WA_TEMPLATE_BROADCAST", "kawan_sehat_siaran_kader"),
}

T = TypeVar("T")


def template_name(kind: str) -> str | None:
    """The WhatsApp template for `kind` (TEMPLATES); set its variable empty for none."""
    variable, default = TEMPLATES[kind]
    return os.environ.get(variable, default) or None


def stop_button() -> tuple[tuple[str, str], ...]:
    return ((say("reminder", "stop_button"), STOP_PAYLOAD),)


class DoseSchedule(Protocol):
    """The immunization schedule as the planner needs it (tests inject a small one)."""

    def due_dates(
        self, birth: dt.date, done: frozenset[str], province_code: str | None
    ) -> list[tuple[str, dt.date]]:
        """(dose id, due date) of every dose not done, by date."""

    def name(self, dose_id: str) -> str:
        """The dose as parents know it ("BCG", "Polio 2")."""


class NationalSchedule:
    """The national schedule of data/immunization/schedule.yml (actions.immunization)."""

    def due_dates(
        self, birth: dt.date, done: frozenset[str], province_code: str | None
    ) -> list[tuple[str, dt.date]]:
        from actions.immunization import dose_due_dates

        return dose_due_dates(birth, done, province_code)

    def name(self, dose_id: str) -> str:
        from actions.immunization import default_schedule

        try:
            return default_schedule().dose(dose_id).name
        except KeyError:
            return dose_id


# --- Posyandu sessions ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Event:
    at: float
    kind: str  # eve / day
    session: Session


@dataclass(frozen=True)
class _Posyandu:
    record: PosyanduRecord
    zone: str
    sessions: tuple[Session, ...]

    @property
    def place(self) -> str:
        return self.record.address or say("reminder", "place_unknown")


async def plan_posyandu(
    redis: Redis,
    prefix: str,
    now: float,
    horizon_hours: float,
    *,
    directory: Directory | None = None,
    late_hours: float = LATE_HOURS,
) -> list[Send]:
    """The session reminders due from `now - late_hours` to `now + horizon_hours`."""
    directory = directory or Directory(redis, prefix)
    end = now + horizon_hours * 3600
    due = await redis.zrangebyscore(prefix + keys.POSYANDU_PLAN, "-inf", end)
    if not due:
        return []
    holidays = await directory.holidays()
    since = now - late_hours * 3600

    async def one(posyandu_id: str) -> list[Send]:
        posyandu = await _load_posyandu(directory, posyandu_id, since, holidays, limit=3)
        return await _plan_one_posyandu(redis, prefix, posyandu_id, posyandu, now, since, end)

    return await _in_chunks([as_text(p) for p in due], one)


async def _plan_one_posyandu(
    redis: Redis,
    prefix: str,
    posyandu_id: str,
    posyandu: _Posyandu | None,
    now: float,
    since: float,
    end: float,
) -> list[Send]:
    plan = prefix + keys.POSYANDU_PLAN
    users = await live_subscribers(redis, prefix, posyandu_id, now)
    if not users:
        await _drop_if_no_subscribers(redis, prefix, posyandu_id)
        return []
    if posyandu is None:  # no longer in the directory: look again tomorrow
        await redis.zadd(plan, {posyandu_id: now + POSYANDU_RECHECK}, xx=True)
        return []
    events = [e for s in posyandu.sessions for e in _session_events(s, posyandu.zone)]
    upcoming = [e.at for e in events if e.at > now]
    await redis.zadd(plan, {posyandu_id: min([*upcoming, now + POSYANDU_RECHECK])}, xx=True)
    window = [e for e in events if since <= e.at <= end and now < e.session.start.timestamp()]
    if not window:
        return []
    contacts = await contacts_of(redis, prefix, users, posyandu_id)
    sends = []
    template = template_name("reminder")
    for event in window:
        session = event.session
        date = day_words(session.start.date())
        hours = time_words(session.start.timetz(), session.end.timetz(), session.zone)
        name = posyandu.record.name
        text = say("reminder", event.kind, date=date, name=name, hours=hours, place=posyandu.place)
        session_date = session.start.date().isoformat()
        for user, contact in contacts:
            sends.append(
                Send(
                    key=f"pos:{posyandu_id}:{session_date}:{event.kind}:{user}",
                    due=event.at,
                    channel=contact.channel,
                    address=contact.address,
                    text=_with_stop_hint(text),
                    utc_offset_hours=UTC_OFFSETS[posyandu.zone],
                    template=template,
                    params=(name, date, hours, posyandu.place),
                    buttons=stop_button(),
                    subscriber=user,
                    extra={
                        "kind": f"posyandu-{event.kind}",
                        "posyandu": posyandu_id,
                        "session": session_date,
                    },
                )
            )
    return sends


def _session_events(session: Session, zone: str) -> list[_Event]:
    day = session.start.date()
    events = [_Event(at_local(day - dt.timedelta(days=1), EVE_AT, zone), "eve", session)]
    morning = at_local(day, DAY_AT, zone)
    if morning < session.start.timestamp():
        events.append(_Event(morning, "day", session))
    return events


async def touch_posyandu(
    redis: Redis, prefix: str, posyandu_ids: Iterable[str], now: float
) -> None:
    """Have the planners look at these Posyandu (and the children of their subscribers) at
    their next run: call after their records, changes or the holidays were imported."""
    ids = list(posyandu_ids)
    if not ids:
        return
    await redis.zadd(prefix + keys.POSYANDU_PLAN, dict.fromkeys(ids, now), xx=True, lt=True)
    for posyandu_id in ids:
        users = await live_subscribers(redis, prefix, posyandu_id, now)
        await _touch_children(redis, prefix, users, now)


# --- change notices ------------------------------------------------------------------------


async def change_notices(
    redis: Redis,
    prefix: str,
    posyandu_id: str,
    change: Change,
    now: float,
    *,
    directory: Directory | None = None,
) -> list[Send]:
    """Tell the subscribers of a Posyandu that a session moved or was cancelled (the change
    is stored already, by the changes importer or `cadres.move_session`). A change whose
    session and new date are both past tells no one. The planner looks at the Posyandu
    again at its next run, so reminders follow the new date."""
    directory = directory or Directory(redis, prefix)
    record = await directory.get(posyandu_id)
    if record is None:
        return []
    zone = time_zone_of(record.village_code)
    today = dt.datetime.fromtimestamp(now, TIME_ZONES[zone]).date()
    if change.original < today and (change.new_date is None or change.new_date < today):
        return []
    await touch_posyandu(redis, prefix, [posyandu_id], now)
    users = await live_subscribers(redis, prefix, posyandu_id, now)
    if not users:
        return []
    changes = [c for c in await directory.changes_for(posyandu_id) if c.original != change.original]
    changes.append(change)
    name, old = record.name, day_words(change.original)
    place = record.address or say("reminder", "place_unknown")
    note = say("change", "note", note=change.note.rstrip(".")) if change.note else ""
    if change.cancelled:
        after = dt.datetime.fromtimestamp(now, TIME_ZONES[zone])
        sessions = upcoming_sessions(
            record.rule, after, zone, changes, await directory.holidays(), limit=1
        )
        following = _session_words(sessions[0]) if sessions else say("change", "no_next")
        text = say("change", "cancelled", name=name, date=old, note=note, next=following)
        new = say("change", "cancelled_param")
    else:
        day = change.new_date or change.original
        start = change.new_start or record.rule.start
        finish = change.new_end or record.rule.end
        new = f"{day_words(day)}, {time_words(start, finish, zone)}"
        text = say("change", "moved", name=name, old=old, new=new, place=place, note=note)
    fingerprint = _fingerprint(change)
    contacts = await contacts_of(redis, prefix, users, posyandu_id)
    template = template_name("change")
    return [
        Send(
            key=f"chg:{posyandu_id}:{change.original.isoformat()}:{fingerprint}:{user}",
            due=now,
            channel=contact.channel,
            address=contact.address,
            text=_with_stop_hint(text),
            utc_offset_hours=UTC_OFFSETS[zone],
            template=template,
            params=(name, old, new),
            buttons=stop_button(),
            subscriber=user,
            extra={
                "kind": "change",
                "posyandu": posyandu_id,
                "session": change.original.isoformat(),
            },
        )
        for user, contact in contacts
    ]


def _fingerprint(change: Change) -> str:
    """The same change gives the same keys (sent once); a second change to the session, new ones."""
    parts = [
        change.original.isoformat(),
        "batal" if change.cancelled else "pindah",
        change.new_date.isoformat() if change.new_date else "",
        change.new_start.isoformat() if change.new_start else "",
        change.new_end.isoformat() if change.new_end else "",
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:8]


def _session_words(session: Session) -> str:
    start, end = session.start, session.end
    return f"{day_words(start.date())}, {time_words(start.timetz(), end.timetz(), session.zone)}"


# --- children ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ChildEvent:
    at: float
    kind: str  # pre (days before a due date) / day (a Posyandu session while due)
    day: dt.date  # the due date, or the session's date
    doses: tuple[str, ...]
    session: Session | None = None
    missed: bool = False  # doses past their window are pending too


async def plan_children(
    redis: Redis,
    prefix: str,
    now: float,
    horizon_hours: float,
    *,
    schedule: DoseSchedule | None = None,
    directory: Directory | None = None,
    late_hours: float = LATE_HOURS,
) -> list[Send]:
    """The immunization reminders due from `now - late_hours` to `now + horizon_hours`."""
    schedule = schedule or NationalSchedule()
    directory = directory or Directory(redis, prefix)
    end = now + horizon_hours * 3600
    since = now - late_hours * 3600
    due = [as_text(m) for m in await redis.zrangebyscore(prefix + keys.CHILD_DUE, "-inf", end)]
    if not due:
        return []
    holidays = await directory.holidays()
    posyandu_cache: dict[str, asyncio.Task[_Posyandu | None]] = {}

    def posyandu_of(posyandu_id: str) -> Awaitable[_Posyandu | None]:
        if posyandu_id not in posyandu_cache:
            posyandu_cache[posyandu_id] = asyncio.ensure_future(
                _load_posyandu(directory, posyandu_id, since, holidays, limit=4)
            )
        return posyandu_cache[posyandu_id]

    by_user: dict[str, list[str]] = {}
    for member in due:
        user, _, child_id = member.partition(":")
        by_user.setdefault(user, []).append(child_id)

    async def one(user: str) -> list[Send]:
        record = parse_record(user, await redis.hgetall(keys.user_record(prefix, user)))
        sends: list[Send] = []
        for child_id in by_user[user]:
            sends += await _plan_child(
                redis, prefix, record, child_id, schedule, posyandu_of, now, since, end
            )
        return sends

    return await _in_chunks(list(by_user), one)


async def _plan_child(
    redis: Redis,
    prefix: str,
    record: UserRecord,
    child_id: str,
    schedule: DoseSchedule,
    posyandu_of: Callable[[str], Awaitable[_Posyandu | None]],
    now: float,
    since: float,
    end: float,
) -> list[Send]:
    due_index = prefix + keys.CHILD_DUE
    member = keys.child_member(record.user, child_id)
    child = record.children.get(child_id)
    if child is None or child.expires <= now:  # removed, or two years old: reminders end
        async with redis.pipeline(transaction=True) as pipe:
            pipe.zrem(due_index, member)
            pipe.hdel(keys.user_record(prefix, record.user), f"k:{child_id}")
            await pipe.execute()
        return []
    posyandu = None
    for subscription in record.live_subscriptions(now):
        posyandu = await posyandu_of(subscription.posyandu_id)
        if posyandu is not None:
            break
    province = child.province_code or (posyandu.record.village_code[:2] if posyandu else "")
    zone = posyandu.zone if posyandu else (time_zone_of(province) if province else "WIB")
    doses = [
        (dose, day)
        for dose, day in schedule.due_dates(child.birth_date, child.doses_done, province or None)
        if dose not in child.doses_done
    ]
    events = _child_events(doses, posyandu, zone)
    upcoming = [e.at for e in events if e.at > now]
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zadd(
            due_index, {member: min([*upcoming, now + CHILD_RECHECK, child.expires])}, xx=True
        )
        # Reminders go on until the second birthday: the record and the index live on.
        extend(pipe, keys.user_record(prefix, record.user), record.expires() - now)
        extend(pipe, due_index, child.expires - now)
        await pipe.execute()
    window = [e for e in events if since <= e.at <= end]
    if record.contact is None or not window or await _opted_out(redis, prefix, record.user):
        return []
    return [
        _child_send(record.user, record.contact, child, e, schedule, posyandu, zone) for e in window
    ]


def _child_events(
    doses: Sequence[tuple[str, dt.date]], posyandu: _Posyandu | None, zone: str
) -> list[_ChildEvent]:
    by_date: dict[dt.date, list[str]] = {}
    for dose, day in doses:
        by_date.setdefault(day, []).append(dose)
    events = [
        _ChildEvent(
            at_local(day - dt.timedelta(days=BEFORE_DOSE_DAYS), BEFORE_DOSE_AT, zone),
            "pre",
            day,
            tuple(ids),
        )
        for day, ids in sorted(by_date.items())
    ]
    if posyandu is None:
        return events
    window = dt.timedelta(days=DOSE_WINDOW_DAYS)
    for session in posyandu.sessions:
        day = session.start.date()
        ids = tuple(dose for dose, due in doses if due <= day <= due + window)
        morning = at_local(day, DAY_AT, posyandu.zone)
        if ids and morning < session.start.timestamp():
            missed = any(due + window < day for _, due in doses)
            events.append(_ChildEvent(morning, "day", day, ids, session, missed))
    return events


def _child_send(
    user: str,
    contact: Contact,
    child: Child,
    event: _ChildEvent,
    schedule: DoseSchedule,
    posyandu: _Posyandu | None,
    zone: str,
) -> Send:
    who = child.nickname or say(
        "immunization", "who_born", birth=day_words(child.birth_date, weekday=False)
    )
    doses = ", ".join(schedule.name(d) for d in event.doses)
    date = day_words(event.day)
    if event.kind == "day" and posyandu is not None and event.session is not None:
        session = event.session
        hours = time_words(session.start.timetz(), session.end.timetz(), session.zone)
        text = say(
            "immunization",
            "day",
            date=date,
            name=posyandu.record.name,
            hours=hours,
            place=posyandu.place,
            who=who,
            doses=doses,
        )
        if event.missed:
            text = f"{text} {say('immunization', 'missed')}"
    else:
        text = say("immunization", "before", who=who, doses=doses, date=date)
    return Send(
        key=f"imm:{child.id}:{event.day.isoformat()}:{event.kind}",
        due=event.at,
        channel=contact.channel,
        address=contact.address,
        text=_with_stop_hint(text),
        utc_offset_hours=UTC_OFFSETS[zone],
        template=template_name("immunization"),
        params=(who, doses, date),
        buttons=stop_button(),
        subscriber=user,
        extra={
            "kind": f"immunization-{event.kind}",
            "child": child.id,
            "doses": ",".join(event.doses),
        },
    )


# --- shared --------------------------------------------------------------------------------


async def _load_posyandu(
    directory: Directory,
    posyandu_id: str,
    since: float,
    holidays: frozenset[dt.date],
    limit: int,
) -> _Posyandu | None:
    record = await directory.get(posyandu_id)
    if record is None:
        return None
    zone = time_zone_of(record.village_code)
    after = dt.datetime.fromtimestamp(since, TIME_ZONES[zone])
    changes = await directory.changes_for(posyandu_id)
    sessions = upcoming_sessions(record.rule, after, zone, changes, holidays, limit=limit)
    return _Posyandu(record, zone, tuple(sessions))


async def live_subscribers(redis: Redis, prefix: str, posyandu_id: str, now: float) -> list[str]:
    """The users subscribed to a Posyandu now; subscriptions past their year are pruned."""
    index = keys.subscribers(prefix, posyandu_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zrangebyscore(index, "-inf", now)
        pipe.zrangebyscore(index, f"({now}", "+inf")
        expired_raw, live_raw = await pipe.execute()
    expired = [as_text(u) for u in expired_raw]
    if expired:
        async with redis.pipeline(transaction=False) as pipe:
            for user in expired:
                pipe.hdel(keys.user_record(prefix, user), f"p:{posyandu_id}")
            pipe.zremrangebyscore(index, "-inf", now)
            await pipe.execute()
    return [as_text(u) for u in live_raw]


async def contacts_of(
    redis: Redis, prefix: str, users: Sequence[str], posyandu_id: str
) -> list[tuple[str, Contact]]:
    """(user, where to send) for subscribers of a Posyandu still subscribed, not opted out.
    Index entries without their subscription in the user's record are removed."""
    found: list[tuple[str, Contact]] = []
    stale: list[str] = []
    for start in range(0, len(users), 500):
        batch = users[start : start + 500]
        async with redis.pipeline(transaction=False) as pipe:
            for user in batch:
                pipe.hmget(keys.user_record(prefix, user), ["to", f"p:{posyandu_id}"])
                pipe.exists(keys.optout(prefix, user))
            replies = await pipe.execute()
        for index, user in enumerate(batch):
            (to, held), opted_out = replies[2 * index], replies[2 * index + 1]
            if held is None:
                stale.append(user)
                continue
            contact = Contact.decoded(as_text(to)) if to is not None else None
            if contact is not None and not opted_out:
                found.append((user, contact))
    if stale:
        await redis.zrem(keys.subscribers(prefix, posyandu_id), *stale)
    return found


async def _opted_out(redis: Redis, prefix: str, user: str) -> bool:
    return bool(await redis.exists(keys.optout(prefix, user)))


async def _drop_if_no_subscribers(redis: Redis, prefix: str, posyandu_id: str) -> None:
    """Take a Posyandu out of `posplan` unless someone subscribed meanwhile (atomic)."""
    await redis.eval(
        _DROP_IF_EMPTY,
        2,
        keys.subscribers(prefix, posyandu_id),
        prefix + keys.POSYANDU_PLAN,
        posyandu_id,
    )


_DROP_IF_EMPTY = """
if redis.call('ZCARD', KEYS[1]) == 0 then return redis.call('ZREM', KEYS[2], ARGV[1]) end
return 0
"""


async def _touch_children(redis: Redis, prefix: str, users: Sequence[str], now: float) -> None:
    if not users:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for user in users:
            pipe.hkeys(keys.user_record(prefix, user))
        replies = await pipe.execute()
    members = {
        keys.child_member(user, as_text(name)[2:]): now
        for user, names in zip(users, replies, strict=True)
        for name in names
        if as_text(name).startswith("k:")
    }
    if members:
        await redis.zadd(prefix + keys.CHILD_DUE, members, xx=True, lt=True)


def _with_stop_hint(text: str) -> str:
    return f"{text}\n{say('reminder', 'stop_hint')}"


async def _in_chunks(items: list[str], work: Callable[[str], Awaitable[list[T]]]) -> list[T]:
    """`work` on every item, CHUNK at a time concurrently (Redis round trips overlap)."""
    results: list[T] = []
    for start in range(0, len(items), CHUNK):
        for found in await asyncio.gather(*(work(i) for i in items[start : start + CHUNK])):
            results += found
    return results
