"""The content editor pages: list by cluster, edit with errors in Indonesian, four-eyes
review, history with a diff, rollback."""

from __future__ import annotations

from actions.content import FaqEntry
from bot.console.entryform import form_values
from tests.console.conftest import Browser, ConsoleSite

TOPIC = "kebersihan.cuci_tangan"
EDITOR = f"/console/content/{TOPIC}"


def fields(entry: FaqEntry, **changes: str) -> dict[str, str]:
    """The editor form as a browser posts it, from an entry with some fields changed."""
    values = form_values(entry)
    form = {"title": values["title"], "answer": values["answer"], "reviewed": values["reviewed"]}
    form["notes"] = values["notes"]
    for row, source in enumerate(values["sources"]):
        for key in ("title", "issuer", "year", "url"):
            form[f"source-{row}-{key}"] = str(source[key] or "")
    for index, topic in enumerate(values["related"]):
        form[f"related-{index}"] = topic
    return {**form, **changes}


async def published(site: ConsoleSite) -> FaqEntry:
    entry = await site.console.store.get(TOPIC)
    assert entry is not None
    return entry


async def promoter(site: ConsoleSite, name: str) -> Browser:
    await site.account(name, "promoter")
    browser = site.browser()
    await browser.login(name)
    return browser


async def test_topics_are_listed_by_ilp_cluster(site: ConsoleSite) -> None:
    page = await (await promoter(site, "ani")).get("/console/content")
    text = page.text
    clusters = [
        "Klaster 2: Ibu dan Anak",
        "Klaster 3: Usia Dewasa dan Lansia",
        "Klaster 4: Penanggulangan Penyakit Menular",
        "Lintas Klaster",
    ]
    assert [text.index(c) for c in clusters] == sorted(text.index(c) for c in clusters)
    cluster4 = text[text.index(clusters[2]) : text.index(clusters[3])]
    assert "Cuci tangan pakai sabun" in cluster4 and "Gejala TBC" in cluster4


async def test_the_editor_shows_the_count_and_the_preview(site: ConsoleSite) -> None:
    page = await (await promoter(site, "ani")).get(EDITOR)
    entry = await published(site)
    assert f'data-count-for="answer">{len(entry.answer)}</output> / 700' in page.text
    for channel in ("WhatsApp", "Telegram", "Web chat"):
        assert f"<h3>{channel}</h3>" in page.text
    assert "Sumber: " in page.text


async def test_bad_input_gets_indonesian_errors_and_keeps_what_was_typed(
    site: ConsoleSite,
) -> None:
    browser = await promoter(site, "ani")
    await browser.get(EDITOR)
    entry = await published(site)
    too_long = "Cuci tangan. " * 60
    form = fields(entry, answer=too_long, reviewed="2999-01-01", **{"source-0-issuer": "Blog"})
    page = await browser.post(EDITOR, form)
    assert page.status == 400
    assert "Jawaban maksimal 700 karakter." in page.text
    assert "Tanggal review tidak boleh di masa depan." in page.text
    assert "Sumber ke-1: pilih penerbit dari daftar." in page.text
    assert too_long.strip() in page.text
    assert await site.console.content.draft(TOPIC) is None


async def test_html_in_an_answer_is_shown_as_text(site: ConsoleSite) -> None:
    browser = await promoter(site, "ani")
    await browser.get(EDITOR)
    entry = await published(site)
    answer = entry.answer + " <script>alert(1)</script>"
    page = await browser.post(EDITOR, fields(entry, answer=answer))
    assert page.status == 200 and "Draf tersimpan." in page.text
    assert "<script>alert(1)" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text  # in the form, diff and preview


def shown_draft(html: str) -> str:
    """The marker of the draft on the page, which the review forms send back."""
    return html.split('name="versi" value="', 1)[1].split('"', 1)[0]


async def test_four_eyes_publish_then_history_diff_and_rollback(site: ConsoleSite) -> None:
    entry = await published(site)
    ani, budi = await promoter(site, "ani"), await promoter(site, "budi")
    await ani.get(EDITOR)
    new_answer = entry.answer + " Ajari anak sejak dini."
    page = await ani.post(EDITOR, fields(entry, answer=new_answer))
    assert "Perubahan dibanding versi terbit" in page.text
    page = await ani.post(f"{EDITOR}/submit", {})
    assert "menunggu review" in page.text and "Setujui dan terbitkan" not in page.text
    page = await ani.post(f"{EDITOR}/approve", {})
    assert page.status == 409 and "orang kedua" in page.text

    page = await budi.get(EDITOR)
    assert "Setujui dan terbitkan" in page.text
    page = await budi.post(f"{EDITOR}/approve", {"versi": shown_draft(page.text)})
    assert "Terbit!" in page.text
    assert (await published(site)).answer == new_answer

    page = await budi.get(f"{EDITOR}/history")
    assert "Versi awal dari berkas data/faq" in page.text
    assert "tanpa review baru" in page.text
    assert '<li class="added"><span aria-hidden="true">+</span>' in page.text
    page = await budi.post(f"{EDITOR}/rollback", {"version": "1"})
    assert "Versi lama diterbitkan lagi." in page.text and "Kembali ke versi 1" in page.text
    assert (await published(site)).answer == entry.answer


async def test_a_reviewer_sends_a_draft_back_with_a_comment(site: ConsoleSite) -> None:
    entry = await published(site)
    ani, budi = await promoter(site, "ani"), await promoter(site, "budi")
    await ani.get(EDITOR)
    await ani.post(EDITOR, fields(entry, title="Cuci tangan pakai sabun!"))
    await ani.post(f"{EDITOR}/submit", {})
    page = await budi.get(EDITOR)
    comment = {"comment": "Judul tanpa tanda seru, ya.", "versi": shown_draft(page.text)}
    page = await budi.post(f"{EDITOR}/reject", comment)
    assert "Draf dikembalikan" in page.text
    page = await ani.get(EDITOR)
    assert "Catatan review dari budi:" in page.text and "Judul tanpa tanda seru" in page.text


async def test_an_unknown_topic_is_a_404(site: ConsoleSite) -> None:
    page = await (await promoter(site, "ani")).get("/console/content/tidak.ada")
    assert page.status == 404 and "Halaman tidak ditemukan" in page.text
