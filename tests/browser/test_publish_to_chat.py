"""An answer published in the console is what the web chat says next, at once, and a
rollback brings the old answer back: the whole stack (Rasa, action server, gateway)."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from scripts.stack import Stack
from tests.browser.conftest import PHONE, Login

TOPIC = "ptm.cerdik"
QUESTION = "cerdik itu apa"
ADDED = "Ajak keluarga ikut, ya."


def ask(chat: Page, question: str, answers_before: int) -> str:
    """Type a question on the web chat page; the text of the FAQ answer it gets."""
    chat.get_by_placeholder("Tulis pertanyaan").fill(question)
    chat.get_by_role("button", name="Kirim").click()
    answers = chat.locator(".bot .bubble", has_text="Sumber:")
    expect(answers).to_have_count(answers_before + 1, timeout=30_000)
    return answers.last.inner_text()


def test_a_published_answer_is_live_in_the_web_chat_and_rollback_undoes_it(
    stack: Stack, login: Login, chromium: Browser
) -> None:
    editor = f"{stack.chat_url}console/content/{TOPIC}"
    ani = login(stack.chat_url, "ani")
    ani.goto(editor)
    answer = ani.get_by_label("Jawaban")
    answer.fill(f"{answer.input_value()} {ADDED}")
    ani.get_by_role("button", name="Simpan draf").click()
    ani.get_by_role("button", name="Ajukan review").click()
    budi = login(stack.chat_url, "budi")
    budi.goto(editor)
    budi.get_by_role("button", name="Setujui dan terbitkan").click()
    expect(budi.locator(".notice")).to_contain_text("Terbit!")

    chat = chromium.new_page(viewport=PHONE)  # type: ignore[arg-type]
    chat.goto(stack.chat_url)
    assert ADDED in ask(chat, QUESTION, 0)

    budi.goto(f"{editor}/history")
    budi.get_by_role("button", name="Terbitkan lagi versi 1").click()
    expect(budi.locator(".notice")).to_have_text("Versi lama diterbitkan lagi.")
    again = ask(chat, QUESTION, 1)
    assert ADDED not in again and again.startswith("CERDIK adalah 6 kebiasaan")
    chat.close()
