"""Cadre commands end to end: the Telegram and WhatsApp webhooks, the inbox, the real
gateway and engine store, real Redis, the fake platforms and a fake Rasa (now: real time)."""

from __future__ import annotations

import datetime as dt
import time

from redis.asyncio import Redis

from actions.pseudonym import user_key
from actions.reminders.cadres import cadre_for, next_session
from actions.reminders.texts import say as say_reminders
from tests.cadre.conftest import TelegramUser, WhatsAppUser, planned, register, subscribe
from tests.channels.conftest import Stack, until


async def test_a_cadre_links_and_broadcasts_from_telegram(
    stack: Stack, redis: Redis, redis_prefix: str
) -> None:
    _, code = await register(redis, redis_prefix, "BTN1")
    kader = TelegramUser(stack, 7710001)
    ani, budi = TelegramUser(stack, 7710002), TelegramUser(stack, 7710003)
    for sender in (ani.sender, budi.sender, "wa:6281377710004"):
        await subscribe(redis, redis_prefix, sender, "BTN1")
    await subscribe(redis, redis_prefix, "tg:7710005", "JKT1")  # another Posyandu
    await budi.says("STOP")  # Budi opts out

    await kader.says(f"KODE {code}")
    assert kader.last().startswith(
        "Terima kasih! Akun ini sekarang terhubung sebagai kader Posyandu Mawar."
    )
    assert "SIARAN <pesan>" in kader.last() and "LAPORAN" in kader.last()

    await kader.says("siaran: " + "a" * 701)
    assert kader.last() == say_reminders("errors", "broadcast_too_long", length=701, limit=700)

    await kader.says("siaran: Besok ada pemberian vitamin A. Bawa buku KIA ya.")
    await until(lambda: "Kirim" in kader.buttons())  # after a quiet-hours note, at night
    assert kader.buttons() == ["Kirim", "Batal"]
    assert kader.last().startswith("Pratinjau siaran untuk 2 pelanggan Posyandu Mawar, dikirim")
    assert "Besok ada pemberian vitamin A. Bawa buku KIA ya." in kader.last()
    await kader.presses("Kirim")
    assert kader.last().startswith("Siaran untuk 2 pelanggan Posyandu Mawar sudah dijadwalkan")

    # The engine holds one send for each subscriber of Posyandu Mawar who has not stopped.
    sends = await planned(redis, redis_prefix, "bc:")
    assert {(s.channel, s.address) for s in sends.values()} == {
        ("telegram", "7710002"),
        ("whatsapp", "6281377710004"),
    }
    assert {s.subscriber for s in sends.values()} == {
        user_key(ani.sender),
        user_key("wa:6281377710004"),
    }
    assert all(s.text.startswith("Pesan dari kader Posyandu Mawar:\n") for s in sends.values())

    await kader.says("LAPORAN")
    assert kader.last().startswith("Laporan siaran terakhir:\n• Posyandu Mawar, ")
    assert "2 penerima" in kader.last() and "menunggu 2" in kader.last()
    assert stack.rasa.texts_from(kader.sender) == []  # none of it went to Rasa

    # The same words from a citizen are for the assistant.
    await ani.says("siaran: halo semua")
    await ani.says("LAPORAN")
    assert stack.rasa.texts_from(ani.sender) == ["siaran: halo semua", "LAPORAN"]
    assert ani.last() == "Jawaban: LAPORAN"


async def test_a_cadre_moves_the_next_session_from_whatsapp(
    stack: Stack, redis: Redis, redis_prefix: str
) -> None:
    _, code = await register(redis, redis_prefix, "JKT1")
    kader = WhatsAppUser(stack, "6281377720001")
    users = [
        await subscribe(redis, redis_prefix, sender, "JKT1")
        for sender in ("tg:7720002", "wa:6281377720003")
    ]
    await kader.says(f"kode {code}")
    assert kader.last().startswith("Terima kasih! Akun ini sekarang terhubung sebagai kader")

    cadre = await cadre_for(redis, redis_prefix, user_key(kader.sender))
    assert cadre is not None
    session = await next_session(redis, redis_prefix, cadre, "JKT1", time.time())
    new = session.start.date() + dt.timedelta(days=1)
    await kader.says(f"PINDAH {new.day}/{new.month}/{new.year} 09.00-12.00 karena renovasi")
    assert kader.last().startswith("Sesi Posyandu Melati pada ")
    assert kader.last().endswith("2 pelanggan akan diberi tahu. Lanjutkan?")
    await kader.presses("Ya, pindahkan")
    assert kader.last().startswith("Sesi Posyandu Melati sudah dipindah ke ")
    assert kader.last().endswith("09.00-12.00 WIB. 2 pelanggan akan diberi tahu.")

    notices = await planned(redis, redis_prefix, "chg:JKT1:")
    assert sorted(s.subscriber for s in notices.values()) == sorted(users)
    assert all("Catatan: karena renovasi." in s.text for s in notices.values())
    await kader.says("JADWAL")
    assert "09.00-12.00 WIB (jadwal yang sudah diubah)" in kader.last()
    assert stack.rasa.texts_from(kader.sender) == []
