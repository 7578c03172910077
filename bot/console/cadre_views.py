"""Pages for cadres (role kader): their Posyandu, composing a broadcast, confirming it, and
the delivery reports of their broadcasts.

A broadcast is drafted, previewed and confirmed with the functions the chat's SIARAN uses
(`actions.reminders.cadres`), so the same limits apply (own Posyandu only, text length,
broadcasts per Posyandu per week), and its sends go to the same engine (`schedule`).
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from aiohttp import web

from actions.posyandu.directory import Directory
from actions.posyandu.records import PosyanduRecord
from actions.posyandu.regions import time_zone_of
from actions.reminders import keys
from actions.reminders.cadres import (
    BROADCAST_MAX_CHARS,
    SCHEDULE_GRACE,
    SCHEDULE_MAX_DAYS,
    Cadre,
    broadcast_message,
    broadcasts_per_week,
    confirm_broadcast,
    discard_broadcast,
    draft_broadcast,
    preview,
)
from actions.reminders.errors import ReminderError
from actions.reminders.planner import STOP_PAYLOAD, live_subscribers, template_name
from actions.reminders.texts import UTC_OFFSETS, at_local, day_words, local, say
from actions.store import as_text
from bot.cadre import say as say_cadre
from bot.channels.message import Choice, Outbound
from bot.console.auth import Account, Role
from bot.console.cadre_accounts import cadre_of, remember_broadcast, reports
from bot.console.pages import current_account, post_form, redirect, render, requires
from bot.console.posyandu_forms import next_sessions
from bot.console.preview import telegram_layout, whatsapp_layout
from bot.console.state import CONSOLE
from bot.keys import MESSAGES
from bot.reminders import schedule
from bot.reminders.quiet import is_quiet, next_allowed

__all__ = ["routes"]

logger = logging.getLogger(__name__)

DONE = {
    "dibatalkan": "Baik, siaran tidak dikirim.",
}

routes = web.RouteTableDef()


def kader(request: web.Request) -> Account:
    """The account, if a cadre (403 otherwise)."""
    account = current_account(request)
    if account.role is not Role.KADER:
        raise web.HTTPForbidden()
    return account


def _directory(request: web.Request) -> Directory:
    console = request.config_dict[CONSOLE]
    return Directory(console.redis, console.prefix)


async def _cadre(request: web.Request, account: Account) -> Cadre:
    console = request.config_dict[CONSOLE]
    cadre = await cadre_of(console.redis, console.prefix, account, _directory(request), time.time())
    if cadre is None:
        raise web.HTTPNotFound()  # none of the account's Posyandu is in the directory
    return cadre


async def _own_record(request: web.Request) -> tuple[Account, PosyanduRecord]:
    """The Posyandu of the URL, if it is the cadre's own (403 otherwise)."""
    account = kader(request)
    record = await _directory(request).get(request.match_info["posyandu_id"])
    if record is None or not account.covers_posyandu(record.id, record.village_code):
        raise web.HTTPForbidden()
    return account, record


# --- the cadre's Posyandu and reports ------------------------------------------------------


@routes.get("/kader")
@requires()
async def overview(request: web.Request) -> web.Response:
    account = kader(request)
    console = request.config_dict[CONSOLE]
    directory = _directory(request)
    now = dt.datetime.now(dt.UTC)
    holidays = await directory.holidays()
    cards = []
    for posyandu_id in account.regions:
        record = await directory.get(posyandu_id)
        if record is None:
            continue
        changes = await directory.changes_for(record.id)
        subscribers = await live_subscribers(
            console.redis, console.prefix, record.id, now.timestamp()
        )
        cards.append((record, next_sessions(record, now, changes, holidays), len(subscribers)))
    cadre = await _cadre(request, account) if cards else None
    found = (
        await reports(console.redis, console.prefix, cadre, account.regions, directory)
        if cadre
        else []
    )
    return render(
        request,
        "cadre_home.html",
        cards=cards,
        reports=found,
        done=DONE.get(request.query.get("ok", "")),
    )


# --- composing, previewing and confirming a broadcast ----------------------------------------


def _compose_page(
    request: web.Request,
    record: PosyanduRecord,
    values: dict[str, str],
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    zone = time_zone_of(record.village_code)
    today = local(time.time(), zone).date()
    return render(
        request,
        "cadre_compose.html",
        status=status,
        record=record,
        zone=zone,
        values=values,
        error=error,
        max_chars=BROADCAST_MAX_CHARS,
        per_week=broadcasts_per_week(),
        wa_template=template_name("broadcast"),
        today=today.isoformat(),
        last_day=(today + dt.timedelta(days=SCHEDULE_MAX_DAYS)).isoformat(),
    )


@routes.get("/kader/{posyandu_id}/siaran")
@requires()
async def compose(request: web.Request) -> web.Response:
    _, record = await _own_record(request)
    return _compose_page(request, record, {"text": "", "when": "now", "date": "", "time": ""})


def _send_at(values: dict[str, str], zone: str) -> float | None:
    """The chosen send time in the Posyandu's time zone; None for now. ValueError when the
    date or time cannot be read."""
    if values["when"] != "later":
        return None
    day = dt.date.fromisoformat(values["date"])
    clock = dt.time.fromisoformat(values["time"])
    return at_local(day, clock, zone)


@routes.post("/kader/{posyandu_id}/siaran")
@requires()
async def draft(request: web.Request) -> web.Response:
    account, record = await _own_record(request)
    console = request.config_dict[CONSOLE]
    posted = await post_form(request)
    values = {name: posted.get(name, "") for name in ("text", "when", "date", "time")}
    zone = time_zone_of(record.village_code)
    try:
        send_at = _send_at(values, zone)
    except ValueError:
        error = "Pilih tanggal dan jam kirim, atau pilih kirim sekarang."
        return _compose_page(request, record, values, error, 400)
    cadre = await _cadre(request, account)
    now = time.time()
    directory = _directory(request)
    try:
        drafted = await draft_broadcast(
            console.redis,
            console.prefix,
            cadre,
            record.id,
            values["text"],
            send_at,
            now,
            directory=directory,
        )
        shown = await preview(
            console.redis, console.prefix, cadre, drafted.id, now, directory=directory
        )
    except ReminderError as refused:
        return _compose_page(request, record, values, str(refused), 409)
    if shown.recipients == 0:
        await discard_broadcast(console.redis, console.prefix, cadre, drafted.id)
        error = say_cadre("no_subscribers", name=record.name)
        return _compose_page(request, record, values, error, 409)
    due = max(drafted.send_at, now)
    message = Outbound(
        broadcast_message(record, drafted.text),
        [Choice(say("reminder", "stop_button"), STOP_PAYLOAD)],
    )
    return render(
        request,
        "cadre_confirm.html",
        record=record,
        draft=drafted,
        recipients=shown.recipients,
        when=_when_words(due, zone, now),
        quiet=_quiet_note(due, zone),
        channels=[
            whatsapp_layout(message, request.config_dict[MESSAGES]),
            telegram_layout(message),
        ],
        wa_template=template_name("broadcast"),
        params=(record.name, " ".join(drafted.text.split())),
    )


@routes.post("/kader/{posyandu_id}/siaran/{draft_id}/kirim")
@requires()
async def confirm(request: web.Request) -> web.Response:
    account, record = await _own_record(request)
    console = request.config_dict[CONSOLE]
    cadre = await _cadre(request, account)
    now = time.time()
    draft_id = request.match_info["draft_id"]
    await _require_draft_of(request, record, draft_id)
    try:
        sends = await confirm_broadcast(
            console.redis, console.prefix, cadre, draft_id, now, directory=_directory(request)
        )
    except ReminderError as refused:
        return render(request, "cadre_sent.html", status=409, record=record, error=str(refused))
    await remember_broadcast(console.redis, console.prefix, cadre.id, draft_id)
    result = await schedule(console.redis, console.prefix, sends, now=now)
    count = len(sends) - result.opted_out
    await console.audit.record(
        account.username,
        "siaran.dikirim",
        record.id,
        None,
        {"siaran": draft_id, "kader": cadre.id, "penerima": count},
    )
    logger.info("Console broadcast confirmed: %d sends", count)
    zone = time_zone_of(record.village_code)
    due = max((s.due for s in sends), default=now)
    return render(
        request,
        "cadre_sent.html",
        record=record,
        error=None,
        count=count,
        when=_when_words(due, zone, now),
        quiet=_quiet_note(due, zone),
    )


@routes.post("/kader/{posyandu_id}/siaran/{draft_id}/batal")
@requires()
async def drop(request: web.Request) -> web.Response:
    account, record = await _own_record(request)
    console = request.config_dict[CONSOLE]
    cadre = await _cadre(request, account)
    await _require_draft_of(request, record, request.match_info["draft_id"])
    await discard_broadcast(console.redis, console.prefix, cadre, request.match_info["draft_id"])
    redirect("/console/kader?ok=dibatalkan")


async def _require_draft_of(request: web.Request, record: PosyanduRecord, draft_id: str) -> None:
    """404 unless the broadcast draft is for the Posyandu of the URL (which the page, the
    audit log and the report name). A draft gone already is left to the engine to say."""
    console = request.config_dict[CONSOLE]
    posyandu = await console.redis.hget(keys.cadre_draft(console.prefix, draft_id), "posyandu")
    if posyandu is not None and as_text(posyandu) != record.id:
        raise web.HTTPNotFound()


def _when_words(moment: float, zone: str, now: float) -> str:
    if moment <= now + SCHEDULE_GRACE:
        return say("broadcast", "now")
    at = local(moment, zone)
    return say("broadcast", "at", date=day_words(at.date()), time=f"{at:%H.%M}", zone=zone)


def _quiet_note(moment: float, zone: str) -> str:
    """Said when the engine holds the broadcast until the morning (quiet hours)."""
    offset = UTC_OFFSETS[zone]
    if not is_quiet(moment, offset):
        return ""
    at = local(next_allowed(moment, offset), zone)
    when = say("broadcast", "at", date=day_words(at.date()), time=f"{at:%H.%M}", zone=zone)
    return say_cadre("quiet", time=when)
