"""Reading cadre commands: exact forms only; anything else is for the assistant."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.cadre import Broadcast, Cancel, Link, Move, Refusal, Simple, When, parse


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("KODE 123456", Link("123456")),
        ("kode kader 123 456", Link("123456")),
        ("Kode: 12345", Link("12345")),  # refused by the link rules, not sent to NLU
        ("siaran: Besok ada vitamin A.", Broadcast("Besok ada vitamin A.")),
        ("SIARAN Besok ada vitamin A", Broadcast("Besok ada vitamin A")),
        ("siaran - baris satu\nbaris dua", Broadcast("baris satu\nbaris dua")),
        ("siaran", Broadcast("")),
        (
            "SIARAN JAM 16.00 kumpul di balai",
            Broadcast("kumpul di balai", When("today", dt.time(16))),
        ),
        ("siaran pukul 7:30: bawa KIA", Broadcast("bawa KIA", When("today", dt.time(7, 30)))),
        ("siaran besok 07.00 - bawa KIA", Broadcast("bawa KIA", When("tomorrow", dt.time(7)))),
        (
            "SIARAN 12/12 16.00 imunisasi",
            Broadcast("imunisasi", When("date", dt.time(16), 12, 12, None)),
        ),
        (
            "siaran tgl 12/12/27 jam 16.00 WITA: imunisasi",
            Broadcast("imunisasi", When("date", dt.time(16), 12, 12, 2027)),
        ),
        # A date without a time is part of the message (the preview says "sekarang").
        ("siaran 12/12 ada imunisasi", Broadcast("12/12 ada imunisasi")),
        ("siaran jam 25.00 kumpul", Refusal("bad_time")),
        ("siaran 31/13 16.00 kumpul", Refusal("bad_broadcast_date")),
        ("JADWAL", Simple("next")),
        ("LAPORAN", Simple("report")),
        ("laporan siaran", Simple("report")),
        ("menu kader", Simple("menu")),
        ("PINDAH 15/12", Move(15, 12)),
        ("pindah 15-12.", Move(15, 12)),
        ("pindah 15/12/2027, jam 08.00 s/d 11.00", Move(15, 12, 2027, dt.time(8), dt.time(11))),
        (
            "pindah 15/12 08.00-11.00 karena banjir",
            Move(15, 12, None, dt.time(8), dt.time(11), "karena banjir"),
        ),
        (
            "pindahkan ke 15 desember jam 09.00 sampai 12.00",
            Move(15, 12, None, dt.time(9), dt.time(12)),
        ),
        ("pindah 3 agt 2027", Move(3, 8, 2027)),
        ("pindah", Refusal("move_usage")),
        ("pindah 15/12 09.00", Refusal("move_hours")),
        ("pindah 32/12", Refusal("bad_move_date")),
        ("BATAL POSYANDU", Cancel()),
        ("batalkan posyandu berikutnya, karena hujan", Cancel("karena hujan")),
    ],
)
def test_commands(text: str, command: object) -> None:
    assert parse(text) == command


@pytest.mark.parametrize(
    "text",
    [
        "siaranku hari ini",
        "jadwal posyandu melati",
        "laporan keuangan posyandu",
        "pindah rumah ke bandung",
        "batal",
        "batal posyandunya?",
        "kode pos desa lambale",
        "berapa kode 119",
        "STOP",
        "",
    ],
)
def test_other_words_are_for_the_assistant(text: str) -> None:
    assert parse(text) is None
