"""The user's data rights on the reminder side: what is kept, stop everything, erase."""

from __future__ import annotations

import contextlib
import datetime as dt

from redis.asyncio import Redis

from actions.posyandu.directory import Directory
from actions.reminders import keys
from actions.reminders.cadres import add_cadre, issue_link_code, link_cadre
from actions.reminders.errors import LinkCodeError
from actions.reminders.planner import plan_children, plan_posyandu
from actions.reminders.store import (
    Contact,
    add_child,
    describe_user,
    forget_user,
    list_subscriptions,
    mark_doses_done,
    subscribe_posyandu,
    unsubscribe_all,
)
from tests.reminders_store.conftest import (
    StubSchedule,
    at,
    consent,
    everything_under,
    mentions,
    tg,
    wa,
)

NOW = at("WIB", 2026, 12, 1, 10, 0)


async def full_user(redis: Redis, prefix: str, number: str) -> tuple[str, str]:
    """A WhatsApp user with two subscriptions, two children (one with doses) and consents."""
    user, contact = wa(number)
    await consent(redis, prefix, user, now=NOW)
    await subscribe_posyandu(redis, prefix, user, "JKT1", contact, NOW)
    await subscribe_posyandu(redis, prefix, user, "BTN1", contact, NOW)
    child = await add_child(
        redis, prefix, user, dt.date(2026, 10, 1), contact, NOW, nickname="Adik"
    )
    await mark_doses_done(redis, prefix, user, child.id, ["bcg", "hb0"], NOW)
    await add_child(redis, prefix, user, dt.date(2025, 3, 3), contact, NOW)
    return user, contact.address


async def test_describe_lists_what_is_kept_in_indonesian(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    user, _ = await full_user(redis, redis_prefix, "6281200003001")
    lines = await describe_user(redis, redis_prefix, user)
    assert lines == [
        "Nomor WhatsApp Anda, untuk mengirim pengingat.",
        "Langganan pengingat Posyandu Mawar, sejak 1 Desember 2026, berakhir 1 Desember 2027.",
        "Langganan pengingat Posyandu Melati, sejak 1 Desember 2026, berakhir 1 Desember 2027.",
        "Anak lahir 3 Maret 2025: pengingat imunisasi sampai 3 Maret 2027.",
        'Anak lahir 1 Oktober 2026, panggilan "Adik": pengingat imunisasi sampai 1 Oktober 2028;'
        " sudah dicatat: Hepatitis B (HB0), BCG.",
        "Persetujuan pengingat Posyandu (versi posyandu-2025-1), 1 Desember 2026.",
        "Persetujuan pengingat imunisasi anak (versi child-2025-1), 1 Desember 2026.",
    ]
    nobody, _ = tg(9999)
    assert await describe_user(redis, redis_prefix, nobody) == []


async def test_stop_ends_everything_and_keeps_nothing_personal(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    user, address = await full_user(redis, redis_prefix, "6281200003002")
    other, _ = await full_user(redis, redis_prefix, "6281200003003")
    await plan_posyandu(redis, redis_prefix, NOW, 24 * 40)
    await plan_children(redis, redis_prefix, NOW, 24 * 40, schedule=StubSchedule())
    assert await unsubscribe_all(redis, redis_prefix, user) == 4
    assert await list_subscriptions(redis, redis_prefix, user, NOW) == []
    for key, content in (await everything_under(redis, redis_prefix)).items():
        assert user not in key and not mentions(content, user), key
        assert not mentions(content, address), key
    # The other user is untouched, and the planner no longer finds the first one.
    sends = await plan_posyandu(redis, redis_prefix, NOW, 24 * 40)
    assert sends and {s.subscriber for s in sends} == {other}
    assert await unsubscribe_all(redis, redis_prefix, user) == 0


async def test_forget_user_leaves_no_key_and_no_index_membership(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    user, address = await full_user(redis, redis_prefix, "6281200003004")
    other, _ = await full_user(redis, redis_prefix, "6281200003005")
    # The same person is also a cadre, and once mistyped a link code.
    cadre = await add_cadre(redis, redis_prefix, ["JKT1"], NOW)
    contact = Contact("whatsapp", address)
    with contextlib.suppress(LinkCodeError):
        await link_cadre(redis, redis_prefix, "000000", user, contact, NOW)
    code = await issue_link_code(redis, redis_prefix, cadre.id, NOW)
    await link_cadre(redis, redis_prefix, code, user, contact, NOW)
    await redis.incr(keys.cadre_tries(redis_prefix, user))  # one more try left behind
    await plan_posyandu(redis, redis_prefix, NOW, 24 * 40)
    await plan_children(redis, redis_prefix, NOW, 24 * 40, schedule=StubSchedule())
    before = await everything_under(redis, redis_prefix)
    assert any(user in key or mentions(content, user) for key, content in before.items())

    removed = await forget_user(redis, redis_prefix, user)
    assert removed == 3  # the record, the cadre link, the link attempts
    after = await everything_under(redis, redis_prefix)
    for key, content in after.items():
        assert user not in key, key
        assert not mentions(content, user), key  # no index membership, no field
        assert not mentions(content, address), key
    assert await describe_user(redis, redis_prefix, user) == []
    # The cadre stays registered (for the Puskesmas), without the erased account.
    assert (await redis.hgetall(keys.cadre_record(redis_prefix, cadre.id))).keys() == {
        b"created",
        b"posyandu",
    }
    assert any(mentions(content, other) for content in after.values())
    assert await forget_user(redis, redis_prefix, user) == 0
