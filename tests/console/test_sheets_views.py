"""The spreadsheet pages: who may use them, upload -> report -> apply, progress, scope."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from pathlib import Path

from aiohttp import FormData
from openpyxl import load_workbook
from yarl import URL

from actions.posyandu.directory import Directory
from actions.posyandu.importer import import_file
from actions.posyandu.regions import Regions
from bot.app import MAX_BODY_BYTES
from tests.console.conftest import Browser, ConsoleSite, Page

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "posyandu" / "buton_utara.csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
OWN = "74.10.01"  # the officer's kecamatan


async def user(site: ConsoleSite, name: str, role: str, regions: tuple[str, ...] = ()) -> Browser:
    await site.account(name, role, regions)
    browser = site.browser()
    await browser.login(name)
    return browser


async def download(browser: Browser, path: str) -> bytes:
    response = await browser.session.get(browser.server.make_url(path))
    assert response.status == 200, await response.text()
    assert response.headers["Content-Disposition"].startswith("attachment;")
    return await response.read()


async def upload(
    browser: Browser, kind: str, filename: str, data: bytes, csrf: bool = True
) -> Page:
    """Post the upload form as a browser does: the CSRF field first, then the file."""
    page = await browser.get("/console/sheets")
    form = FormData()
    if csrf:
        form.add_field("csrf", page.csrf)
    form.add_field("berkas", data, filename=filename, content_type="application/octet-stream")
    url = browser.server.make_url(f"/console/sheets/{kind}/upload")
    response = await browser.session.post(url, data=form)
    browser.page = Page(response.status, await response.text(), str(response.url))
    return browser.page


async def until_done(browser: Browser, page: Page) -> Page:
    """Follow the progress page as its meta refresh does, until the job is no longer running."""
    for _ in range(100):
        if 'http-equiv="refresh"' not in page.text:
            return page
        await asyncio.sleep(0.1)
        page = await browser.get(page.url)
    raise AssertionError("the job did not finish")


def report_row(page: Page, row: int) -> str:
    """The text of one report row (by its spreadsheet row number)."""
    found = re.search(rf'<td data-label="Baris">{row}</td>(.*?)</tr>', page.text, re.S)
    assert found, f"row {row} is in the report"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1)))


def edited_xlsx(data: bytes, cells: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """The workbook with cells changed, and the topic id of each changed row."""
    book = load_workbook(io.BytesIO(data))
    sheet = book["FAQ"]
    ids = {ref: str(sheet[f"A{ref[1:]}"].value) for ref in cells}
    for ref, value in cells.items():
        sheet[ref] = value
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue(), ids


async def test_a_kader_may_not_open_the_sheets(site: ConsoleSite) -> None:
    kader = await user(site, "kader1", "kader", ("PY74100110081",))
    assert (await kader.get("/console/sheets")).status == 403
    assert (await kader.get("/console/sheets/faq.xlsx")).status == 403
    assert (await kader.get("/console/sheets/posyandu.csv")).status == 403


async def test_each_role_sees_its_own_sheets(site: ConsoleSite) -> None:
    promoter = await user(site, "ani", "promoter")
    page = await promoter.get("/console/sheets")
    assert "Konten FAQ" in page.text and "Direktori Posyandu" not in page.text
    assert (await promoter.get("/console/sheets/posyandu.xlsx")).status == 403
    officer = await user(site, "sari", "puskesmas", (OWN,))
    page = await officer.get("/console/sheets")
    assert "Direktori Posyandu" in page.text and "Konten FAQ" not in page.text
    assert "Hanya Posyandu di wilayah Anda (74.10.01)" in page.text


async def test_an_upload_without_the_csrf_token_is_refused(site: ConsoleSite) -> None:
    promoter = await user(site, "ani", "promoter")
    data = await download(promoter, "/console/sheets/faq.csv")
    page = await upload(promoter, "faq", "faq.csv", data, csrf=False)
    assert page.status == 403
    assert "Formulir ini sudah kedaluwarsa" in page.text
    assert [k async for k in site.redis.scan_iter(match=f"{site.prefix}console:sheetjob*")] == []


async def test_the_report_shows_bad_rows_and_nothing_changes_until_applied(
    site: ConsoleSite,
) -> None:
    promoter = await user(site, "ani", "promoter")
    data = await download(promoter, "/console/sheets/faq.xlsx")
    edited, ids = edited_xlsx(
        data,
        {"C3": "Jawaban baru yang cukup panjang untuk lolos pemeriksaan, ya.", "C5": "Pendek."},
    )
    page = await upload(promoter, "faq", "faq.xlsx", edited)
    assert page.status == 200 and "/console/sheets/job/" in page.url
    assert "berubah" in report_row(page, 3)
    assert "galat" in report_row(page, 5)
    assert "jawaban: terlalu pendek (paling sedikit 40 karakter)" in report_row(page, 5)
    assert "Terapkan 1 baris" in page.text
    assert await site.console.content.draft(ids["C3"]) is None  # nothing yet

    page = await promoter.post(URL(page.url).path + "/apply", {})
    page = await until_done(promoter, page)
    assert "1 draf dibuat" in page.text
    draft = await site.console.content.draft(ids["C3"])
    assert draft is not None and draft.status == "draft" and draft.editors == ("ani",)
    assert draft.entry.answer.startswith("Jawaban baru yang cukup panjang")
    published = await site.console.store.get(ids["C3"])
    assert published is not None and not published.answer.startswith("Jawaban baru")
    assert await site.console.content.draft(ids["C5"]) is None
    actions = [e.action for e in await site.console.audit.latest(10)]
    assert "lembar.faq_diterapkan" in actions and "konten.draf_disimpan" in actions

    again = await promoter.post(URL(page.url).path + "/apply", {})
    assert "1 draf dibuat" in again.text  # a second click applies nothing twice


async def test_a_job_belongs_to_the_session_that_uploaded_it(site: ConsoleSite) -> None:
    ani = await user(site, "ani", "promoter")
    data = await download(ani, "/console/sheets/faq.csv")
    page = await upload(ani, "faq", "faq.csv", data)
    assert "tidak berubah" in page.text and "Tidak ada yang perlu diterapkan" in page.text
    budi = await user(site, "budi", "promoter")
    assert (await budi.get(URL(page.url).path)).status == 404


async def test_a_wrong_file_gets_a_clear_message(site: ConsoleSite) -> None:
    promoter = await user(site, "ani", "promoter")
    page = await upload(promoter, "faq", "foto.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    page = await until_done(promoter, page)
    assert "File ini bukan XLSX atau CSV" in page.text
    page = await upload(promoter, "faq", "kosong.csv", b"")
    assert page.status == 400 and "Pilih file XLSX atau CSV dulu." in page.text


async def test_an_officer_imports_a_large_posyandu_sheet_of_their_own_area(
    site: ConsoleSite,
) -> None:
    directory = Directory(site.redis, site.prefix)
    counts, errors = await import_file(directory, DEMO, Regions(), progress=False)
    assert errors == [] and counts.added > 200
    officer = await user(site, "sari", "puskesmas", (OWN,))
    exported = await download(officer, "/console/sheets/posyandu.csv")
    rows = list(csv.reader(io.StringIO(exported.decode("utf-8-sig"))))
    header, own = rows[0], rows[1:]
    assert own and all(row[header.index("kode_desa")].startswith(f"{OWN}.") for row in own)

    template = dict(zip(header, own[0], strict=True))
    new = [
        {**template, "id": f"PYUJI{n:04d}", "nama": f"Posyandu Uji {n}", "alamat": "x" * 60}
        for n in range(700)
    ]
    outside = {**template, "id": "PYLUAR0001", "kode_desa": "74.10.05.2001"}
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header)
    writer.writeheader()
    writer.writerows([*new, outside])
    data = buffer.getvalue().encode()
    assert len(data) > MAX_BODY_BYTES  # larger than the gateway accepts elsewhere

    page = await until_done(officer, await upload(officer, "posyandu", "posyandu.csv", data))
    assert "Terapkan 700 baris" in page.text
    assert "di luar wilayah akun Anda" in report_row(page, 702)
    assert await directory.get("PYUJI0000") is None

    page = await officer.post(URL(page.url).path + "/apply", {})
    page = await until_done(officer, page)
    assert "700 Posyandu ditambah, 0 diubah." in page.text
    assert await directory.get("PYUJI0699") is not None
    assert await directory.get("PYLUAR0001") is None
    [entry] = [e for e in await site.console.audit.latest(5) if e.action.endswith("diterapkan")]
    assert entry.actor == "sari" and entry.after["ditambah"] == 700
    # every record written is in the audit log with before (None: new) and after
    rows = [e for e in await site.console.audit.latest(20) if e.action == "lembar.posyandu_baris"]
    after = {pid: record for e in rows for pid, record in e.after.items()}
    assert len(after) == 700 and after["PYUJI0699"]["name"] == "Posyandu Uji 699"
    assert all(record is None for e in rows for record in e.before.values())
