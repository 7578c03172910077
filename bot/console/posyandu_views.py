"""Posyandu pages for Puskesmas officers (and admins): the Posyandu of their area, adding
and editing one, one-off moves and cancellations of a session, and registering cadres.

Every route checks the account's area (`Account.covers_region` / `covers_posyandu`), POSTs
included. Changes go through the directory and the reminders engine's own functions, and
each is written to the audit log with the value before and after.
"""

from __future__ import annotations

import datetime as dt
import time

from aiohttp import web

from actions.posyandu.directory import Directory
from actions.posyandu.importer import store_changes
from actions.posyandu.records import PosyanduRecord
from actions.posyandu.regions import time_zone_of
from actions.posyandu.schedule import TIME_ZONES, Change
from actions.reminders.cadres import (
    Cadre,
    add_cadre,
    get_cadre,
    issue_link_code,
    list_cadres,
    remove_cadre,
)
from actions.reminders.errors import ReminderError
from actions.reminders.planner import live_subscribers
from actions.reminders.texts import day_words
from bot.console.auth import Account, AccountError, Role, normalize_username, within_scope
from bot.console.cadre_accounts import link_account, linked_accounts, unlink_account
from bot.console.invites import Invite
from bot.console.pages import current_account, error_page, post_form, redirect, render, requires
from bot.console.posyandu_forms import (
    ChangeForm,
    PosyanduForm,
    change_words,
    new_posyandu_id,
    next_sessions,
    parse_change,
    parse_posyandu,
    record_values,
    regions,
    session_dates,
    villages_for,
)
from bot.console.state import CONSOLE
from bot.keys import SETTINGS

__all__ = ["officer", "routes"]

OFFICERS = frozenset({Role.ADMIN, Role.PUSKESMAS})
ADD_ATTEMPTS = 20
# Notices after a redirect (?ok=...): fixed texts, never echoed input.
DONE = {
    "ditambah": "Posyandu ditambahkan. Warga sudah bisa menemukannya.",
    "disimpan": "Perubahan Posyandu tersimpan.",
}

routes = web.RouteTableDef()


def officer(request: web.Request) -> Account:
    """The account, if a Puskesmas officer or an admin (403 otherwise)."""
    account = current_account(request)
    if account.role not in OFFICERS:
        raise web.HTTPForbidden()
    return account


def _directory(request: web.Request) -> Directory:
    console = request.config_dict[CONSOLE]
    return Directory(console.redis, console.prefix)


async def _own_record(request: web.Request) -> tuple[Account, PosyanduRecord]:
    """The Posyandu of the URL, if inside the officer's area (404 unknown, 403 outside)."""
    account = officer(request)
    record = await _directory(request).get(request.match_info["posyandu_id"])
    if record is None:
        raise web.HTTPNotFound()
    if not account.covers_posyandu(record.id, record.village_code):
        raise web.HTTPForbidden()
    return account, record


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- the list ------------------------------------------------------------------------------


@routes.get("/posyandu")
@requires()
async def posyandu_list(request: web.Request) -> web.Response:
    account = officer(request)
    area = request.query.get("wilayah", "").strip()
    if area and not (regions().get(area) and account.covers_region(area)):
        raise web.HTTPForbidden()
    must_choose = not account.regions and not area  # an admin of everything picks an area
    villages = [] if must_choose else villages_for(account, area or None)
    directory = _directory(request)
    console = request.config_dict[CONSOLE]
    now, holidays = _now(), await directory.holidays()
    rows = []
    for village in villages:
        for record in await directory.in_village(village.code):
            changes = await directory.changes_for(record.id)
            upcoming = next_sessions(record, now, changes, holidays, limit=1)
            subscribers = await live_subscribers(
                console.redis, console.prefix, record.id, now.timestamp()
            )
            rows.append((record, village, upcoming[0] if upcoming else "", len(subscribers)))
    return render(
        request,
        "posyandu_list.html",
        rows=rows,
        area=area,
        areas=[regions().get(code) for code in account.regions],
        must_choose=must_choose,
        done=DONE.get(request.query.get("ok", "")),
    )


# --- adding and editing ----------------------------------------------------------------------


def _form_page(
    request: web.Request,
    account: Account,
    form: PosyanduForm,
    record: PosyanduRecord | None,
    status: int = 200,
    preview: list[str] | None = None,
    done: str | None = None,
    **extra: object,
) -> web.Response:
    village = regions().get(form.values.get("village_code", ""))
    area = village.code[:8] if village else request.query.get("wilayah", "")
    return render(
        request,
        "posyandu_form.html",
        status=status,
        record=record,
        values=form.values,
        errors=form.errors,
        preview=preview,
        villages=villages_for(account, area if not account.regions and area else None),
        done=done,
        **extra,
    )


def _preview(
    form: PosyanduForm, changes: list[Change], holidays: frozenset[dt.date]
) -> list[str] | None:
    """The next sessions of the form's rule, when the form is valid."""
    return next_sessions(form.record, _now(), changes, holidays) if form.record else None


@routes.get("/posyandu/baru")
@requires()
async def new_form(request: web.Request) -> web.Response:
    account = officer(request)
    values = dict.fromkeys(("name", "address", "lat", "lon", "schedule", "cadre_contact"), "")
    values["village_code"] = request.query.get("desa", "")
    return _form_page(request, account, PosyanduForm(values), None)


@routes.post("/posyandu/baru")
@requires()
async def add(request: web.Request) -> web.Response:
    account = officer(request)
    posted = await post_form(request)
    directory = _directory(request)
    code = posted.get("village_code", "").strip()
    posyandu_id = await new_posyandu_id(directory, code) if _is_village(code) else "PYBARU"
    form = parse_posyandu(posyandu_id, posted, account)
    holidays = await directory.holidays()
    if form.record is None or posted.get("do") == "pratinjau":
        status = 400 if form.errors else 200
        return _form_page(
            request, account, form, None, status, preview=_preview(form, [], holidays)
        )
    record = form.record
    # Two officers adding a Posyandu in one village at once get the same next id: the
    # add only takes a free id, and the one who loses takes the next one.
    for _ in range(ADD_ATTEMPTS):
        if await directory.add_new(record):
            break
        posyandu_id = await new_posyandu_id(directory, code)
        record = record.model_copy(update={"id": posyandu_id})
    else:
        problem = "Posyandu belum tersimpan karena ada penambahan lain bersamaan. Coba lagi."
        return error_page(request, 409, problem)
    await request.config_dict[CONSOLE].audit.record(
        account.username, "posyandu.dibuat", record.id, None, record.model_dump()
    )
    redirect(f"/console/posyandu/{record.id}?ok=ditambah")


def _is_village(code: str) -> bool:
    region = regions().get(code)
    return region is not None and region.level == "village"


async def _edit_page(
    request: web.Request,
    account: Account,
    record: PosyanduRecord,
    form: PosyanduForm | None = None,
    status: int = 200,
    change_form: ChangeForm | None = None,
    registered: dict[str, str] | None = None,
    cadre_error: str | None = None,
    done: str | None = None,
) -> web.Response:
    directory = _directory(request)
    console = request.config_dict[CONSOLE]
    changes = await directory.changes_for(record.id)
    holidays = await directory.holidays()
    shown = form or PosyanduForm(record_values(record), record=record)
    zone = time_zone_of(record.village_code)
    today = _now().astimezone(TIME_ZONES[zone]).date()
    subscribers = await live_subscribers(console.redis, console.prefix, record.id, time.time())
    cadres = [
        c for c in await list_cadres(console.redis, console.prefix) if record.id in c.posyandu_ids
    ]
    return _form_page(
        request,
        account,
        shown,
        record,
        status,
        preview=_preview(shown, changes, holidays),
        zone=zone,
        subscribers=len(subscribers),
        sessions=[(d.isoformat(), day_words(d)) for d in session_dates(record, today)],
        changes=[
            change_words(c, zone)
            for c in sorted(changes, key=lambda c: c.original)
            if c.original >= today
        ],
        change_values=change_form.values if change_form else {},
        change_error=change_form.error if change_form else None,
        cadres=cadres,
        registered=registered,
        cadre_error=cadre_error,
        done=done or DONE.get(request.query.get("ok", "")),
    )


@routes.get("/posyandu/{posyandu_id}")
@requires()
async def edit_form(request: web.Request) -> web.Response:
    account, record = await _own_record(request)
    return await _edit_page(request, account, record)


@routes.post("/posyandu/{posyandu_id}")
@requires()
async def save(request: web.Request) -> web.Response:
    account, before = await _own_record(request)
    posted = await post_form(request)
    form = parse_posyandu(before.id, posted, account)
    if form.record is None or posted.get("do") == "pratinjau":
        return await _edit_page(request, account, before, form, 400 if form.errors else 200)
    directory = _directory(request)
    counts = await directory.upsert([form.record])
    if counts.updated:
        await request.config_dict[CONSOLE].audit.record(
            account.username,
            "posyandu.diubah",
            before.id,
            before.model_dump(),
            form.record.model_dump(),
        )
    redirect(f"/console/posyandu/{before.id}?ok=disimpan")


# --- one-off changes -----------------------------------------------------------------------


@routes.post("/posyandu/{posyandu_id}/sesi")
@requires()
async def change_session(request: web.Request) -> web.Response:
    account, record = await _own_record(request)
    form = parse_change(await post_form(request), record, _now())
    if form.change is None:
        return await _edit_page(request, account, record, status=400, change_form=form)
    directory = _directory(request)
    before = [
        c for c in await directory.changes_for(record.id) if c.original == form.change.original
    ]
    notices = await store_changes(directory, {record.id: [form.change]})
    zone = time_zone_of(record.village_code)
    action = "posyandu.sesi_dibatalkan" if form.change.cancelled else "posyandu.sesi_dipindah"
    await request.config_dict[CONSOLE].audit.record(
        account.username,
        action,
        record.id,
        change_words(before[0], zone) if before else None,
        {**change_words(form.change, zone), "pemberitahuan": notices},
    )
    what = "dibatalkan" if form.change.cancelled else "dipindah"
    told = (
        f"{notices} pelanggan diberi tahu."
        if notices
        else "Belum ada pelanggan yang perlu diberi tahu."
    )
    done = f"Sesi {day_words(form.change.original)} {what}. {told}"
    return await _edit_page(request, account, record, done=done)


# --- cadres --------------------------------------------------------------------------------


@routes.post("/posyandu/{posyandu_id}/kader")
@requires()
async def register_cadre(request: web.Request) -> web.Response:
    account, record = await _own_record(request)
    console = request.config_dict[CONSOLE]
    raw_name = (await post_form(request)).get("username", "").strip()
    username = normalize_username(raw_name) if raw_name else None
    if raw_name and username is None:
        problem = "Nama pengguna 3-32 karakter: huruf kecil, angka, titik, garis bawah atau strip."
        return await _edit_page(request, account, record, status=400, cadre_error=problem)
    if username is not None and await console.accounts.get(username) is not None:
        return await _edit_page(
            request, account, record, status=400, cadre_error="Nama pengguna itu sudah dipakai."
        )
    now = time.time()
    try:
        cadre = await add_cadre(
            console.redis, console.prefix, [record.id], now, directory=_directory(request)
        )
        code = await issue_link_code(console.redis, console.prefix, cadre.id, now)
    except ReminderError as refused:
        return await _edit_page(request, account, record, status=400, cadre_error=str(refused))
    registered = {"cadre": cadre.id, "code": code}
    after: dict[str, object] = {"kader": cadre.id, "posyandu": [record.id]}
    if username is not None:
        if not within_scope(account, Role.KADER, (record.id,), {record.id: record.village_code}):
            raise web.HTTPForbidden()  # _own_record checked it; the invitation checks again
        try:
            token = await console.invites.create(
                account.username, Invite(username, Role.KADER, (record.id,), account.username)
            )
        except AccountError as problem:
            return await _edit_page(request, account, record, status=400, cadre_error=str(problem))
        await link_account(console.redis, console.prefix, username, cadre.id)
        registered["link"] = f"{_base_url(request)}/console/invite/{token}"
        after["akun"] = username
    await console.audit.record(account.username, "kader.didaftarkan", cadre.id, None, after)
    return await _edit_page(request, account, record, registered=registered)


@routes.post("/posyandu/{posyandu_id}/kader/{cadre_id}/kode")
@requires()
async def new_link_code(request: web.Request) -> web.Response:
    account, record = await _own_record(request)
    console = request.config_dict[CONSOLE]
    cadre_id = request.match_info["cadre_id"]
    cadres: list[Cadre] = [
        c for c in await list_cadres(console.redis, console.prefix) if c.id == cadre_id
    ]
    if not cadres or record.id not in cadres[0].posyandu_ids:
        raise web.HTTPNotFound()
    if not await _covers_cadre(request, account, cadres[0]):
        raise web.HTTPForbidden()  # the cadre also serves a Posyandu outside this area
    code = await issue_link_code(console.redis, console.prefix, cadre_id, time.time())
    await console.audit.record(account.username, "kader.kode_baru", cadre_id, None, None)
    return await _edit_page(request, account, record, registered={"cadre": cadre_id, "code": code})


@routes.post("/posyandu/{posyandu_id}/kader/{cadre_id}/hapus")
@requires()
async def remove_cadre_view(request: web.Request) -> web.Response:
    """The cadre stops serving: their record, chat link and link code go, and the console
    accounts acting as them are disabled (else the account would register itself again)."""
    account, record = await _own_record(request)
    console = request.config_dict[CONSOLE]
    cadre = await get_cadre(console.redis, console.prefix, request.match_info["cadre_id"])
    if cadre is None or record.id not in cadre.posyandu_ids:
        raise web.HTTPNotFound()
    if not await _covers_cadre(request, account, cadre):
        raise web.HTTPForbidden()  # the cadre also serves a Posyandu outside this area
    kader_accounts = [a for a in await console.accounts.all() if a.role is Role.KADER]
    usernames = await linked_accounts(console.redis, console.prefix, kader_accounts, cadre.id)
    await remove_cadre(console.redis, console.prefix, cadre.id)
    for username in usernames:
        await console.accounts.set_disabled(account.username, username, True)
        await unlink_account(console.redis, console.prefix, username)
    before = {"kader": cadre.id, "posyandu": list(cadre.posyandu_ids), "akun": usernames}
    await console.audit.record(account.username, "kader.dihapus", cadre.id, before, None)
    done = f"Kader {cadre.id} dihapus dan tidak bisa lagi mengirim siaran."
    if usernames:
        done += f" Akun konsolnya ({', '.join(usernames)}) dinonaktifkan."
    return await _edit_page(request, account, record, done=done)


async def _covers_cadre(request: web.Request, account: Account, cadre: Cadre) -> bool:
    """Whether every Posyandu the cadre serves is inside the officer's area: only then may
    the officer act for the cadre (a link code lets a phone broadcast to all of them)."""
    directory = _directory(request)
    for posyandu_id in cadre.posyandu_ids:
        record = await directory.get(posyandu_id)
        if record is None or not account.covers_posyandu(record.id, record.village_code):
            return False
    return True


def _base_url(request: web.Request) -> str:
    public = request.config_dict[SETTINGS].public_url
    return str(public).rstrip("/") if public else f"{request.scheme}://{request.host}"
