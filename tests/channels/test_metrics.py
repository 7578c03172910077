"""`/metrics`: what an operator's Prometheus sees, and what it must never see."""

from __future__ import annotations

import json
import logging
import re

import pytest
from redis.asyncio import Redis

from bot.logs import JsonFormatter
from tests.channels.conftest import (
    PHONE_ID,
    EchoRasa,
    Stack,
    start_stack,
    until,
)
from tests.fakes import graph_api as wa
from tests.fakes import telegram_api as tg
from tests.fakes.graph_api import FakeGraph
from tests.fakes.telegram_api import FakeTelegram

USER = "6281277700001"
CHAT = 880011


def sample(text: str, name: str, **labels: str) -> float:
    """One sample's value from the exposition text (0 when absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    pattern = rf"^{re.escape(name)}(?:\{{{re.escape(wanted)}\}})? (\S+)$" if wanted else None
    for line in text.splitlines():
        if pattern and re.match(pattern, line):
            return float(line.rsplit(" ", 1)[1])
        if not pattern and line.startswith(f"{name} "):
            return float(line.split(" ")[1])
    return 0.0


async def scrape(stack: Stack, headers: dict[str, str] | None = None) -> str:
    response = await stack.client.get("/metrics", headers=headers or {})
    assert response.status == 200
    return await response.text()


async def test_messages_replies_and_latency_are_counted(stack: Stack) -> None:
    before = await scrape(stack)
    await stack.telegram_update(tg.text_update(501, CHAT, "jadwal imunisasi"))
    await stack.telegram.wait_for_sent(1)
    payload = wa.envelope(
        messages=[wa.text_message("wamid.M1", USER, "halo")], statuses=[], phone_number_id=PHONE_ID
    )
    await stack.whatsapp_payload(payload)
    await stack.graph.wait_for_messages(1)
    after = await scrape(stack)
    for channel in ("telegram", "whatsapp"):
        grew = sample(after, "ks_messages_in_total", channel=channel) - sample(
            before, "ks_messages_in_total", channel=channel
        )
        assert grew == 1, channel
        sent = sample(after, "ks_messages_out_total", channel=channel, outcome="sent")
        assert sent - sample(before, "ks_messages_out_total", channel=channel, outcome="sent") >= 1
        replies = sample(after, "ks_reply_seconds_count", channel=channel)
        assert replies - sample(before, "ks_reply_seconds_count", channel=channel) == 1
    assert sample(after, "ks_rasa_request_seconds_count") >= 2
    # Personal data is never a label.
    assert USER not in after and str(CHAT) not in after


async def test_rasa_errors_inbox_lag_and_dead_letters_show(
    stack: Stack, redis: Redis, redis_prefix: str
) -> None:
    before = await scrape(stack)
    stack.rasa.mode = "down"
    await stack.telegram_update(tg.text_update(502, CHAT, "halo"))
    await until(lambda: len(stack.telegram.sent_to(CHAT)) >= 1)  # the polite notice
    await redis.xadd(f"{redis_prefix}deadletter", {"kind": "entry", "reason": "x"})
    during = await scrape(stack)
    errors = sample(during, "ks_rasa_errors_total", reason="http_500")
    assert errors - sample(before, "ks_rasa_errors_total", reason="http_500") >= 1
    assert sample(during, "ks_inbox_backlog") == 1  # kept until Rasa is back
    assert sample(during, "ks_inbox_lag_seconds") > 0
    assert sample(during, "ks_dead_letters") == 1
    stack.rasa.mode = "ok"
    await until(lambda: "Jawaban: halo" in stack.telegram.sent_to(CHAT), timeout=10)


async def test_metrics_need_the_token_when_one_is_set(
    rasa: tuple[EchoRasa, str],
    telegram_api: tuple[FakeTelegram, str],
    graph_api: tuple[FakeGraph, str],
    redis_prefix: str,
    redis: object,
) -> None:
    stack = await start_stack(
        rasa, telegram_api, graph_api, redis_prefix, KS_METRICS_TOKEN="metrics-secret-0123456"
    )
    try:
        assert (await stack.client.get("/metrics")).status == 403
        wrong = {"Authorization": "Bearer nope"}
        assert (await stack.client.get("/metrics", headers=wrong)).status == 403
        await scrape(stack, {"Authorization": "Bearer metrics-secret-0123456"})
    finally:
        await stack.client.close()


def test_log_lines_are_json_with_fields_and_no_message_text() -> None:
    record = logging.LogRecord(
        "bot.channels.telegram",
        logging.INFO,
        __file__,
        1,
        "User %s over %d messages/min",
        ("a1b2c3", 20),
        None,
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "info" and line["logger"] == "bot.channels.telegram"
    assert line["message"] == "User a1b2c3 over 20 messages/min"
    assert "time" in line


async def test_a_users_words_never_reach_the_logs(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret_words = "anak saya demam tinggi rahasia-kalimat-unik"
    stack.rasa.mode = "down"  # the paths that log the most
    await stack.telegram_update(tg.text_update(503, CHAT + 1, secret_words))
    await until(lambda: len(stack.telegram.sent_to(CHAT + 1)) >= 1)
    stack.rasa.mode = "ok"
    await until(lambda: len(stack.telegram.sent_to(CHAT + 1)) >= 2, timeout=10)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "rahasia-kalimat-unik" not in logged
    assert str(CHAT + 1) not in logged
