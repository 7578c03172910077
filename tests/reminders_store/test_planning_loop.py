"""The gateway's planning turn hands the planners' reminders to the sending engine."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from actions.posyandu.directory import Directory
from bot.reminders.planning import plan_once, planning_loop
from tests.reminders_store.conftest import at
from tests.reminders_store.test_planner import subscribed


async def due_keys(redis: Redis, prefix: str) -> list[str]:
    return [k.decode() for k in await redis.zrange(f"{prefix}rem:due", 0, -1)]


async def test_a_subscriber_gets_the_eve_and_morning_reminders_planned(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    now = at("WIB", 2027, 3, 9, 8, 0)  # Posyandu Melati meets on the 10th
    await subscribed(redis, redis_prefix, "JKT1", 7001, now)
    assert await plan_once(redis, redis_prefix, now) == 2
    keys = await due_keys(redis, redis_prefix)
    assert len(keys) == 2 and all(k.startswith("pos:JKT1:2027-03-10") for k in keys)
    # Planning again (another instance, the next run) adds nothing.
    await plan_once(redis, redis_prefix, now + 60)
    assert len(await due_keys(redis, redis_prefix)) == 2


async def test_the_loop_plans_once_per_interval_and_stops_promptly(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(planning_loop(redis, redis_prefix, 3600, stop))
    await asyncio.sleep(0.3)
    assert await redis.exists(f"{redis_prefix}rem:planlock")
    stop.set()
    await asyncio.wait_for(task, timeout=2)


async def test_a_changes_file_tells_subscribers_once_and_keeps_a_cadres_change(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    import datetime as dt
    from unittest import mock

    from actions.posyandu.importer import _store_changes
    from actions.posyandu.schedule import Change

    now = at("WIB", 2027, 3, 1, 9, 0)
    await subscribed(redis, redis_prefix, "JKT1", 7002, now)
    cadres = Change(dt.date(2027, 4, 10), cancelled=True, note="Kader: balai dipakai")
    await directory.set_changes({"JKT1": [cadres]})
    moved = Change(dt.date(2027, 3, 10), new_date=dt.date(2027, 3, 11))
    with mock.patch("time.time", return_value=now):
        assert await _store_changes(directory, {"JKT1": [moved]}) == 1
        assert await _store_changes(directory, {"JKT1": [moved]}) == 0  # same file again
    assert set(await directory.changes_for("JKT1")) == {cadres, moved}
    notices = [k for k in await due_keys(redis, redis_prefix) if k.startswith("chg:")]
    assert len(notices) == 1
