"""Logging in and out, the start page, and accepting an invitation."""

from __future__ import annotations

from aiohttp import web

from bot.access import client_ip, over_limit
from bot.console.auth import AccountError, normalize_username
from bot.console.pages import (
    current_account,
    error_page,
    post_form,
    redirect,
    render,
    requires,
    see_other,
    visitor,
)
from bot.console.sessions import COOKIE_NAME, clear_cookie, set_cookie
from bot.console.state import CONSOLE
from bot.keys import SETTINGS

__all__ = ["routes"]

LOGIN_ATTEMPTS_PER_IP_PER_MINUTE = 20
LOGIN_MESSAGES = {
    "wrong": "Nama pengguna atau kata sandi salah.",
    "locked": "Terlalu banyak percobaan yang salah. Akun ini dikunci sementara (15 menit).",
    "disabled": "Akun ini dinonaktifkan. Hubungi admin Dinkes.",
}

routes = web.RouteTableDef()


def _safe_next(target: str) -> str:
    """Only a console page: never another site after login, never a header break."""
    ok = (
        target.startswith("/console/")
        and "//" not in target
        and "\\" not in target
        and len(target) <= 2000
        and target.isprintable()  # no CR, LF or other control characters
    )
    return target if ok else "/console/"


@routes.get("/login")
async def login_page(request: web.Request) -> web.Response:
    if visitor(request).account is not None:
        redirect("/console/")
    return render(request, "login.html", next=_safe_next(request.query.get("next", "")), error=None)


@routes.post("/login")
async def login(request: web.Request) -> web.Response:
    console, settings = request.config_dict[CONSOLE], request.config_dict[SETTINGS]
    form = await post_form(request)
    target = _safe_next(form.get("next", ""))
    ip = client_ip(request, settings.trust_proxy)
    if await over_limit(
        console.redis, console.prefix, "console-login", ip, LOGIN_ATTEMPTS_PER_IP_PER_MINUTE
    ):
        return error_page(request, 429)
    username = normalize_username(form.get("username", ""))
    password = form.get("password", "")
    result = await console.accounts.authenticate(username, password, ip) if username else "wrong"
    if result != "ok" or username is None:
        message = LOGIN_MESSAGES[result if result != "ok" else "wrong"]
        return render(request, "login.html", status=401, next=target, error=message)
    session = await console.sessions.start(username)
    await console.audit.record(username, "akun.masuk", username, None, None)
    response = see_other(target)
    set_cookie(response, COOKIE_NAME, session.token, settings, max_age=None, request=request)
    return response


@routes.post("/logout")
async def logout(request: web.Request) -> web.Response:
    session = visitor(request).session
    if session is not None:
        await request.config_dict[CONSOLE].sessions.end(session)
    response = see_other("/console/login?pesan=keluar")
    clear_cookie(response, COOKIE_NAME)
    return response


@routes.get("/")
@requires()
async def home(request: web.Request) -> web.Response:
    return render(request, "home.html", me=current_account(request))


@routes.get("/invite/{token}")
async def invite_page(request: web.Request) -> web.Response:
    invite = await request.config_dict[CONSOLE].invites.get(request.match_info["token"])
    if invite is None:
        return error_page(request, 404, "Tautan undangan ini tidak berlaku lagi.")
    return render(request, "invite.html", invite=invite, error=None)


@routes.post("/invite/{token}")
async def accept_invite(request: web.Request) -> web.Response:
    invites = request.config_dict[CONSOLE].invites
    token = request.match_info["token"]
    form = await post_form(request)
    password = form.get("password", "")
    invite = await invites.get(token)
    if invite is None:
        return error_page(request, 404, "Tautan undangan ini tidak berlaku lagi.")
    if password != form.get("password2", ""):
        error = "Kedua kata sandi tidak sama."
        return render(request, "invite.html", status=400, invite=invite, error=error)
    try:
        await invites.accept(token, password)
    except AccountError as problem:
        return render(request, "invite.html", status=400, invite=invite, error=str(problem))
    redirect("/console/login?pesan=akun_siap")
