"""Posyandu and cadre pages in chromium: an officer adds a Posyandu and registers its cadre
with a console invitation; the cadre composes and confirms a broadcast."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect
from redis.asyncio import Redis

from actions.posyandu.directory import Directory
from bot.console.auth import Role
from bot.console.state import Console
from tests.browser.conftest import PASSWORD, PHONE, Gateway, Login, run_async, screenshot
from tests.cadre.conftest import planned, subscribe
from tests.conftest import TEST_REDIS_URL

NAME = "Posyandu Melati Lipu"
TEXT = "Besok ada pemberian vitamin A. Bawa buku KIA, ya."


async def _officer(prefix: str) -> None:
    redis = Redis.from_url(TEST_REDIS_URL)
    try:
        accounts = Console.open(redis, prefix).accounts
        await accounts.create("test", "petugas.kulisusu", Role.PUSKESMAS, ("74.10.01",), PASSWORD)
    finally:
        await redis.aclose()


async def _added(prefix: str) -> str:
    redis = Redis.from_url(TEST_REDIS_URL)
    try:
        [record] = await Directory(redis, prefix).in_village("74.10.01.1009")
        await subscribe(redis, prefix, "tg:777001", record.id)
        return record.id
    finally:
        await redis.aclose()


async def _broadcasts(prefix: str) -> int:
    redis = Redis.from_url(TEST_REDIS_URL)
    try:
        return len(await planned(redis, prefix, "bc:"))
    finally:
        await redis.aclose()


def test_officer_adds_a_posyandu_and_its_cadre_broadcasts(
    gateway: Gateway, login: Login, chromium: Browser
) -> None:
    run_async(_officer(gateway.prefix))
    officer = login(gateway.url, "petugas.kulisusu")
    officer.get_by_role("navigation").get_by_role("link", name="Posyandu", exact=True).click()
    officer.get_by_role("link", name="+ Tambah Posyandu").click()
    officer.get_by_label("Nama Posyandu").fill(NAME)
    officer.get_by_label("Desa").select_option("74.10.01.1009")
    officer.get_by_label("Tempat / alamat").fill("Balai Desa Lipu")
    officer.get_by_label("Lintang (lat)").fill("-4.777327")
    officer.get_by_label("Bujur (lon)").fill("123.175310")
    officer.get_by_label("Jadwal").fill("Senin pertama dan ketiga, 08.00-11.00")
    officer.get_by_role("button", name="Lihat jadwal dulu").click()
    expect(officer.locator(".sessions li")).to_have_count(3)
    expect(officer.locator(".sessions li").first).to_contain_text("Senin")
    officer.get_by_role("button", name="Simpan", exact=True).click()
    expect(officer.locator(".notice")).to_contain_text("Posyandu ditambahkan")
    posyandu_id = run_async(_added(gateway.prefix))
    officer.reload()
    screenshot(officer, "console-posyandu-edit-desktop", full_page=True)

    officer.get_by_label("Nama pengguna konsol untuk kader (boleh kosong)").fill("kader.melati")
    officer.get_by_role("button", name="Daftarkan kader").click()
    expect(officer.get_by_role("status")).to_contain_text("terdaftar. Kode penghubung")
    link = officer.get_by_label("Tautan undangan").input_value()

    officer.get_by_role("navigation").get_by_role("link", name="Posyandu", exact=True).click()
    expect(officer.get_by_role("link", name=re.compile(NAME))).to_be_visible()
    screenshot(officer, "console-posyandu-list-desktop")
    phone = login(gateway.url, "petugas.kulisusu", viewport=PHONE)
    phone.goto(f"{gateway.url}console/posyandu")
    screenshot(phone, "console-posyandu-list-phone", full_page=True)
    phone.goto(f"{gateway.url}console/posyandu/{posyandu_id}")
    screenshot(phone, "console-posyandu-edit-phone", full_page=True)

    invited = chromium.new_page(viewport=PHONE)  # type: ignore[arg-type]
    invited.goto(link)
    invited.get_by_label("Kata sandi (min. 10 karakter)").fill(PASSWORD)
    invited.get_by_label("Ulangi kata sandi").fill(PASSWORD)
    invited.get_by_role("button", name="Simpan dan aktifkan akun").click()
    invited.close()

    cadre = login(gateway.url, "kader.melati", viewport=PHONE)
    cadre.get_by_role("navigation").get_by_role("link", name="Posyandu saya").click()
    expect(cadre.get_by_role("heading", name=NAME)).to_be_visible()
    cadre.get_by_role("link", name="Tulis siaran").click()
    cadre.get_by_label("Pesan").fill(TEXT)
    expect(cadre.locator('output[data-count-for="text"]')).to_have_text(str(len(TEXT)))
    screenshot(cadre, "console-broadcast-compose-phone", full_page=True)
    cadre.get_by_role("button", name="Lihat pratinjau").click()
    expect(cadre.get_by_role("heading", name="Kirim siaran ini?")).to_be_visible()
    expect(cadre.locator(".phone.whatsapp .bubble").first).to_contain_text(TEXT)
    screenshot(cadre, "console-broadcast-preview-phone", full_page=True)
    cadre.get_by_role("button", name="Kirim siaran").click()
    expect(cadre.get_by_role("status")).to_contain_text(f"Siaran untuk 1 pelanggan {NAME}")
    assert run_async(_broadcasts(gateway.prefix)) == 1
    desktop = login(gateway.url, "kader.melati")
    desktop.goto(f"{gateway.url}console/kader/{posyandu_id}/siaran")
    desktop.get_by_label("Pesan").fill(TEXT)
    screenshot(desktop, "console-broadcast-compose-desktop")
    desktop.goto(f"{gateway.url}console/kader")
    expect(desktop.get_by_role("heading", name="Laporan siaran")).to_be_visible()
    screenshot(desktop, "console-cadre-home-desktop", full_page=True)
