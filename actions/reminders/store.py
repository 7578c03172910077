"""What the reminders keep about a user, with their consent: Posyandu subscriptions and
children (a birth date, an optional nickname, the doses done).

Everything about one user is one small hash, `u:{user}:rem` (see keys.py), where `user` is
the keyed pseudonym of the Rasa sender id (`actions.pseudonym.user_key`, as everywhere). The
hash expires with its longest-lived item: a subscription a year after it was (re)made, a
child when they turn two (the planner extends the record, a year at most at a time); an
item past its time is pruned by the code that meets it (reads here, the planner). Indices
let the planner find work without scanning users: `possubs:{posyandu}` (subscribers of one
Posyandu), `posplan` (Posyandu that have subscribers) and `imm:due` (children).

Nothing is stored without the current consent for its purpose (`ConsentRequired`).
`unsubscribe_all` ends everything at once and keeps nothing personal; `describe_user` and
`forget_user` serve the user's data rights.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
import secrets
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from actions.posyandu.directory import Directory, MyPosyandu
from actions.pseudonym import user_key
from actions.reminders import keys
from actions.reminders.consent import (
    PURPOSE_CHILD,
    PURPOSE_POSYANDU,
    Consent,
    parse_consent,
    require_consent,
)
from actions.reminders.errors import InvalidInput, LimitReached, NotFound
from actions.reminders.model import CHANNELS
from actions.reminders.texts import day_words, say
from actions.store import as_text

__all__ = [
    "CHILD_MONTHS",
    "MAX_CHILDREN",
    "MAX_SUBSCRIPTIONS",
    "NICKNAME_MAX",
    "SUBSCRIPTION_DAYS",
    "Child",
    "Contact",
    "Subscription",
    "UserRecord",
    "add_child",
    "contact_of",
    "describe_user",
    "forget_user",
    "list_children",
    "list_subscriptions",
    "load_user",
    "mark_doses_done",
    "remove_child",
    "subscribe_posyandu",
    "unsubscribe_all",
    "unsubscribe_posyandu",
    "user_key",
]

SUBSCRIPTION_DAYS = 365
CHILD_MONTHS = 24
MAX_SUBSCRIPTIONS = 5
MAX_CHILDREN = 6
NICKNAME_MAX = 20
DAY = 24 * 3600
MAX_TTL_SECONDS = 365 * DAY  # no key lives longer without being used (retention policy)

_CHANNEL_CODES = {"telegram": "tg", "whatsapp": "wa"}
_CHANNEL_NAMES = {code: name for name, code in _CHANNEL_CODES.items()}
_ADDRESS = re.compile(r"^-?[0-9A-Za-z_.@-]{1,64}$")
_DOSE = re.compile(r"^[A-Za-z0-9_.+-]{1,40}$")
_PROVINCE = re.compile(r"^\d{2}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Contact:
    """Where reminders go: a Telegram chat id or a WhatsApp wa_id (personal data)."""

    channel: str  # "telegram" or "whatsapp" (model.CHANNELS)
    address: str

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise InvalidInput(say("errors", "no_channel"))
        if not _ADDRESS.match(self.address):
            raise ValueError("contact address must be a chat id or wa_id")

    def encoded(self) -> str:
        return f"{_CHANNEL_CODES[self.channel]}|{self.address}"

    @classmethod
    def decoded(cls, value: str) -> Contact | None:
        code, _, address = value.partition("|")
        name = _CHANNEL_NAMES.get(code)
        return cls(name, address) if name and address else None


def contact_of(sender_id: str) -> Contact | None:
    """The contact of a Rasa sender id ("tg:<id>", "wa:<wa_id>"); None for the web chat,
    which cannot be reached later. A Telegram user's private chat id is their user id."""
    code, _, address = sender_id.partition(":")
    name = _CHANNEL_NAMES.get(code)
    if name is None or not _ADDRESS.match(address):
        return None
    return Contact(name, address)


@dataclass(frozen=True)
class Subscription:
    posyandu_id: str
    created: float
    expires: float


@dataclass(frozen=True)
class Child:
    id: str
    birth_date: dt.date
    nickname: str = ""
    doses_done: frozenset[str] = frozenset()
    created: float = 0.0
    province_code: str = ""  # for doses given only in some provinces; "" if unknown

    @property
    def until(self) -> dt.date:
        """The day reminders end and the record goes: the second birthday."""
        return _add_months(self.birth_date, CHILD_MONTHS)

    @property
    def expires(self) -> float:
        return _midnight_utc(self.until)

    def encoded(self) -> str:
        done = ",".join(sorted(self.doses_done))
        created = int(self.created)
        return (
            f"{self.birth_date.isoformat()}|{created}|{self.province_code}|{done}|{self.nickname}"
        )

    @classmethod
    def decoded(cls, child_id: str, value: str) -> Child:
        birth, created, province, done, nickname = value.split("|", 4)
        return cls(
            id=child_id,
            birth_date=dt.date.fromisoformat(birth),
            nickname=nickname,
            doses_done=frozenset(d for d in done.split(",") if d),
            created=float(created),
            province_code=province,
        )


@dataclass
class UserRecord:
    """Everything the reminders keep about one user, as read (items past their time
    included: `live_*` leave them out)."""

    user: str
    contact: Contact | None = None
    consents: dict[str, Consent] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    children: dict[str, Child] = field(default_factory=dict)

    def live_subscriptions(self, now: float) -> list[Subscription]:
        found = [s for s in self.subscriptions.values() if s.expires > now]
        return sorted(found, key=lambda s: (s.created, s.posyandu_id))

    def live_children(self, now: float) -> list[Child]:
        found = [c for c in self.children.values() if c.expires > now]
        return sorted(found, key=lambda c: (c.birth_date, c.created, c.id))

    def expires(self) -> float:
        """When the record may go: when its longest-lived item ends (0 without items)."""
        ends = [s.expires for s in self.subscriptions.values()]
        ends += [c.expires for c in self.children.values()]
        return max(ends, default=0.0)


def parse_record(user: str, raw: dict[bytes | str, bytes | str]) -> UserRecord:
    record = UserRecord(user)
    for name_raw, value_raw in raw.items():
        name, value = as_text(name_raw), as_text(value_raw)
        kind, _, rest = name.partition(":")
        if name == "to":
            record.contact = Contact.decoded(value)
        elif kind == "c":
            record.consents[rest] = parse_consent(rest, value)
        elif kind == "p":
            created, _, expires = value.partition("|")
            record.subscriptions[rest] = Subscription(rest, float(created), float(expires))
        elif kind == "k":
            record.children[rest] = Child.decoded(rest, value)
    return record


async def load_user(redis: Redis, prefix: str, user: str) -> UserRecord:
    """The user's record as stored (empty if there is none)."""
    return parse_record(user, await redis.hgetall(keys.user_record(prefix, user)))


async def home_desa(redis: Redis, prefix: str, sender_id: str) -> str | None:
    """The desa code of the user's Posyandu: the one they saved, else the one of their
    oldest live subscription; None when neither is known or the record is broken.

    Reads only (a saved Posyandu's year is not extended). Raises RedisError.
    """
    async with redis.pipeline(transaction=False) as pipe:
        pipe.get(MyPosyandu(redis, prefix).key(sender_id))
        pipe.hgetall(keys.user_record(prefix, user_key(sender_id)))
        mine, raw = await pipe.execute()
    posyandu_id = as_text(mine) if mine else None
    if posyandu_id is None and raw:
        live = parse_record("", raw).live_subscriptions(time.time())
        posyandu_id = live[0].posyandu_id if live else None
    if posyandu_id is None:
        return None
    try:
        found = await Directory(redis, prefix).get(posyandu_id)
    except ValueError:  # a broken directory record (pydantic's error is a ValueError)
        return None
    return found.village_code if found else None


# --- Posyandu subscriptions ----------------------------------------------------------------


async def subscribe_posyandu(
    redis: Redis,
    prefix: str,
    user: str,
    posyandu_id: str,
    contact: Contact,
    now: float,
    *,
    directory: Directory | None = None,
) -> Subscription:
    """Subscribe `user` to reminders of one Posyandu (again: the year starts over)."""
    await require_consent(redis, prefix, user, PURPOSE_POSYANDU)
    directory = directory or Directory(redis, prefix)
    if await directory.get(posyandu_id) is None:
        raise NotFound(say("errors", "unknown_posyandu"))
    record = await load_user(redis, prefix, user)
    live = {s.posyandu_id: s for s in record.live_subscriptions(now)}
    if posyandu_id not in live and len(live) >= MAX_SUBSCRIPTIONS:
        raise LimitReached(say("errors", "too_many_subscriptions", limit=MAX_SUBSCRIPTIONS))
    created = live[posyandu_id].created if posyandu_id in live else float(int(now))
    expires = int(now) + SUBSCRIPTION_DAYS * DAY
    record_key = keys.user_record(prefix, user)
    index = keys.subscribers(prefix, posyandu_id)
    plan = prefix + keys.POSYANDU_PLAN
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(
            record_key,
            mapping={"to": contact.encoded(), f"p:{posyandu_id}": f"{int(created)}|{expires}"},
        )
        extend(pipe, record_key, expires - now)
        pipe.zadd(index, {user: expires})
        extend(pipe, index, expires - now)
        pipe.zadd(plan, {posyandu_id: now}, lt=True)  # planned at the next run
        extend(pipe, plan, expires - now)
        await pipe.execute()
    return Subscription(posyandu_id, created, float(expires))


async def unsubscribe_posyandu(
    redis: Redis, prefix: str, user: str, posyandu_id: str, now: float | None = None
) -> bool:
    """End one subscription; False if there was none. With nothing left, nothing is kept."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hdel(keys.user_record(prefix, user), f"p:{posyandu_id}")
        pipe.zrem(keys.subscribers(prefix, posyandu_id), user)
        removed, _ = await pipe.execute()
    await settle(redis, prefix, user, time.time() if now is None else now)
    return bool(removed)


async def unsubscribe_all(redis: Redis, prefix: str, user: str) -> int:
    """End every subscription and child reminder of `user` at once (STOP); the record
    (where to send, consents, children) goes with them. Returns how many were ended."""
    record = await load_user(redis, prefix, user)
    async with redis.pipeline(transaction=True) as pipe:
        _unindex(pipe, prefix, record)
        pipe.delete(keys.user_record(prefix, user))
        await pipe.execute()
    return len(record.subscriptions) + len(record.children)


async def list_subscriptions(
    redis: Redis, prefix: str, user: str, now: float | None = None
) -> list[Subscription]:
    """The user's subscriptions still running, oldest first."""
    now = time.time() if now is None else now
    return (await load_user(redis, prefix, user)).live_subscriptions(now)


# --- children ------------------------------------------------------------------------------


async def add_child(
    redis: Redis,
    prefix: str,
    user: str,
    birth_date: dt.date,
    contact: Contact,
    now: float,
    *,
    nickname: str = "",
    province_code: str | None = None,
    directory: Directory | None = None,
) -> Child:
    """Register a child for immunization reminders (the guardian consented).

    `province_code` (two digits) decides doses given only in some provinces; by default it
    is the province of the user's first subscribed Posyandu, if any.
    """
    await require_consent(redis, prefix, user, PURPOSE_CHILD)
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    if birth_date > today + dt.timedelta(days=1):  # east of UTC it is already tomorrow
        raise InvalidInput(say("errors", "birth_in_future"))
    if _add_months(birth_date, CHILD_MONTHS) <= today:
        raise InvalidInput(say("errors", "child_too_old"))
    nickname = clean_nickname(nickname)
    record = await load_user(redis, prefix, user)
    if len(record.live_children(now)) >= MAX_CHILDREN:
        raise LimitReached(say("errors", "too_many_children", limit=MAX_CHILDREN))
    if province_code is None:
        province_code = await _province_of(redis, prefix, record, now, directory)
    elif not _PROVINCE.match(province_code):
        raise ValueError(f"province code must be two digits: {province_code!r}")
    child_id = secrets.token_hex(5)  # unique across users: it names reminder keys
    child = Child(child_id, birth_date, nickname, frozenset(), float(int(now)), province_code)
    record_key = keys.user_record(prefix, user)
    due = prefix + keys.CHILD_DUE
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(record_key, mapping={"to": contact.encoded(), f"k:{child_id}": child.encoded()})
        extend(pipe, record_key, child.expires - now)  # at most a year: see extend()
        pipe.zadd(due, {keys.child_member(user, child_id): now})
        extend(pipe, due, child.expires - now)
        await pipe.execute()
    return child


async def mark_doses_done(
    redis: Redis,
    prefix: str,
    user: str,
    child_id: str,
    dose_ids: Iterable[str],
    now: float,
    *,
    known_doses: Collection[str] | None = None,
) -> Child:
    """Record doses the child has had ("sudah imunisasi BCG"); their reminders stop."""
    await require_consent(redis, prefix, user, PURPOSE_CHILD, current=False)
    doses = set(dose_ids)
    for dose in sorted(doses):
        if not _DOSE.match(dose) or (known_doses is not None and dose not in known_doses):
            raise InvalidInput(say("errors", "bad_dose", dose=dose))
    record_key = keys.user_record(prefix, user)
    async with redis.pipeline(transaction=True) as pipe:
        while True:
            try:
                await pipe.watch(record_key)
                raw = await pipe.hget(record_key, f"k:{child_id}")
                if raw is None:
                    raise NotFound(say("errors", "unknown_child"))
                child = Child.decoded(child_id, as_text(raw))
                if child.expires <= now:
                    raise NotFound(say("errors", "unknown_child"))
                updated = Child(
                    child.id,
                    child.birth_date,
                    child.nickname,
                    child.doses_done | doses,
                    child.created,
                    child.province_code,
                )
                _begin(pipe)
                pipe.hset(record_key, f"k:{child_id}", updated.encoded())
                pipe.zadd(prefix + keys.CHILD_DUE, {keys.child_member(user, child_id): now})
                await pipe.execute()
                return updated
            except WatchError:
                continue


async def remove_child(
    redis: Redis, prefix: str, user: str, child_id: str, now: float | None = None
) -> bool:
    """Remove one child and their reminders; False if there was none."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hdel(keys.user_record(prefix, user), f"k:{child_id}")
        pipe.zrem(prefix + keys.CHILD_DUE, keys.child_member(user, child_id))
        removed, _ = await pipe.execute()
    await settle(redis, prefix, user, time.time() if now is None else now)
    return bool(removed)


async def list_children(
    redis: Redis, prefix: str, user: str, now: float | None = None
) -> list[Child]:
    """The user's children still under two, eldest first."""
    now = time.time() if now is None else now
    return (await load_user(redis, prefix, user)).live_children(now)


def clean_nickname(nickname: str) -> str:
    """A nickname as kept: trimmed, at most NICKNAME_MAX characters, no phone number or NIK."""
    cleaned = " ".join(_CONTROL.sub(" ", nickname).split())
    if len(cleaned) > NICKNAME_MAX or sum(ch.isdigit() for ch in cleaned) >= 4:
        raise InvalidInput(say("errors", "bad_nickname", limit=NICKNAME_MAX))
    return cleaned


# --- data rights ---------------------------------------------------------------------------


async def describe_user(redis: Redis, prefix: str, user: str) -> list[str]:
    """What the reminders keep about `user`, one Indonesian sentence per item (empty: none)."""
    now = time.time()
    record = await settle(redis, prefix, user, now)
    lines: list[str] = []
    directory = Directory(redis, prefix)
    if record is not None:
        if record.contact is not None:
            lines.append(say("describe", f"contact_{record.contact.channel}"))
        for subscription in record.live_subscriptions(now):
            posyandu = await directory.get(subscription.posyandu_id)
            lines.append(
                say(
                    "describe",
                    "subscription",
                    name=posyandu.name if posyandu else subscription.posyandu_id,
                    since=_date_of(subscription.created),
                    until=_date_of(subscription.expires),
                )
            )
        for child in record.live_children(now):
            nickname = (
                say("describe", "child_nickname", nickname=child.nickname) if child.nickname else ""
            )
            doses = (
                say("describe", "child_doses", doses=", ".join(_dose_names(child.doses_done)))
                if child.doses_done
                else ""
            )
            lines.append(
                say(
                    "describe",
                    "child",
                    birth=day_words(child.birth_date, weekday=False),
                    nickname=nickname,
                    until=day_words(child.until, weekday=False),
                    doses=doses,
                )
            )
        for consent in sorted(record.consents.values(), key=lambda c: c.at):
            lines.append(
                say(
                    "describe",
                    f"consent_{consent.purpose}",
                    version=consent.version,
                    date=_date_of(consent.at),
                )
            )
    cadre_id = await redis.get(keys.cadre_link(prefix, user))
    if cadre_id is not None:
        raw = await redis.hget(keys.cadre_record(prefix, as_text(cadre_id)), "posyandu")
        ids = [p for p in as_text(raw or b"").split(",") if p]
        found = [await directory.get(p) for p in ids]
        names = ", ".join(r.name if r else p for r, p in zip(found, ids, strict=True))
        lines.append(say("describe", "cadre", cadre=as_text(cadre_id), posyandu=names or "-"))
    return lines


async def forget_user(redis: Redis, prefix: str, user: str) -> int:
    """Erase every key of the reminders about `user` and their place in every index (their
    subscriptions, children, consents, where to send, a cadre link, link attempts).
    Returns how many keys were removed."""
    record = await load_user(redis, prefix, user)
    link = keys.cadre_link(prefix, user)
    cadre_id = await redis.get(link)
    async with redis.pipeline(transaction=True) as pipe:
        _unindex(pipe, prefix, record)
        pipe.delete(keys.user_record(prefix, user))
        pipe.delete(link)
        pipe.delete(keys.cadre_tries(prefix, user))
        results = await pipe.execute()
    removed = sum(int(r) for r in results[-3:])
    if cadre_id is not None:
        cadre = keys.cadre_record(prefix, as_text(cadre_id))
        if as_text(await redis.hget(cadre, "user") or b"") == user:
            await redis.hdel(cadre, "user", "to", "linked")
    return removed


# --- shared --------------------------------------------------------------------------------


async def settle(redis: Redis, prefix: str, user: str, now: float) -> UserRecord | None:
    """Prune the user's items past their time; with none left, remove the record (and the
    consents and contact with it). The record then expires with its longest-lived item."""
    record_key = keys.user_record(prefix, user)
    async with redis.pipeline(transaction=True) as pipe:
        while True:
            try:
                await pipe.watch(record_key)
                raw = await pipe.hgetall(record_key)
                if not raw:
                    return None  # leaving the block unwatches
                record = parse_record(user, raw)
                gone = UserRecord(user)
                gone.subscriptions = {
                    k: s for k, s in record.subscriptions.items() if s.expires <= now
                }
                gone.children = {k: c for k, c in record.children.items() if c.expires <= now}
                for posyandu_id in gone.subscriptions:
                    del record.subscriptions[posyandu_id]
                for child_id in gone.children:
                    del record.children[child_id]
                _begin(pipe)
                _unindex(pipe, prefix, gone)
                if not record.subscriptions and not record.children:
                    if not _pending_consent(record, now):
                        pipe.delete(record_key)
                        record = UserRecord(user)
                else:
                    fields = [f"p:{p}" for p in gone.subscriptions]
                    fields += [f"k:{c}" for c in gone.children]
                    if fields:
                        pipe.hdel(record_key, *fields)
                    pipe.expire(record_key, _ttl(record.expires() - now))
                await pipe.execute()
                return record
            except WatchError:
                continue


def _pending_consent(record: UserRecord, now: float) -> bool:
    """A consent just given, with nothing stored under it yet (kept a day, see consent.py)."""
    return any(now - c.at < DAY for c in record.consents.values()) and record.contact is None


def _begin(pipe: Pipeline) -> None:
    """MULTI, after WATCH and the reads (redis-py leaves `multi` untyped)."""
    pipe.multi()  # type: ignore[no-untyped-call]


def _unindex(pipe: Pipeline, prefix: str, record: UserRecord) -> None:
    """Queue the removal of the record's items from the planner's indices."""
    for posyandu_id in record.subscriptions:
        pipe.zrem(keys.subscribers(prefix, posyandu_id), record.user)
    if record.children:
        members = [keys.child_member(record.user, c) for c in record.children]
        pipe.zrem(prefix + keys.CHILD_DUE, *members)


def extend(pipe: Pipeline, key: str, seconds: float) -> None:
    """Queue: `key` lives at least `seconds` more, but never more than a year ahead (a key
    without expiry gets this one).

    Expiries are relative to the caller's `now`, so Redis's clock never shortens them. No
    key is set to live longer than a year (the retention policy's limit): a child's
    record lives until the second birthday because the planner, which looks at every
    child at least weekly, extends it; were the planner gone, it would go within a year."""
    ttl = _ttl(seconds)
    pipe.expire(key, ttl, nx=True)
    pipe.expire(key, ttl, gt=True)


def _ttl(seconds: float) -> int:
    return max(1, min(MAX_TTL_SECONDS, math.ceil(seconds)))


async def _province_of(
    redis: Redis, prefix: str, record: UserRecord, now: float, directory: Directory | None
) -> str:
    for subscription in record.live_subscriptions(now):
        posyandu = await (directory or Directory(redis, prefix)).get(subscription.posyandu_id)
        if posyandu is not None:
            return posyandu.village_code[:2]
    return ""


def _dose_names(dose_ids: Iterable[str]) -> list[str]:
    """Doses as parents know them, in the schedule's order (unknown ids as they are)."""
    from actions.immunization import default_schedule

    doses = default_schedule().doses
    order = {dose.id: (index, dose.name) for index, dose in enumerate(doses)}
    known = sorted(order[d] for d in dose_ids if d in order)
    return [name for _, name in known] + sorted(d for d in dose_ids if d not in order)


def _add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _midnight_utc(day: dt.date) -> float:
    return dt.datetime.combine(day, dt.time(0), dt.UTC).timestamp()


def _date_of(timestamp: float) -> str:
    return day_words(dt.datetime.fromtimestamp(timestamp, dt.UTC).date(), weekday=False)
