"""Consent first, then compact per-user records that expire on their own."""

from __future__ import annotations

import datetime as dt

import pytest
from redis.asyncio import Redis

from actions.posyandu.directory import Directory
from actions.reminders import keys
from actions.reminders.consent import (
    PURPOSE_CHILD,
    PURPOSE_POSYANDU,
    consent_text,
    consents,
    has_consent,
    record_consent,
)
from actions.reminders.errors import ConsentRequired, InvalidInput, LimitReached, NotFound
from actions.reminders.store import (
    MAX_SUBSCRIPTIONS,
    Contact,
    add_child,
    contact_of,
    list_children,
    list_subscriptions,
    mark_doses_done,
    remove_child,
    subscribe_posyandu,
    unsubscribe_posyandu,
    user_key,
)
from actions.retention import enforce
from tests.reminders_store.conftest import (
    RECORDS,
    at,
    consent,
    everything_under,
    policy_kind,
    tg,
    wa,
)

NOW = at("WIB", 2026, 12, 1, 10, 0)
DAY = 24 * 3600


@pytest.mark.parametrize("purpose", [PURPOSE_POSYANDU, PURPOSE_CHILD])
def test_consent_texts_say_what_why_how_long_and_how_to_erase(purpose: str) -> None:
    text = consent_text(purpose)
    lines = text.text.splitlines()
    assert 2 <= len(lines) <= 3
    assert "hapus data saya" in text.text and "STOP" in text.text
    assert "tahun" in text.text  # how long
    assert text.text.rstrip().endswith("?")  # asks for "Setuju"
    assert text.version
    if purpose == PURPOSE_CHILD:
        assert "tanggal lahir" in text.text and "wali" in text.text


async def test_nothing_is_stored_without_consent(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    before = set(await everything_under(redis, redis_prefix))
    user, contact = tg(1001)
    with pytest.raises(ConsentRequired) as refused:
        await subscribe_posyandu(redis, redis_prefix, user, "JKT1", contact, NOW)
    assert refused.value.purpose == PURPOSE_POSYANDU
    with pytest.raises(ConsentRequired):
        await add_child(redis, redis_prefix, user, dt.date(2026, 10, 1), contact, NOW)
    # A Posyandu consent does not cover a child.
    await consent(redis, redis_prefix, user, PURPOSE_POSYANDU, now=NOW)
    with pytest.raises(ConsentRequired) as refused:
        await add_child(redis, redis_prefix, user, dt.date(2026, 10, 1), contact, NOW)
    assert refused.value.purpose == PURPOSE_CHILD
    after = await everything_under(redis, redis_prefix)
    assert set(after) - before == {keys.user_record(redis_prefix, user)}
    assert set(after[keys.user_record(redis_prefix, user)]) == {b"c:posyandu"}


async def test_an_older_consent_text_does_not_count(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    user, contact = tg(1002)
    await record_consent(redis, redis_prefix, user, PURPOSE_POSYANDU, "posyandu-2020-0", NOW)
    assert not await has_consent(redis, redis_prefix, user, PURPOSE_POSYANDU)
    with pytest.raises(ConsentRequired):
        await subscribe_posyandu(redis, redis_prefix, user, "JKT1", contact, NOW)
    await consent(redis, redis_prefix, user, PURPOSE_POSYANDU, now=NOW)
    assert await has_consent(redis, redis_prefix, user, PURPOSE_POSYANDU)
    [kept] = await consents(redis, redis_prefix, user)
    assert (kept.purpose, kept.current, kept.at) == (PURPOSE_POSYANDU, True, NOW)


async def test_a_consent_alone_lasts_a_day_and_lifts_an_opt_out(
    redis: Redis, redis_prefix: str
) -> None:
    user, _ = tg(1003)
    await redis.set(keys.optout(redis_prefix, user), "1")
    await consent(redis, redis_prefix, user, PURPOSE_POSYANDU, now=NOW)
    assert 0 < await redis.ttl(keys.user_record(redis_prefix, user)) <= DAY
    assert not await redis.exists(keys.optout(redis_prefix, user))


async def test_subscription_is_one_small_hash_with_a_year_to_live(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    user, contact = wa("6281200000001")
    await consent(redis, redis_prefix, user, PURPOSE_POSYANDU, now=NOW)
    subscription = await subscribe_posyandu(redis, redis_prefix, user, "BTN1", contact, NOW)
    assert subscription.expires == int(NOW) + 365 * DAY
    record = keys.user_record(redis_prefix, user)
    assert (await redis.type(record)) == b"hash"
    assert await redis.object("encoding", record) == b"listpack"
    assert 364 * DAY < await redis.ttl(record) <= 365 * DAY
    assert await redis.zscore(keys.subscribers(redis_prefix, "BTN1"), user) == subscription.expires
    assert await redis.zscore(redis_prefix + keys.POSYANDU_PLAN, "BTN1") == NOW
    assert [s.posyandu_id for s in await list_subscriptions(redis, redis_prefix, user, NOW)] == [
        "BTN1"
    ]
    # Subscribing again renews the year and keeps the first date.
    later = NOW + 30 * DAY
    again = await subscribe_posyandu(redis, redis_prefix, user, "BTN1", contact, later)
    assert (again.created, again.expires) == (subscription.created, int(later) + 365 * DAY)
    # The record's memory stays small (no list growing with time).
    assert (await redis.memory_usage(record) or 0) < 300


async def test_unknown_posyandu_and_limits_are_refused(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    user, contact = tg(1004)
    await consent(redis, redis_prefix, user, now=NOW)
    with pytest.raises(NotFound):
        await subscribe_posyandu(redis, redis_prefix, user, "NOPE", contact, NOW)
    await directory.upsert(
        RECORDS[0].model_copy(update={"id": f"X{i}"}) for i in range(MAX_SUBSCRIPTIONS)
    )
    for i in range(MAX_SUBSCRIPTIONS):
        await subscribe_posyandu(redis, redis_prefix, user, f"X{i}", contact, NOW)
    with pytest.raises(LimitReached) as refused:
        await subscribe_posyandu(redis, redis_prefix, user, "JKT1", contact, NOW)
    assert str(refused.value).startswith("Anda sudah berlangganan 5 Posyandu")


async def test_unsubscribing_the_last_one_keeps_nothing(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    user, contact = tg(1005)
    await consent(redis, redis_prefix, user, PURPOSE_POSYANDU, now=NOW)
    await subscribe_posyandu(redis, redis_prefix, user, "JKT1", contact, NOW)
    await subscribe_posyandu(redis, redis_prefix, user, "BTN1", contact, NOW)
    assert await unsubscribe_posyandu(redis, redis_prefix, user, "JKT1")
    assert not await unsubscribe_posyandu(redis, redis_prefix, user, "JKT1")
    assert await redis.exists(keys.user_record(redis_prefix, user))
    assert await unsubscribe_posyandu(redis, redis_prefix, user, "BTN1")
    assert not await redis.exists(keys.user_record(redis_prefix, user))
    assert not await redis.zscore(keys.subscribers(redis_prefix, "BTN1"), user)


async def test_children_birth_date_nickname_and_doses(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    user, contact = tg(1006)
    await consent(redis, redis_prefix, user, now=NOW)
    await subscribe_posyandu(redis, redis_prefix, user, "JYP1", contact, NOW)
    first = await add_child(
        redis, redis_prefix, user, dt.date(2026, 10, 1), contact, NOW, nickname="  Adik  Ucok "
    )
    second = await add_child(redis, redis_prefix, user, dt.date(2025, 6, 15), contact, NOW)
    assert first.nickname == "Adik Ucok" and first.province_code == "91"  # from the Posyandu
    assert first.until == dt.date(2028, 10, 1) and second.until == dt.date(2027, 6, 15)
    assert first.id != second.id
    children = await list_children(redis, redis_prefix, user, NOW)
    assert [c.id for c in children] == [second.id, first.id]  # eldest first
    done = await mark_doses_done(
        redis, redis_prefix, user, first.id, ["bcg", "hb0"], NOW, known_doses={"bcg", "hb0"}
    )
    assert done.doses_done == {"bcg", "hb0"}
    with pytest.raises(InvalidInput):
        await mark_doses_done(redis, redis_prefix, user, first.id, ["vaksin x"], NOW)
    with pytest.raises(NotFound):
        await mark_doses_done(redis, redis_prefix, user, "nope", ["bcg"], NOW)
    # The youngest child has reminders for two years; no key is set beyond a year ahead
    # (the planner extends it while reminders go on).
    assert await redis.ttl(keys.user_record(redis_prefix, user)) == pytest.approx(365 * DAY, abs=5)
    assert await remove_child(redis, redis_prefix, user, first.id, NOW)
    assert await remove_child(redis, redis_prefix, user, second.id, NOW)
    # With both children gone the record lives until the subscription's year ends.
    assert await redis.ttl(keys.user_record(redis_prefix, user)) == pytest.approx(365 * DAY, abs=5)
    await unsubscribe_posyandu(redis, redis_prefix, user, "JYP1", NOW)
    assert not await redis.exists(keys.user_record(redis_prefix, user))
    assert await redis.zscore(redis_prefix + keys.CHILD_DUE, f"{user}:{first.id}") is None


@pytest.mark.parametrize(
    ("birth", "nickname", "message"),
    [
        (dt.date(2026, 12, 20), "", "belum lewat"),
        (dt.date(2024, 11, 30), "", "di bawah 2 tahun"),
        (dt.date(2026, 10, 1), "Namanya Panjang Sekali Ya", "paling banyak 20 huruf"),
        (dt.date(2026, 10, 1), "081234567890", "tanpa nomor"),
    ],
)
async def test_bad_child_details_are_refused_kindly(
    redis: Redis, redis_prefix: str, birth: dt.date, nickname: str, message: str
) -> None:
    user, contact = tg(1007)
    await consent(redis, redis_prefix, user, PURPOSE_CHILD, now=NOW)
    with pytest.raises(InvalidInput) as refused:
        await add_child(redis, redis_prefix, user, birth, contact, NOW, nickname=nickname)
    assert message in str(refused.value)


def test_contact_of_a_sender_id() -> None:
    assert contact_of("tg:12345") == Contact("telegram", "12345")
    assert contact_of("wa:6281234567890") == Contact("whatsapp", "6281234567890")
    assert contact_of("web:abc") is None
    assert user_key("tg:12345") == tg(12345)[0]


def test_user_key_is_the_gateways() -> None:
    from bot.channels import conversation

    assert conversation.user_key("wa:6281200000009") == user_key("wa:6281200000009")


async def test_every_key_written_expires_within_the_policy(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    user, contact = tg(1008)
    await consent(redis, redis_prefix, user, now=NOW)
    await subscribe_posyandu(redis, redis_prefix, user, "JKT1", contact, NOW)
    await add_child(redis, redis_prefix, user, dt.date(2026, 11, 30), contact, NOW)
    from actions.reminders.planner import plan_children, plan_posyandu

    await plan_posyandu(redis, redis_prefix, NOW, 24 * 30, directory=directory)
    from tests.reminders_store.conftest import StubSchedule

    await plan_children(redis, redis_prefix, NOW, 24, schedule=StubSchedule())
    for key in await everything_under(redis, redis_prefix):
        if key.startswith(f"{redis_prefix}pos:"):
            continue  # the directory (not personal)
        kind = policy_kind(redis_prefix, key)
        assert kind is not None, key
        assert 0 < await redis.ttl(key) <= kind.max_seconds, key
    report = await enforce(redis, redis_prefix)
    assert report.expiry_set == 0
