"""Quiet hours (21.00-06.00 local) in WIB, WITA and WIT: held, then sent at 06.00."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Redis

from bot.reminders import schedule
from bot.reminders.quiet import is_quiet, next_allowed
from bot.reminders.store import Keys
from tests.reminders.conftest import Platforms, running, tg_send, until, wa_send

ZONES = {"WIB": 7, "WITA": 8, "WIT": 9}


def local(moment: float, offset: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(moment, dt.timezone(dt.timedelta(hours=offset)))


def at(text: str, offset: int) -> float:
    """`2025-06-09 22:30` in the zone of `offset`, as unix seconds."""
    moment = dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone(dt.timedelta(hours=offset)))
    return moment.timestamp()


@given(
    moment=st.floats(min_value=1.6e9, max_value=2.2e9, allow_nan=False),
    offset=st.sampled_from([7, 8, 9, -5, 0, 14]),
)
def test_the_next_allowed_moment_is_never_in_quiet_hours(moment: float, offset: int) -> None:
    allowed = next_allowed(moment, offset)
    hour = local(allowed, offset).hour
    assert 6 <= hour < 21
    assert moment <= allowed <= moment + 9 * 3600
    if allowed != moment:
        assert local(allowed, offset).time() == dt.time(6, 0)
        assert is_quiet(moment, offset)
    else:
        assert not is_quiet(moment, offset)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # 22.30 WITA: 21.30 WIB, 23.30 WIT: all quiet, each held till its own 06.00.
        (
            ("2025-06-09 22:30", 8),
            {"WIB": "2025-06-10 06:00", "WITA": "2025-06-10 06:00", "WIT": "2025-06-10 06:00"},
        ),
        # 05.30 WIB: 06.30 WITA, 07.30 WIT: only WIB waits (half an hour).
        (("2025-06-10 05:30", 7), {"WIB": "2025-06-10 06:00", "WITA": None, "WIT": None}),
        # 20.59 WIT: 18.59 WIB; 21.00 WIT is quiet.
        (("2025-06-10 20:59", 9), {"WIB": None, "WITA": None, "WIT": None}),
        (("2025-06-10 21:00", 9), {"WIB": None, "WITA": None, "WIT": "2025-06-11 06:00"}),
        # Just after midnight WIB, on the last day of the month.
        (
            ("2025-06-30 00:10", 7),
            {"WIB": "2025-06-30 06:00", "WITA": "2025-06-30 06:00", "WIT": "2025-06-30 06:00"},
        ),
    ],
)
async def test_a_send_due_in_quiet_hours_is_planned_for_06_local(
    redis: Redis, redis_prefix: str, now: tuple[str, int], expected: dict[str, str | None]
) -> None:
    moment = at(*now)
    sends = [
        tg_send(n, key=f"pos:P{zone}:eve:{n}", due=moment, utc_offset_hours=offset)
        for n, (zone, offset) in enumerate(ZONES.items())
    ]
    await schedule(redis, redis_prefix, sends, now=moment)
    keys = Keys(redis_prefix)
    for send, zone in zip(sends, ZONES, strict=True):
        score = await redis.zscore(keys.due, send.key)
        wanted = expected[zone]
        assert score == (moment if wanted is None else at(wanted, ZONES[zone])), zone


class Clock:
    def __init__(self, moment: float) -> None:
        self.moment = moment

    def __call__(self) -> float:
        return self.moment


@pytest.mark.parametrize("zone", list(ZONES))
async def test_the_worker_holds_sends_until_06_local_and_sends_them_then(
    redis: Redis, redis_prefix: str, platforms: Platforms, zone: str
) -> None:
    offset = ZONES[zone]
    evening = at("2025-06-09 20:55", offset)
    # Planned while it was allowed; still waiting in the stream when quiet hours begin.
    sends = [
        tg_send(1, due=evening, utc_offset_hours=offset),
        wa_send(1, due=evening, utc_offset_hours=offset),
    ]
    await schedule(redis, redis_prefix, sends, now=evening)
    clock = Clock(at("2025-06-09 21:00", offset))
    keys = Keys(redis_prefix)
    async with running(redis, redis_prefix, platforms.senders, clock=clock) as worker:
        await until(lambda: worker.outcomes["held"] == 2)
        morning = at("2025-06-10 06:00", offset)
        assert [await redis.zscore(keys.due, s.key) for s in sends] == [morning, morning]
        assert not platforms.telegram.sent and not platforms.graph.messages
        clock.moment = morning - 1
        await until(lambda: worker.outcomes["held"] == 2)
        assert not platforms.telegram.sent
        clock.moment = morning
        await until(lambda: len(platforms.telegram.sent) + len(platforms.graph.messages) == 2)
    assert worker.outcomes["sent"] == 2
