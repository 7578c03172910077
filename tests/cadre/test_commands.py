"""Cadre commands answered by `bot.cadre.answer` at a chosen moment, against real Redis:
broadcasts within their limits, several Posyandu, moving and cancelling, delivery reports,
and a Redis failure in the middle of a confirmation."""

from __future__ import annotations

import asyncio
import fnmatch
import itertools
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from actions.posyandu.directory import Directory
from actions.pseudonym import user_key
from actions.reminders import keys
from actions.reminders.model import Send
from actions.reminders.texts import say as say_reminders
from actions.retention import POLICY
from bot import cadre
from bot.cadre import answer, say
from bot.channels.message import Inbound, Outbound
from bot.reminders.senders import Outcome
from bot.reminders.worker import ReminderWorker, WorkerOptions
from tests.cadre.conftest import planned, register, subscribe
from tests.channels.conftest import until
from tests.reminders_store.conftest import at

NOW = at("WITA", 2027, 4, 5, 9, 0)  # Monday; BTN1 (WITA) meets on Tuesday 13 April
CADRE_TG = 5500001
_ids = itertools.count(1)


def text(chat: int, words: str, channel: str = "telegram") -> Inbound:
    return Inbound(channel, str(chat), str(chat), str(next(_ids)), "text", text=words)


def press(chat: int, payload: str) -> Inbound:
    return Inbound("telegram", str(chat), str(chat), str(next(_ids)), "button", payload=payload)


class Desk:
    """One cadre's chat at NOW (or later)."""

    def __init__(self, redis: Redis, prefix: str, chat: int = CADRE_TG) -> None:
        self.redis, self.prefix, self.chat = redis, prefix, chat
        self.now = NOW
        self.replies: list[Outbound] = []

    async def says(self, words: str) -> list[Outbound] | None:
        found = await answer(self.redis, self.prefix, text(self.chat, words), now=self.now)
        self.replies += found or []
        return found

    async def presses(self, title: str) -> list[Outbound]:
        """The button of the latest reply that has one with this title."""
        offered = [r for r in self.replies if any(c.title == title for c in r.choices)]
        [payload] = [c.payload for c in offered[-1].choices if c.title == title]
        found = await answer(self.redis, self.prefix, press(self.chat, payload), now=self.now)
        assert found is not None
        self.replies += found
        return found

    def last(self) -> str:
        return self.replies[-1].text

    def titles(self) -> list[str]:
        return [c.title for c in self.replies[-1].choices]


async def linked(redis: Redis, prefix: str, *posyandu: str, chat: int = CADRE_TG) -> Desk:
    _, code = await register(redis, prefix, *posyandu)
    desk = Desk(redis, prefix, chat)
    await desk.says(f"KODE {code}")
    assert desk.last().startswith("Terima kasih! Akun ini sekarang terhubung sebagai kader")
    return desk


async def subscribers(redis: Redis, prefix: str, posyandu_id: str, *chats: int) -> list[str]:
    return [await subscribe(redis, prefix, f"tg:{c}", posyandu_id, NOW) for c in chats]


# --- linking -------------------------------------------------------------------------------


async def test_a_code_links_the_account_and_shows_the_menu(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    _, code = await register(redis, redis_prefix, "BTN1", "JKT1")
    desk = Desk(redis, redis_prefix)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    await desk.says(f"kode {wrong}")
    assert desk.last() == say_reminders("errors", "code_wrong")
    await desk.says(f"kode kader {code[:3]} {code[3:]}")
    assert desk.last().startswith(
        "Terima kasih! Akun ini sekarang terhubung sebagai kader Posyandu Mawar, Posyandu Melati."
    )
    for command in ("SIARAN <pesan>", "JADWAL", "PINDAH <tanggal> [jam]", "BATAL POSYANDU"):
        assert command in desk.last()
    assert "LAPORAN" in desk.last() and "Paling banyak 3 siaran per Posyandu" in desk.last()
    await desk.says("menu kader")
    assert desk.last().startswith("Akun ini terhubung sebagai kader Posyandu Mawar")
    # The same words from the web chat are not cadre commands (the web has no cadres).
    assert await answer(redis, redis_prefix, text(CADRE_TG, "JADWAL", "web"), now=NOW) is None


async def test_a_citizen_s_words_are_left_to_the_assistant(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    await linked(redis, redis_prefix, "BTN1")
    citizen = Desk(redis, redis_prefix, chat=5500999)
    for words in ("siaran: halo semua", "LAPORAN", "JADWAL", "PINDAH 15/4", "BATAL POSYANDU"):
        assert await citizen.says(words) is None
    # A cadre button pressed by someone who is not (or no longer) a cadre: said so, kindly.
    found = await answer(redis, redis_prefix, press(5500999, "/cadre:send:0123456789ab"), now=NOW)
    assert found == [Outbound(say_reminders("errors", "not_cadre"))]


# --- broadcasts ----------------------------------------------------------------------------


async def test_a_broadcast_preview_then_send(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    desk = await linked(redis, redis_prefix, "BTN1")
    first, stopped, third = await subscribers(redis, redis_prefix, "BTN1", 6601, 6602, 6603)
    await subscribers(redis, redis_prefix, "JKT1", 6604)  # another Posyandu
    await redis.set(keys.optout(redis_prefix, stopped), "1")

    await desk.says("siaran: Besok ada pemberian vitamin A.\nBawa buku KIA ya.")
    assert desk.last() == (
        "Pratinjau siaran untuk 2 pelanggan Posyandu Mawar, dikirim sekarang:\n\n"
        "Pesan dari kader Posyandu Mawar:\nBesok ada pemberian vitamin A.\nBawa buku KIA ya."
        "\n\nKirim siaran ini?"
    )
    assert desk.titles() == ["Kirim", "Batal"]
    await desk.presses("Kirim")
    assert desk.last() == (
        "Siaran untuk 2 pelanggan Posyandu Mawar sudah dijadwalkan, dikirim sekarang. "
        "Ketik LAPORAN untuk melihat laporan pengirimannya."
    )
    sends = await planned(redis, redis_prefix, "bc:")
    assert sorted(s.subscriber for s in sends.values()) == sorted([first, third])
    assert {s.address for s in sends.values()} == {"6601", "6603"}
    assert {s.due for s in sends.values()} == {NOW}
    # Pressed twice: nothing more.
    await desk.presses("Kirim")
    assert desk.last() == say_reminders("errors", "no_draft")
    assert len(await planned(redis, redis_prefix, "bc:")) == 2

    await desk.says("siaran: yang ini tidak jadi")
    await desk.presses("Batal")
    assert desk.last() == say("discarded")
    assert len(await planned(redis, redis_prefix, "bc:")) == 2


async def test_scheduled_broadcasts_and_quiet_hours(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    desk = await linked(redis, redis_prefix, "BTN1")
    await subscribers(redis, redis_prefix, "BTN1", 6611)
    await desk.says("SIARAN BESOK 07.00 Posyandu buka lebih pagi.")
    assert "dikirim Selasa, 6 April 2027 pukul 07.00 WITA:" in desk.last()
    await desk.presses("Kirim")
    assert "dikirim Selasa, 6 April 2027 pukul 07.00 WITA." in desk.last()
    [send] = (await planned(redis, redis_prefix, "bc:")).values()
    assert send.due == at("WITA", 2027, 4, 6, 7, 0)

    await desk.says("SIARAN JAM 08.00 Jangan lupa KIA.")  # 08.00 has passed today: tomorrow
    assert "dikirim Selasa, 6 April 2027 pukul 08.00 WITA:" in desk.last()
    await desk.presses("Batal")
    await desk.says("SIARAN 12/4 16.00 Ada kelas ibu hamil.")
    assert "dikirim Senin, 12 April 2027 pukul 16.00 WITA:" in desk.last()
    await desk.presses("Batal")

    # 22.00 is in the quiet hours: the engine holds it until 06.00, and the cadre is told.
    found = await desk.says("siaran jam 22.00 Besok kerja bakti.")
    assert found is not None and len(found) == 2
    assert found[0].text == say("quiet", time="Selasa, 6 April 2027 pukul 06.00 WITA")
    assert found[1].choices and "dikirim Senin, 5 April 2027 pukul 22.00 WITA" in found[1].text


async def test_limits_are_told_kindly(
    redis: Redis, redis_prefix: str, directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KS_BROADCASTS_PER_WEEK", "1")
    desk = await linked(redis, redis_prefix, "BTN1")
    await subscribers(redis, redis_prefix, "BTN1", 6621)

    await desk.says("siaran: " + "a" * 701)
    assert desk.last() == say_reminders("errors", "broadcast_too_long", length=701, limit=700)
    await desk.says("siaran")
    assert desk.last() == say_reminders("errors", "broadcast_empty")
    await desk.says("siaran jam 24.30 kumpul")
    assert desk.last() == say("bad_time")
    await desk.says("SIARAN 30/6 16.00 terlalu jauh")
    assert desk.last() == say_reminders("errors", "broadcast_too_far", days=30)
    await desk.says("SIARAN 4/4 16.00 kemarin")
    assert desk.last() == say_reminders("errors", "broadcast_past")
    assert await planned(redis, redis_prefix, "") == {}

    await desk.says("siaran: yang pertama")
    await desk.presses("Kirim")
    await desk.says("siaran: yang kedua")
    assert desk.last() == (
        "Posyandu Mawar sudah mengirim 1 siaran minggu ini, batasnya. "
        "Coba lagi Senin, 12 April 2027."
    )
    assert len(await planned(redis, redis_prefix, "bc:")) == 1


async def test_nothing_outside_the_cadre_s_own_posyandu(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    mawar = await linked(redis, redis_prefix, "BTN1")
    melati = await linked(redis, redis_prefix, "JKT1", "JYP1", chat=CADRE_TG + 1)
    await subscribers(redis, redis_prefix, "BTN1", 6631)
    await subscribers(redis, redis_prefix, "JKT1", 6632)
    await mawar.says("siaran: untuk Mawar")
    [send_payload, _] = [c.payload for c in mawar.replies[-1].choices]

    # Another cadre pressing (a forged copy of) that button: not theirs.
    found = await answer(redis, redis_prefix, press(melati.chat, send_payload), now=NOW)
    assert found == [Outbound(say_reminders("errors", "no_draft"))]

    # A cadre of two Posyandu chooses one; meanwhile the Puskesmas takes one of them away.
    await melati.says("siaran: untuk Melati")
    assert melati.last() == say("pick")
    assert melati.titles() == ["Posyandu Melati", "Posyandu Cenderawasih", "Batal"]
    cadre_id = await redis.get(keys.cadre_link(redis_prefix, user_key(f"tg:{melati.chat}")))
    await redis.hset(keys.cadre_record(redis_prefix, cadre_id.decode()), "posyandu", "JYP1")
    await melati.presses("Posyandu Melati")
    assert melati.last() == say_reminders(
        "errors", "not_your_posyandu", own="Posyandu Cenderawasih"
    )
    assert await planned(redis, redis_prefix, "") == {}


async def test_a_cadre_of_several_posyandu_chooses_one(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    desk = await linked(redis, redis_prefix, "BTN1", "JKT1")
    await subscribers(redis, redis_prefix, "BTN1", 6641)
    melati = await subscribers(redis, redis_prefix, "JKT1", 6642, 6643)
    await desk.says("SIARAN JAM 10.00 Ada pemeriksaan gigi gratis.")
    assert desk.titles() == ["Posyandu Mawar", "Posyandu Melati", "Batal"]
    await desk.presses("Posyandu Melati")
    # The time is read in the chosen Posyandu's time zone (Jakarta: WIB).
    assert desk.last().startswith(
        "Pratinjau siaran untuk 2 pelanggan Posyandu Melati, dikirim Senin, 5 April 2027 "
        "pukul 10.00 WIB:"
    )
    await desk.presses("Kirim")
    sends = await planned(redis, redis_prefix, "bc:")
    assert sorted(s.subscriber for s in sends.values()) == sorted(melati)
    assert {s.due for s in sends.values()} == {at("WIB", 2027, 4, 5, 10, 0)}

    await desk.says("siaran: tidak jadi")
    await desk.presses("Batal")
    assert desk.last() == say("discarded")
    await desk.presses("Batal")  # an old button again
    assert desk.last() == say("nothing_done")


async def test_no_subscribers_no_broadcast(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    desk = await linked(redis, redis_prefix, "JYP1")
    await desk.says("siaran: halo")
    assert desk.last() == say("no_subscribers", name="Posyandu Cenderawasih")
    assert desk.titles() == []
    assert [k async for k in redis.scan_iter(match=f"{redis_prefix}cadre:draft:*")] == []


# --- the next session ----------------------------------------------------------------------


async def test_moving_then_cancelling_the_next_session_notifies_subscribers(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    desk = await linked(redis, redis_prefix, "BTN1")
    users = await subscribers(redis, redis_prefix, "BTN1", 6651, 6652)

    await desk.says("JADWAL")
    assert desk.last() == (
        "Sesi berikutnya Posyandu Mawar: Selasa, 13 April 2027, 08.00-11.00 WITA.\n"
        + say("session_hint")
    )
    await desk.says("PINDAH 1/4")
    assert desk.last() == say_reminders("errors", "move_in_past")
    await desk.says("pindah 13/4")
    assert desk.last() == say_reminders("errors", "nothing_changes")

    await desk.says("pindah 15/4 09.00-12.00 karena balai dipakai")
    assert desk.last() == (
        "Sesi Posyandu Mawar pada Selasa, 13 April 2027 dipindah ke Kamis, 15 April 2027, "
        "09.00-12.00 WITA. 2 pelanggan akan diberi tahu. Lanjutkan?"
    )
    assert desk.titles() == ["Ya, pindahkan", "Tidak"]
    await desk.presses("Ya, pindahkan")
    assert desk.last() == (
        "Sesi Posyandu Mawar sudah dipindah ke Kamis, 15 April 2027, 09.00-12.00 WITA. "
        "2 pelanggan akan diberi tahu."
    )
    moved = await planned(redis, redis_prefix, "chg:BTN1:2027-04-13:")
    assert sorted(s.subscriber for s in moved.values()) == sorted(users)
    for send in moved.values():
        assert "pindah ke Kamis, 15 April 2027, 09.00-12.00 WITA" in send.text
        assert "Catatan: karena balai dipakai." in send.text
    await desk.says("JADWAL")
    assert desk.last().startswith(
        "Sesi berikutnya Posyandu Mawar: Kamis, 15 April 2027, 09.00-12.00 WITA"
        " (jadwal yang sudah diubah)."
    )

    await desk.says("batal posyandu karena banjir")
    assert desk.last() == (
        "Sesi Posyandu Mawar pada Kamis, 15 April 2027 dibatalkan. 2 pelanggan akan diberi "
        "tahu. Lanjutkan?"
    )
    await desk.presses("Tidak")
    assert desk.last() == say("kept")
    await desk.says("batal posyandu karena banjir")
    await desk.presses("Ya, batalkan")
    assert desk.last() == (
        "Sesi Posyandu Mawar pada Kamis, 15 April 2027 sudah dibatalkan. "
        "2 pelanggan akan diberi tahu."
    )
    notices = await planned(redis, redis_prefix, "chg:BTN1:2027-04-13:")
    cancelled = [s for k, s in notices.items() if k not in moved]
    assert sorted(s.subscriber for s in cancelled) == sorted(users)
    assert all("dibatalkan" in s.text and "karena banjir" in s.text for s in cancelled)
    await desk.says("JADWAL")
    assert desk.last().startswith("Sesi berikutnya Posyandu Mawar: Selasa, 11 Mei 2027")


async def test_a_confirmation_after_the_schedule_changed_is_refused(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    desk = await linked(redis, redis_prefix, "BTN1")
    await desk.says("pindah 14/4")
    await desk.says("batal posyandu")
    await desk.presses("Ya, batalkan")  # the 13 April session is cancelled
    await desk.presses("Ya, pindahkan")  # the preview of a session that is no longer next
    assert desk.last() == say("stale", name="Posyandu Mawar")
    assert await planned(redis, redis_prefix, "") == {}  # no subscribers, nobody to tell


# --- Redis failing between the confirmation and the engine ----------------------------------


async def test_a_retry_after_redis_failed_schedules_what_was_confirmed(
    redis: Redis, redis_prefix: str, directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = await linked(redis, redis_prefix, "BTN1")
    users = await subscribers(redis, redis_prefix, "BTN1", 6661, 6662)
    real_schedule = cadre.schedule
    failures = {"left": 1}

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        if failures["left"]:
            failures["left"] -= 1
            raise RedisConnectionError("Redis went away")
        return await real_schedule(*args, **kwargs)

    monkeypatch.setattr(cadre, "schedule", flaky)
    await desk.says("siaran: tetap sampai")
    with pytest.raises(RedisConnectionError):
        await desk.presses("Kirim")  # the inbox retries the same message
    await desk.presses("Kirim")
    assert desk.last().startswith("Siaran untuk 2 pelanggan Posyandu Mawar sudah dijadwalkan")
    sends = await planned(redis, redis_prefix, "bc:")
    assert sorted(s.subscriber for s in sends.values()) == sorted(users)

    await desk.says("pindah 15/4")
    failures["left"] = 1
    with pytest.raises(RedisConnectionError):
        await desk.presses("Ya, pindahkan")
    await desk.presses("Ya, pindahkan")
    assert desk.last().endswith("2 pelanggan akan diberi tahu.")
    assert len(await planned(redis, redis_prefix, "chg:BTN1:")) == 2
    assert [k async for k in redis.scan_iter(match=f"{redis_prefix}cadre:out:*")] == []


# --- the delivery report -------------------------------------------------------------------


class FakeSender:
    """Telegram as the engine sees it: every chat reachable but one that blocked the bot."""

    channel = "telegram"

    def __init__(self, blocked: set[str]) -> None:
        self.blocked = blocked
        self.sent: list[Send] = []

    def ready(self) -> bool:
        return True

    async def send(self, send: Send) -> Outcome:
        if send.address in self.blocked:
            return Outcome("blocked", "blocked")
        self.sent.append(send)
        return Outcome("sent")


async def test_laporan_shows_the_latest_broadcasts_counts(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    desk = await linked(redis, redis_prefix, "BTN1")
    await desk.says("LAPORAN")
    assert desk.last() == say("report_none")
    _, _, stopped, _ = await subscribers(redis, redis_prefix, "BTN1", 6671, 6672, 6673, 6674)
    await desk.says("siaran: yang pertama")
    await desk.presses("Kirim")
    await redis.set(keys.optout(redis_prefix, stopped), "1")  # STOP after the confirmation
    sender = FakeSender(blocked={"6672"})
    options = WorkerOptions(poll_seconds=0.05, alive_seconds=1.0, stop_grace_seconds=1.0)
    worker = ReminderWorker(
        redis, redis_prefix, "test", {"telegram": sender}, options, clock=lambda: NOW
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await until(lambda: sum(worker.outcomes.values()) >= 4, timeout=10)
    finally:
        stop.set()
        await task
    desk.now = NOW + 3600
    await desk.says("siaran jam 16.00 yang kedua")
    await desk.presses("Kirim")

    await desk.says("laporan")
    assert desk.last() == "\n".join(
        [
            "Laporan siaran terakhir:",
            "• Posyandu Mawar, Senin, 5 April 2027 pukul 16.00 WITA: 3 penerima.",
            "  Terkirim 0, diterima 0, dibaca 0, gagal 0, diblokir 0, berhenti langganan 0,"
            " menunggu 3.",
            "• Posyandu Mawar, Senin, 5 April 2027 pukul 09.00 WITA: 4 penerima.",
            "  Terkirim 2, diterima 0, dibaca 0, gagal 0, diblokir 1, berhenti langganan 1.",
            "Diterima dan dibaca hanya tercatat untuk penerima WhatsApp.",
        ]
    )


# --- what is kept ----------------------------------------------------------------------------


async def test_every_key_of_the_cadre_commands_has_its_lifetime(
    redis: Redis, redis_prefix: str, directory: Directory
) -> None:
    desk = await linked(redis, redis_prefix, "BTN1", "JKT1")
    await subscribers(redis, redis_prefix, "BTN1", 6681)
    await desk.says("siaran: satu")
    await desk.presses("Posyandu Mawar")
    await desk.presses("Kirim")
    await desk.says("pindah 15/4")  # waiting for the choice
    found = [k.decode() async for k in redis.scan_iter(match=f"{redis_prefix}cadre:*")]
    mine = {"ask", "recent"}
    assert {k[len(redis_prefix) :].split(":")[1] for k in found} >= mine
    for key in found:
        name = key[len(redis_prefix) :]
        [kind] = [k for k in POLICY if fnmatch.fnmatchcase(name, k.pattern)]
        assert 0 < await redis.ttl(key) <= kind.max_seconds, key
    for pattern in ("cadre:ask:*", "cadre:out:*", "cadre:recent:*"):
        assert any(k.pattern == pattern for k in POLICY)
