"""Admin pages: accounts, invitations, and the audit log."""

from __future__ import annotations

import re

from aiohttp import web

from actions.posyandu.directory import Directory
from bot.console.auth import (
    Account,
    AccountError,
    Permission,
    Role,
    normalize_username,
    within_scope,
)
from bot.console.auth import parse_regions as parse_region_list
from bot.console.invites import Invite
from bot.console.pages import current_account, post_form, redirect, render, requires
from bot.console.state import CONSOLE
from bot.keys import SETTINGS

__all__ = ["routes"]

AUDIT_PAGE = 100
OUTSIDE_SCOPE = "Wilayah akun itu di luar wilayah Anda. Minta admin Dinkes provinsi."
_STREAM_ID = re.compile(r"[0-9]{1,20}-[0-9]{1,19}")

routes = web.RouteTableDef()


async def _accounts_page(
    request: web.Request,
    status: int = 200,
    error: str | None = None,
    link: str | None = None,
    values: dict[str, str] | None = None,
) -> web.Response:
    accounts = await request.config_dict[CONSOLE].accounts.all()
    return render(
        request,
        "accounts.html",
        status=status,
        accounts=accounts,
        error=error,
        link=link,
        values=values or {},
    )


@routes.get("/accounts")
@requires(Permission.ACCOUNTS)
async def accounts(request: web.Request) -> web.Response:
    return await _accounts_page(request)


@routes.post("/accounts/invite")
@requires(Permission.ACCOUNTS)
async def invite(request: web.Request) -> web.Response:
    form = await post_form(request)
    values = {k: form.get(k, "") for k in ("username", "role", "regions")}
    username = normalize_username(values["username"])
    try:
        if username is None:
            raise AccountError(
                "Nama pengguna 3-32 karakter: huruf kecil, angka, titik, garis bawah atau strip."
            )
        if values["role"] not in Role.__members__.values():
            raise AccountError("Pilih peran.")
        role = Role(values["role"])
        regions = parse_region_list(role, values["regions"])
        me = current_account(request)
        if not await _in_scope(request, me, role, regions):
            raise AccountError(
                "Undangan hanya untuk wilayah di dalam wilayah Anda."
                if regions
                else "Isi wilayah akun ini: akun tanpa wilayah hanya dibuat oleh admin Dinkes"
                " tanpa batas wilayah."
            )
        actor = me.username
        token = await request.config_dict[CONSOLE].invites.create(
            actor, Invite(username, role, regions, actor)
        )
    except AccountError as problem:
        return await _accounts_page(request, 400, str(problem), values=values)
    public = request.config_dict[SETTINGS].public_url
    base = str(public).rstrip("/") if public else f"{request.scheme}://{request.host}"
    return await _accounts_page(request, link=f"{base}/console/invite/{token}")


@routes.post("/accounts/{username}/disable")
@requires(Permission.ACCOUNTS)
async def disable(request: web.Request) -> web.Response:
    return await _set_disabled(request, True)


@routes.post("/accounts/{username}/enable")
@requires(Permission.ACCOUNTS)
async def enable(request: web.Request) -> web.Response:
    return await _set_disabled(request, False)


async def _in_scope(
    request: web.Request, actor: Account, role: Role, regions: tuple[str, ...]
) -> bool:
    """Whether `actor` may invite or manage an account with this role and area (a kader's
    Posyandu are looked up in the directory for their villages)."""
    villages: dict[str, str] = {}
    if role is Role.KADER:
        console = request.config_dict[CONSOLE]
        directory = Directory(console.redis, console.prefix)
        for posyandu_id in regions:
            record = await directory.get(posyandu_id)
            if record is not None:
                villages[posyandu_id] = record.village_code
    return within_scope(actor, role, regions, villages)


async def _set_disabled(request: web.Request, disabled: bool) -> web.Response:
    console = request.config_dict[CONSOLE]
    me = current_account(request)
    actor = me.username
    username = request.match_info["username"]
    if username == actor:
        return await _accounts_page(request, 400, "Anda tidak bisa menonaktifkan akun sendiri.")
    target = await console.accounts.get(username)
    if target is not None and not await _in_scope(request, me, target.role, target.regions):
        return await _accounts_page(request, 403, OUTSIDE_SCOPE)
    try:
        await console.accounts.set_disabled(actor, username, disabled)
    except AccountError as problem:
        return await _accounts_page(request, 404, str(problem))
    if disabled:
        await console.sessions.end_all(username)
    redirect(f"/console/accounts?pesan={'nonaktif' if disabled else 'aktif'}")


@routes.get("/audit")
@requires(Permission.ACCOUNTS)
async def audit(request: web.Request) -> web.Response:
    before = request.query.get("sebelum")
    if before is not None and not _stream_id(before):
        before = None
    entries = await request.config_dict[CONSOLE].audit.latest(AUDIT_PAGE, before)
    older = entries[-1].id if len(entries) == AUDIT_PAGE else None
    return render(request, "audit.html", entries=entries, older=older)


def _stream_id(value: str) -> bool:
    """An audit stream id (`<ms>-<seq>`, ASCII digits only: "²".isdigit() is True)."""
    return _STREAM_ID.fullmatch(value) is not None
