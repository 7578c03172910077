"""The console's web layer: who is visiting, the CSRF check, pages and error pages.

Every console request passes `console_pages` (the sub-app's middleware): it finds
the visitor's session and account, refuses a POST without the right CSRF token
(403), and turns errors into short Indonesian pages. Handlers declare who may call
them with `@requires(...)`.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote

import jinja2
from aiohttp import BodyPartReader, MultipartReader, web
from redis.exceptions import RedisError

from bot.console.auth import ROLE_LABELS, Account, Permission
from bot.console.sessions import (
    COOKIE_NAME,
    PRE_COOKIE_NAME,
    Session,
    same_token,
    set_cookie,
)
from bot.console.state import CONSOLE
from bot.keys import SETTINGS

__all__ = [
    "UPLOAD",
    "Visitor",
    "console_pages",
    "current_account",
    "error_page",
    "post_form",
    "redirect",
    "render",
    "requires",
    "see_other",
    "start_session_cookie",
    "streams_upload",
    "visitor",
]

logger = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "console"
PRE_COOKIE_SECONDS = 2 * 3600  # long enough to fill in the login or invitation form
MONTHS = ["Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"]
# Short notices after a redirect (?pesan=...): fixed texts, never echoed input.
NOTICES = {
    "disimpan": "Draf tersimpan.",
    "diajukan": "Draf diajukan untuk review. Orang kedua perlu menyetujuinya.",
    "diterbitkan": "Terbit! Jawaban baru langsung dipakai Kawan Sehat.",
    "ditolak": "Draf dikembalikan ke penulis dengan catatan Anda.",
    "dibuang": "Draf dibuang.",
    "dikembalikan": "Versi lama diterbitkan lagi.",
    "nonaktif": "Akun dinonaktifkan.",
    "aktif": "Akun diaktifkan lagi.",
    "keluar": "Anda sudah keluar.",
    "akun_siap": "Akun Anda siap. Silakan masuk.",
}
ERRORS = {
    400: "Permintaan ini tidak bisa diproses. Periksa isian Anda, lalu coba lagi.",
    403: "Anda tidak punya akses ke halaman ini.",
    404: "Halaman tidak ditemukan.",
    405: "Cara membuka halaman ini tidak didukung.",
    409: "Langkah ini tidak bisa dilakukan sekarang.",
    413: "Isian terlalu besar.",
    429: "Terlalu banyak percobaan. Tunggu sebentar, lalu coba lagi.",
    500: "Maaf, ada gangguan di sistem. Coba lagi sebentar.",
    503: "Penyimpanan data sedang gangguan. Coba lagi sebentar.",
}
CSRF_REFUSED = "Formulir ini sudah kedaluwarsa atau tidak sah. Muat ulang halaman, lalu kirim lagi."


def _when(value: str | dt.datetime) -> str:
    """A time for people: `3 Des 2026 14.05 UTC`."""
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{moment.day} {MONTHS[moment.month - 1]} {moment.year} {moment:%H.%M} UTC"


_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_environment.filters["when"] = _when
_environment.filters["pretty"] = lambda value: json.dumps(value, ensure_ascii=False, indent=1)
_environment.globals.update(Permission=Permission, role_labels=ROLE_LABELS)


@dataclass(frozen=True)
class Visitor:
    """Who sends this request: an account with a session, or someone not logged in."""

    account: Account | None
    session: Session | None
    csrf: str  # the token this visitor's forms carry
    new_pre_token: bool = False  # set the pre-login cookie on the response


VISITOR = web.RequestKey("console_visitor", Visitor)
UPLOAD = web.RequestKey("console_upload", MultipartReader)


def visitor(request: web.Request) -> Visitor:
    return request[VISITOR]


def current_account(request: web.Request) -> Account:
    """The logged-in account (handlers behind @requires only)."""
    account = request[VISITOR].account
    if account is None:
        raise web.HTTPUnauthorized()
    return account


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    who = request[VISITOR]
    html = _environment.get_template(template).render(
        account=who.account,
        csrf=who.csrf,
        path=request.path,
        notice=NOTICES.get(request.query.get("pesan", "")),
        **context,
    )
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def error_page(request: web.Request, status: int, message: str | None = None) -> web.Response:
    message = message or ERRORS.get(status, ERRORS[400])
    return render(request, "error.html", status=status, status_code=status, message=message)


def redirect(location: str) -> NoReturn:
    raise web.HTTPSeeOther(location)


def see_other(location: str) -> web.Response:
    """A redirect to return (rather than raise), for responses that set cookies."""
    return web.Response(status=303, headers={"Location": location})


async def post_form(request: web.Request) -> dict[str, str]:
    """The posted text fields (the first value of each; files are not for these forms)."""
    form = await request.post()
    fields: dict[str, str] = {}
    for name, value in form.items():
        if isinstance(value, str):
            fields.setdefault(name, value)
    return fields


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def requires(permission: Permission | None = None) -> Callable[[Handler], Handler]:
    """Only for logged-in accounts (others go to the login page), holding `permission`."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            account = request[VISITOR].account
            if account is None:
                target = request.path_qs if request.method == "GET" else "/console/"
                redirect(f"/console/login?next={quote(target, safe='')}")
            if permission is not None and not account.may(permission):
                return error_page(request, 403, "Halaman ini bukan untuk peran Anda.")
            return await handler(request)

        return guarded

    return decorate


async def _find_visitor(request: web.Request) -> Visitor:
    console = request.config_dict[CONSOLE]
    session = await console.sessions.resume(request.cookies.get(COOKIE_NAME))
    if session is not None:
        account = await console.accounts.get(session.username)
        if account is not None and not account.disabled:
            return Visitor(account, session, session.csrf)
        await console.sessions.end(session)
    pre = request.cookies.get(PRE_COOKIE_NAME, "")
    if 32 <= len(pre) <= 64:
        return Visitor(None, None, pre)
    return Visitor(None, None, secrets.token_urlsafe(32), new_pre_token=True)


async def _csrf_valid(request: web.Request, who: Visitor) -> bool:
    if who.new_pre_token:
        return False  # a form we never served
    given: object = request.headers.get("X-CSRF-Token")
    if not given and getattr(request.match_info.handler, "streams_upload", False):
        given = await _first_csrf_field(request)
    elif not given:
        given = (await request.post()).get("csrf")
    return same_token(given if isinstance(given, str) else None, who.csrf)


def streams_upload(handler: Handler) -> Handler:
    """Mark a POST handler that reads its own multipart body (a file larger than the
    gateway's body limit): the form's first field must be `csrf`, which the middleware
    checks; the handler reads the other parts from `request[UPLOAD]`."""
    handler.streams_upload = True  # type: ignore[attr-defined]
    return handler


async def _first_csrf_field(request: web.Request) -> str | None:
    if not request.content_type.startswith("multipart/form-data"):
        return None
    try:
        reader = await request.multipart()
        part = await reader.next()
    except (ValueError, AssertionError):
        return None
    if not isinstance(part, BodyPartReader) or part.name != "csrf":
        return None
    value = b""
    while chunk := await part.read_chunk(256):
        value += chunk
        if len(value) > 256:
            return None
    request[UPLOAD] = reader
    return value.decode(errors="replace")


@web.middleware
async def console_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    response: web.StreamResponse
    try:
        who = await _find_visitor(request)
        request[VISITOR] = who
        if request.method == "POST" and not await _csrf_valid(request, who):
            response = error_page(request, 403, CSRF_REFUSED)
        else:
            response = await handler(request)
    except web.HTTPException as error:
        if error.status < 400 or VISITOR not in request:
            raise
        response = error_page(request, error.status)
    except Exception as error:
        status = 503 if isinstance(error, RedisError) else 500
        logger.exception("Console: %s on %s %s", status, request.method, request.path)
        if VISITOR not in request:
            return web.Response(status=status, text=ERRORS[status], charset="utf-8")
        response = error_page(request, status)
    if request[VISITOR].new_pre_token:
        settings = request.config_dict[SETTINGS]
        set_cookie(
            response,
            PRE_COOKIE_NAME,
            request[VISITOR].csrf,
            settings,
            PRE_COOKIE_SECONDS,
            request=request,
        )
    response.headers["Cache-Control"] = "no-store"
    return response


def start_session_cookie(response: web.StreamResponse, request: web.Request, token: str) -> None:
    set_cookie(
        response, COOKIE_NAME, token, request.config_dict[SETTINGS], max_age=None, request=request
    )
