"""The reminder and immunization actions as a user meets them in the chat (real Redis)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from redis.asyncio import Redis

from actions.posyandu.directory import Directory
from actions.pseudonym import user_key
from actions.reminders import store
from actions.reminders.actions import (
    ActionChildDoseDone,
    ActionChildImmunization,
    ActionConsent,
    ActionRegisterChild,
    ActionSubscribePosyandu,
)
from tests.reminders_store.conftest import at

NOW = at("WIB", 2026, 12, 3, 10)


def tracker(
    sender: str,
    text: str,
    intent: str,
    entities: list[dict[str, Any]] | None = None,
    events: list[dict[str, Any]] | None = None,
) -> Tracker:
    latest = {"text": text, "intent": {"name": intent}, "entities": entities or []}
    return Tracker(sender, {}, latest, events or [], False, None, {}, "action_listen")


def user_event(text: str, intent: str) -> dict[str, Any]:
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}}


async def run(action: Any, track: Tracker) -> list[dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    await action.run(dispatcher, track, {})
    return dispatcher.messages


def wiring(redis: Redis, prefix: str) -> dict[str, Any]:
    return {"redis": redis, "clock": lambda: NOW, "prefix": prefix}


async def test_asking_with_an_age_answers_without_storing_anything(
    redis: Redis, redis_prefix: str
) -> None:
    action = ActionChildImmunization(**wiring(redis, redis_prefix))
    said = await run(action, tracker("tg:501", "anak saya 4 bulan imunisasi apa?", "x"))
    assert "4 bulan" in said[0]["text"] and "Sumber:" in said[0]["text"]
    assert "IPV" in said[0]["text"]
    assert [k async for k in redis.scan_iter(match=f"{redis_prefix}*")] == []


async def test_asking_without_an_age_asks_for_it(redis: Redis, redis_prefix: str) -> None:
    action = ActionChildImmunization(**wiring(redis, redis_prefix))
    said = await run(action, tracker("web:abc", "imunisasi anak sy apa aja ya", "x"))
    assert "umur" in said[0]["text"].lower()


async def test_posyandu_reminders_ask_consent_first_and_store_nothing_before(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    action = ActionSubscribePosyandu(**wiring(redis, redis_prefix))
    button = [{"entity": "posyandu_id", "value": "JKT1"}]
    said = await run(action, tracker("tg:502", "/subscribe_reminder", "subscribe_reminder", button))
    assert "Setuju" in [b["title"] for b in said[0]["buttons"]]
    user = user_key("tg:502")
    assert await store.list_subscriptions(redis, redis_prefix, user) == []
    agree = said[0]["buttons"][0]["payload"]
    assert agree.startswith("/consent") and "JKT1" in agree
    entities = [
        {"entity": "consent_purpose", "value": "posyandu"},
        {"entity": "posyandu_id", "value": "JKT1"},
    ]
    done = await run(
        ActionConsent(**wiring(redis, redis_prefix)),
        tracker("tg:502", agree, "consent", entities),
    )
    assert "Posyandu Melati" in done[0]["text"] and "STOP" in done[0]["text"]
    subscriptions = await store.list_subscriptions(redis, redis_prefix, user)
    assert [s.posyandu_id for s in subscriptions] == ["JKT1"]


async def test_the_web_chat_is_told_reminders_need_whatsapp_or_telegram(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    action = ActionSubscribePosyandu(**wiring(redis, redis_prefix))
    said = await run(action, tracker("web:abc", "ingatkan saya jadwal posyandu", "x"))
    assert "WhatsApp atau Telegram" in said[0]["text"]


async def test_a_child_is_registered_only_after_the_guardian_agrees(
    redis: Redis, redis_prefix: str
) -> None:
    asked = "daftarkan anak saya lahir 3 maret 2026"
    said = await run(
        ActionRegisterChild(**wiring(redis, redis_prefix)),
        tracker("wa:6281200000001", asked, "register_child"),
    )
    assert "orang tua/wali" in said[0]["text"]
    user = user_key("wa:6281200000001")
    assert await store.list_children(redis, redis_prefix, user) == []
    history = [user_event(asked, "register_child")]
    done = await run(
        ActionConsent(**wiring(redis, redis_prefix)),
        tracker(
            "wa:6281200000001",
            '/consent{"consent_purpose": "child"}',
            "consent",
            [{"entity": "consent_purpose", "value": "child"}],
            history,
        ),
    )
    assert "3 Maret 2026" in done[0]["text"]
    children = await store.list_children(redis, redis_prefix, user)
    assert [c.birth_date for c in children] == [dt.date(2026, 3, 3)]

    marked = await run(
        ActionChildDoseDone(**wiring(redis, redis_prefix)),
        tracker("wa:6281200000001", "sudah imunisasi BCG dan polio 1", "child_dose_done"),
    )
    assert "BCG" in marked[0]["text"]
    (child,) = await store.list_children(redis, redis_prefix, user)
    assert {"bcg", "opv1"} <= set(child.doses_done)


async def test_a_consent_button_without_a_birth_date_asks_for_it(
    redis: Redis, redis_prefix: str
) -> None:
    done = await run(
        ActionConsent(**wiring(redis, redis_prefix)),
        tracker(
            "tg:503",
            '/consent{"consent_purpose": "child"}',
            "consent",
            [{"entity": "consent_purpose", "value": "child"}],
            [user_event("/register_child", "register_child")],
        ),
    )
    assert "tanggal lahir" in done[0]["text"].lower()
    assert await store.list_children(redis, redis_prefix, user_key("tg:503")) == []


async def test_one_posyandu_can_be_stopped_and_its_planned_reminder_is_not_sent(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    from actions.datarights import ActionStopAll
    from actions.reminders.consent import PURPOSE_POSYANDU
    from tests.reminders_store.conftest import consent

    user = user_key("tg:504")
    await consent(redis, redis_prefix, user, PURPOSE_POSYANDU, now=NOW)
    for posyandu in ("JKT1", "BTN1"):
        said = await run(
            ActionSubscribePosyandu(**wiring(redis, redis_prefix)),
            tracker(
                "tg:504", "x", "subscribe_reminder", [{"entity": "posyandu_id", "value": posyandu}]
            ),
        )
    stop_one = said[0]["buttons"][0]["payload"]
    assert stop_one == '/unsubscribe{"posyandu_id": "BTN1"}'
    stop = ActionStopAll(redis, redis_prefix)
    said = await run(
        stop,
        tracker("tg:504", stop_one, "unsubscribe", [{"entity": "posyandu_id", "value": "BTN1"}]),
    )
    assert "Posyandu Mawar" in said[0]["text"] and "STOP" in said[0]["text"]
    left = await store.list_subscriptions(redis, redis_prefix, user)
    assert [s.posyandu_id for s in left] == ["JKT1"]


async def test_with_two_children_the_button_marks_the_doses_for_the_one_chosen(
    redis: Redis, redis_prefix: str
) -> None:
    from actions.reminders.consent import PURPOSE_CHILD
    from tests.reminders_store.conftest import consent

    user = user_key("tg:505")
    await consent(redis, redis_prefix, user, PURPOSE_CHILD, now=NOW)
    contact = store.contact_of("tg:505")
    assert contact is not None
    for born in (dt.date(2026, 3, 3), dt.date(2026, 9, 1)):
        await store.add_child(redis, redis_prefix, user, born, contact, NOW)
    action = ActionChildDoseDone(**wiring(redis, redis_prefix))
    asked = await run(action, tracker("tg:505", "sudah imunisasi BCG", "child_dose_done"))
    second = asked[0]["buttons"][1]
    chosen = next(
        c
        for c in await store.list_children(redis, redis_prefix, user)
        if c.birth_date == dt.date(2026, 9, 1)
    )
    assert chosen.id in second["payload"]
    entities = [{"entity": "child_id", "value": chosen.id}, {"entity": "doses", "value": "bcg"}]
    marked = await run(action, tracker("tg:505", second["payload"], "child_dose_done", entities))
    assert "BCG" in marked[0]["text"] and "1 September 2026" in marked[0]["text"]
    done = {
        c.birth_date: c.doses_done for c in await store.list_children(redis, redis_prefix, user)
    }
    assert done[dt.date(2026, 9, 1)] == frozenset({"bcg"}) and not done[dt.date(2026, 3, 3)]


async def test_doses_given_on_the_web_chat_point_to_whatsapp_or_telegram(
    redis: Redis, redis_prefix: str
) -> None:
    action = ActionChildDoseDone(**wiring(redis, redis_prefix))
    said = await run(action, tracker("web:abc", "sudah imunisasi BCG", "child_dose_done"))
    assert "WhatsApp atau Telegram" in said[0]["text"]
