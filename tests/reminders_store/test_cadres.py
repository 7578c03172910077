"""Cadres: link codes, broadcasts within their limits, moving and cancelling sessions."""

from __future__ import annotations

import asyncio
import datetime as dt
import io

import pytest
from redis.asyncio import Redis

from actions.posyandu.directory import Directory
from actions.reminders import keys
from actions.reminders.cadres import (
    Cadre,
    add_cadre,
    cadre_for,
    cancel_session,
    confirm_broadcast,
    discard_broadcast,
    draft_broadcast,
    issue_link_code,
    link_cadre,
    move_session,
    next_session,
    preview,
)
from actions.reminders.cli import parser, run
from actions.reminders.consent import PURPOSE_POSYANDU
from actions.reminders.errors import (
    InvalidInput,
    LimitReached,
    LinkCodeError,
    NotAllowed,
    NotFound,
)
from actions.reminders.store import subscribe_posyandu
from tests.reminders_store.conftest import at, consent, tg, wa

NOW = at("WITA", 2027, 4, 5, 9, 0)  # Monday; BTN1's next session is Tuesday 13 April
DAY = 24 * 3600


async def linked_cadre(redis: Redis, prefix: str, *posyandu: str) -> Cadre:
    cadre = await add_cadre(redis, prefix, list(posyandu or ["BTN1"]), NOW)
    code = await issue_link_code(redis, prefix, cadre.id, NOW)
    user, contact = wa("6281300000001")
    return await link_cadre(redis, prefix, code, user, contact, NOW)


async def subscribers(redis: Redis, prefix: str, posyandu_id: str, *numbers: int) -> list[str]:
    users = []
    for number in numbers:
        user, contact = tg(number)
        await consent(redis, prefix, user, PURPOSE_POSYANDU, now=NOW)
        await subscribe_posyandu(redis, prefix, user, posyandu_id, contact, NOW)
        users.append(user)
    return users


async def test_a_link_code_links_once(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    cadre = await add_cadre(redis, redis_prefix, ["BTN1", "JKT1"], NOW)
    assert cadre.id.startswith("kdr-") and cadre.posyandu_ids == ("BTN1", "JKT1")
    code = await issue_link_code(redis, redis_prefix, cadre.id, NOW)
    assert len(code) == 6 and code.isdigit()
    assert 0 < await redis.ttl(keys.cadre_code(redis_prefix, code)) <= DAY
    user, contact = tg(4001)
    assert await cadre_for(redis, redis_prefix, user) is None
    linked = await link_cadre(redis, redis_prefix, f" {code[:3]} {code[3:]} ", user, contact, NOW)
    assert (linked.user, linked.contact) == (user, contact)
    found = await cadre_for(redis, redis_prefix, user)
    assert found is not None and found.id == cadre.id
    # Single use: the same code again, from anyone, is refused.
    other, other_contact = tg(4002)
    with pytest.raises(LinkCodeError) as refused:
        await link_cadre(redis, redis_prefix, code, other, other_contact, NOW)
    assert "salah atau sudah tidak berlaku" in str(refused.value)
    # A new code moves the cadre to the new account; the old one is no longer a cadre.
    fresh = await issue_link_code(redis, redis_prefix, cadre.id, NOW)
    await link_cadre(redis, redis_prefix, fresh, other, other_contact, NOW)
    assert await cadre_for(redis, redis_prefix, user) is None
    assert (await cadre_for(redis, redis_prefix, other)).id == cadre.id  # type: ignore[union-attr]


async def test_an_expired_or_replaced_code_does_not_link(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    cadre = await add_cadre(redis, redis_prefix, ["BTN1"], NOW)
    user, contact = tg(4003)
    first = await issue_link_code(redis, redis_prefix, cadre.id, NOW)
    second = await issue_link_code(redis, redis_prefix, cadre.id, NOW)
    with pytest.raises(LinkCodeError):
        await link_cadre(redis, redis_prefix, first, user, contact, NOW)  # replaced
    await redis.pexpire(keys.cadre_code(redis_prefix, second), 1)  # its 24 hours are over
    await asyncio.sleep(0.01)
    with pytest.raises(LinkCodeError):
        await link_cadre(redis, redis_prefix, second, user, contact, NOW)


async def test_link_attempts_are_limited(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    cadre = await add_cadre(redis, redis_prefix, ["BTN1"], NOW)
    code = await issue_link_code(redis, redis_prefix, cadre.id, NOW)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    user, contact = tg(4004)
    for attempt in [wrong, "12345", "abcdef", wrong, wrong]:
        with pytest.raises(LinkCodeError):
            await link_cadre(redis, redis_prefix, attempt, user, contact, NOW)
    with pytest.raises(LinkCodeError) as refused:
        await link_cadre(redis, redis_prefix, code, user, contact, NOW)  # right, but too late
    assert "Terlalu banyak percobaan" in str(refused.value)
    assert 0 < await redis.ttl(keys.cadre_tries(redis_prefix, user)) <= DAY
    # Another account can still use it.
    other, other_contact = tg(4005)
    await link_cadre(redis, redis_prefix, code, other, other_contact, NOW)


async def test_a_broadcast_reaches_subscribers_not_opted_out(
    redis: Redis, redis_prefix: str, directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KS_WA_TEMPLATE_BROADCAST", "siaran_kader")
    cadre = await linked_cadre(redis, redis_prefix)
    first, stopped, third = await subscribers(redis, redis_prefix, "BTN1", 4101, 4102, 4103)
    await subscribers(redis, redis_prefix, "JKT1", 4104)  # another Posyandu
    await redis.set(keys.optout(redis_prefix, stopped), "1")
    text = "Besok ada pemberian vitamin A.\nBawa buku KIA ya."
    draft = await draft_broadcast(redis, redis_prefix, cadre, "BTN1", text, None, NOW)
    shown = await preview(redis, redis_prefix, cadre, draft.id, NOW)
    assert shown.recipients == 2
    assert shown.text == (
        "Pratinjau siaran untuk 2 pelanggan Posyandu Mawar, dikirim sekarang:\n\n"
        "Pesan dari kader Posyandu Mawar:\nBesok ada pemberian vitamin A.\nBawa buku KIA ya."
        "\n\nKirim siaran ini?"
    )
    sends = await confirm_broadcast(redis, redis_prefix, cadre, draft.id, NOW)
    assert sorted(s.subscriber for s in sends) == sorted([first, third])
    assert {s.key for s in sends} == {f"bc:{draft.id}:{first}", f"bc:{draft.id}:{third}"}
    send = sends[0]
    assert send.broadcast == draft.id and send.due == NOW and send.utc_offset_hours == 8
    assert send.text.endswith("Bawa buku KIA ya.\nBalas STOP untuk berhenti.")
    assert send.template == "siaran_kader"
    assert send.params == ("Posyandu Mawar", "Besok ada pemberian vitamin A. Bawa buku KIA ya.")
    assert send.buttons == (("Berhenti", "/unsubscribe"),)
    # Confirmed once: a second confirm (a double tap) sends nothing.
    with pytest.raises(NotFound):
        await confirm_broadcast(redis, redis_prefix, cadre, draft.id, NOW)
    report = await redis.hgetall(keys.cadre_sent(redis_prefix, draft.id))
    assert report[b"recipients"] == b"2" and b"text" not in report


async def test_a_scheduled_broadcast_is_due_then(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    cadre = await linked_cadre(redis, redis_prefix)
    await subscribers(redis, redis_prefix, "BTN1", 4201)
    send_at = at("WITA", 2027, 4, 12, 17, 0)
    draft = await draft_broadcast(
        redis, redis_prefix, cadre, "BTN1", "Besok posyandu", send_at, NOW
    )
    shown = await preview(redis, redis_prefix, cadre, draft.id, NOW)
    assert "dikirim Senin, 12 April 2027 pukul 17.00 WITA" in shown.text
    [send] = await confirm_broadcast(redis, redis_prefix, cadre, draft.id, NOW)
    assert send.due == send_at
    with pytest.raises(InvalidInput):
        await draft_broadcast(redis, redis_prefix, cadre, "BTN1", "x", NOW - DAY, NOW)
    with pytest.raises(InvalidInput):
        await draft_broadcast(redis, redis_prefix, cadre, "BTN1", "x", NOW + 40 * DAY, NOW)


async def test_broadcast_limits_length_own_posyandu_and_week(
    redis: Redis, redis_prefix: str, directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KS_BROADCASTS_PER_WEEK", "2")
    cadre = await linked_cadre(redis, redis_prefix)
    with pytest.raises(InvalidInput) as refused:
        await draft_broadcast(redis, redis_prefix, cadre, "BTN1", "a" * 701, None, NOW)
    assert str(refused.value) == "Pesan terlalu panjang (701 huruf). Paling banyak 700 huruf, ya."
    await draft_broadcast(redis, redis_prefix, cadre, "BTN1", "a" * 700, None, NOW)
    with pytest.raises(InvalidInput):
        await draft_broadcast(redis, redis_prefix, cadre, "BTN1", "  \n ", None, NOW)
    with pytest.raises(NotAllowed) as not_own:
        await draft_broadcast(redis, redis_prefix, cadre, "JKT1", "Halo", None, NOW)
    assert (
        str(not_own.value) == "Anda hanya bisa mengirim ke Posyandu Anda sendiri: Posyandu Mawar."
    )
    for day in range(2):
        draft = await draft_broadcast(
            redis, redis_prefix, cadre, "BTN1", "Halo", None, NOW + day * DAY
        )
        await confirm_broadcast(redis, redis_prefix, cadre, draft.id, NOW + day * DAY)
    with pytest.raises(LimitReached) as limited:
        await draft_broadcast(redis, redis_prefix, cadre, "BTN1", "Halo", None, NOW + 2 * DAY)
    assert str(limited.value) == (
        "Posyandu Mawar sudah mengirim 2 siaran minggu ini, batasnya. Coba lagi Senin, "
        "12 April 2027."
    )
    # A draft made before the limit was reached cannot pass it either.
    monkeypatch.setenv("KS_BROADCASTS_PER_WEEK", "3")
    early = await draft_broadcast(redis, redis_prefix, cadre, "BTN1", "Satu", None, NOW + 2 * DAY)
    late = await draft_broadcast(redis, redis_prefix, cadre, "BTN1", "Dua", None, NOW + 2 * DAY)
    await confirm_broadcast(redis, redis_prefix, cadre, early.id, NOW + 2 * DAY)
    with pytest.raises(LimitReached):
        await confirm_broadcast(redis, redis_prefix, cadre, late.id, NOW + 2 * DAY)
    # A week after the first, there is room again.
    assert await draft_broadcast(
        redis, redis_prefix, cadre, "BTN1", "Halo", None, NOW + 7 * DAY + 1
    )
    # The refused draft was kept: now it goes without being typed again.
    sends = await confirm_broadcast(redis, redis_prefix, cadre, late.id, NOW + 7 * DAY + 1)
    assert all("Dua" in send.text for send in sends)


async def test_only_a_registered_cadre_and_only_their_drafts(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    cadre = await linked_cadre(redis, redis_prefix)
    other = await add_cadre(redis, redis_prefix, ["BTN1"], NOW)
    draft = await draft_broadcast(redis, redis_prefix, cadre, "BTN1", "Halo", None, NOW)
    with pytest.raises(NotFound):
        await confirm_broadcast(redis, redis_prefix, other, draft.id, NOW)
    assert not await discard_broadcast(redis, redis_prefix, other, draft.id)
    assert await discard_broadcast(redis, redis_prefix, cadre, draft.id)
    with pytest.raises(NotFound):
        await confirm_broadcast(redis, redis_prefix, cadre, draft.id, NOW)
    ghost = Cadre("kdr-00000000", ("BTN1",), NOW)
    with pytest.raises(NotAllowed):
        await draft_broadcast(redis, redis_prefix, ghost, "BTN1", "Halo", None, NOW)


async def test_a_cadre_moves_the_next_session_and_subscribers_hear_of_it(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    cadre = await linked_cadre(redis, redis_prefix, "BTN1", "JKT1")
    [user] = await subscribers(redis, redis_prefix, "BTN1", 4301)
    session = await next_session(redis, redis_prefix, cadre, "BTN1", NOW)
    assert session.start.date() == dt.date(2027, 4, 13)
    notices = await move_session(
        redis, redis_prefix, cadre, "BTN1", dt.date(2027, 4, 14), NOW, note="Balai dipakai"
    )
    [notice] = notices
    assert notice.subscriber == user
    assert notice.text.startswith(
        "Jadwal Posyandu Mawar berubah: sesi Selasa, 13 April 2027 pindah ke Rabu, 14 April 2027,"
        " 08.00-11.00 WITA di Balai Desa. Catatan: Balai dipakai."
    )
    [change] = await directory.changes_for("BTN1")
    assert (change.original, change.new_date) == (dt.date(2027, 4, 13), dt.date(2027, 4, 14))
    # The next session is now the moved one; moving it again replaces the change.
    moved = await next_session(redis, redis_prefix, cadre, "BTN1", NOW)
    assert moved.start.date() == dt.date(2027, 4, 14)
    await move_session(
        redis,
        redis_prefix,
        cadre,
        "BTN1",
        dt.date(2027, 4, 15),
        NOW,
        new_start=dt.time(9),
        new_end=dt.time(12),
    )
    [change] = await directory.changes_for("BTN1")
    assert (change.original, change.new_date, change.new_start) == (
        dt.date(2027, 4, 13),
        dt.date(2027, 4, 15),
        dt.time(9),
    )
    with pytest.raises(InvalidInput):
        await move_session(redis, redis_prefix, cadre, "BTN1", dt.date(2027, 4, 1), NOW)
    with pytest.raises(InvalidInput):
        await move_session(
            redis, redis_prefix, cadre, "BTN1", dt.date(2027, 4, 20), NOW, new_start=dt.time(9)
        )


async def test_a_cadre_cancels_the_next_session_but_not_anothers(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    cadre = await linked_cadre(redis, redis_prefix, "BTN1")
    await subscribers(redis, redis_prefix, "BTN1", 4401, 4402)
    notices = await cancel_session(redis, redis_prefix, cadre, "BTN1", NOW, note="Banjir")
    assert len(notices) == 2
    assert all("13 April 2027 dibatalkan" in n.text for n in notices)
    assert (await next_session(redis, redis_prefix, cadre, "BTN1", NOW)).start.date() == dt.date(
        2027, 5, 11
    )
    with pytest.raises(NotAllowed):
        await cancel_session(redis, redis_prefix, cadre, "JKT1", NOW)


async def test_cli_registers_cadres_and_prints_codes(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    out = io.StringIO()
    args = parser().parse_args(["cadre", "add", "--posyandu", "BTN1", "--posyandu", "JKT1"])
    assert await run(args, redis, redis_prefix, out, NOW) == 0
    cadre_id = out.getvalue().split()[2]
    assert cadre_id.startswith("kdr-")
    out = io.StringIO()
    assert (
        await run(parser().parse_args(["cadre", "code", cadre_id]), redis, redis_prefix, out) == 0
    )
    code = out.getvalue().split(": ")[1].split()[0]
    assert len(code) == 6 and code.isdigit()
    out = io.StringIO()
    assert await run(parser().parse_args(["cadre", "list"]), redis, redis_prefix, out) == 0
    assert out.getvalue() == f"{cadre_id}\tBTN1,JKT1\tbelum terhubung\n"
    out = io.StringIO()
    args = parser().parse_args(["cadre", "add", "--posyandu", "NOPE"])
    assert await run(args, redis, redis_prefix, out) == 1
    assert "tidak ada di daftar kami" in out.getvalue()
    out = io.StringIO()
    assert (
        await run(parser().parse_args(["cadre", "remove", cadre_id]), redis, redis_prefix, out) == 0
    )
    assert not await redis.exists(keys.cadre_code(redis_prefix, code))
    assert (
        await run(parser().parse_args(["cadre", "remove", cadre_id]), redis, redis_prefix, out) == 1
    )
    out = io.StringIO()
    await run(parser().parse_args(["cadre", "list"]), redis, redis_prefix, out)
    assert out.getvalue() == "Belum ada kader terdaftar.\n"


async def test_a_session_moved_by_a_holiday_is_changed_by_its_planned_date(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    now = at("WIB", 2027, 5, 1, 9, 0)
    await directory.set_holidays([dt.date(2027, 5, 10)])
    cadre = await linked_cadre(redis, redis_prefix, "JKT1")
    session = await next_session(redis, redis_prefix, cadre, "JKT1", now)
    assert session.start.date() == dt.date(2027, 5, 11)  # day 10 is a holiday
    await cancel_session(redis, redis_prefix, cadre, "JKT1", now)
    [change] = await directory.changes_for("JKT1")
    assert change.original == dt.date(2027, 5, 10) and change.cancelled
    following = await next_session(redis, redis_prefix, cadre, "JKT1", now)
    assert following.start.date() == dt.date(2027, 6, 10)
    with pytest.raises(InvalidInput):  # the same day and hours: nothing to change
        await move_session(redis, redis_prefix, cadre, "JKT1", dt.date(2027, 6, 10), now)
