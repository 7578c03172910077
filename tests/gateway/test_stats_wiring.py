"""The chat API feeds the console's dashboard: what a Dinkes officer sees after people ask."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from actions.posyandu.directory import Directory, MyPosyandu
from actions.posyandu.records import PosyanduRecord
from bot.channels.conversation import count_for_dashboard
from bot.console.stats import EMERGENCY_TOPIC, UNKNOWN, Row, dashboard, iso_week
from tests.gateway.conftest import FakeRasa

Client = TestClient[Any, Any]

GAMBIR_1 = "31.71.01.1001"  # Jakarta Pusat (WIB, so its week is the dashboard's week)
DANGER = "tolong istri sy hamil keluar darah bnyk"


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    """Counting runs beside the reply: wait for it."""
    async with asyncio.timeout(timeout):
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def table(redis: Redis, prefix: str, level: str) -> dict[tuple[str, str], tuple[Any, ...]]:
    rows: list[Row] = await dashboard(redis, prefix, weeks=1, level=level, scope=[])
    return {(r.topic, r.region_code): (r.questions_text, r.people_text) for r in rows}


async def ask(gateway: Client, user: str, text: str = "jadwal imunisasi") -> Any:
    response = await gateway.post("/api/v1/chat", json={"user_id": user, "text": text})
    return response.status, await response.json()


async def save_posyandu(redis: Redis, prefix: str, users: range, record: PosyanduRecord) -> None:
    await Directory(redis, prefix).upsert([record])
    for n in users:
        await MyPosyandu(redis, prefix).remember(f"web:u{n}", record.id)


def melati(village_code: str = GAMBIR_1) -> PosyanduRecord:
    return PosyanduRecord(
        id="P-MELATI",
        name="Posyandu Melati",
        village_code=village_code,
        lat=-6.17,
        lon=106.82,
        schedule="setiap tanggal 10, 08.00-11.00",
    )


async def test_each_chat_turn_is_one_question_of_its_topic_in_the_askers_desa(
    gateway: Client, redis: Redis, redis_prefix: str
) -> None:
    await save_posyandu(redis, redis_prefix, range(10), melati())
    for n in range(10):
        assert (await ask(gateway, f"u{n}"))[0] == 200
    await ask(gateway, "u0")  # a second question of the same person

    async def counted() -> bool:
        return await table(redis, redis_prefix, "desa") == {
            ("imunisasi.jadwal", GAMBIR_1): ("11", "10")
        }

    await until(counted)  # 11 questions (u0 asked twice), 10 people
    await asyncio.sleep(0.2)
    assert await counted()  # and nothing counted twice later
    assert await table(redis, redis_prefix, "kabupaten") == {
        ("imunisasi.jadwal", "31.71"): ("11", "10")
    }


async def test_an_emergency_while_rasa_is_down_is_counted_once(
    gateway: Client, fake_rasa: tuple[FakeRasa, str], redis: Redis, redis_prefix: str
) -> None:
    fake_rasa[0].mode = "error"
    for n in range(10):
        status, body = await ask(gateway, f"u{n}", DANGER)
        assert status == 503 and body["intent"] == "emergency"
        await ask(gateway, f"u{n}", "jadwal imunisasi")  # no danger sign: Rasa never saw it

    async def counted() -> bool:
        return await table(redis, redis_prefix, "kabupaten") == {
            (EMERGENCY_TOPIC, UNKNOWN): ("10", "10")
        }

    await until(counted)
    await asyncio.sleep(0.2)
    assert await counted()


async def test_a_redis_failure_in_the_dashboard_does_not_change_the_reply(
    gateway: Client, redis: Redis, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    status, expected = await ask(gateway, "u1")
    assert status == 200
    await until(lambda: redis.exists(f"{redis_prefix}stats:kabs:{iso_week(time.time())}"))
    # Real Redis errors (WRONGTYPE): the week's index of the dashboard, and one user's saved
    # Posyandu, hold the wrong kind of value.
    await redis.set(f"{redis_prefix}stats:kabs:{iso_week(time.time())}", "rusak")
    await redis.hset(MyPosyandu(redis, redis_prefix).key("web:u2"), "x", "rusak")
    caplog.set_level(logging.WARNING)

    for user in ("u1", "u2"):
        assert await ask(gateway, user) == (200, expected)

    async def warned() -> bool:
        return len([r for r in caplog.records if "not counted" in r.getMessage()]) == 2

    await until(warned)
    lines = [r.getMessage() for r in caplog.records if "Dashboard" in r.getMessage()]
    assert lines == ["Dashboard: a turn was not counted (ResponseError)"] * 2  # once each
    assert "u1" not in caplog.text and "u2" not in caplog.text


async def test_a_broken_posyandu_record_counts_the_question_where_nobody_knows(
    gateway: Client, redis: Redis, redis_prefix: str
) -> None:
    await save_posyandu(redis, redis_prefix, range(10), melati())
    await redis.hset(f"{redis_prefix}pos:rec", "P-MELATI", "{bukan json")
    for n in range(10):
        assert (await ask(gateway, f"u{n}"))[0] == 200

    async def counted() -> bool:
        return await table(redis, redis_prefix, "kabupaten") == {
            ("imunisasi.jadwal", UNKNOWN): ("10", "10")
        }

    await until(counted)


async def test_pleasantries_and_turns_without_an_intent_cost_no_redis_call(
    redis: Redis, redis_prefix: str
) -> None:
    for intent in ("greet", "thanks", "consent", None):
        count_for_dashboard(redis, redis_prefix, "web:u1", intent)
    count_for_dashboard(redis, redis_prefix, "web:u1", "bayi.asi")
    await until(lambda: redis.exists(f"{redis_prefix}stats:kabs:{iso_week(time.time())}"))
    rows = await dashboard(redis, redis_prefix, weeks=1, level="kabupaten", scope=[])
    assert [(r.topic, r.region_code) for r in rows] == [("bayi.asi", UNKNOWN)]
