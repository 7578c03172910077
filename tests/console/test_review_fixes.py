"""Fixes from the console's security review: each test shows what a user would notice."""

from __future__ import annotations

import json
import time

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer, make_mocked_request
from redis.asyncio import Redis

from actions.posyandu.directory import Directory
from actions.reminders import keys
from actions.reminders.cadres import add_cadre
from bot.app import create_app
from bot.console import posyandu_views
from bot.console.auth import Account, Role, parse_count, within_scope
from bot.console.sessions import COOKIE_NAME, IDLE_SECONDS, MAX_AGE_SECONDS, set_cookie
from bot.console.state import Console
from tests.cadre.conftest import planned, subscribe
from tests.console.conftest import PASSWORD, Browser, ConsoleSite, console_settings
from tests.console.posyandu_fixtures import MAWAR, TERATAI, area
from tests.console.test_editor import EDITOR, fields, promoter, published, shown_draft

__all__ = ["area"]


# --- 1. A reviewer approves only the text they read ------------------------------------------


async def test_approval_of_a_draft_changed_after_reading_is_refused(site: ConsoleSite) -> None:
    entry = await published(site)
    ani, budi = await promoter(site, "ani"), await promoter(site, "budi")
    await ani.get(EDITOR)
    await ani.post(EDITOR, fields(entry, answer=entry.answer + " Versi yang dibaca."))
    await ani.post(f"{EDITOR}/submit", {})
    read = await budi.get(EDITOR)
    assert "Versi yang dibaca." in read.text
    seen = shown_draft(read.text)
    # Meanwhile the author changes the answer and submits again.
    await ani.get(EDITOR)
    await ani.post(EDITOR, fields(entry, answer=entry.answer + " Versi lain yang tak dibaca."))
    await ani.post(f"{EDITOR}/submit", {})

    page = await budi.post(f"{EDITOR}/approve", {"versi": seen})
    assert page.status == 409 and "sudah berubah sejak Anda membukanya" in page.text
    page = await budi.post(f"{EDITOR}/approve", {}, csrf=read.csrf)  # no marker at all
    assert page.status == 409
    page = await budi.post(f"{EDITOR}/reject", {"comment": "Kurang jelas.", "versi": seen})
    assert page.status == 409
    assert (await published(site)).answer == entry.answer  # nothing unread went live
    draft = await site.console.content.draft(entry.id)
    assert draft is not None and draft.status == "review"

    page = await budi.get(EDITOR)  # reading again shows the new text, and approving works
    assert "Versi lain yang tak dibaca." in page.text
    page = await budi.post(f"{EDITOR}/approve", {"versi": shown_draft(page.text)})
    assert "Terbit!" in page.text
    assert (await published(site)).answer.endswith("Versi lain yang tak dibaca.")


# --- 2. An admin of a region hands out only their own region ---------------------------------


def test_scope_of_inviting_and_managing() -> None:
    province = Account("dinkes", Role.ADMIN)
    buton = Account("dinkes.buton", Role.ADMIN, ("74.10",))
    assert within_scope(province, Role.ADMIN, ())
    assert not within_scope(buton, Role.ADMIN, ())  # a global admin only from a global one
    assert not within_scope(buton, Role.PROMOTER, ())
    assert within_scope(buton, Role.ADMIN, ("74.10.01",))
    assert not within_scope(buton, Role.PUSKESMAS, ("74.10.01", "74.11.01"))
    villages = {"PYA1": TERATAI.village_code}
    assert within_scope(buton, Role.KADER, ("PYA1",), villages)
    assert not within_scope(buton, Role.KADER, ("PYA1", "PYX"), villages)  # unknown Posyandu
    officer = Account("kulisusu", Role.PUSKESMAS, ("74.10.01",))
    assert within_scope(officer, Role.KADER, ("PYA1",), villages)
    assert not within_scope(officer, Role.KADER, ("PYB1",), {"PYB1": MAWAR.village_code})


async def test_a_regional_admin_cannot_create_or_disable_accounts_outside_their_region(
    site: ConsoleSite, area: Directory
) -> None:
    await site.account("dinkes", "admin")
    await site.account("dinkes.kulisusu", "admin", ("74.10.01",))
    admin = site.browser()
    await admin.login("dinkes.kulisusu")
    refused = [
        {"username": "admin.baru", "role": "admin", "regions": ""},
        {"username": "admin.lain", "role": "admin", "regions": "74.10"},
        {"username": "bidan.lain", "role": "puskesmas", "regions": "74.10.02"},
        {"username": "kader.lain", "role": "kader", "regions": "PYB1"},
        {"username": "kader.hantu", "role": "kader", "regions": "PYTIDAKADA"},
    ]
    for form in refused:
        await admin.get("/console/accounts")
        page = await admin.post("/console/accounts/invite", form)
        assert page.status == 400 and "wilayah" in page.text, form
        assert "Undangan dibuat" not in page.text
    assert not [e for e in await site.console.audit.latest(50) if e.action == "undangan.dibuat"]
    for form in (
        {"username": "bidan.baru", "role": "puskesmas", "regions": "74.10.01"},
        {"username": "kader.baru", "role": "kader", "regions": "PYA1"},
    ):
        await admin.get("/console/accounts")
        assert "Undangan dibuat" in (await admin.post("/console/accounts/invite", form)).text

    for name in ("dinkes", "kambowa", "kader.mawar"):  # global, or outside Kulisusu
        await admin.get("/console/accounts")
        page = await admin.post(f"/console/accounts/{name}/disable", {})
        assert page.status == 403 and "di luar wilayah Anda" in page.text
        account = await site.console.accounts.get(name)
        assert account is not None and not account.disabled
    await admin.get("/console/accounts")
    page = await admin.post("/console/accounts/kader.teratai/disable", {})
    assert "Akun dinonaktifkan." in page.text

    province = site.browser()  # the global admin may do all
    await province.login("dinkes")
    await province.get("/console/accounts")
    page = await province.post("/console/accounts/kambowa/disable", {})
    assert "Akun dinonaktifkan." in page.text
    await province.get("/console/accounts")
    page = await province.post(
        "/console/accounts/invite", {"username": "admin.baru", "role": "admin", "regions": ""}
    )
    assert "Undangan dibuat" in page.text


# --- 3. Wrong passwords lock one client out, never the account --------------------------------


async def test_a_lock_holds_for_the_guessing_client_only_and_is_audited(
    console: Console,
) -> None:
    await console.accounts.create("cli", "promkes", Role.PROMOTER, (), PASSWORD)
    results = [await console.accounts.authenticate("promkes", "salah", "10.0.0.1") for _ in "12345"]
    assert results[-1] == "locked"
    assert await console.accounts.authenticate("promkes", PASSWORD, "10.0.0.1") == "locked"
    assert await console.accounts.authenticate("promkes", PASSWORD, "10.0.0.2") == "ok"
    [entry] = await console.audit.latest(1)
    assert (entry.action, entry.target) == ("akun.dikunci", "promkes")
    recorded = json.dumps([entry.before, entry.after])
    assert "10.0.0.1" not in recorded and "salah" not in recorded
    # An unknown name answers the same, and does not fill the audit log.
    for _ in "12345":
        last = await console.accounts.authenticate("tidakada", "salah", "10.0.0.1")
    assert last == "locked"
    assert (await console.audit.latest(1))[0].target == "promkes"


async def test_guessing_from_many_addresses_slows_the_name_down_but_lets_the_owner_in(
    console: Console,
) -> None:
    await console.accounts.create("cli", "promkes", Role.PROMOTER, (), PASSWORD)
    console.accounts.slow_seconds = 0.4
    started = time.monotonic()
    for address in ("10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.4"):
        for _ in "12345":
            await console.accounts.authenticate("promkes", "salah", address)
    assert time.monotonic() - started < 20 * 0.4  # no slow-down before the 20th failure
    started = time.monotonic()
    assert await console.accounts.authenticate("promkes", PASSWORD, "10.0.9.9") == "ok"
    assert time.monotonic() - started >= 0.4


@pytest.fixture
async def console(site: ConsoleSite) -> Console:
    return site.console


# --- 4. An officer acts only for cadres wholly inside their area ------------------------------


async def test_an_officer_cannot_take_over_a_cadre_serving_another_kecamatan(
    site: ConsoleSite, area: Directory, redis: Redis
) -> None:
    cadre = await add_cadre(redis, site.prefix, ["PYA1", "PYB1"], time.time(), directory=area)
    officer = site.browser()
    await officer.login("kulisusu")
    await officer.get("/console/posyandu/PYA1")
    page = await officer.post(f"/console/posyandu/PYA1/kader/{cadre.id}/kode", {})
    assert page.status == 403
    assert await redis.hget(keys.cadre_record(site.prefix, cadre.id), "code") is None
    await site.account("dinkes", "admin")
    admin = site.browser()
    await admin.login("dinkes")
    await admin.get("/console/posyandu/PYA1")
    page = await admin.post(f"/console/posyandu/PYA1/kader/{cadre.id}/kode", {})
    assert page.status == 200 and "Kode penghubung" in page.text


# --- 5. A broadcast is confirmed under its own Posyandu --------------------------------------


async def test_a_broadcast_cannot_be_confirmed_under_another_posyandu(
    site: ConsoleSite, area: Directory, redis: Redis
) -> None:
    await site.account("kader.dua", "kader", ("PYA1", "PYB1"))
    await subscribe(redis, site.prefix, "tg:3001", "PYB1")
    cadre = site.browser()
    await cadre.login("kader.dua")
    await cadre.get("/console/kader/PYB1/siaran")
    page = await cadre.post("/console/kader/PYB1/siaran", {"text": "Besok timbang.", "when": "now"})
    confirm = page.text.split('action="')[-2].split('"')[0]
    assert confirm.startswith("/console/kader/PYB1/siaran/") and confirm.endswith("/kirim")
    page = await cadre.post(confirm.replace("/PYB1/", "/PYA1/"), {})
    assert page.status == 404
    assert await planned(redis, site.prefix, "bc:") == {}
    await cadre.get("/console/kader/PYB1/siaran")
    page = await cadre.post(confirm, {})
    assert page.status == 200
    [entry] = await site.console.audit.latest(1)
    assert (entry.action, entry.target) == ("siaran.dikirim", "PYB1")


# --- 6. Two officers adding a Posyandu at once keep both --------------------------------------


async def test_adding_a_posyandu_never_overwrites_one_added_meanwhile(
    site: ConsoleSite, area: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = posyandu_views.new_posyandu_id
    other = TERATAI.model_copy(update={"name": "Posyandu Kamboja", "village_code": "74.10.01.1009"})

    taken: list[str] = []

    async def racing(directory: Directory, code: str) -> str:
        """The first id chosen is taken by another officer before this one saves."""
        chosen = await real(directory, code)
        if not taken:
            taken.append(chosen)
            await directory.upsert([other.model_copy(update={"id": chosen})])
        return chosen

    monkeypatch.setattr(posyandu_views, "new_posyandu_id", racing)
    officer = site.browser()
    await officer.login("kulisusu")
    await officer.get("/console/posyandu/baru")
    form = {
        "name": "Posyandu Melati",
        "village_code": "74.10.01.1009",
        "address": "Rumah Ibu Kades",
        "lat": "-4.777327",
        "lon": "123.175310",
        "schedule": "Senin pertama dan ketiga, 08.00-11.00",
        "cadre_contact": "",
        "do": "simpan",
    }
    page = await officer.post("/console/posyandu/baru", form)
    assert "Posyandu ditambahkan" in page.text
    names = sorted(r.name for r in await area.in_village("74.10.01.1009"))
    assert names == ["Posyandu Kamboja", "Posyandu Melati"]


async def test_the_directory_adds_an_id_only_once(area: Directory) -> None:
    assert not await area.add_new(TERATAI.model_copy(update={"name": "Tiruan"}))
    assert await area.get("PYA1") == TERATAI
    fresh = TERATAI.model_copy(update={"id": "PYA2", "name": "Posyandu Teratai II"})
    assert await area.add_new(fresh)
    assert await area.get("PYA2") == fresh
    assert "PYA2" in [r.id for r in await area.in_village(TERATAI.village_code)]


# --- 7. and 8. Odd input gets a page, never a 500 ---------------------------------------------


def test_only_ascii_digits_count() -> None:
    assert parse_count("12", 0) == 12
    assert [parse_count(raw, 7) for raw in ("²", "١٢", "1234567", "", " 1", None)] == [7] * 6


async def test_unicode_digits_and_line_breaks_get_pages_not_errors(site: ConsoleSite) -> None:
    await site.account("dinkes", "admin")
    admin = site.browser()
    await admin.login("dinkes")
    assert (await admin.get(f"{EDITOR}/history?ke=²&dari=²")).status == 200
    page = await admin.post(f"{EDITOR}/rollback", {"version": "²"})
    assert page.status == 409 and "Versi 0 tidak ada" in page.text
    assert (await admin.get("/console/audit?sebelum=²-1")).status == 200
    assert (await admin.get("/console/audit?sebelum=1-²")).status == 200

    visitor = site.browser()
    await visitor.get("/console/login")
    page = await visitor.post(
        "/console/login",
        {"username": "dinkes", "password": PASSWORD, "next": "/console/\r\nSet-Cookie: x=1"},
    )
    assert page.status == 200 and page.url.endswith("/console/")


# --- 9. Sessions end after 7 days; the cookie is Secure over HTTPS ----------------------------


async def test_a_session_ends_seven_days_after_login_however_busy(
    site: ConsoleSite, redis: Redis
) -> None:
    sessions = site.console.sessions
    now = time.time()
    session = await sessions.start("dinkes", now=now)
    assert await sessions.resume(session.token, now=now + MAX_AGE_SECONDS - 60) is not None
    [key] = [k async for k in redis.scan_iter(match=f"{site.prefix}console:session:*")]
    assert await redis.ttl(key) <= 60  # the idle expiry never outlives the absolute end
    assert await sessions.resume(session.token, now=now + MAX_AGE_SECONDS + 1) is None
    assert not await redis.exists(key)
    fresh = await sessions.start("dinkes")
    assert await sessions.resume(fresh.token) is not None
    assert await redis.ttl(next(iter(await _session_keys(site, redis)))) > IDLE_SECONDS - 5


async def _session_keys(site: ConsoleSite, redis: Redis) -> list[bytes]:
    return [k async for k in redis.scan_iter(match=f"{site.prefix}console:session:*")]


def _cookie_header(request: web.BaseRequest | None, **overrides: object) -> str:
    response = web.Response()
    settings = console_settings("x:").model_copy(update=overrides)
    set_cookie(response, COOKIE_NAME, "token", settings, None, request=request)
    return response.cookies[COOKIE_NAME].output()


def test_the_cookie_is_secure_whenever_the_request_is_https() -> None:
    plain = make_mocked_request("GET", "/console/login")
    assert "Secure" not in _cookie_header(plain)
    https = make_mocked_request("GET", "/console/login", sslcontext=object())  # type: ignore[arg-type]
    assert "Secure" in _cookie_header(https)
    proxied = make_mocked_request("GET", "/console/login", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" not in _cookie_header(proxied)  # an untrusted header proves nothing
    assert "Secure" in _cookie_header(proxied, trust_proxy=True)


async def test_login_behind_a_trusted_https_proxy_sets_a_secure_cookie(
    redis: Redis, redis_prefix: str
) -> None:
    server = TestServer(create_app(console_settings(redis_prefix, KS_TRUST_PROXY="true")))
    await server.start_server()
    await Console.open(redis, redis_prefix).accounts.create(
        "cli", "dinkes", Role.ADMIN, (), PASSWORD
    )
    browser = Browser(server)
    try:
        form = await browser.get("/console/login")
        response = await browser.session.post(
            server.make_url("/console/login"),
            data={"username": "dinkes", "password": PASSWORD, "csrf": form.csrf},
            headers={"X-Forwarded-Proto": "https"},
            allow_redirects=False,
        )
        assert response.status == 303
        assert response.cookies[COOKIE_NAME]["secure"]
    finally:
        await browser.session.close()
        await server.close()
