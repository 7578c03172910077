"""A child's immunization reminders: days before each dose, and on the Posyandu day."""

from __future__ import annotations

import datetime as dt

from redis.asyncio import Redis

from actions.posyandu.directory import Directory
from actions.reminders import keys
from actions.reminders.consent import PURPOSE_CHILD
from actions.reminders.model import Send
from actions.reminders.planner import CHILD_RECHECK, NationalSchedule, plan_children
from actions.reminders.store import add_child, mark_doses_done, subscribe_posyandu
from tests.reminders_store.conftest import StubSchedule, at, consent, tg

HOUR = 3600
BIRTH = dt.date(2027, 1, 5)  # hb0 5 Jan, bcg + polio1 5 Feb, dpt1 5 Mar, dpt2 5 Apr


async def registered(
    redis: Redis, prefix: str, number: int, now: float, posyandu: str | None = None, **child: str
) -> tuple[str, str]:
    user, contact = tg(number)
    await consent(redis, prefix, user, now=now)
    if posyandu:
        await subscribe_posyandu(redis, prefix, user, posyandu, contact, now)
    kid = await add_child(redis, prefix, user, BIRTH, contact, now, **child)  # type: ignore[arg-type]
    return user, kid.id


def only(sends: list[Send], kind: str) -> list[Send]:
    return [s for s in sends if s.extra["kind"] == kind]


async def test_three_days_before_a_dose_at_16_local(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    now = at("WIB", 2027, 1, 6, 9, 0)
    user, child = await registered(redis, redis_prefix, 3001, now, nickname="Ucok")
    sends = await plan_children(
        redis, redis_prefix, at("WIB", 2027, 2, 2, 9, 0), 24, schedule=StubSchedule()
    )
    [before] = sends
    assert before.key == f"imm:{child}:2027-02-05:pre"
    assert before.due == at("WIB", 2027, 2, 2, 16, 0) and before.utc_offset_hours == 7
    assert before.text == (
        "Pengingat imunisasi Ucok: BCG, Polio 1, jadwalnya Jumat, 5 Februari 2027. Datang ke "
        "Posyandu atau Puskesmas ya.\nBalas STOP untuk berhenti."
    )
    assert before.params == ("Ucok", "BCG, Polio 1", "Jumat, 5 Februari 2027")
    assert before.subscriber == user and before.buttons == (("Berhenti", "/unsubscribe"),)


async def test_on_the_posyandu_day_when_a_dose_is_due_in_the_villages_zone(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    now = at("WIT", 2027, 1, 6, 9, 0)
    schedule = StubSchedule()
    user, child = await registered(redis, redis_prefix, 3002, now, posyandu="JYP1")
    # Posyandu JYP1 meets on day 1 (WIT); dpt1 is due 5 March, so 1 April is its Posyandu day
    # (never before the due date); hb0 (5 Jan, within 60 days) and bcg/polio1 (5 Feb) fall on
    # 1 March (a Monday).
    sends = await plan_children(
        redis, redis_prefix, at("WIT", 2027, 2, 28, 12, 0), 24, schedule=schedule
    )
    [day] = only(sends, "immunization-day")
    assert day.key == f"imm:{child}:2027-03-01:day"
    assert day.due == at("WIT", 2027, 3, 1, 6, 30) and day.utc_offset_hours == 9
    assert day.text == (
        "Hari ini, Senin, 1 Maret 2027, Posyandu Cenderawasih buka 07.00-10.00 WIT di tempat "
        "biasa. Waktunya imunisasi anak Anda (lahir 5 Januari 2027): HB0, BCG, Polio 1. Bawa "
        "buku KIA ya.\nBalas STOP untuk berhenti."
    )
    assert schedule.provinces[-1] == "91"
    # Marked done: the next Posyandu day has only what is still due.
    await mark_doses_done(redis, redis_prefix, user, child, ["bcg", "polio1", "hb0"], now)
    sends = await plan_children(
        redis, redis_prefix, at("WIT", 2027, 3, 31, 12, 0), 24, schedule=schedule
    )
    [day] = only(sends, "immunization-day")
    assert day.key == f"imm:{child}:2027-04-01:day"
    assert "DPT 1" in day.text and "BCG" not in day.text


async def test_a_missed_dose_is_mentioned_on_the_posyandu_day(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    now = at("WIB", 2027, 1, 6, 9, 0)
    await registered(redis, redis_prefix, 3003, now, posyandu="JKT1")
    # 10 April: dpt2 (5 Apr) is due; hb0 (5 Jan) is more than 60 days past: "terlewat".
    sends = await plan_children(
        redis, redis_prefix, at("WIB", 2027, 4, 9, 12, 0), 24, schedule=StubSchedule()
    )
    [day] = only(sends, "immunization-day")
    assert "DPT 2" in day.text and "HB0" not in day.text
    assert "imunisasi yang terlewat" in day.text


async def test_without_a_posyandu_the_childs_province_sets_the_time(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    now = at("WITA", 2027, 1, 6, 9, 0)
    await registered(redis, redis_prefix, 3004, now, province_code="74")
    sends = await plan_children(
        redis, redis_prefix, at("WITA", 2027, 3, 2, 9, 0), 24, schedule=StubSchedule()
    )
    assert [s.extra["kind"] for s in sends] == ["immunization-pre"]
    assert sends[0].due == at("WITA", 2027, 3, 2, 16, 0) and sends[0].utc_offset_hours == 8


async def test_a_child_is_looked_at_only_when_something_is_near(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    now = at("WIB", 2027, 1, 6, 9, 0)
    user, child = await registered(redis, redis_prefix, 3005, now)
    schedule = StubSchedule()
    assert await plan_children(redis, redis_prefix, now, 24, schedule=schedule) == []
    member = keys.child_member(user, child)
    # The first reminder is weeks away: looked at again in a week (CHILD_RECHECK) at most.
    assert await redis.zscore(redis_prefix + keys.CHILD_DUE, member) == now + CHILD_RECHECK
    calls = len(schedule.provinces)
    assert await plan_children(redis, redis_prefix, now + HOUR, 24, schedule=schedule) == []
    assert len(schedule.provinces) == calls  # not even computed


async def test_at_two_years_the_child_and_the_reminders_are_gone(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    now = at("WIB", 2027, 1, 6, 9, 0)
    user, child = await registered(redis, redis_prefix, 3006, now, posyandu="JKT1")
    member = keys.child_member(user, child)
    await redis.zadd(redis_prefix + keys.CHILD_DUE, {member: now})
    later = at("WIB", 2029, 1, 6, 9, 0)
    assert await plan_children(redis, redis_prefix, later, 24, schedule=StubSchedule()) == []
    assert await redis.zscore(redis_prefix + keys.CHILD_DUE, member) is None
    assert not await redis.hexists(keys.user_record(redis_prefix, user), f"k:{child}")


async def test_opted_out_users_get_no_child_reminders(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    now = at("WIB", 2027, 1, 6, 9, 0)
    user, _ = await registered(redis, redis_prefix, 3007, now)
    await redis.set(keys.optout(redis_prefix, user), "1")
    at_time = at("WIB", 2027, 2, 2, 9, 0)
    assert await plan_children(redis, redis_prefix, at_time, 24, schedule=StubSchedule()) == []


async def test_the_national_schedule_plugs_in(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    now = at("WIB", 2027, 1, 6, 9, 0)
    user, contact = tg(3008)
    await consent(redis, redis_prefix, user, PURPOSE_CHILD, now=now)
    await add_child(redis, redis_prefix, user, BIRTH, contact, now, province_code="31")
    national = NationalSchedule()
    dates = national.due_dates(BIRTH, frozenset(), "31")
    assert dates and all(isinstance(day, dt.date) and day >= BIRTH for _, day in dates)
    assert all(national.name(dose) for dose, _ in dates)
    sends = await plan_children(redis, redis_prefix, now, 24 * 120)
    assert sends and all(s.extra["kind"] == "immunization-pre" for s in sends)


async def test_the_planner_keeps_a_young_childs_record_beyond_a_year(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    now = at("WIB", 2027, 1, 6, 9, 0)
    user, _ = await registered(redis, redis_prefix, 3009, now)
    record = keys.user_record(redis_prefix, user)
    assert 364 * 24 * HOUR < await redis.ttl(record) <= 365 * 24 * HOUR
    # Half a year on, the planner looks at the child: a year ahead again (capped at age 2).
    await redis.zadd(redis_prefix + keys.CHILD_DUE, {f"{user}:x": 0})  # a stale member
    later = now + 180 * 24 * HOUR
    await redis.expire(record, 185 * 24 * HOUR)  # as if half a year had passed
    await plan_children(redis, redis_prefix, later, 24, schedule=StubSchedule())
    assert 364 * 24 * HOUR < await redis.ttl(record) <= 365 * 24 * HOUR
    assert await redis.zscore(redis_prefix + keys.CHILD_DUE, f"{user}:x") is None
