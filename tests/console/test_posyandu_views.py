"""Posyandu pages of Puskesmas officers: area scoping, adding and editing, one-off changes
that notify subscribers through the reminders engine, and registering cadres."""

from __future__ import annotations

import datetime as dt

from redis.asyncio import Redis

from actions.posyandu.directory import Directory
from actions.posyandu.schedule import format_session, upcoming_sessions
from actions.reminders.cadres import list_cadres
from bot.console.pages import CSRF_REFUSED
from tests.cadre.conftest import planned, subscribe
from tests.console.conftest import ConsoleSite
from tests.console.posyandu_fixtures import MAWAR, TERATAI, area

__all__ = ["area"]

NEW = {
    "name": "Posyandu Melati",
    "village_code": "74.10.01.1009",
    "address": "Rumah Ibu Kades",
    "lat": "-4.777327",
    "lon": "123.175310",
    "schedule": "Senin pertama dan ketiga, 08.00-11.00",
    "cadre_contact": "Ibu Wa Ode",
}


async def test_an_officer_sees_only_the_posyandu_of_their_kecamatan(
    site: ConsoleSite, area: Directory
) -> None:
    officer = site.browser()
    await officer.login("kulisusu")
    page = await officer.get("/console/posyandu")
    assert page.status == 200
    assert TERATAI.name in page.text
    assert MAWAR.name not in page.text
    assert 'href="/console/posyandu"' in page.text  # the menu has the page


async def test_another_kecamatan_is_refused_on_every_route(
    site: ConsoleSite, area: Directory
) -> None:
    officer = site.browser()
    await officer.login("kambowa")
    assert (await officer.get("/console/posyandu/PYA1")).status == 403
    assert (await officer.get("/console/posyandu?wilayah=74.10.01")).status == 403
    await officer.get("/console/posyandu")  # a page with this officer's CSRF token
    edit = {**NEW, "name": "Diambil alih"}
    assert (await officer.post("/console/posyandu/PYA1", edit)).status == 403
    move = {"original": "2030-01-10", "action": "batal"}
    await officer.get("/console/posyandu")
    assert (await officer.post("/console/posyandu/PYA1/sesi", move)).status == 403
    await officer.get("/console/posyandu")
    assert (await officer.post("/console/posyandu/PYA1/kader", {"username": ""})).status == 403
    await officer.get("/console/posyandu")
    new = {**NEW, "village_code": "74.10.01.1009"}
    refused = await officer.post("/console/posyandu/baru", new)
    assert refused.status == 400
    assert "di luar wilayah kerja Anda" in refused.text
    assert await area.get("PYA1") == TERATAI
    assert await area.changes_for("PYA1") == []
    assert await area.in_village("74.10.01.1009") == []
    assert await list_cadres(site.redis, site.prefix) == []


async def test_a_cadre_cannot_open_the_officer_pages(site: ConsoleSite, area: Directory) -> None:
    cadre = site.browser()
    await cadre.login("kader.teratai")
    assert (await cadre.get("/console/posyandu")).status == 403
    assert (await cadre.get("/console/posyandu/PYA1")).status == 403


async def test_a_posyandu_added_in_the_console_is_found_by_the_lookup(
    site: ConsoleSite, area: Directory
) -> None:
    officer = site.browser()
    await officer.login("kulisusu")
    await officer.get("/console/posyandu/baru")
    page = await officer.post("/console/posyandu/baru", {**NEW, "do": "simpan"})
    assert page.status == 200
    assert "Posyandu ditambahkan" in page.text
    [found] = await area.in_village("74.10.01.1009")  # what "posyandu di Lipu" reads
    assert (found.name, found.schedule, found.lat) == (NEW["name"], NEW["schedule"], -4.777327)
    assert page.url.endswith(f"/console/posyandu/{found.id}?ok=ditambah")
    nearest = await area.nearest(-4.7775, 123.1755, count=1)  # "Posyandu terdekat"
    assert nearest[0].record.id == found.id
    [entry] = await site.console.audit.latest(1)
    assert (entry.actor, entry.action, entry.target) == ("kulisusu", "posyandu.dibuat", found.id)
    assert entry.before is None and entry.after["schedule"] == NEW["schedule"]


async def test_bad_input_gets_indonesian_errors_and_changes_nothing(
    site: ConsoleSite, area: Directory
) -> None:
    officer = site.browser()
    await officer.login("kulisusu")
    await officer.get("/console/posyandu/PYA1")
    bad = {**NEW, "name": "", "lat": "200", "schedule": "kadang-kadang saja, 08.00-11.00"}
    page = await officer.post("/console/posyandu/PYA1", bad)
    assert page.status == 400
    assert "Isi nama Posyandu" in page.text
    assert "Lintang harus angka antara -11,5 dan 6,5" in page.text
    assert "Jadwal tidak dikenali" in page.text and "kata tidak dikenali" in page.text
    assert await area.get("PYA1") == TERATAI
    await officer.get("/console/posyandu/baru")
    page = await officer.post("/console/posyandu/baru", bad)
    assert page.status == 400
    assert await area.in_village(NEW["village_code"]) == []
    assert [e for e in await site.console.audit.latest(20) if e.action.startswith("posyandu")] == []


async def test_the_schedule_preview_is_the_directory_s_next_three_sessions(
    site: ConsoleSite, area: Directory
) -> None:
    officer = site.browser()
    await officer.login("kulisusu")
    await officer.get("/console/posyandu/PYA1")
    rule = "Rabu terakhir, 09.00-12.00"
    page = await officer.post(
        "/console/posyandu/PYA1", {**NEW, "schedule": rule, "do": "pratinjau"}
    )
    assert page.status == 200
    record = TERATAI.model_copy(update={"schedule": rule})
    now = dt.datetime.now(dt.UTC)
    expected = upcoming_sessions(record.rule, now, "WITA", limit=3)
    assert len(expected) == 3
    for session in expected:
        assert format_session(session) in page.text
    assert await area.get("PYA1") == TERATAI  # a preview saves nothing


async def test_an_edit_is_saved_and_audited_with_before_and_after(
    site: ConsoleSite, area: Directory
) -> None:
    officer = site.browser()
    await officer.login("kulisusu")
    await officer.get("/console/posyandu/PYA1")
    values = {**NEW, "village_code": TERATAI.village_code, "address": "Aula Kantor Desa"}
    page = await officer.post("/console/posyandu/PYA1", {**values, "do": "simpan"})
    assert "Perubahan Posyandu tersimpan" in page.text
    saved = await area.get("PYA1")
    assert saved is not None and saved.address == "Aula Kantor Desa"
    [entry] = await site.console.audit.latest(1)
    assert entry.action == "posyandu.diubah"
    assert (entry.before["address"], entry.after["address"]) == (
        "Balai Dusun I",
        "Aula Kantor Desa",
    )


async def test_moving_a_session_sends_subscribers_a_change_notice(
    site: ConsoleSite, area: Directory, redis: Redis
) -> None:
    await subscribe(redis, site.prefix, "tg:4242", "PYA1")
    officer = site.browser()
    await officer.login("kulisusu")
    page = await officer.get("/console/posyandu/PYA1")
    today = dt.datetime.now(dt.UTC).date()
    session = TERATAI.rule.dates_in(today.year, today.month)[0]
    if session < today + dt.timedelta(days=1):
        month = today.replace(day=1) + dt.timedelta(days=32)
        session = TERATAI.rule.dates_in(month.year, month.month)[0]
    new_date = session + dt.timedelta(days=1)
    form = {
        "original": session.isoformat(),
        "action": "pindah",
        "new_date": new_date.isoformat(),
        "new_start": "09.00",
        "new_end": "12.00",
        "note": "Balai dipakai rapat",
    }
    page = await officer.post("/console/posyandu/PYA1/sesi", form)
    assert page.status == 200
    assert "1 pelanggan diberi tahu" in page.text
    [change] = await area.changes_for("PYA1")
    assert (change.original, change.new_date, change.note) == (
        session,
        new_date,
        "Balai dipakai rapat",
    )
    notices = await planned(redis, site.prefix, "chg:PYA1:")
    [send] = notices.values()
    assert send.channel == "telegram" and "Balai dipakai rapat" in send.text
    assert send.extra["kind"] == "change"
    [entry] = await site.console.audit.latest(1)
    assert entry.action == "posyandu.sesi_dipindah" and entry.after["pemberitahuan"] == 1


async def test_a_session_not_in_the_schedule_cannot_be_changed(
    site: ConsoleSite, area: Directory
) -> None:
    officer = site.browser()
    await officer.login("kulisusu")
    await officer.get("/console/posyandu/PYA1")
    page = await officer.post(
        "/console/posyandu/PYA1/sesi", {"original": "2031-01-11", "action": "batal"}
    )
    assert page.status == 400
    assert "Pilih sesi yang diubah dari daftar." in page.text
    assert await area.changes_for("PYA1") == []


async def test_a_post_without_the_csrf_token_is_refused(site: ConsoleSite, area: Directory) -> None:
    officer = site.browser()
    await officer.login("kulisusu")
    page = await officer.post("/console/posyandu/PYA1", {**NEW, "name": "Tanpa token"}, csrf=None)
    assert page.status == 403
    assert CSRF_REFUSED in page.text
    assert await area.get("PYA1") == TERATAI


async def test_registering_a_cadre_gives_a_link_code_and_a_console_invitation(
    site: ConsoleSite, area: Directory
) -> None:
    officer = site.browser()
    await officer.login("kulisusu")
    await officer.get("/console/posyandu/PYA1")
    page = await officer.post("/console/posyandu/PYA1/kader", {"username": "kader.baru"})
    assert page.status == 200
    [cadre] = await list_cadres(site.redis, site.prefix)
    assert cadre.posyandu_ids == ("PYA1",)
    assert f"Kader <strong>{cadre.id}</strong> terdaftar" in page.text
    link = page.text.split('aria-label="Tautan undangan"')[0].rsplit('value="', 1)[1].split('"')[0]
    invite = await site.console.invites.get(link.rsplit("/", 1)[1])
    assert invite is not None
    assert (invite.username, invite.role.value, invite.regions) == (
        "kader.baru",
        "kader",
        ("PYA1",),
    )
    [entry] = await site.console.audit.latest(1)
    assert entry.action == "kader.didaftarkan"
    assert entry.after == {"kader": cadre.id, "posyandu": ["PYA1"], "akun": "kader.baru"}
