"""Retrain from the console, for real: a promoter's deliberately bad training examples
give a worse model, which the quality gate refuses, and the assistant keeps the
model it had. Then a rollback loads a model into the running Rasa while the web chat
keeps answering (the model loads beside the one in use: no downtime).

The whole stack runs with its retrain worker (nlu/retrain.py); it finetunes the
shipped model for RETRAIN_EPOCH_FRACTION of the configured epochs (CI's time).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
import uuid
from typing import Any

import pytest
from playwright.sync_api import expect
from redis.asyncio import Redis

from bench.overlap import training_examples
from bot.console.inbox import ExampleStore, InboxError
from bot.console.state import Console
from scripts.stack import MODEL, Stack
from tests.browser.conftest import Login, run_async, screenshot
from tests.conftest import TEST_REDIS_URL

# A promoter's mistake, made on purpose: the training questions of six pairs of topics
# added again under each other's label (dengue as TB, TB as dengue, ...). The candidate
# learns contradictions and confuses each pair.
SWAPPED = (
    ("dbd.gejala", "tbc.gejala"),
    ("imunisasi.jadwal", "imunisasi.kejar"),
    ("ptm.hipertensi", "ptm.diabetes"),
    ("kehamilan.gizi", "bayi.mpasi"),
    ("balita.diare", "ispa.pencegahan"),
    ("jiwa.stres", "lansia.sehat"),
)
RETRAIN_MINUTES = 25


def deliberately_bad_examples() -> list[tuple[str, str]]:
    other = {a: b for a, b in SWAPPED} | {b: a for a, b in SWAPPED}
    return [
        (other[example.intent], example.text)
        for example in training_examples()
        if example.intent in other and "[" not in example.text
    ]


async def _add_examples(prefix: str, examples: list[tuple[str, str]]) -> int:
    redis = Redis.from_url(TEST_REDIS_URL)
    try:
        console = Console.open(redis, prefix)
        store = ExampleStore(redis, prefix, console.audit)
        intents = {intent for intent, _ in examples}
        added = 0
        for intent, text in examples:
            try:
                await store.add("ani", intent, text, intents)
                added += 1
            except InboxError:  # too close to a held-out sentence: the store refuses it
                pass
        return added
    finally:
        await redis.aclose()


def rasa_status(stack: Stack) -> dict[str, Any]:
    """The model Rasa uses (the model route of our channel)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.rasa_port}/webhooks/gateway/model",
        headers={"Authorization": f"Bearer {stack.rasa_api_token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return dict(json.loads(answer.read()))


def chat(stack: Stack, text: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{stack.chat_url}api/v1/chat",
        data=json.dumps({"user_id": uuid.uuid4().hex, "text": text}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {stack.api_key}"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return dict(json.loads(answer.read()))


@pytest.mark.timeout(RETRAIN_MINUTES * 60 + 300)
def test_bad_examples_are_refused_by_the_gate_and_the_old_model_stays(
    stack: Stack, login: Login
) -> None:
    added = run_async(_add_examples(stack.redis_prefix, deliberately_bad_examples()))
    assert added >= 500
    before = rasa_status(stack)["model_file"]
    asked = chat(stack, "apa saja gejala demam berdarah")["intent"]

    ani = login(stack.chat_url, "ani")
    ani.goto(f"{stack.chat_url}console/model")
    retrain = ani.locator("section[aria-labelledby=latih]")
    expect(retrain).to_contain_text(f"{added} contoh latihan")
    ani.get_by_role("button", name="Latih ulang").click()
    expect(ani.locator(".notice")).to_contain_text("masuk antrean")
    expect(retrain).to_contain_text("Melatih model", timeout=180_000)
    screenshot(ani, "console-model-training-desktop")
    # The page reloads itself every few seconds while the job runs.
    refused = ani.locator("tr.job-ditolak")
    expect(refused).to_have_count(1, timeout=RETRAIN_MINUTES * 60_000)
    reason = refused.locator("td[data-label=Keterangan]").inner_text()
    assert "Macro-F1 pada data uji turun dari" in reason
    assert "Model lama tetap dipakai" in reason
    screenshot(ani, "console-model-desktop", full_page=True)

    assert rasa_status(stack)["model_file"] == before
    assert chat(stack, "apa saja gejala demam berdarah")["intent"] == asked
    assert not list(stack.models_dir.glob("*.tar.gz"))  # the refused model is deleted


async def _history(prefix: str, entry: dict[str, str]) -> None:
    redis = Redis.from_url(TEST_REDIS_URL)
    try:
        await redis.lpush(f"{prefix}console:model:history", json.dumps(entry))
    finally:
        await redis.aclose()


def test_rollback_loads_a_model_while_the_chat_keeps_answering(stack: Stack, login: Login) -> None:
    copy = stack.models_dir / "console-earlier.tar.gz"
    copy.write_bytes(MODEL.read_bytes())  # an earlier model, as a past retrain left it
    run_async(
        _history(
            stack.redis_prefix,
            {"path": str(copy), "name": copy.name, "job": "", "loaded_at": "", "by": "ani"},
        )
    )
    answers: list[str] = []
    failures: list[BaseException] = []
    done = threading.Event()

    def keep_asking() -> None:
        while not done.is_set():
            try:
                answers.append(chat(stack, "jadwal imunisasi bayi")["intent"])
            except Exception as error:  # any failure is downtime
                failures.append(error)
            time.sleep(0.2)

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        budi = login(stack.chat_url, "budi")
        budi.goto(f"{stack.chat_url}console/model")
        # The page answers once Rasa has loaded the model (tens of seconds).
        budi.get_by_role("button", name="Kembalikan").first.click(timeout=180_000)
        expect(budi.locator(".notice")).to_contain_text("sudah dipakai lagi", timeout=180_000)
        time.sleep(2)
    finally:
        done.set()
        asker.join()
    assert rasa_status(stack)["model_file"] == copy.name
    assert not failures, failures[:3]
    assert len(answers) >= 5 and len(set(answers)) == 1  # the same model, always answering
