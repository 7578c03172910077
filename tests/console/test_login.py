"""Logging in, sessions, CSRF, lock-out, roles and invitations through the web pages."""

from __future__ import annotations

from urllib.parse import unquote

from aiohttp import web
from redis.asyncio import Redis

from bot.console.sessions import COOKIE_NAME, IDLE_SECONDS, set_cookie
from tests.console.conftest import PASSWORD, ConsoleSite, console_settings


async def test_login_starts_a_session_and_logout_ends_it(site: ConsoleSite) -> None:
    await site.account("dinkes", "admin")
    browser = site.browser()
    page = await browser.login("dinkes")
    assert page.url.endswith("/console/") and "Halo, dinkes" in page.text
    page = await browser.post("/console/logout", {})
    assert "Anda sudah keluar" in page.text
    page = await browser.get("/console/")
    assert "/console/login" in page.url and "Masuk ke konsol" in page.text


async def test_a_page_needs_a_login_and_returns_to_it_afterwards(site: ConsoleSite) -> None:
    await site.account("promkes", "promoter")
    browser = site.browser()
    page = await browser.get("/console/content")
    assert unquote(page.url).endswith("/console/login?next=/console/content")
    page = await browser.post(
        "/console/login", {"username": "promkes", "password": PASSWORD, "next": "/console/content"}
    )
    assert page.url.endswith("/console/content") and "Klaster 2: Ibu dan Anak" in page.text


async def test_login_never_sends_anyone_to_another_site(site: ConsoleSite) -> None:
    await site.account("promkes", "promoter")
    browser = site.browser()
    await browser.get("/console/login")
    page = await browser.post(
        "/console/login",
        {"username": "promkes", "password": PASSWORD, "next": "//evil.example/console/"},
    )
    assert page.url.endswith("/console/")


async def test_the_session_lives_in_redis_with_an_eight_hour_idle_expiry(
    site: ConsoleSite, redis: Redis, redis_prefix: str
) -> None:
    await site.account("dinkes", "admin")
    browser = site.browser()
    await browser.login("dinkes")
    [key] = [k async for k in redis.scan_iter(match=f"{redis_prefix}console:session:*")]
    assert IDLE_SECONDS - 5 < await redis.ttl(key) <= IDLE_SECONDS
    cookie = next(c for c in browser.session.cookie_jar if c.key == COOKIE_NAME)
    assert cookie.value.encode() not in key  # Redis holds only a hash of the token
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/console"


def test_the_cookie_is_secure_in_production() -> None:
    response = web.Response()
    settings = console_settings("x:").model_copy(update={"environment": "production"})
    set_cookie(response, COOKIE_NAME, "token", settings, IDLE_SECONDS)
    header = response.cookies[COOKIE_NAME].output()
    assert "Secure" in header and "HttpOnly" in header and "SameSite=Strict" in header


async def test_a_post_without_the_right_csrf_token_is_refused(site: ConsoleSite) -> None:
    await site.account("dinkes", "admin")
    browser = site.browser()
    await browser.login("dinkes")
    await browser.get("/console/accounts")
    for token in (None, "salah"):
        page = await browser.post(
            "/console/accounts/invite", {"username": "baru1", "role": "promoter"}, csrf=token
        )
        assert page.status == 403
        assert "Formulir ini sudah kedaluwarsa atau tidak sah" in page.text
    assert await site.console.accounts.get("baru1") is None
    # The login form itself needs the token too.
    anonymous = site.browser()
    page = await anonymous.post(
        "/console/login", {"username": "dinkes", "password": PASSWORD}, csrf=None
    )
    assert page.status == 403


async def test_lockout_says_locked_without_telling_whether_the_name_exists(
    site: ConsoleSite,
) -> None:
    await site.account("promkes", "promoter")
    browser = site.browser()
    for name in ("promkes", "tidakada"):
        await browser.get("/console/login")
        for _ in range(5):
            page = await browser.post(
                "/console/login", {"username": name, "password": "salah-1234"}
            )
        assert page.status == 401 and "dikunci sementara" in page.text
    page = await browser.post("/console/login", {"username": "promkes", "password": PASSWORD})
    assert "dikunci sementara" in page.text


async def test_roles_are_kept_to_their_pages(site: ConsoleSite) -> None:
    await site.account("kader1", "kader", ("PY74100110081",))
    await site.account("promkes", "promoter")
    kader = site.browser()
    await kader.login("kader1")
    for path in ("/console/content", "/console/content/imunisasi.jadwal", "/console/accounts"):
        page = await kader.get(path)
        assert page.status == 403 and "bukan untuk peran Anda" in page.text
    promoter = site.browser()
    await promoter.login("promkes")
    assert (await promoter.get("/console/audit")).status == 403
    assert (await promoter.get("/console/content")).status == 200


async def test_an_admin_invites_and_the_invitee_sets_a_password(site: ConsoleSite) -> None:
    await site.account("dinkes", "admin")
    admin = site.browser()
    await admin.login("dinkes")
    await admin.get("/console/accounts")
    page = await admin.post(
        "/console/accounts/invite",
        {"username": "bidan.sari", "role": "puskesmas", "regions": "74.10.05"},
    )
    assert "Undangan dibuat" in page.text
    link = page.text.split('aria-label="Tautan undangan"')[0].rsplit('value="', 1)[1].split('"')[0]
    path = link[link.index("/console/invite/") :]

    invitee = site.browser()
    page = await invitee.get(path)
    assert "Selamat datang, bidan.sari" in page.text and "Petugas Puskesmas" in page.text
    page = await invitee.post(path, {"password": PASSWORD, "password2": "lain-lain-123"})
    assert page.status == 400 and "tidak sama" in page.text
    page = await invitee.post(path, {"password": PASSWORD, "password2": PASSWORD})
    assert "Akun Anda siap" in page.text
    assert "Halo, bidan.sari" in (await invitee.login("bidan.sari")).text
    assert (await site.browser().get(path)).status == 404  # used up


async def test_a_bad_invitation_gets_a_clear_message(site: ConsoleSite) -> None:
    await site.account("dinkes", "admin")
    admin = site.browser()
    await admin.login("dinkes")
    await admin.get("/console/accounts")
    page = await admin.post(
        "/console/accounts/invite", {"username": "X", "role": "kader", "regions": ""}
    )
    assert page.status == 400 and "Nama pengguna 3-32 karakter" in page.text
    page = await admin.post(
        "/console/accounts/invite", {"username": "kader2", "role": "kader", "regions": ""}
    )
    assert page.status == 400 and "Isi ID Posyandu" in page.text


async def test_disabling_an_account_ends_its_sessions_at_once(site: ConsoleSite) -> None:
    await site.account("dinkes", "admin")
    await site.account("promkes", "promoter")
    promoter = site.browser()
    await promoter.login("promkes")
    admin = site.browser()
    await admin.login("dinkes")
    await admin.get("/console/accounts")
    page = await admin.post("/console/accounts/promkes/disable", {})
    assert "Akun dinonaktifkan" in page.text
    assert "Masuk ke konsol" in (await promoter.get("/console/content")).text
    page = await promoter.post("/console/login", {"username": "promkes", "password": PASSWORD})
    assert "dinonaktifkan" in page.text


async def test_the_audit_log_shows_who_did_what(site: ConsoleSite) -> None:
    await site.account("dinkes", "admin")
    admin = site.browser()
    await admin.login("dinkes")
    await admin.get("/console/accounts")
    await admin.post(
        "/console/accounts/invite", {"username": "kader1", "role": "kader", "regions": "PY1"}
    )
    page = await admin.get("/console/audit")
    assert page.status == 200
    assert "undangan.dibuat" in page.text and "kader1" in page.text and "akun.dibuat" in page.text


async def test_unknown_console_pages_get_an_indonesian_404(site: ConsoleSite) -> None:
    page = await site.browser().get("/console/tidak-ada")
    assert page.status == 404 and "Halaman tidak ditemukan" in page.text
    page = await site.browser().get("/console")
    assert unquote(page.url).endswith("/console/login?next=/console/")
