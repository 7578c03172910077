"""The channels on the store `make run` uses when REDIS_URL is unset.

An earlier default (an embedded Redis look-alike) passed every test on real
Redis and then answered nothing in `make run`. These tests start exactly what
`scripts/stack.py` starts without REDIS_URL and send real channel traffic.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis as redis_sync

from scripts.local_redis import LocalRedis, RedisServerMissing
from tests.channels.conftest import PHONE_ID, EchoRasa, Stack, start_stack, until
from tests.fakes import graph_api as wa
from tests.fakes import telegram_api as tg
from tests.fakes.graph_api import FakeGraph
from tests.fakes.telegram_api import FakeTelegram


@pytest.fixture
def default_store(tmp_path: Path) -> Iterator[LocalRedis]:
    """The store `make run` starts (same class, same configuration)."""
    server = LocalRedis(tmp_path / "redis")
    try:
        server.start()
    except RedisServerMissing as missing:
        pytest.fail(str(missing))
    yield server
    server.stop()


@pytest.fixture
async def default_stack(
    default_store: LocalRedis,
    rasa: tuple[EchoRasa, str],
    telegram_api: tuple[FakeTelegram, str],
    graph_api: tuple[FakeGraph, str],
) -> AsyncIterator[Stack]:
    running = await start_stack(rasa, telegram_api, graph_api, "ks:", REDIS_URL=default_store.url)
    yield running
    await running.client.close()


async def test_a_telegram_message_is_answered(default_stack: Stack) -> None:
    assert await default_stack.telegram_update(tg.text_update(1, 777, "jadwal imunisasi")) == 200
    await default_stack.telegram.wait_for_sent(1)
    assert default_stack.telegram.sent_to(777) == ["Jawaban: jadwal imunisasi"]


async def test_a_whatsapp_message_is_answered(default_stack: Stack) -> None:
    payload = wa.envelope(
        messages=[wa.text_message("wamid.DEF1", "6281200000001", "halo")],
        statuses=[],
        phone_number_id=PHONE_ID,
    )
    assert await default_stack.whatsapp_payload(payload) == 200
    await until(lambda: bool(default_stack.graph.messages_to("6281200000001")))
    bodies = default_stack.graph.messages_to("6281200000001")
    assert bodies and bodies[0]["text"]["body"] == "Jawaban: halo"


async def test_readyz_proves_the_inbox_accepts_a_message(default_stack: Stack) -> None:
    response = await default_stack.client.get("/readyz")
    body = await response.json()
    assert response.status == 200, body
    assert body["checks"]["inbox"] == "ok"


def test_the_private_server_needs_its_password_and_keeps_data(
    default_store: LocalRedis,
) -> None:
    anonymous = redis_sync.Redis(port=default_store.port, socket_connect_timeout=1)
    with pytest.raises(redis_sync.AuthenticationError):
        anonymous.set("x", "1")
    client = redis_sync.Redis.from_url(default_store.url)
    assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
    client.set("ks:kept", "1")
    default_store.stop()
    default_store.start()
    assert redis_sync.Redis.from_url(default_store.url).get("ks:kept") == b"1"
