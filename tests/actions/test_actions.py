from __future__ import annotations

import json
from typing import Any

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from redis.asyncio import Redis

from actions.content import ContentStore
from actions.faq import ActionAnswerFaq
from actions.inbox import ActionLogUnanswered, UnansweredInbox, redact
from actions.safety import ActionEmergencyFollowup
from tests.actions.conftest import tracker_for


async def test_faq_answer_has_source_and_related_buttons(store: ContentStore) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerFaq(store).run(dispatcher, tracker_for("imunisasi.jadwal"), {})
    [message] = dispatcher.messages
    assert message["text"].startswith("Imunisasi rutin bayi dimulai dari HB0")
    assert "Sumber: Buku KIA (Kemenkes RI, 2024)" in message["text"]
    assert message["buttons"] == [{"title": "Efek setelah imunisasi", "payload": "/imunisasi.kipi"}]
    assert events == [SlotSet("last_faq_id", "imunisasi.jadwal")]


async def test_edited_content_answers_without_retraining(store: ContentStore) -> None:
    entry = await store.get("imunisasi.kipi")
    assert entry is not None
    await store.put(
        entry.model_copy(
            update={"answer": "Jawaban baru yang sudah ditinjau ulang oleh promkes Puskesmas."}
        )
    )
    dispatcher = CollectingDispatcher()
    await ActionAnswerFaq(store).run(dispatcher, tracker_for("imunisasi.kipi"), {})
    assert dispatcher.messages[0]["text"].startswith(
        "Jawaban baru yang sudah ditinjau ulang oleh promkes Puskesmas."
    )


async def test_child_immunization_question_gets_the_schedule(store: ContentStore) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerFaq(store).run(dispatcher, tracker_for("ask_child_immunization"), {})
    assert "HB0" in dispatcher.messages[0]["text"]
    assert events == [SlotSet("last_faq_id", "imunisasi.jadwal")]


async def test_unpublished_topic_gets_a_polite_reply(store: ContentStore) -> None:
    await store.remove("imunisasi.kipi")
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerFaq(store).run(dispatcher, tracker_for("imunisasi.kipi"), {})
    assert dispatcher.messages[0]["response"] == "utter_topic_unpublished"
    assert events == []


async def test_redis_down_gets_a_polite_reply_not_a_crash() -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerFaq(ContentStore(dead)).run(
        dispatcher, tracker_for("imunisasi.jadwal"), {}
    )
    assert dispatcher.messages[0]["response"] == "utter_content_unavailable"
    assert events == []
    await dead.aclose()


async def test_emergency_followup_answers_the_other_question(store: ContentStore) -> None:
    ranking = [
        {"name": "emergency", "confidence": 1.0},
        {"name": "imunisasi.jadwal", "confidence": 0.81},
    ]
    dispatcher = CollectingDispatcher()
    await ActionEmergencyFollowup(store).run(dispatcher, tracker_for("emergency", 1.0, ranking), {})
    assert "HB0" in dispatcher.messages[0]["text"]


async def test_emergency_followup_stays_silent_when_unsure(store: ContentStore) -> None:
    ranking: list[dict[str, Any]] = [
        {"name": "emergency", "confidence": 1.0},
        {"name": "imunisasi.jadwal", "confidence": 0.2},
    ]
    dispatcher = CollectingDispatcher()
    await ActionEmergencyFollowup(store).run(dispatcher, tracker_for("emergency", 1.0, ranking), {})
    assert dispatcher.messages == []


async def test_emergency_followup_ignores_dialogue_intents(store: ContentStore) -> None:
    ranking = [{"name": "emergency", "confidence": 1.0}, {"name": "greet", "confidence": 0.9}]
    dispatcher = CollectingDispatcher()
    await ActionEmergencyFollowup(store).run(dispatcher, tracker_for("emergency", 1.0, ranking), {})
    assert dispatcher.messages == []


async def test_unanswered_question_is_filed_without_the_sender(
    redis: Redis, redis_prefix: str
) -> None:
    inbox = UnansweredInbox(redis, redis_prefix)
    ranking = [{"name": "nlu_fallback", "confidence": 0.4}, {"name": "bayi.asi", "confidence": 0.3}]
    tracker = tracker_for("nlu_fallback", 0.4, ranking, text="susu formula merk apa bagus")
    await ActionLogUnanswered(inbox).run(CollectingDispatcher(), tracker, {})
    [item] = await inbox.latest()
    assert item["text"] == "susu formula merk apa bagus"
    assert item["channel"] == "web"
    assert item["guesses"][1] == {"intent": "bayi.asi", "confidence": 0.3}
    assert "web:test" not in json.dumps(item)


async def test_out_of_scope_health_is_filed_with_personal_data_redacted(
    redis: Redis, redis_prefix: str
) -> None:
    inbox = UnansweredInbox(redis, redis_prefix)
    text = (
        "dok, pil kb sy lupa 2 hari gmn? wa sy 0812-3456-7890, "
        "NIK 3201234567890123, email ani.b@contoh.id"
    )
    tracker = tracker_for("out_of_scope_health", 0.8, text=text)
    await ActionLogUnanswered(inbox).run(CollectingDispatcher(), tracker, {})
    [item] = await inbox.latest()
    assert item["intent"] == "out_of_scope_health"
    assert (
        item["text"] == "dok, pil kb sy lupa 2 hari gmn? wa sy [telepon], NIK [nik], email [email]"
    )
    stored = json.dumps(item)
    for personal in ("3456", "3201234567890123", "ani.b"):
        assert personal not in stored


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("telp +62 812 3456 7890", "telp [telepon]"),
        ("hp 081234567890", "hp [telepon]"),
        (
            "anak 4 bulan berat 6,5 kg lahir 10-03-2025",
            "anak 4 bulan berat 6,5 kg lahir 10-03-2025",
        ),
        ("no bpjs 0001234567890", "no bpjs [angka]"),
    ],
)
def test_redaction_keeps_ages_weights_and_dates(text: str, expected: str) -> None:
    assert redact(text) == expected


async def test_inbox_items_expire_within_90_days_and_the_cap_holds(
    redis: Redis, redis_prefix: str
) -> None:
    inbox = UnansweredInbox(redis, redis_prefix, limit=3)
    for number in range(5):
        await inbox.add(f"pertanyaan {number}", "web", [], "out_of_scope_health")
    assert [item["text"] for item in await inbox.latest()] == [
        "pertanyaan 4",
        "pertanyaan 3",
        "pertanyaan 2",
    ]
    item_keys = [
        key async for key in redis.scan_iter(match=f"{redis_prefix}inbox:unanswered:item:*")
    ]
    assert len(item_keys) == 3
    for key in item_keys:
        assert 0 < await redis.ttl(key) <= 90 * 24 * 3600
