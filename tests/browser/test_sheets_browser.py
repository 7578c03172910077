"""Spreadsheets, the inbox and the dashboard in chromium, against the gateway and real Redis."""

from __future__ import annotations

import io
import time
from pathlib import Path

from openpyxl import load_workbook
from playwright.sync_api import Page, expect
from redis.asyncio import Redis

from actions.inbox import UnansweredInbox
from bot.console.stats import record_turn
from tests.browser.conftest import PHONE, Gateway, Login, run_async, screenshot
from tests.conftest import TEST_REDIS_URL

TOPIC = "balita.diare"
ADDED = "Bila ragu, tanyakan ke kader Posyandu."


def changed_sheet(download: Path, tmp_path: Path) -> tuple[Path, int, str]:
    """The downloaded FAQ workbook with one more sentence in TOPIC's answer, as a person
    would edit it; returns the file, the row and the new answer."""
    book = load_workbook(download)
    sheet = book["FAQ"]
    [row] = [cell.row for cell in sheet["A"] if cell.value == TOPIC]
    answer = f"{sheet[f'C{row}'].value} {ADDED}"
    sheet[f"C{row}"] = answer
    path = tmp_path / "faq-diubah.xlsx"
    book.save(path)
    return path, row, answer


def test_an_xlsx_round_trip_makes_one_draft(gateway: Gateway, login: Login, tmp_path: Path) -> None:
    page = login(gateway.url, "ani")
    page.get_by_role("navigation").get_by_role("link", name="Lembar kerja").click()
    faq = page.locator("section#faq")
    with page.expect_download() as downloading:
        faq.get_by_role("link", name="Unduh XLSX").click()
    original = tmp_path / "faq.xlsx"
    downloading.value.save_as(original)
    edited, row, answer = changed_sheet(original, tmp_path)

    faq.get_by_label("File Konten FAQ").set_input_files(edited)
    faq.get_by_role("button", name="Periksa file").click()
    expect(page.get_by_role("heading", name="Laporan pemeriksaan")).to_be_visible()
    changed = page.locator("table.report tbody tr:has(.badge.st-changed)")
    expect(changed).to_have_count(1)
    expect(changed.locator('td[data-label="Baris"]')).to_have_text(str(row))
    expect(changed.locator('td[data-label="ID"]')).to_have_text(TOPIC)
    screenshot(page, "console-sheet-report-desktop")
    phone = login(gateway.url, "ani", viewport=PHONE)
    phone.goto(page.url)  # the job belongs to the session that uploaded it
    expect(phone.get_by_text("Halaman tidak ditemukan.")).to_be_visible()

    page.get_by_role("button", name="Terapkan 1 baris").click()
    expect(page.get_by_role("status")).to_contain_text("1 draf dibuat")
    page.get_by_role("link", name="Buka konten FAQ").click()
    page.goto(f"{gateway.url}console/content/{TOPIC}")
    expect(page.locator(".badge.draft")).to_be_visible()
    expect(page.get_by_label("Jawaban")).to_have_value(answer)


def test_the_sheet_report_on_a_phone(gateway: Gateway, login: Login, tmp_path: Path) -> None:
    page = login(gateway.url, "budi", viewport=PHONE)
    page.goto(f"{gateway.url}console/sheets")
    with page.expect_download() as downloading:
        page.locator("section#faq").get_by_role("link", name="Unduh XLSX").click()
    book = load_workbook(io.BytesIO(downloading.value.path().read_bytes()))
    book["FAQ"]["C3"] = "Terlalu pendek."
    buffer = io.BytesIO()
    book.save(buffer)
    page.locator("section#faq").get_by_label("File Konten FAQ").set_input_files(
        {"name": "faq.xlsx", "mimeType": "application/octet-stream", "buffer": buffer.getvalue()}
    )
    page.get_by_role("button", name="Periksa file").click()
    expect(page.locator("table.report tbody tr:has(.badge.st-error)").first).to_contain_text(
        "terlalu pendek"
    )
    screenshot(page, "console-sheet-report-phone", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


async def _fill(prefix: str) -> None:
    redis = Redis.from_url(TEST_REDIS_URL)
    try:
        inbox = UnansweredInbox(redis, prefix)
        for text, region in (
            ("apa obat cacar air untuk anak", "74.10.01.1008"),
            ("obat cacar air anak apa ya", "74.10.01.1008"),
            ("cacar air boleh mandi tidak", "74.10.02.2001"),
            ("kalau digigit anjing harus bagaimana, wa 081234567890", "74.10.05.2001"),
            ("jadwal vaksin rabies di puskesmas", None),
        ):
            await inbox.add(text, "whatsapp", [{"name": "out_of_scope_health"}], region=region)
        now = time.time()
        for topic, desa, people in (
            ("balita.diare", "74.10.01.1008", 30),
            ("balita.diare", "74.10.05.2001", 24),
            ("dbd.gejala", "74.10.01.1008", 11),
            ("imunisasi.jadwal", "74.10.02.2001", 4),
            ("emergency", "74.10.01.1008", 10),
        ):
            for n in range(people):
                await record_turn(
                    redis,
                    prefix,
                    intent=topic,
                    user=f"{topic}-{desa}-{n}",
                    region_code=desa,
                    when=now - (n // 12) * 7 * 86400,  # 12 a week: most cells shown
                )
    finally:
        await redis.aclose()


def _fits(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], page.url


def test_inbox_and_dashboard_screens(gateway: Gateway, login: Login) -> None:
    run_async(_fill(gateway.prefix))
    page = login(gateway.url, "dinkes")
    page.get_by_role("navigation").get_by_role("link", name="Kotak masuk").click()
    expect(page.locator(".question", has_text="[telepon]")).to_be_visible()
    screenshot(page, "console-inbox-desktop", full_page=True)
    page.get_by_role("navigation").get_by_role("link", name="Dasbor").click()
    page.get_by_label("Tingkat").select_option("kecamatan")
    page.get_by_role("button", name="Tampilkan").click()
    expect(page.locator("td.hidden-cell").first).to_have_text("<10")
    screenshot(page, "console-dashboard-desktop", full_page=True)

    phone = login(gateway.url, "dinkes", viewport=PHONE)
    phone.goto(f"{gateway.url}console/inbox")
    screenshot(phone, "console-inbox-phone", full_page=True)
    _fits(phone)
    phone.goto(f"{gateway.url}console/dashboard?tingkat=desa")
    screenshot(phone, "console-dashboard-phone", full_page=True)
    _fits(phone)
