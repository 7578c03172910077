"""The console pages in chromium, against the gateway process and real Redis."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect
from redis.asyncio import Redis

from actions.content import ContentStore, FaqEntry
from tests.browser.conftest import PHONE, Gateway, Login, run_async, screenshot
from tests.conftest import TEST_REDIS_URL

TOPIC = "kebersihan.cuci_tangan"
ADDED = "Ajari anak sejak dini, ya."


def published(gateway: Gateway, topic: str = TOPIC) -> FaqEntry:
    async def read() -> FaqEntry | None:
        redis = Redis.from_url(TEST_REDIS_URL)
        try:
            return await ContentStore(redis, gateway.prefix).get(topic)
        finally:
            await redis.aclose()

    entry = run_async(read())
    assert entry is not None
    return entry


def test_the_login_page_refuses_a_wrong_password(gateway: Gateway, chromium: Browser) -> None:
    page = chromium.new_page(viewport=PHONE)  # type: ignore[arg-type]
    page.goto(f"{gateway.url}console/")
    expect(page.get_by_role("heading", name="Masuk ke konsol")).to_be_visible()
    screenshot(page, "console-login")
    page.get_by_label("Nama pengguna").fill("ani")
    page.get_by_label("Kata sandi").fill("bukan-sandinya")
    page.get_by_role("button", name="Masuk").click()
    expect(page.get_by_role("alert")).to_have_text("Nama pengguna atau kata sandi salah.")
    page.close()


def test_edit_review_publish_history_and_rollback(gateway: Gateway, login: Login) -> None:
    before = published(gateway)
    ani = login(gateway.url, "ani")
    ani.get_by_role("link", name="Konten", exact=True).click()
    expect(
        ani.get_by_role("heading", name="Klaster 4: Penanggulangan Penyakit Menular")
    ).to_be_visible()
    screenshot(ani, "console-content")
    ani.get_by_role("link", name=re.compile("Cuci tangan pakai sabun")).click()

    answer = ani.get_by_label("Jawaban")
    counter = ani.locator('output[data-count-for="answer"]')
    expect(counter).to_have_text(str(len(before.answer)))
    answer.fill(f"{before.answer} {ADDED}")
    expect(counter).to_have_text(str(len(before.answer) + 1 + len(ADDED)))  # counted live
    ani.get_by_role("button", name="Simpan draf").click()
    expect(ani.locator(".notice")).to_have_text("Draf tersimpan.")
    expect(ani.locator(".phone.whatsapp .bubble").first).to_contain_text(ADDED)
    ani.get_by_role("button", name="Ajukan review").click()
    expect(ani.get_by_text("Review harus oleh orang kedua")).to_be_visible()
    assert published(gateway).answer == before.answer  # nothing is live before approval

    budi = login(gateway.url, "budi")
    budi.goto(f"{gateway.url}console/content/{TOPIC}")
    budi.locator(".columns").evaluate("columns => columns.scrollIntoView()")
    screenshot(budi, "console-editor-desktop")
    phone = login(gateway.url, "budi", viewport=PHONE)
    phone.goto(f"{gateway.url}console/content/{TOPIC}#pratinjau")
    screenshot(phone, "console-editor-phone")
    budi.get_by_role("button", name="Setujui dan terbitkan").click()
    expect(budi.locator(".notice")).to_contain_text("Terbit!")
    assert published(gateway).answer.endswith(ADDED)

    budi.get_by_role("link", name="Riwayat versi dan rollback").click()
    expect(budi.locator(".diff .added")).to_contain_text(ADDED)
    screenshot(budi, "console-history", full_page=True)
    budi.get_by_role("button", name="Terbitkan lagi versi 1").click()
    expect(budi.locator(".notice")).to_have_text("Versi lama diterbitkan lagi.")
    assert published(gateway).answer == before.answer

    admin = login(gateway.url, "dinkes")
    admin.get_by_role("link", name="Audit", exact=True).click()
    rollback = admin.locator("tr", has_text="konten.dikembalikan").first
    expect(rollback).to_contain_text("budi")
    rollback.locator("summary").first.click()  # the answer before the rollback
    expect(rollback.locator("pre").first).to_contain_text(ADDED)
    screenshot(admin, "console-audit")


def test_a_kader_cannot_open_the_content_editor_or_another_posyandu(
    gateway: Gateway, login: Login
) -> None:
    kader = login(gateway.url, "kader1", viewport=PHONE)
    expect(kader.get_by_role("link", name="Konten", exact=True)).to_have_count(0)
    response = kader.goto(f"{gateway.url}console/content/{TOPIC}")
    assert response is not None and response.status == 403
    expect(kader.get_by_text("Halaman ini bukan untuk peran Anda.")).to_be_visible()
    # kader1 serves PY74100110081 only (tests/browser/conftest.py)
    response = kader.goto(f"{gateway.url}console/kader/PY74100110082/siaran")
    assert response is not None and response.status == 403


def test_a_post_without_the_csrf_token_is_refused(gateway: Gateway, login: Login) -> None:
    page: Page = login(gateway.url, "ani")
    before = published(gateway, "ptm.rokok")
    url = f"{gateway.url}console/content/ptm.rokok"
    form: dict[str, str | float | bool] = {"title": "Diubah tanpa token", "answer": "x" * 50}
    response = page.request.post(url, form=form)  # the session cookie, but no token
    assert response.status == 403
    assert "Formulir ini sudah kedaluwarsa atau tidak sah" in response.text()
    response = page.request.post(f"{url}/submit", form={"csrf": "tebakan"})
    assert response.status == 403
    assert published(gateway, "ptm.rokok") == before


def test_pages_fit_a_phone(gateway: Gateway, login: Login) -> None:
    """No page scrolls sideways on a 390-pixel phone."""
    page = login(gateway.url, "dinkes", viewport=PHONE)
    for path in (
        "console/",
        "console/content",
        f"console/content/{TOPIC}",
        "console/accounts",
        "console/audit",
        f"console/content/{TOPIC}/history",
    ):
        page.goto(f"{gateway.url}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], path
