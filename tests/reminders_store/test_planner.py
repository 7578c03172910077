"""Posyandu reminders in the village's own time, month ends, changed sessions, and a cost
that follows the Posyandu with subscribers, not the directory."""

from __future__ import annotations

import datetime as dt

import pytest
from redis.asyncio import Redis

from actions.posyandu.directory import Directory
from actions.posyandu.records import PosyanduRecord
from actions.posyandu.schedule import Change
from actions.reminders import keys
from actions.reminders.consent import PURPOSE_POSYANDU
from actions.reminders.model import Send
from actions.reminders.planner import change_notices, plan_posyandu
from actions.reminders.store import subscribe_posyandu, unsubscribe_all
from tests.reminders_store.conftest import RECORDS, at, consent, tg, wa

HOUR = 3600


async def subscribed(redis: Redis, prefix: str, posyandu_id: str, number: int, now: float) -> str:
    user, contact = tg(number)
    await consent(redis, prefix, user, PURPOSE_POSYANDU, now=now)
    await subscribe_posyandu(redis, prefix, user, posyandu_id, contact, now)
    return user


def by_kind(sends: list[Send]) -> dict[str, Send]:
    return {s.extra["kind"]: s for s in sends}


async def test_papua_gets_its_reminders_in_wit_across_a_month_end(
    redis: Redis, redis_prefix: str, directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KS_WA_TEMPLATE_REMINDER", "pengingat_posyandu_v2")
    now = at("UTC", 2027, 3, 30, 0, 0)
    user = await subscribed(redis, redis_prefix, "JYP1", 2001, now)
    sends = await plan_posyandu(redis, redis_prefix, now, 48)
    eve, day = by_kind(sends)["posyandu-eve"], by_kind(sends)["posyandu-day"]
    # Session Thursday 1 April 2027, 07.00-10.00 WIT: the eve is 31 March, 16.00 WIT.
    assert eve.due == at("WIT", 2027, 3, 31, 16, 0) == at("UTC", 2027, 3, 31, 7, 0)
    assert day.due == at("WIT", 2027, 4, 1, 6, 30) == at("UTC", 2027, 3, 31, 21, 30)
    assert eve.key == f"pos:JYP1:2027-04-01:eve:{user}"
    assert day.key == f"pos:JYP1:2027-04-01:day:{user}"
    assert eve.utc_offset_hours == 9 and eve.channel == "telegram" and eve.address == "2001"
    assert eve.text == (
        "Pengingat: besok, Kamis, 1 April 2027, Posyandu Cenderawasih buka 07.00-10.00 WIT di "
        "tempat biasa. Jangan lupa bawa buku KIA ya.\nBalas STOP untuk berhenti."
    )
    assert day.text.startswith("Hari ini, Kamis, 1 April 2027, Posyandu Cenderawasih buka")
    assert eve.buttons == (("Berhenti", "/unsubscribe"),)
    assert eve.template == "pengingat_posyandu_v2"
    assert eve.params == (
        "Posyandu Cenderawasih",
        "Kamis, 1 April 2027",
        "07.00-10.00 WIT",
        "tempat biasa",
    )
    assert eve.subscriber == user


async def test_wib_and_wita_and_the_31st_in_a_short_month(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    now = at("UTC", 2027, 4, 12, 0, 0)
    jakarta = await subscribed(redis, redis_prefix, "JKT31", 2002, now)
    buton = await subscribed(redis, redis_prefix, "BTN1", 2003, now)
    sends = await plan_posyandu(redis, redis_prefix, now, 24 * 20)
    planned = {(s.subscriber, s.extra["kind"]): s for s in sends}
    # "tanggal 31" in April is Friday 30 April (WIB, UTC+7).
    assert planned[jakarta, "posyandu-eve"].due == at("WIB", 2027, 4, 29, 16, 0)
    assert planned[jakarta, "posyandu-day"].due == at("WIB", 2027, 4, 30, 6, 30)
    assert "Jumat, 30 April 2027" in planned[jakarta, "posyandu-day"].text
    assert planned[jakarta, "posyandu-day"].utc_offset_hours == 7
    # The second Tuesday of April 2027 is 13 April (WITA, UTC+8).
    assert planned[buton, "posyandu-eve"].due == at("WITA", 2027, 4, 12, 16, 0)
    assert planned[buton, "posyandu-day"].due == at("WITA", 2027, 4, 13, 6, 30)
    assert planned[buton, "posyandu-day"].utc_offset_hours == 8
    assert "di Balai Desa" in planned[buton, "posyandu-day"].text


async def test_every_run_plans_what_is_still_ahead_and_keys_stay_the_same(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    now = at("WITA", 2027, 4, 12, 9, 0)
    await subscribed(redis, redis_prefix, "BTN1", 2004, now)
    first = await plan_posyandu(redis, redis_prefix, now, 12)
    assert [s.extra["kind"] for s in first] == ["posyandu-eve"]
    # An hour later (the first run's sends may have been lost): planned again, same key.
    again = await plan_posyandu(redis, redis_prefix, now + HOUR, 12)
    assert [s.key for s in again] == [s.key for s in first]
    # Nothing due yet: the Posyandu is not even looked at.
    score = await redis.zscore(redis_prefix + keys.POSYANDU_PLAN, "BTN1")
    assert score == at("WITA", 2027, 4, 12, 16, 0)
    # Three hours after the eve's time it is still sent (planner was down); the morning too.
    late = await plan_posyandu(redis, redis_prefix, at("WITA", 2027, 4, 12, 18, 30), 14)
    assert sorted(s.extra["kind"] for s in late) == ["posyandu-day", "posyandu-eve"]
    # Once the session has started nothing more is sent for it.
    after = await plan_posyandu(redis, redis_prefix, at("WITA", 2027, 4, 13, 8, 15), 12)
    assert after == []


async def test_cancelled_session_notice_and_no_reminder(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    now = at("WITA", 2027, 4, 5, 9, 0)
    user = await subscribed(redis, redis_prefix, "BTN1", 2005, now)
    change = Change(dt.date(2027, 4, 13), cancelled=True, note="Bidan sedang pelatihan")
    await directory.set_changes({"BTN1": [change]})
    [notice] = await change_notices(redis, redis_prefix, "BTN1", change, now)
    assert notice.key.startswith("chg:BTN1:2027-04-13:") and notice.key.endswith(f":{user}")
    assert notice.due == now and notice.utc_offset_hours == 8
    assert notice.text == (
        "Posyandu Mawar pada Selasa, 13 April 2027 dibatalkan. Catatan: Bidan sedang pelatihan."
        " Jadwal berikutnya: Selasa, 11 Mei 2027, 08.00-11.00 WITA.\nBalas STOP untuk berhenti."
    )
    assert notice.params == ("Posyandu Mawar", "Selasa, 13 April 2027", "dibatalkan")
    sends = await plan_posyandu(redis, redis_prefix, now, 24 * 40)
    assert {s.extra["session"] for s in sends} == {"2027-05-11"}
    # The same change again gives the same keys: the engine sends it once.
    [same] = await change_notices(redis, redis_prefix, "BTN1", change, now + HOUR)
    assert same.key == notice.key


async def test_moved_session_notice_and_reminders_on_the_new_day(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    now = at("WITA", 2027, 4, 5, 9, 0)
    await subscribed(redis, redis_prefix, "BTN1", 2006, now)
    await plan_posyandu(redis, redis_prefix, now, 24 * 10)
    moved = Change(dt.date(2027, 4, 13), False, dt.date(2027, 4, 15), dt.time(9), dt.time(12))
    await directory.set_changes({"BTN1": [moved]})
    [notice] = await change_notices(redis, redis_prefix, "BTN1", moved, now)
    assert notice.text == (
        "Jadwal Posyandu Mawar berubah: sesi Selasa, 13 April 2027 pindah ke Kamis, "
        "15 April 2027, 09.00-12.00 WITA di Balai Desa.\nBalas STOP untuk berhenti."
    )
    # The planner looks again at once, and plans the new day only.
    assert await redis.zscore(redis_prefix + keys.POSYANDU_PLAN, "BTN1") == now
    sends = await plan_posyandu(redis, redis_prefix, now, 24 * 10)
    assert {(s.extra["session"], s.due) for s in sends} == {
        ("2027-04-15", at("WITA", 2027, 4, 14, 16, 0)),
        ("2027-04-15", at("WITA", 2027, 4, 15, 6, 30)),
    }
    # A second change to the same session is news again: new keys.
    later = Change(dt.date(2027, 4, 13), False, dt.date(2027, 4, 16))
    await directory.set_changes({"BTN1": [later]})
    [second] = await change_notices(redis, redis_prefix, "BTN1", later, now)
    assert second.key != notice.key


async def test_past_changes_and_posyandu_without_subscribers_tell_no_one(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    now = at("WIB", 2027, 4, 20, 9, 0)
    await subscribed(redis, redis_prefix, "JKT1", 2007, now)
    past = Change(dt.date(2027, 4, 10), cancelled=True)
    assert await change_notices(redis, redis_prefix, "JKT1", past, now) == []
    upcoming = Change(dt.date(2027, 5, 10), cancelled=True)
    assert await change_notices(redis, redis_prefix, "JYP1", upcoming, now) == []


class CountingDirectory(Directory):
    def __init__(self, redis: Redis, prefix: str) -> None:
        super().__init__(redis, prefix)
        self.looked_up: list[str] = []

    async def get(self, posyandu_id: str) -> PosyanduRecord | None:
        self.looked_up.append(posyandu_id)
        return await super().get(posyandu_id)


async def test_cost_does_not_grow_with_posyandu_without_subscribers(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    now = at("WIB", 2027, 4, 1, 9, 0)
    for number, posyandu_id in enumerate(["JKT1", "BTN1"]):
        await subscribed(redis, redis_prefix, posyandu_id, 2100 + number, now)
    counting = CountingDirectory(redis, redis_prefix)
    small = await plan_posyandu(redis, redis_prefix, now, 24 * 14, directory=counting)
    looked_up_small = sorted(counting.looked_up)
    # 2,000 more Posyandu nobody follows.
    template = RECORDS[0]
    await directory.upsert(template.model_copy(update={"id": f"EMPTY{i}"}) for i in range(2000))
    await redis.zadd(redis_prefix + keys.POSYANDU_PLAN, {"JKT1": now, "BTN1": now})
    counting = CountingDirectory(redis, redis_prefix)
    large = await plan_posyandu(redis, redis_prefix, now, 24 * 14, directory=counting)
    assert sorted(counting.looked_up) == looked_up_small == ["BTN1", "JKT1"]
    assert [s.key for s in large] == [s.key for s in small]
    assert await redis.zcard(redis_prefix + keys.POSYANDU_PLAN) == 2


async def test_a_posyandu_whose_subscribers_left_leaves_the_plan(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    now = at("WIB", 2027, 4, 1, 9, 0)
    user = await subscribed(redis, redis_prefix, "JKT1", 2201, now)
    other, contact = wa("6281200002202")
    await consent(redis, redis_prefix, other, PURPOSE_POSYANDU, now=now)
    await subscribe_posyandu(redis, redis_prefix, other, "JKT1", contact, now)
    assert await unsubscribe_all(redis, redis_prefix, user) == 1
    sends = await plan_posyandu(redis, redis_prefix, now, 24 * 14)
    assert {s.subscriber for s in sends} == {other}
    assert {s.channel for s in sends} == {"whatsapp"}
    await unsubscribe_all(redis, redis_prefix, other)
    assert await plan_posyandu(redis, redis_prefix, now, 24 * 14) == []
    assert await redis.zscore(redis_prefix + keys.POSYANDU_PLAN, "JKT1") is None


async def test_expired_subscriptions_are_pruned_and_opted_out_users_skipped(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    now = at("WIB", 2027, 4, 1, 9, 0)
    old = await subscribed(redis, redis_prefix, "JKT1", 2301, now - 366 * 24 * HOUR)
    stopped = await subscribed(redis, redis_prefix, "JKT1", 2302, now)
    kept = await subscribed(redis, redis_prefix, "JKT1", 2303, now)
    await redis.set(keys.optout(redis_prefix, stopped), "1")
    sends = await plan_posyandu(redis, redis_prefix, now, 24 * 14)
    assert {s.subscriber for s in sends} == {kept}
    assert await redis.zscore(keys.subscribers(redis_prefix, "JKT1"), old) is None
    assert not await redis.hexists(keys.user_record(redis_prefix, old), "p:JKT1")
