"""Draft, four-eyes review, publish, history and rollback; and console edits surviving
the start-up publish of data/faq."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from redis.asyncio import Redis

from actions import content as content_cli
from actions.content import ContentStore, FaqEntry, load_entries
from bot.console.content import WorkflowError
from bot.console.diff import diff_entries
from bot.console.state import Console
from tests.conftest import TEST_REDIS_URL
from tests.console.conftest import FAQ

TOPIC = "imunisasi.kipi"
NEW_ANSWER = (
    "Demam ringan, bengkak atau kemerahan di bekas suntikan itu wajar dan hilang dalam 1-2 hari."
    " Kompres air biasa dan beri ASI lebih sering."
)


@pytest.fixture
async def console(redis: Redis, redis_prefix: str) -> Console:
    await ContentStore(redis, redis_prefix).publish(load_entries(FAQ))
    return Console.open(redis, redis_prefix)


async def edited(console: Console, answer: str = NEW_ANSWER) -> FaqEntry:
    entry = await console.store.get(TOPIC)
    assert entry is not None
    return entry.model_copy(update={"answer": answer})


async def publish_new_answer(console: Console, answer: str = NEW_ANSWER) -> None:
    await console.content.save("ani", await edited(console, answer))
    await console.content.submit("ani", TOPIC)
    await console.content.approve("budi", TOPIC)


async def test_a_second_person_approves_and_the_answer_is_live_at_once(console: Console) -> None:
    original = await console.store.get(TOPIC)
    await console.content.save("ani", await edited(console))
    assert await console.store.get(TOPIC) == original  # a draft changes nothing yet
    with pytest.raises(WorkflowError, match="belum diajukan"):
        await console.content.approve("budi", TOPIC)
    await console.content.submit("ani", TOPIC)
    with pytest.raises(WorkflowError, match="orang kedua"):
        await console.content.approve("ani", TOPIC)
    version = await console.content.approve("budi", TOPIC)
    published = await console.store.get(TOPIC)
    assert published is not None and published.answer == NEW_ANSWER
    assert await console.content.draft(TOPIC) is None
    assert (version.number, version.author, version.approver) == (2, "ani", "budi")
    first = await console.content.version(TOPIC, 1)
    assert first is not None and first.entry == original and first.author == "data/faq"


async def test_everyone_who_edited_the_draft_is_an_author(console: Console) -> None:
    await console.content.save("ani", await edited(console))
    await console.content.save("budi", await edited(console, NEW_ANSWER + " Tetap ke Posyandu."))
    await console.content.submit("ani", TOPIC)
    with pytest.raises(WorkflowError, match="orang kedua"):
        await console.content.approve("budi", TOPIC)
    assert (await console.content.approve("citra", TOPIC)).approver == "citra"


async def test_rejecting_needs_a_comment_and_returns_the_draft(console: Console) -> None:
    await console.content.save("ani", await edited(console))
    await console.content.submit("ani", TOPIC)
    with pytest.raises(WorkflowError, match="alasan"):
        await console.content.reject("budi", TOPIC, "  ")
    draft = await console.content.reject("budi", TOPIC, "Tambahkan kapan harus ke Puskesmas.")
    assert draft.status == "draft" and draft.comment == "Tambahkan kapan harus ke Puskesmas."
    assert (await console.content.draft(TOPIC)) == draft


async def test_rollback_publishes_an_earlier_version_as_a_new_one(console: Console) -> None:
    original = await console.store.get(TOPIC)
    await publish_new_answer(console)
    version = await console.content.rollback("budi", TOPIC, 1)
    assert await console.store.get(TOPIC) == original
    assert (version.number, version.note, version.approver) == (3, "Kembali ke versi 1", None)
    assert [v.number for v in await console.content.history(TOPIC)] == [3, 2, 1]
    with pytest.raises(WorkflowError, match="tidak ada"):
        await console.content.rollback("budi", TOPIC, 9)
    actions = [e.action for e in await console.audit.latest()]
    assert actions[:2] == ["konten.dikembalikan", "konten.diterbitkan"]


async def test_the_diff_shows_removed_and_added_lines(console: Console) -> None:
    before = await console.store.get(TOPIC)
    assert before is not None
    after = before.model_copy(update={"answer": "Baris baru <b>tebal</b>.\n" + before.answer})
    lines = diff_entries(before, after)
    assert [line.text for line in lines if line.kind == "added"] == ["Baris baru <b>tebal</b>."]
    assert not [line for line in lines if line.kind == "removed"]


async def test_console_edits_survive_the_start_up_publish(
    console: Console,
    redis_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await publish_new_answer(console)
    other = await console.store.get("ptm.cerdik")
    # What scripts/stack.py and the Dockerfile run at every start.
    monkeypatch.setenv("REDIS_URL", TEST_REDIS_URL)
    monkeypatch.setenv("KS_REDIS_PREFIX", redis_prefix)
    assert await asyncio.to_thread(content_cli.main, ["publish", str(FAQ)]) == 0
    assert f"Kept 1 newer edit(s) from the console: {TOPIC}." in capsys.readouterr().out
    published = await console.store.get(TOPIC)
    assert published is not None and published.answer == NEW_ANSWER
    assert await console.store.get("ptm.cerdik") == other


async def test_a_file_reviewed_after_the_console_edit_wins(console: Console) -> None:
    await publish_new_answer(console)
    files = load_entries(FAQ)
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    files[TOPIC] = files[TOPIC].model_copy(update={"reviewed": tomorrow})
    assert await console.store.publish(files) == []
    assert await console.store.get(TOPIC) == files[TOPIC]
    # The newer file is not undone by the next start either.
    assert await console.store.publish(files) == []
