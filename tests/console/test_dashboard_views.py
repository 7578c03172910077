"""The dashboard page: counts by role scope, suppressed cells as "<10", CSV downloads."""

from __future__ import annotations

import time

from actions.inbox import UnansweredInbox
from actions.posyandu.directory import Directory
from actions.posyandu.records import PosyanduRecord
from bot.console.stats import record_turn
from tests.console.conftest import Browser, ConsoleSite

DESA = "74.10.01.1008"  # Kecamatan 74.10.01
OTHER_DESA = "74.10.05.2001"


async def user(site: ConsoleSite, name: str, role: str, regions: tuple[str, ...] = ()) -> Browser:
    await site.account(name, role, regions)
    browser = site.browser()
    await browser.login(name)
    return browser


async def asked(site: ConsoleSite, topic: str, desa: str, people: int, tag: str) -> None:
    for n in range(people):
        await record_turn(
            site.redis,
            site.prefix,
            intent=topic,
            user=f"{tag}-{n}",
            region_code=desa,
            when=time.time(),
        )


async def test_counts_show_with_small_cells_suppressed(site: ConsoleSite) -> None:
    await asked(site, "balita.diare", DESA, 12, "a")
    await asked(site, "dbd.gejala", DESA, 3, "b")
    admin = await user(site, "dinkes", "admin")
    page = await admin.get("/console/dashboard?tingkat=desa&minggu=4")
    assert page.status == 200
    assert '<td data-label="Pertanyaan" class="num">12</td>' in page.text
    assert '<td data-label="Pertanyaan" class="num hidden-cell">&lt;10</td>' in page.text
    assert "Pertanyaan per topik" in page.text and "<svg" in page.text
    csv = await admin.session.get(admin.server.make_url("/console/dashboard/pertanyaan.csv"))
    body = (await csv.read()).decode("utf-8-sig")
    assert "balita.diare" in body and ",<10," in body
    assert "b-1" not in page.text and "a-1" not in body  # nobody identifiable


async def test_an_officer_sees_only_their_kecamatan(site: ConsoleSite) -> None:
    await asked(site, "balita.diare", DESA, 11, "a")
    await asked(site, "ptm.hipertensi", OTHER_DESA, 11, "c")
    officer = await user(site, "sari", "puskesmas", ("74.10.05",))
    page = await officer.get("/console/dashboard?tingkat=kabupaten")
    assert page.status == 200
    assert "Hipertensi" in page.text or "ptm.hipertensi" in page.text
    assert "Diare" not in page.text and "balita.diare" not in page.text
    assert "Ditampilkan per kecamatan sesuai wilayah Anda." in page.text


async def test_a_kader_sees_only_their_posyandu_row(site: ConsoleSite) -> None:
    await asked(site, "balita.diare", DESA, 12, "a")
    directory = Directory(site.redis, site.prefix)
    base = {"village_code": DESA, "lat": -4.76, "lon": 123.15, "address": "Balai"}
    schedule = {"cadre_contact": "Ibu Ani", "schedule": "setiap tanggal 10, 08.00-11.00"}
    await directory.upsert(
        PosyanduRecord.model_validate({"id": pid, "name": name, **base, **schedule})
        for pid, name in (("PYSAYA", "Posyandu Saya"), ("PYLAIN", "Posyandu Lain"))
    )
    kader = await user(site, "kader1", "kader", ("PYSAYA",))
    page = await kader.get("/console/dashboard")
    assert page.status == 200
    assert "Posyandu Saya" in page.text and "Posyandu Lain" not in page.text
    assert "Pertanyaan per topik" not in page.text and "balita.diare" not in page.text
    csv = await kader.session.get(kader.server.make_url("/console/dashboard/pertanyaan.csv"))
    assert csv.status == 403


async def test_a_bad_level_is_not_an_error_page(site: ConsoleSite) -> None:
    admin = await user(site, "dinkes", "admin")
    page = await admin.get("/console/dashboard?tingkat=dunia&minggu=999")
    assert page.status == 200 and "Belum ada pertanyaan pada periode ini." in page.text


async def test_only_large_unanswered_groups_reach_the_dashboard(site: ConsoleSite) -> None:
    inbox = UnansweredInbox(site.redis, site.prefix)
    for n in range(10):
        await inbox.add(f"obat cacar air untuk anak apa ya {n}", "web", [], region=f"{DESA}")
    await inbox.add("anak saya digigit anjing tetangga kemarin sore", "web", [], region=DESA)
    admin = await user(site, "dinkes", "admin")
    page = await admin.get("/console/dashboard")
    assert "10×" in page.text and "cacar air" in page.text
    # one person's question, and where they live, stay in the inbox
    assert "anjing" not in page.text and "kec. " not in page.text


async def test_odd_digits_in_the_query_are_not_an_error(site: ConsoleSite) -> None:
    admin = await user(site, "dinkes", "admin")
    page = await admin.get("/console/dashboard?minggu=²")
    assert page.status == 200
