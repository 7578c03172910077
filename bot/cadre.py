"""Cadre commands in the chat, answered by the gateway before NLU (like STOP).

Only on Telegram and WhatsApp: the web chat cannot be reached later, so it has no cadres.

- "KODE 123456" (or "kode kader 123456") links the account to the cadre whose one-time
  code it is (`python -m actions.reminders.cli cadre code ...`).
- For a linked cadre only (from anyone else these words go to the assistant as usual):
  "SIARAN <pesan>" / "siaran: <pesan>" sends now; "SIARAN JAM 16.00 <pesan>",
  "SIARAN BESOK 07.00 <pesan>" and "SIARAN 12/12 16.00 <pesan>" schedule it; either way a
  preview with "Kirim" / "Batal" first. "JADWAL" is the next session; "PINDAH 15/12
  [08.00-11.00] [catatan]" and "BATAL POSYANDU [catatan]" move or cancel it after a
  preview and a confirm, and its subscribers get a change notice. "LAPORAN" gives the
  delivery reports of the latest broadcasts, "MENU KADER" the list of commands. A cadre of
  several Posyandu picks one with buttons first.

The buttons carry payloads starting with `/cadre:`, answered here: they never reach Rasa.
What a cadre may do (their own Posyandu only, text length, broadcasts per week) is decided
by `actions.reminders.cadres`; its refusals are the replies. The sends go to the engine
(`bot.reminders.schedule`), which sends them at most once each.

Keys (after the deployment prefix; see actions/retention.py):
  cadre:ask:{token}     a command waiting for the cadre's choice or confirmation (1 hour)
  cadre:out:{token}     the sends of a confirmed command (subscribers' addresses) until the
                        engine has them, so that a retry after a Redis failure schedules
                        them instead of losing them (1 hour; deleted once scheduled)
  cadre:recent:{cadre}  the ids of the cadre's latest broadcasts, no text (30 days)
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import secrets
import time
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from redis.asyncio import Redis

from actions.posyandu.directory import Directory
from actions.posyandu.records import PosyanduRecord
from actions.posyandu.regions import time_zone_of
from actions.posyandu.schedule import MONTHS_ID, Session, format_session
from actions.pseudonym import pseudonym, user_key
from actions.reminders import keys
from actions.reminders.cadres import (
    BROADCAST_MAX_CHARS,
    MOVE_MAX_DAYS,
    SCHEDULE_GRACE,
    Cadre,
    broadcasts_per_week,
    cadre_for,
    cancel_session,
    confirm_broadcast,
    discard_broadcast,
    draft_broadcast,
    link_cadre,
    move_session,
    next_session,
    preview,
)
from actions.reminders.errors import InvalidInput, NotFound, ReminderError
from actions.reminders.model import CHANNELS, Send
from actions.reminders.planner import contacts_of, live_subscribers
from actions.reminders.store import contact_of
from actions.reminders.texts import UTC_OFFSETS, at_local, day_words, local, time_words
from actions.reminders.texts import say as say_reminders
from actions.store import as_text
from bot.channels.message import Choice, Inbound, Outbound
from bot.reminders import report as delivery_report
from bot.reminders import schedule
from bot.reminders.quiet import is_quiet, next_allowed
from bot.reminders.store import decode, encode

__all__ = [
    "PAYLOAD_PREFIX",
    "Broadcast",
    "Cancel",
    "Command",
    "Link",
    "Move",
    "Refusal",
    "Simple",
    "When",
    "answer",
    "parse",
]

logger = logging.getLogger(__name__)

PAYLOAD_PREFIX = "/cadre:"
ASK_SECONDS = 3600
OUT_SECONDS = 3600
RECENT_SECONDS = 30 * 24 * 3600  # as long as a broadcast's record (cadres.SENT_SECONDS)
RECENT_KEPT = 10
REPORTED = 3  # broadcasts in one LAPORAN
PAST_MEANS_NEXT_YEAR_DAYS = 180
TEXTS = Path(__file__).with_name("cadre.yml")


@cache
def _texts() -> dict[str, str]:
    loaded: dict[str, str] = yaml.safe_load(TEXTS.read_text(encoding="utf-8"))
    return loaded


def say(key: str, /, **values: object) -> str:
    """One sentence of cadre.yml with its placeholders filled in."""
    template = _texts()[key]
    return template.format(**values) if values else template


# --- reading a command ---------------------------------------------------------------------


WhenKind = Literal["today", "tomorrow", "date"]


@dataclass(frozen=True)
class When:
    """A scheduled broadcast time in the Posyandu's own time zone."""

    kind: WhenKind
    clock: dt.time
    day: int = 0
    month: int = 0
    year: int | None = None


@dataclass(frozen=True)
class Link:
    code: str


@dataclass(frozen=True)
class Broadcast:
    text: str
    when: When | None = None  # None: now


@dataclass(frozen=True)
class Move:
    day: int
    month: int
    year: int | None = None
    start: dt.time | None = None
    end: dt.time | None = None
    note: str = ""


@dataclass(frozen=True)
class Cancel:
    note: str = ""


@dataclass(frozen=True)
class Simple:
    name: Literal["next", "report", "menu"]


@dataclass(frozen=True)
class Refusal:
    """A cadre command written in a way that cannot be used: the reply (cadre.yml key)."""

    key: str


Command = Link | Broadcast | Move | Cancel | Simple | Refusal

_FLAGS = re.IGNORECASE | re.DOTALL
_LINK = re.compile(r"^kode(?:\s+kader)?\s*[:.\-]?\s*(?P<code>\d[\d ]{0,11})[.!]?$", _FLAGS)
_BROADCAST = re.compile(r"^siaran(?:\s*[:\-]\s*|\s+|$)(?P<rest>.*)$", _FLAGS)
_NEXT = re.compile(r"^jadwal(?:\s+kader)?[.!?]*$", _FLAGS)
_REPORT = re.compile(r"^laporan(?:\s+siaran)?[.!?]*$", _FLAGS)
_MENU = re.compile(r"^(?:menu\s+kader|perintah\s+kader|bantuan\s+kader|kader)[.!?]*$", _FLAGS)
_MOVE = re.compile(
    r"^pindah(?:kan)?(?:\s+(?:posyandu|jadwal|sesi))?(?:\s+(?:ke|tgl\.?|tanggal))*"
    r"(?:\s+(?P<rest>.*))?$",
    _FLAGS,
)
_CANCEL = re.compile(
    r"^batal(?:kan)?\s+(?:posyandu|jadwal|sesi)(?:\s+(?:berikutnya|selanjutnya))?"
    r"(?P<note>(?:[\s,.:;\-].*)?)$",
    _FLAGS,
)
_END = r"(?:\s*[:,\-]\s*|\s+|$)"  # after a time: a separator or the end
_CLOCK = r"(?P<h>\d{1,2})[.:](?P<min>\d{2})(?:\s*(?:wib|wita|wit)\b)?"
_AT = r"(?:jam|pukul|pkl\.?)\s*"
_TODAY_AT = re.compile(rf"^(?:hari\s+ini\s+)?{_AT}{_CLOCK}{_END}(?P<rest>.*)$", _FLAGS)
_TOMORROW_AT = re.compile(rf"^besok\s+(?:{_AT})?{_CLOCK}{_END}(?P<rest>.*)$", _FLAGS)
_DATE_AT = re.compile(
    r"^(?:(?:tgl\.?|tanggal)\s*)?(?P<d>\d{1,2})\s*/\s*(?P<mo>\d{1,2})"
    rf"(?:\s*/\s*(?P<y>\d{{4}}|\d{{2}}))?\s+(?:{_AT})?{_CLOCK}{_END}(?P<rest>.*)$",
    _FLAGS,
)
_NUMERIC_DATE = re.compile(
    r"^(?P<d>\d{1,2})\s*[/\-]\s*(?P<mo>\d{1,2})(?:\s*[/\-]\s*(?P<y>\d{4}|\d{2}))?(?!\d|[.:]\d)"
)
_NAMED_DATE = re.compile(r"^(?P<d>\d{1,2})\s+(?P<name>[a-z]{3,9})\.?(?:\s+(?P<y>\d{4}))?\b", _FLAGS)
_HOURS = re.compile(
    r"^[\s,]*(?:(?:jam|pukul|pkl\.?)\s*)?(?P<h1>\d{1,2})[.:](?P<m1>\d{2})\s*"
    r"(?:(?:-|–|—|s\.?/?d\.?|sampai|hingga)\s*(?P<h2>\d{1,2})[.:](?P<m2>\d{2}))?"
    r"(?:\s*(?:wib|wita|wit)\b)?",
    _FLAGS,
)
_SCHEDULED: tuple[tuple[re.Pattern[str], WhenKind], ...] = (
    (_TODAY_AT, "today"),
    (_TOMORROW_AT, "tomorrow"),
    (_DATE_AT, "date"),
)
_MONTH_ALIASES = {"agt": 8, "ags": 8, "nop": 11, "peb": 2, "pebruari": 2, "sept": 9}


def parse(text: str) -> Command | None:
    """The cadre command a typed message is, or None (words for the assistant)."""
    text = unicodedata.normalize("NFKC", text).strip()
    if match := _LINK.match(text):
        return Link(match["code"].replace(" ", ""))
    if match := _BROADCAST.match(text):
        return _broadcast(match["rest"])
    if _NEXT.match(text):
        return Simple("next")
    if _REPORT.match(text):
        return Simple("report")
    if _MENU.match(text):
        return Simple("menu")
    if match := _CANCEL.match(text):
        return Cancel(_note(match["note"]))
    if match := _MOVE.match(text):
        return _move(match["rest"] or "")
    return None


def _broadcast(rest: str) -> Command:
    for pattern, kind in _SCHEDULED:
        match = pattern.match(rest)
        if match is None:
            continue
        clock = _clock(match["h"], match["min"])
        if clock is None:
            return Refusal("bad_time")
        if kind != "date":
            return Broadcast(match["rest"], When(kind, clock))
        day, month = int(match["d"]), int(match["mo"])
        if not (1 <= day <= 31 and 1 <= month <= 12):
            return Refusal("bad_broadcast_date")
        return Broadcast(match["rest"], When("date", clock, day, month, _year(match["y"])))
    return Broadcast(rest)


def _move(rest: str) -> Command | None:
    rest = rest.strip()
    if not rest:
        return Refusal("move_usage")
    day = month = 0
    year: int | None = None
    if match := _NUMERIC_DATE.match(rest):
        day, month, year = int(match["d"]), int(match["mo"]), _year(match["y"])
    elif (match := _NAMED_DATE.match(rest)) and (named := _month(match["name"])):
        day, month, year = int(match["d"]), named, _year(match["y"])
    elif rest[0].isdigit():
        return Refusal("bad_move_date")
    else:
        return None  # "pindah rumah ...": words for the assistant
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return Refusal("bad_move_date")
    rest = rest[match.end() :]
    start = end = None
    if hours := _HOURS.match(rest):
        if hours["h2"] is None:
            return Refusal("move_hours")
        start, end = _clock(hours["h1"], hours["m1"]), _clock(hours["h2"], hours["m2"])
        if start is None or end is None:
            return Refusal("move_hours")
        rest = rest[hours.end() :]
    return Move(day, month, year, start, end, _note(rest))


def _clock(hour: str, minute: str) -> dt.time | None:
    h, m = int(hour), int(minute)
    return dt.time(h, m) if 0 <= h <= 23 and 0 <= m <= 59 else None


def _year(raw: str | None) -> int | None:
    if raw is None:
        return None
    return 2000 + int(raw) if len(raw) == 2 else int(raw)


def _month(name: str) -> int | None:
    name = name.lower()
    if name in _MONTH_ALIASES:
        return _MONTH_ALIASES[name]
    for number, month in enumerate(MONTHS_ID, start=1):
        if month.lower().startswith(name):  # "des", "desember"
            return number
    return None


def _note(raw: str) -> str:
    return " ".join(raw.strip(" \t\n,.:;-").split())


# --- answering -----------------------------------------------------------------------------


async def answer(
    redis: Redis,
    prefix: str,
    message: Inbound,
    *,
    now: float | None = None,
    directory: Directory | None = None,
) -> list[Outbound] | None:
    """The replies to a cadre command, or None when the message is for the assistant.

    Raises RedisError (nothing confirmed is lost: a retry of the same message finishes it).
    """
    if message.channel not in CHANNELS:
        return None
    pressed = message.kind == "button" and message.payload.startswith(PAYLOAD_PREFIX)
    command = parse(message.text) if message.kind == "text" else None
    if not pressed and command is None:
        return None
    now = time.time() if now is None else now
    user = user_key(message.sender_id)
    directory = directory or Directory(redis, prefix)
    try:
        if isinstance(command, Link):
            return await _link(redis, prefix, directory, message, command.code, now)
        cadre = await cadre_for(redis, prefix, user)
        if cadre is None:
            if pressed:
                return [Outbound(say_reminders("errors", "not_cadre"))]
            return None  # a citizen's words: for the assistant
        desk = _Desk(redis, prefix, directory, cadre, now, _tag(message.sender_id))
        if pressed:
            return await desk.pressed(message.payload[len(PAYLOAD_PREFIX) :])
        assert command is not None
        return await desk.command(command)
    except ReminderError as refused:
        return [Outbound(str(refused))]


def _tag(sender_id: str) -> str:
    """The log tag of `bot.channels.conversation.user_tag` (no chat ids in logs)."""
    return pseudonym(sender_id, "log", 10)


async def _link(
    redis: Redis, prefix: str, directory: Directory, message: Inbound, code: str, now: float
) -> list[Outbound]:
    contact = contact_of(message.sender_id)
    if contact is None:
        return [Outbound(say_reminders("errors", "no_channel"))]
    try:
        cadre = await link_cadre(redis, prefix, code, user_key(message.sender_id), contact, now)
    except ReminderError:
        logger.info("Cadre link code refused for %s", _tag(message.sender_id))
        raise
    logger.info("Cadre account linked: %s", _tag(message.sender_id))
    names = ", ".join(await _names(directory, cadre.posyandu_ids))
    return [Outbound(f"{say('linked', names=names)}\n\n{_menu()}")]


def _menu() -> str:
    return say("menu", limit=broadcasts_per_week(), chars=BROADCAST_MAX_CHARS)


async def _names(directory: Directory, posyandu_ids: tuple[str, ...] | list[str]) -> list[str]:
    names = []
    for posyandu_id in posyandu_ids:
        record = await directory.get(posyandu_id)
        names.append(record.name if record else posyandu_id)
    return names


def _ask_key(prefix: str, token: str) -> str:
    return f"{prefix}cadre:ask:{token}"


def _out_key(prefix: str, token: str) -> str:
    return f"{prefix}cadre:out:{token}"


_TOKEN = re.compile(r"^[0-9a-f]{12}$")


def _payload(verb: str, token: str, index: int | None = None) -> str:
    return f"{PAYLOAD_PREFIX}{verb}:{token}" + (f":{index}" if index is not None else "")


@dataclass
class _Desk:
    """One cadre's command, at one moment."""

    redis: Redis
    prefix: str
    directory: Directory
    cadre: Cadre
    now: float
    tag: str

    # -- typed commands -----------------------------------------------------------------------

    async def command(self, command: Command) -> list[Outbound]:
        if isinstance(command, Refusal):
            return [Outbound(say(command.key))]
        if isinstance(command, Simple):
            if command.name == "next":
                return await self.next_sessions()
            if command.name == "report":
                return await self.report()
            names = ", ".join(await _names(self.directory, self.cadre.posyandu_ids))
            return [Outbound(f"{say('menu_header', names=names)}\n\n{_menu()}")]
        ask: dict[str, Any] = {"cadre": self.cadre.id}
        if isinstance(command, Broadcast):
            if not _clean(command.text):
                raise InvalidInput(say_reminders("errors", "broadcast_empty"))
            if len(_clean(command.text)) > BROADCAST_MAX_CHARS:
                length = len(_clean(command.text))
                raise InvalidInput(
                    say_reminders(
                        "errors", "broadcast_too_long", length=length, limit=BROADCAST_MAX_CHARS
                    )
                )
            ask |= {"do": "broadcast", "text": command.text, "when": _when_json(command.when)}
        elif isinstance(command, Move):
            ask |= {"do": "move", "move": _move_json(command), "note": command.note}
        elif isinstance(command, Cancel):
            ask |= {"do": "cancel", "note": command.note}
        else:
            raise AssertionError(command)
        own = list(self.cadre.posyandu_ids)
        if len(own) == 1:
            return await self.for_posyandu(ask, own[0])
        token = secrets.token_hex(6)
        ask["choices"] = own
        await self._keep(token, ask)
        titles = await _names(self.directory, own)
        choices = [Choice(t, _payload("pick", token, i)) for i, t in enumerate(titles)]
        choices.append(Choice(say("cancel_button"), _payload("no", token)))
        return [Outbound(say("pick"), choices)]

    async def for_posyandu(self, ask: dict[str, Any], posyandu_id: str) -> list[Outbound]:
        if ask["do"] == "broadcast":
            return await self.draft(posyandu_id, ask["text"], _when_from(ask.get("when")))
        return await self.ask_change(ask, posyandu_id)

    # -- broadcasts -----------------------------------------------------------------------------

    async def draft(self, posyandu_id: str, text: str, when: When | None) -> list[Outbound]:
        record = await self._record(posyandu_id)
        zone = time_zone_of(record.village_code)
        send_at = _send_at(when, zone, self.now)
        draft = await draft_broadcast(
            self.redis,
            self.prefix,
            self.cadre,
            posyandu_id,
            text,
            send_at,
            self.now,
            directory=self.directory,
        )
        shown = await preview(
            self.redis, self.prefix, self.cadre, draft.id, self.now, directory=self.directory
        )
        if shown.recipients == 0:
            await discard_broadcast(self.redis, self.prefix, self.cadre, draft.id)
            return [Outbound(say("no_subscribers", name=record.name))]
        choices = [
            Choice(say("send_button"), _payload("send", draft.id)),
            Choice(say("cancel_button"), _payload("drop", draft.id)),
        ]
        quiet = _quiet_note(max(draft.send_at, self.now), zone, self.now)
        # The buttons go with the last message.
        return [*([Outbound(quiet)] if quiet else []), Outbound(shown.text, choices)]

    async def confirm(self, draft_id: str) -> list[Outbound]:
        out = _out_key(self.prefix, draft_id)
        try:
            sends = await confirm_broadcast(
                self.redis, self.prefix, self.cadre, draft_id, self.now, directory=self.directory
            )
        except NotFound:
            stored = await self.redis.get(out)  # confirmed, then Redis failed: finish it
            if stored is None:
                raise
            sends = _sends_from(stored)
        else:
            if sends:
                await self.redis.set(out, _sends_json(sends), ex=OUT_SECONDS)
        sent: dict[str, str] = {
            as_text(k): as_text(v)
            for k, v in (await self.redis.hgetall(keys.cadre_sent(self.prefix, draft_id))).items()
        }
        if sent.get("cadre") != self.cadre.id:
            raise NotFound(say_reminders("errors", "no_draft"))
        recent = keys.cadre_recent(self.prefix, self.cadre.id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(recent, {draft_id: float(sent.get("confirmed") or self.now)})
            pipe.zremrangebyrank(recent, 0, -(RECENT_KEPT + 1))
            pipe.expire(recent, RECENT_SECONDS)
            await pipe.execute()
        record = await self._record(sent["posyandu"])
        if not sends:
            return [Outbound(say("sent_none", name=record.name))]
        try:
            result = await schedule(self.redis, self.prefix, sends, now=self.now)
        except ValueError as error:
            logger.error("Cadre broadcast not scheduled (%s)", type(error).__name__)
            return [Outbound(say("not_scheduled"))]
        await self.redis.delete(out)
        count = len(sends) - result.opted_out
        logger.info("Cadre broadcast confirmed by %s: %d sends", self.tag, count)
        zone = time_zone_of(record.village_code)
        due = max(float(sent.get("send_at") or self.now), self.now)
        text = say("sent", count=count, name=record.name, when=_when_words(due, zone, self.now))
        quiet = _quiet_note(due, zone, self.now)
        return [Outbound(f"{text}\n{quiet}" if quiet else text)]

    async def drop(self, draft_id: str) -> list[Outbound]:
        if await discard_broadcast(self.redis, self.prefix, self.cadre, draft_id):
            return [Outbound(say("discarded"))]
        return [Outbound(say_reminders("errors", "no_draft"))]

    async def report(self) -> list[Outbound]:
        recent = keys.cadre_recent(self.prefix, self.cadre.id)
        lines = []
        for raw in await self.redis.zrevrange(recent, 0, REPORTED - 1):
            broadcast_id = as_text(raw)
            sent = {
                as_text(k): as_text(v)
                for k, v in (
                    await self.redis.hgetall(keys.cadre_sent(self.prefix, broadcast_id))
                ).items()
            }
            if not sent:
                await self.redis.zrem(recent, broadcast_id)
                continue
            record = await self.directory.get(sent.get("posyandu", ""))
            zone = time_zone_of(record.village_code) if record else "WIB"
            counts = await delivery_report(self.redis, self.prefix, broadcast_id)
            rest = ""
            if counts["pending"]:
                rest += say("report_pending", count=counts["pending"])
            if counts["cancelled"]:
                rest += say("report_cancelled", count=counts["cancelled"])
            due = float(sent.get("send_at") or 0)
            lines.append(
                say(
                    "report_line",
                    name=record.name if record else sent.get("posyandu", ""),
                    when=_at_words(due, zone),
                    recipients=sent.get("recipients", "0"),
                    sent=counts["sent"],
                    delivered=counts["delivered"],
                    read=counts["read"],
                    failed=counts["failed"],
                    blocked=counts["blocked"],
                    opted_out=counts["opted_out"],
                    rest=rest,
                )
            )
        if not lines:
            return [Outbound(say("report_none"))]
        body = "\n".join([say("report_header"), *lines, say("report_footer")])
        return [Outbound(body)]

    # -- the next session, moving and cancelling it -----------------------------------------

    async def next_sessions(self) -> list[Outbound]:
        lines = []
        for posyandu_id in self.cadre.posyandu_ids:
            record = await self._record(posyandu_id)
            try:
                session = await self._next(posyandu_id)
            except NotFound as missing:
                lines.append(str(missing))
                continue
            note = say("session_note", note=session.note.rstrip(".")) if session.note else ""
            moved = say("session_moved") if session.moved else ""
            lines.append(
                say("session", name=record.name, session=format_session(session) + moved, note=note)
            )
        lines.append(say("session_hint"))
        return [Outbound("\n".join(lines))]

    async def ask_change(self, ask: dict[str, Any], posyandu_id: str) -> list[Outbound]:
        record = await self._record(posyandu_id)
        zone = time_zone_of(record.village_code)
        session = await self._next(posyandu_id)
        old = day_words(session.start.date())
        if ask["do"] == "move":
            new_date, start, end = _new_session(ask["move"], session, zone, self.now)
            new = f"{day_words(new_date)}, {time_words(start, end, zone)}"
        else:
            new = ""
        users = await live_subscribers(self.redis, self.prefix, posyandu_id, self.now)
        count = len(await contacts_of(self.redis, self.prefix, users, posyandu_id))
        token = secrets.token_hex(6)
        ask = {
            **ask,
            "posyandu": posyandu_id,
            "session": session.start.isoformat(),
            "old": old,
            "new": new,
        }
        ask.pop("choices", None)
        await self._keep(token, ask)
        if ask["do"] == "move":
            text = say("ask_move", name=record.name, old=old, new=new, told=_told(count))
            yes = say("move_button")
        else:
            text = say("ask_cancel", name=record.name, old=old, told=_told(count))
            yes = say("cancel_session_button")
        choices = [
            Choice(yes, _payload("yes", token)),
            Choice(say("keep_button"), _payload("no", token)),
        ]
        return [Outbound(text, choices)]

    async def change(self, token: str) -> list[Outbound]:
        out = _out_key(self.prefix, token)
        stored = await self.redis.get(out)  # confirmed, then Redis failed: finish it
        if stored is not None:
            done = json.loads(stored)
            if done.get("cadre") != self.cadre.id:
                return [Outbound(say("expired"))]
            return await self._notify(token, done, _sends_from(json.dumps(done["sends"])))
        ask = await self._ask(token)
        if ask is None or "posyandu" not in ask or ask["do"] not in ("move", "cancel"):
            return [Outbound(say("expired"))]
        posyandu_id = ask["posyandu"]
        record = await self._record(posyandu_id)
        session = await self._next(posyandu_id)
        if session.start.isoformat() != ask["session"]:
            await self.redis.delete(_ask_key(self.prefix, token))
            return [Outbound(say("stale", name=record.name))]
        if ask["do"] == "move":
            zone = time_zone_of(record.village_code)
            new_date, start, end = _new_session(ask["move"], session, zone, self.now)
            given = ask["move"].get("start") is not None
            sends = await move_session(
                self.redis,
                self.prefix,
                self.cadre,
                posyandu_id,
                new_date,
                self.now,
                new_start=start if given else None,
                new_end=end if given else None,
                note=ask.get("note", ""),
                directory=self.directory,
            )
        else:
            sends = await cancel_session(
                self.redis,
                self.prefix,
                self.cadre,
                posyandu_id,
                self.now,
                note=ask.get("note", ""),
                directory=self.directory,
            )
        done = {
            "cadre": self.cadre.id,
            "do": ask["do"],
            "name": record.name,
            "old": ask["old"],
            "new": ask["new"],
            "sends": json.loads(_sends_json(sends)),
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(out, json.dumps(done, ensure_ascii=False), ex=OUT_SECONDS)
            pipe.delete(_ask_key(self.prefix, token))
            await pipe.execute()
        logger.info(
            "Cadre %s a session: %s", "moved" if ask["do"] == "move" else "cancelled", self.tag
        )
        return await self._notify(token, done, sends)

    async def _notify(self, token: str, done: dict[str, Any], sends: list[Send]) -> list[Outbound]:
        count = 0
        if sends:
            try:
                result = await schedule(self.redis, self.prefix, sends, now=self.now)
            except ValueError as error:
                logger.error("Change notices not scheduled (%s)", type(error).__name__)
                return [Outbound(say("not_scheduled"))]
            count = len(sends) - result.opted_out
        await self.redis.delete(_out_key(self.prefix, token))
        told = _told(count)
        if done["do"] == "move":
            return [Outbound(say("moved", name=done["name"], new=done["new"], told=told))]
        return [Outbound(say("cancelled", name=done["name"], old=done["old"], told=told))]

    # -- buttons --------------------------------------------------------------------------------

    async def pressed(self, payload: str) -> list[Outbound]:
        verb, _, rest = payload.partition(":")
        token, _, index = rest.partition(":")
        if not _TOKEN.match(token):
            return [Outbound(say("expired"))]
        if verb == "send":
            return await self.confirm(token)
        if verb == "drop":
            return await self.drop(token)
        if verb == "yes":
            return await self.change(token)
        if verb == "no":
            ask = await self._ask(token)
            await self.redis.delete(_ask_key(self.prefix, token))
            if ask is None:
                return [Outbound(say("nothing_done"))]
            return [Outbound(say("discarded" if ask.get("do") == "broadcast" else "kept"))]
        if verb == "pick" and index.isdigit():
            ask = await self._ask(token)
            choices = ask.get("choices", []) if ask is not None else []
            if ask is None or int(index) >= len(choices):
                return [Outbound(say("expired"))]
            await self.redis.delete(_ask_key(self.prefix, token))
            return await self.for_posyandu(ask, choices[int(index)])
        return [Outbound(say("expired"))]

    # -- shared ---------------------------------------------------------------------------------

    async def _keep(self, token: str, ask: dict[str, Any]) -> None:
        await self.redis.set(
            _ask_key(self.prefix, token), json.dumps(ask, ensure_ascii=False), ex=ASK_SECONDS
        )

    async def _ask(self, token: str) -> dict[str, Any] | None:
        stored = await self.redis.get(_ask_key(self.prefix, token))
        if stored is None:
            return None
        ask: dict[str, Any] = json.loads(stored)
        return ask if ask.get("cadre") == self.cadre.id else None

    async def _record(self, posyandu_id: str) -> PosyanduRecord:
        record = await self.directory.get(posyandu_id)
        if record is None:
            raise NotFound(say_reminders("errors", "unknown_posyandu"))
        return record

    async def _next(self, posyandu_id: str) -> Session:
        return await next_session(
            self.redis, self.prefix, self.cadre, posyandu_id, self.now, directory=self.directory
        )


# --- times and words -----------------------------------------------------------------------


def _send_at(when: When | None, zone: str, now: float) -> float | None:
    """Unix seconds of a scheduled broadcast in the Posyandu's time zone; None for now.
    "JAM 16.00" after 16.00 is tomorrow's; a date without a year is its next one."""
    if when is None:
        return None
    today = local(now, zone).date()
    if when.kind == "tomorrow":
        return at_local(today + dt.timedelta(days=1), when.clock, zone)
    if when.kind == "today":
        moment = at_local(today, when.clock, zone)
        if moment < now - SCHEDULE_GRACE:
            moment = at_local(today + dt.timedelta(days=1), when.clock, zone)
        return moment
    day = _date(when.day, when.month, when.year, today, "bad_broadcast_date")
    if day < today:
        raise InvalidInput(say_reminders("errors", "broadcast_past"))
    return at_local(day, when.clock, zone)


def _date(day: int, month: int, year: int | None, today: dt.date, problem: str) -> dt.date:
    """The date meant by "15/12": this year's, or next year's when this year's is long past
    (in December, "5/1" is next January); a few days past stays past (and is refused)."""
    try:
        found = dt.date(year or today.year, month, day)
        if year is None and (today - found).days > PAST_MEANS_NEXT_YEAR_DAYS:
            found = dt.date(today.year + 1, month, day)
    except ValueError:
        raise InvalidInput(say(problem)) from None
    return found


def _new_session(
    move: dict[str, Any], session: Session, zone: str, now: float
) -> tuple[dt.date, dt.time, dt.time]:
    """The new date and hours of a move (the same hours when none were given), checked as
    `cadres.move_session` will check them, so the preview never offers what will fail."""
    today = local(now, zone).date()
    new_date = _date(move["day"], move["month"], move.get("year"), today, "bad_move_date")
    if new_date < today:
        raise InvalidInput(say_reminders("errors", "move_in_past"))
    if move.get("start") is not None:
        start, end = dt.time.fromisoformat(move["start"]), dt.time.fromisoformat(move["end"])
    else:
        start = session.start.time().replace(tzinfo=None)
        end = session.end.time().replace(tzinfo=None)
    if new_date > today + dt.timedelta(days=MOVE_MAX_DAYS):
        raise InvalidInput(say_reminders("errors", "move_too_far", days=MOVE_MAX_DAYS))
    if end <= start:
        raise InvalidInput(say_reminders("errors", "bad_hours"))
    if (new_date, start, end) == (
        session.start.date(),
        session.start.time().replace(tzinfo=None),
        session.end.time().replace(tzinfo=None),
    ):
        raise InvalidInput(say_reminders("errors", "nothing_changes"))
    return new_date, start, end


def _when_json(when: When | None) -> dict[str, Any] | None:
    if when is None:
        return None
    return {
        "kind": when.kind,
        "clock": when.clock.isoformat("minutes"),
        "day": when.day,
        "month": when.month,
        "year": when.year,
    }


def _when_from(raw: dict[str, Any] | None) -> When | None:
    if raw is None:
        return None
    clock = dt.time.fromisoformat(raw["clock"])
    return When(raw["kind"], clock, raw["day"], raw["month"], raw["year"])


def _move_json(move: Move) -> dict[str, Any]:
    return {
        "day": move.day,
        "month": move.month,
        "year": move.year,
        "start": move.start.isoformat("minutes") if move.start else None,
        "end": move.end.isoformat("minutes") if move.end else None,
    }


def _sends_json(sends: list[Send]) -> str:
    return json.dumps([[send.key, encode(send)] for send in sends], ensure_ascii=False)


def _sends_from(stored: str | bytes) -> list[Send]:
    return [decode(key, raw) for key, raw in json.loads(stored)]


def _at_words(moment: float, zone: str) -> str:
    at = local(moment, zone)
    return say_reminders(
        "broadcast", "at", date=day_words(at.date()), time=f"{at:%H.%M}", zone=zone
    )


def _when_words(moment: float, zone: str, now: float) -> str:
    if moment <= now + SCHEDULE_GRACE:
        return say_reminders("broadcast", "now")
    return _at_words(moment, zone)


def _quiet_note(moment: float, zone: str, now: float) -> str:
    """Said when the engine will hold the broadcast until the morning (quiet hours)."""
    offset = UTC_OFFSETS[zone]
    if not is_quiet(moment, offset):
        return ""
    return say("quiet", time=_at_words(next_allowed(moment, offset), zone))


def _clean(text: str) -> str:
    """The broadcast text as `cadres.draft_broadcast` measures it (spaces collapsed)."""
    return "\n".join(" ".join(line.split()) for line in text.split("\n")).strip()


def _told(count: int) -> str:
    return say("told", count=count) if count else say("told_none")


async def forget_held(redis: Redis, prefix: str, subscriber: str) -> int:
    """Erasure: drop a subscriber's sends from confirmed commands not yet planned (their
    address is in them for up to an hour after a Redis failure); the number dropped."""
    dropped = 0
    async for raw_key in redis.scan_iter(match=f"{prefix}cadre:out:*", count=1000):
        stored = await redis.get(raw_key)
        if stored is None:
            continue
        loaded = json.loads(stored)
        # A broadcast holds [[key, send], ...]; a move or cancellation {"sends": [...], ...}.
        pairs = loaded["sends"] if isinstance(loaded, dict) else loaded
        kept = [pair for pair in pairs if decode(pair[0], pair[1]).subscriber != subscriber]
        if len(kept) == len(pairs):
            continue
        dropped += len(pairs) - len(kept)
        if isinstance(loaded, dict):
            loaded["sends"] = kept
        else:
            loaded = kept
        ttl = await redis.ttl(raw_key)
        await redis.set(raw_key, json.dumps(loaded, ensure_ascii=False), ex=max(1, ttl))
    return dropped
