from __future__ import annotations

import json
import time
from typing import Any

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from redis.asyncio import Redis

from actions.content import ContentStore
from actions.faq import ActionAnswerFaq
from actions.inbox import ActionLogUnanswered, UnansweredInbox, redact
from actions.posyandu.directory import Directory, MyPosyandu
from actions.posyandu.records import PosyanduRecord
from actions.pseudonym import user_key
from actions.reminders.consent import PURPOSE_POSYANDU, consent_text, record_consent
from actions.reminders.store import Contact, home_desa, subscribe_posyandu
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


def _posyandu(posyandu_id: str, village_code: str) -> PosyanduRecord:
    return PosyanduRecord(
        id=posyandu_id,
        name=f"Posyandu {posyandu_id}",
        village_code=village_code,
        lat=-4.55,
        lon=123.08,
        schedule="Selasa kedua setiap bulan, 08.00-11.00",
    )


async def _subscribe(
    redis: Redis, prefix: str, sender_id: str, posyandu_id: str, now: float
) -> None:
    user = user_key(sender_id)
    version = consent_text(PURPOSE_POSYANDU).version
    await record_consent(redis, prefix, user, PURPOSE_POSYANDU, version, now)
    contact = Contact("telegram", sender_id.partition(":")[2])
    await subscribe_posyandu(redis, prefix, user, posyandu_id, contact, now)


async def test_an_unanswered_question_keeps_only_the_kecamatan_of_the_asker(
    redis: Redis, redis_prefix: str
) -> None:
    await Directory(redis, redis_prefix).upsert([_posyandu("P-BTN", "74.10.05.2003")])
    await MyPosyandu(redis, redis_prefix).remember("web:test", "P-BTN")
    inbox = UnansweredInbox(redis, redis_prefix)
    tracker = tracker_for("nlu_fallback", 0.4, text="obat cacing untuk anak 2 tahun")
    await ActionLogUnanswered(inbox).run(CollectingDispatcher(), tracker, {})
    old = {"text": "pertanyaan lama", "intent": None, "channel": "web", "at": "", "guesses": []}
    await redis.set(inbox.item_key("old"), json.dumps(old))  # filed before regions were kept
    await redis.zadd(inbox.index_key, {"old": time.time() - 60})
    filed, earlier = await inbox.latest()
    assert filed["region"] == "74.10.05"  # the kecamatan, never the desa
    assert "74.10.05.2003" not in json.dumps(filed)
    assert earlier["text"] == "pertanyaan lama" and earlier.get("region") is None


async def test_the_home_desa_is_the_saved_posyandu_else_the_oldest_live_subscription(
    redis: Redis, redis_prefix: str
) -> None:
    directory = Directory(redis, redis_prefix)
    await directory.upsert([_posyandu("P-A", "74.10.05.2003"), _posyandu("P-B", "31.71.01.1001")])
    now = time.time()
    await _subscribe(redis, redis_prefix, "tg:2", "P-B", now - 10)
    await _subscribe(redis, redis_prefix, "tg:2", "P-A", now)
    await MyPosyandu(redis, redis_prefix).remember("tg:2", "P-A")
    await _subscribe(redis, redis_prefix, "tg:3", "P-B", now - 10)
    await _subscribe(redis, redis_prefix, "tg:3", "P-A", now)
    await MyPosyandu(redis, redis_prefix).remember("tg:4", "P-GONE")  # no longer listed

    assert await home_desa(redis, redis_prefix, "tg:2") == "74.10.05.2003"  # saved
    assert await home_desa(redis, redis_prefix, "tg:3") == "31.71.01.1001"  # oldest live
    assert await home_desa(redis, redis_prefix, "tg:4") is None
    assert await home_desa(redis, redis_prefix, "tg:5") is None
    # A subscription past its time does not count.
    record = f"{redis_prefix}u:{user_key('tg:3')}:rem"
    await redis.hset(record, "p:P-B", f"{now - 10}|{now - 1}")
    assert await home_desa(redis, redis_prefix, "tg:3") == "74.10.05.2003"
