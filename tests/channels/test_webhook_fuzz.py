"""Generated payloads at both webhooks: 2xx or 4xx, never a 500; the gateway keeps working."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.channels.conftest import PHONE_ID, TG_SECRET, WA_SECRET, Stack
from tests.fakes import graph_api as wa
from tests.fakes import telegram_api as tg

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)

MESSAGE_FIELDS = ["text", "location", "chat", "from", "date", "message_id", "sticker", "entities"]


@st.composite
def telegram_updates(draw: st.DrawFn) -> Any:
    """Real-looking updates with some fields replaced by anything at all."""
    update: dict[str, Any] = tg.text_update(draw(st.integers(1, 10**9)), 4242, "halo")
    for field in draw(st.lists(st.sampled_from(MESSAGE_FIELDS), max_size=3)):
        update["message"][field] = draw(json_values)
    if draw(st.booleans()):
        update[draw(st.sampled_from(["message", "update_id", "callback_query", "x"]))] = draw(
            json_values
        )
    return update


@st.composite
def whatsapp_payloads(draw: st.DrawFn) -> Any:
    kind = draw(
        st.sampled_from(["text", "location", "interactive", "button", "image", "reaction", "zzz"])
    )
    message: dict[str, Any] = {
        "from": draw(st.sampled_from(["6281234567890", "", "abc", 62812])),
        "id": draw(st.sampled_from([f"wamid.{draw(st.integers(0, 10**9))}", None, 5])),
        "timestamp": draw(st.sampled_from(["1732400000", "x", None, -1])),
        "type": kind,
        kind: draw(json_values),
    }
    payload = wa.envelope(messages=[message], statuses=[], phone_number_id=PHONE_ID)
    if draw(st.booleans()):
        payload["entry"][0]["changes"][0]["value"] = draw(json_values)
    if draw(st.booleans()):
        payload = draw(json_values)
    return payload


ALLOWED = {200, 400, 413}
FUZZ = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(body=telegram_updates() | json_values | st.binary(max_size=200))
async def test_telegram_webhook_survives_anything(stack: Stack, body: Any) -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = await stack.client.post(
        "/webhooks/telegram",
        data=raw,
        headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET, "Content-Type": "application/json"},
    )
    assert response.status in ALLOWED
    assert (await stack.client.get("/healthz")).status == 200


@FUZZ
@given(body=whatsapp_payloads() | st.binary(max_size=200))
async def test_whatsapp_webhook_survives_anything(stack: Stack, body: Any) -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = await stack.client.post(
        "/webhooks/whatsapp",
        data=raw,
        headers={"X-Hub-Signature-256": wa.sign(raw, WA_SECRET)},
    )
    assert response.status in ALLOWED


async def test_after_garbage_the_next_real_message_is_still_answered(stack: Stack) -> None:
    for raw in (b"{", b"[]", b'{"update_id": "x"}', json.dumps({"update_id": 1, "message": 5})):
        await stack.client.post(
            "/webhooks/telegram", data=raw, headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
        )
    await stack.telegram_update(tg.text_update(77, 4243, "masih hidup?"))
    await stack.telegram.wait_for_sent(1)
    assert stack.telegram.sent_to(4243) == ["Jawaban: masih hidup?"]


async def test_an_oversized_body_is_refused(stack: Stack) -> None:
    raw = json.dumps(tg.text_update(78, 4244, "a" * 70_000)).encode()
    response = await stack.client.post(
        "/webhooks/telegram", data=raw, headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
    )
    assert response.status == 413
