"""The unanswered inbox page: grouping, scope, and the three actions on a group."""

from __future__ import annotations

import re

from actions.inbox import RETENTION, UnansweredInbox
from bot.console.inbox import export_examples
from tests.console.conftest import Browser, ConsoleSite

OWN = "74.10.01"
GUESS = [{"name": "dbd.gejala", "confidence": 0.41}]


async def user(site: ConsoleSite, name: str, role: str, regions: tuple[str, ...] = ()) -> Browser:
    await site.account(name, role, regions)
    browser = site.browser()
    await browser.login(name)
    return browser


async def filed(site: ConsoleSite) -> None:
    inbox = UnansweredInbox(site.redis, site.prefix)
    await inbox.add("apa obat demam berdarah untuk anak", "web", GUESS, region=f"{OWN}.1008")
    await inbox.add("obat demam berdarah anak apa ya", "web", GUESS, region=f"{OWN}.1009")
    await inbox.add("hubungi saya 081234567890 soal kutu rambut", "telegram", [], region="74.10.05")


def leads(text: str) -> list[str]:
    return re.findall(r'action="/console/inbox/([0-9a-f]+)/abaikan"', text)


async def test_groups_are_shown_redacted_with_counts(site: ConsoleSite) -> None:
    await filed(site)
    promoter = await user(site, "ani", "promoter")
    page = await promoter.get("/console/inbox")
    assert page.status == 200
    assert "2×" in page.text and "demam berdarah" in page.text
    assert "[telepon]" in page.text and "081234567890" not in page.text
    assert len(leads(page.text)) == 2


async def test_a_kader_may_not_open_it_and_an_officer_sees_their_kecamatan(
    site: ConsoleSite,
) -> None:
    await filed(site)
    kader = await user(site, "kader1", "kader", ("PY74100110081",))
    assert (await kader.get("/console/inbox")).status == 403
    officer = await user(site, "sari", "puskesmas", (OWN,))
    page = await officer.get("/console/inbox")
    assert "demam berdarah" in page.text and "kutu rambut" not in page.text
    assert leads(page.text) == []  # officers read; promoters act


async def test_adding_an_example_hides_the_group_and_keeps_the_example(site: ConsoleSite) -> None:
    await filed(site)
    promoter = await user(site, "ani", "promoter")
    page = await promoter.get("/console/inbox")
    lead = re.search(r'action="/console/inbox/([0-9a-f]+)/contoh"', page.text)
    assert lead and 'value="dbd.gejala" selected' in page.text  # the model's guess
    path = f"/console/inbox/{lead.group(1)}/contoh"

    refused = await promoter.post(path, {"intent": "dbd.gejala", "text": "x"}, csrf=None)
    assert refused.status == 403 and await export_examples(site.redis, site.prefix) == []
    wrong = await promoter.post(path, {"intent": "tidak_ada", "text": "obat demam berdarah"})
    assert wrong.status == 409 and "Pilih topik atau maksud yang ada di daftar." in wrong.text

    await promoter.get("/console/inbox")
    text = "apa obat demam berdarah untuk anak, wa 081234567890"
    page = await promoter.post(path, {"intent": "dbd.gejala", "text": text})
    assert "Ditambahkan sebagai contoh latihan." in page.text
    assert "demam berdarah" not in page.text and "kutu rambut" in page.text
    assert await export_examples(site.redis, site.prefix) == [
        ("dbd.gejala", "apa obat demam berdarah untuk anak, wa [telepon]")
    ]
    handled = await promoter.get("/console/inbox?tampil=ditangani")
    assert "demam berdarah" in handled.text and "dijadikan contoh latihan" in handled.text
    [entry] = [e for e in await site.console.audit.latest(10) if e.action == "inbox.contoh"]
    assert entry.actor == "ani" and entry.after["pertanyaan"] == 2
    # the audit log outlives the inbox's 90 days: it names the item, not the question
    assert "demam" not in str(entry)

    marks = [k async for k in site.redis.scan_iter(match=f"{site.prefix}console:inbox:mark:*")]
    assert len(marks) == 2
    for key in marks:  # a mark goes when its question goes (90 days)
        assert 0 < await site.redis.ttl(key) <= RETENTION.total_seconds()


async def test_dismiss_and_needs_content_hide_a_group(site: ConsoleSite) -> None:
    await filed(site)
    promoter = await user(site, "ani", "promoter")
    page = await promoter.get("/console/inbox")
    first, second = leads(page.text)
    page = await promoter.post(f"/console/inbox/{first}/abaikan", {})
    assert "Diabaikan." in page.text and len(leads(page.text)) == 1
    page = await promoter.post(f"/console/inbox/{second}/konten", {})
    assert "Tidak ada pertanyaan yang menunggu." in page.text
    again = await promoter.post(f"/console/inbox/{second}/abaikan", {"csrf": page.csrf})
    assert again.status == 409 and "sudah ditangani" in again.text
    handled = await promoter.get("/console/inbox?tampil=ditangani")
    assert "diabaikan" in handled.text and "perlu konten baru" in handled.text
