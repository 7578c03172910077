"""Dashboard aggregates against a real Redis: what an officer would see in the table."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import time

import pytest
from redis.asyncio import Redis

from actions.inbox import UnansweredInbox
from actions.posyandu.directory import Directory, MyPosyandu
from actions.posyandu.records import PosyanduRecord
from actions.posyandu.schedule import TIME_ZONES
from actions.pseudonym import user_key
from actions.reminders.consent import PURPOSE_POSYANDU, consent_text, record_consent
from actions.reminders.store import Contact, subscribe_posyandu
from bot.console.stats import (
    EMERGENCY_TOPIC,
    SUPPRESSED,
    UNKNOWN,
    Row,
    StatsError,
    dashboard,
    group_unanswered,
    iso_week,
    posyandu_csv,
    posyandu_table,
    record_reminder_outcome,
    record_reminder_status,
    record_turn,
    region_of,
    to_csv,
    topic_totals,
    unanswered_groups,
    week_totals,
)

# Gambir (Jakarta Pusat, WIB): two desa of one kecamatan, and a second kecamatan.
GAMBIR_1, GAMBIR_2, GAMBIR_3 = "31.71.01.1001", "31.71.01.1002", "31.71.01.1003"
SAWAH_BESAR_1 = "31.71.02.1001"
# Buton Utara (WITA).
BUTON = "74.10.05.2003"


def _last_wednesday() -> dt.datetime:
    """10.00 WIB on the Wednesday of last week: a whole week in the past, always kept."""
    today = dt.datetime.now(TIME_ZONES["WIB"]).date()
    wednesday = today - dt.timedelta(days=today.weekday() + 7 - 2)
    return dt.datetime.combine(wednesday, dt.time(10), TIME_ZONES["WIB"])


NOW = _last_wednesday().timestamp()
WEEK = iso_week(NOW)
PREVIOUS_WEEK = iso_week(NOW - 7 * 24 * 3600)
MONDAY = _last_wednesday().date() - dt.timedelta(days=2)


async def ask(
    redis: Redis,
    prefix: str,
    *,
    people: int,
    topic: str = "kehamilan.periksa",
    desa: str | None = GAMBIR_1,
    times: int = 1,
    when: float = NOW,
    first: int = 0,
    emergency: bool = False,
) -> None:
    """`people` different users each asking `times` times."""
    for person in range(first, first + people):
        for _ in range(times):
            await record_turn(
                redis,
                prefix,
                intent=topic,
                user=f"tg:{1000 + person}",
                region_code=desa,
                when=when,
                emergency=emergency,
            )


def cells(rows: list[Row]) -> dict[tuple[str, str], str]:
    """(topic, region) -> what the table shows."""
    return {(r.topic, r.region_code): r.questions_text for r in rows}


async def table(redis: Redis, prefix: str, level: str, scope: list[str] | None = None) -> list[Row]:
    return await dashboard(redis, prefix, weeks=[WEEK], level=level, scope=scope or [])


async def test_recorded_questions_come_back_by_topic_week_and_region(
    redis: Redis, redis_prefix: str
) -> None:
    await ask(redis, redis_prefix, people=12)
    await ask(redis, redis_prefix, people=1, times=3, first=100)  # one more person, 3 times
    for intent in ("greet", "thanks", None):  # not questions
        await record_turn(
            redis, redis_prefix, intent=intent, user="tg:1", region_code=GAMBIR_1, when=NOW
        )

    desa = await table(redis, redis_prefix, "desa")
    assert [(r.week, r.topic, r.region_code, r.questions, r.people) for r in desa] == [
        (WEEK, "kehamilan.periksa", GAMBIR_1, 15, 13)
    ]
    kecamatan = await table(redis, redis_prefix, "kecamatan")
    assert cells(kecamatan) == {("kehamilan.periksa", "31.71.01"): "15"}
    kabupaten = await table(redis, redis_prefix, "kabupaten")
    assert cells(kabupaten) == {("kehamilan.periksa", "31.71"): "15"}
    # Another week asked for: nothing there.
    assert await dashboard(redis, redis_prefix, weeks=[PREVIOUS_WEEK], level="desa", scope=[]) == []
    # The last 2 weeks up to NOW include this one.
    recent = await dashboard(redis, redis_prefix, weeks=2, level="desa", scope=[])
    assert [r.questions for r in recent] == [15]


async def test_nine_people_are_suppressed_and_ten_are_shown(
    redis: Redis, redis_prefix: str
) -> None:
    await ask(redis, redis_prefix, people=9, times=4, topic="bayi.asi")  # 36 questions
    await ask(redis, redis_prefix, people=10, topic="bayi.mpasi")

    for level, code in (("desa", GAMBIR_1), ("kecamatan", "31.71.01"), ("kabupaten", "31.71")):
        rows = await table(redis, redis_prefix, level)
        assert cells(rows) == {("bayi.asi", code): SUPPRESSED, ("bayi.mpasi", code): "10"}
        hidden = next(r for r in rows if r.topic == "bayi.asi")
        assert hidden.questions is None and hidden.people is None  # not even the number


async def test_a_total_cannot_reveal_a_hidden_desa_by_subtraction(
    redis: Redis, redis_prefix: str
) -> None:
    # Gambir: desa 1 has 3 askers, desa 2 has 20, desa 3 has 15 (one question each).
    await ask(redis, redis_prefix, people=3, desa=GAMBIR_1)
    await ask(redis, redis_prefix, people=20, desa=GAMBIR_2, first=100)
    await ask(redis, redis_prefix, people=15, desa=GAMBIR_3, first=200)

    kecamatan = cells(await table(redis, redis_prefix, "kecamatan"))
    desa = cells(await table(redis, redis_prefix, "desa"))
    assert kecamatan == {("kehamilan.periksa", "31.71.01"): "38"}
    # Without more, 38 - 20 - 15 = 3 would give desa 1 away: desa 3 is hidden too.
    assert desa == {
        ("kehamilan.periksa", GAMBIR_1): SUPPRESSED,
        ("kehamilan.periksa", GAMBIR_2): "20",
        ("kehamilan.periksa", GAMBIR_3): SUPPRESSED,
    }
    shown = sum(int(v) for v in desa.values() if v != SUPPRESSED)
    assert 38 - shown == 3 + 15  # what subtraction gives: two desa together, 18 people


async def test_a_kabupaten_total_cannot_reveal_a_small_kecamatan_through_its_desa(
    redis: Redis, redis_prefix: str
) -> None:
    # Jakarta Pusat: Gambir (two desa of 15 askers) and Sawah Besar (4 askers).
    await ask(redis, redis_prefix, people=15, desa=GAMBIR_1)
    await ask(redis, redis_prefix, people=15, desa=GAMBIR_2, first=100)
    await ask(redis, redis_prefix, people=4, desa=SAWAH_BESAR_1, first=200)

    views = {
        level: cells(await table(redis, redis_prefix, level))
        for level in ("kabupaten", "kecamatan", "desa")
    }
    assert views["kabupaten"] == {("kehamilan.periksa", "31.71"): "34"}
    # Gambir is hidden with Sawah Besar, and so are its desa: otherwise 34 - 15 - 15 = 4.
    assert set(views["kecamatan"].values()) == {SUPPRESSED}
    assert set(views["desa"].values()) == {SUPPRESSED}
    for level in ("kecamatan", "desa"):
        shown = sum(int(v) for v in views[level].values() if v != SUPPRESSED)
        assert 34 - shown != 4


async def test_a_kecamatan_officer_sees_only_their_kecamatan(
    redis: Redis, redis_prefix: str
) -> None:
    await ask(redis, redis_prefix, people=10, desa=GAMBIR_1)
    await ask(redis, redis_prefix, people=10, desa=GAMBIR_2, first=100)
    await ask(redis, redis_prefix, people=10, desa=SAWAH_BESAR_1, first=200)
    await ask(redis, redis_prefix, people=10, desa=BUTON, first=300)
    await ask(redis, redis_prefix, people=10, desa=None, first=400)

    officer = await table(redis, redis_prefix, "desa", ["31.71.01"])
    assert cells(officer) == {
        ("kehamilan.periksa", GAMBIR_1): "10",
        ("kehamilan.periksa", GAMBIR_2): "10",
    }
    # Asking for the kabupaten gives them their kecamatan, not Jakarta Pusat's total.
    coarse = await table(redis, redis_prefix, "kabupaten", ["31.71.01"])
    assert cells(coarse) == {("kehamilan.periksa", "31.71.01"): "20"}
    assert coarse[0].level == "kecamatan"
    # The Dinkes admin sees every kabupaten, and the questions of unknown places.
    admin = await table(redis, redis_prefix, "kabupaten")
    assert cells(admin) == {
        ("kehamilan.periksa", "31.71"): "30",
        ("kehamilan.periksa", "74.10"): "10",
        ("kehamilan.periksa", UNKNOWN): "10",
    }


async def test_bad_requests_get_an_indonesian_error(redis: Redis, redis_prefix: str) -> None:
    with pytest.raises(StatsError, match="Tingkat wilayah"):
        await dashboard(redis, redis_prefix, weeks=4, level="provinsi", scope=[])
    with pytest.raises(StatsError, match="Kode wilayah tidak dikenal"):
        await dashboard(redis, redis_prefix, weeks=4, level="desa", scope=["31.71*"])
    with pytest.raises(StatsError, match="Minggu tidak dikenal"):
        await dashboard(redis, redis_prefix, weeks=["2025-W99"], level="desa", scope=[])
    with pytest.raises(StatsError, match="Jumlah minggu"):
        await dashboard(redis, redis_prefix, weeks=0, level="desa", scope=[])


async def test_memory_grows_with_cells_not_with_users(redis: Redis, redis_prefix: str) -> None:
    one, many = f"{redis_prefix}one:", f"{redis_prefix}many:"
    await ask(redis, one, people=1, times=1000)
    await ask(redis, many, people=1000)

    async def keys(prefix: str) -> list[str]:
        return sorted([k.decode()[len(prefix) :] async for k in redis.scan_iter(f"{prefix}*")])

    assert await keys(one) == await keys(many)
    assert len(await keys(one)) == 3  # the week's questions, its askers, its kabupaten index
    people = f"{many}stats:p:{WEEK}:kehamilan.periksa|{GAMBIR_1}"
    # A HyperLogLog stops growing at 12 KB (16,384 registers), however many more people.
    await ask(redis, many, people=2000, first=1000)
    full = await redis.memory_usage(people)
    await ask(redis, many, people=1000, first=3000)
    assert full is not None and await redis.memory_usage(people) == full <= 16_000
    rows = await table(redis, many, "desa")
    assert rows[0].questions == 4000
    assert rows[0].people is not None and abs(rows[0].people - 4000) < 4000 * 0.03


async def test_every_key_expires_about_two_years_after_its_week(
    redis: Redis, redis_prefix: str
) -> None:
    await ask(redis, redis_prefix, people=2)
    gone = dt.datetime.combine(MONDAY + dt.timedelta(days=7 + 730), dt.time(0), dt.UTC)
    expiries = [await redis.expiretime(k) async for k in redis.scan_iter(f"{redis_prefix}*")]
    assert len(expiries) == 3 and set(expiries) == {int(gone.timestamp())}
    # Older than what is kept: not recorded at all.
    old = NOW - 800 * 24 * 3600
    assert not await record_turn(
        redis, redis_prefix, intent="bayi.asi", user="tg:1", region_code=GAMBIR_1, when=old
    )


async def test_a_week_follows_the_local_time_of_the_desa(redis: Redis, redis_prefix: str) -> None:
    # Sunday 23.30 in Jakarta is already Monday 00.30 in Buton Utara (WITA).
    sunday = dt.datetime(2025, 2, 16, 23, 30, tzinfo=TIME_ZONES["WIB"]).timestamp()
    assert iso_week(sunday, GAMBIR_1) == "2025-W07"
    assert iso_week(sunday, BUTON) == "2025-W08"
    assert iso_week(sunday, None) == "2025-W07"  # unknown place: WIB
    assert iso_week(sunday, "91.71.01.1001") == "2025-W08"  # Jayapura (WIT)

    previous_sunday = MONDAY - dt.timedelta(days=1)
    sunday_night = dt.datetime.combine(previous_sunday, dt.time(23, 30), TIME_ZONES["WIB"])

    await ask(redis, redis_prefix, people=10, desa=GAMBIR_1, when=sunday_night.timestamp())
    await ask(redis, redis_prefix, people=10, desa=BUTON, when=sunday_night.timestamp(), first=100)
    rows = await dashboard(
        redis, redis_prefix, weeks=[PREVIOUS_WEEK, WEEK], level="kabupaten", scope=[]
    )
    assert [(r.week, r.region_code) for r in rows] == [(PREVIOUS_WEEK, "31.71"), (WEEK, "74.10")]


async def test_emergencies_per_week(redis: Redis, redis_prefix: str) -> None:
    earlier = NOW - 7 * 24 * 3600
    await ask(redis, redis_prefix, people=11, topic="kehamilan.tanda_bahaya", emergency=True)
    await ask(redis, redis_prefix, people=3, topic="emergency", when=earlier, first=100)
    await ask(redis, redis_prefix, people=10, topic="bayi.asi", first=200)

    weeks = [PREVIOUS_WEEK, WEEK]
    rows = await dashboard(redis, redis_prefix, weeks=weeks, level="kabupaten", scope=[])
    per_week = week_totals(rows, topic=EMERGENCY_TOPIC, weeks=weeks)
    assert [(t.label, t.questions, t.hidden_cells) for t in per_week] == [
        (PREVIOUS_WEEK, 0, 1),  # 3 people: hidden, and not counted in the total either
        (WEEK, 11, 0),
    ]
    assert [(t.label, t.questions) for t in topic_totals(rows)] == [
        (EMERGENCY_TOPIC, 11),
        ("bayi.asi", 10),
    ]


async def test_subscribers_and_reminders_per_posyandu(redis: Redis, redis_prefix: str) -> None:
    now = time.time()
    big = PosyanduRecord(
        id="P-BIG",
        name="Posyandu Melati",
        village_code=GAMBIR_1,
        lat=-6.17,
        lon=106.82,
        schedule="setiap tanggal 10, 08.00-11.00",
    )
    small = big.model_copy(update={"id": "P-SMALL", "name": "Posyandu Mawar"})
    far = big.model_copy(update={"id": "P-FAR", "village_code": SAWAH_BESAR_1})
    await Directory(redis, redis_prefix).upsert([big, small, far])
    for number, posyandu in [
        *((n, "P-BIG") for n in range(12)),
        *((n, "P-SMALL") for n in range(100, 103)),
    ]:
        user = user_key(f"tg:{number}")
        version = consent_text(PURPOSE_POSYANDU).version
        await record_consent(redis, redis_prefix, user, PURPOSE_POSYANDU, version, now)
        await subscribe_posyandu(
            redis, redis_prefix, user, posyandu, Contact("telegram", str(number)), now
        )
    for number in range(12):
        await record_reminder_outcome(
            redis,
            redis_prefix,
            posyandu_id="P-BIG",
            outcome="sent",
            when=now,
            wamid=f"wamid.{number}",
        )
    await record_reminder_outcome(
        redis, redis_prefix, posyandu_id="P-BIG", outcome="blocked", when=now
    )
    for number in range(5):  # WhatsApp repeats its webhooks: counted once each
        for status in ("delivered", "read", "delivered"):
            await record_reminder_status(
                redis, redis_prefix, wamid=f"wamid.{number}", status=status, when=now
            )
    assert not await record_reminder_status(
        redis, redis_prefix, wamid="wamid.unknown", status="delivered", when=now
    )
    await record_reminder_outcome(
        redis, redis_prefix, posyandu_id="P-SMALL", outcome="sent", when=now
    )

    rows = await posyandu_table(redis, redis_prefix, weeks=1, scope=["31.71.01"], now=now)
    assert [(r.name, r.subscribers, r.sent, r.delivered, r.failed) for r in rows] == [
        ("Posyandu Mawar", None, None, None, None),  # 3 subscribers: nothing shown
        ("Posyandu Melati", 12, 12, 5, 1),
    ]
    mine = await posyandu_table(redis, redis_prefix, weeks=1, posyandu_ids=["P-FAR"], now=now)
    assert [(r.posyandu_id, r.subscribers) for r in mine] == [("P-FAR", None)]
    lines = posyandu_csv(rows).decode("utf-8-sig").splitlines()
    assert lines[0].startswith("ID Posyandu,Nama Posyandu,Kode desa,Pelanggan pengingat")
    assert lines[1] == "P-SMALL,Posyandu Mawar,31.71.01.1001,<10,<10,<10,<10"
    assert lines[2] == "P-BIG,Posyandu Melati,31.71.01.1001,12,12,5,1"


async def test_the_region_of_a_user_is_their_posyandu_desa(redis: Redis, redis_prefix: str) -> None:
    record = PosyanduRecord(
        id="P-BTN",
        name="Posyandu Mawar",
        village_code=BUTON,
        lat=-4.55,
        lon=123.08,
        schedule="Selasa kedua setiap bulan, 08.00-11.00",
    )
    await Directory(redis, redis_prefix).upsert([record])
    await MyPosyandu(redis, redis_prefix).remember("tg:1", "P-BTN")
    now = time.time()
    subscriber = user_key("tg:2")
    version = consent_text(PURPOSE_POSYANDU).version
    await record_consent(redis, redis_prefix, subscriber, PURPOSE_POSYANDU, version, now)
    await subscribe_posyandu(
        redis, redis_prefix, subscriber, "P-BTN", Contact("telegram", "2"), now
    )

    assert await region_of(redis, redis_prefix, "tg:1") == BUTON
    assert await region_of(redis, redis_prefix, "tg:2") == BUTON
    assert await region_of(redis, redis_prefix, "tg:3") is None


def test_near_duplicate_unanswered_questions_are_grouped() -> None:
    texts = [
        "apakah vaksin MR aman untuk anak?",
        "obat cacing anak 2 tahun apa ya",
        "vaksin mr aman ga buat anak saya",
        "demam",
        "Vaksin MR aman?",
        "obat cacing untuk anak umur 2 tahun",
        "anak saya demam tinggi dan kejang",
    ]
    items = [
        {"text": t, "at": f"2025-02-12T10:{59 - i:02d}:00+00:00", "guesses": []}
        for i, t in enumerate(texts)
    ]
    groups = group_unanswered(items)
    assert [(g.count, g.example) for g in groups] == [
        (3, "apakah vaksin MR aman untuk anak?"),
        (2, "obat cacing anak 2 tahun apa ya"),
        (1, "demam"),  # a one-word question does not swallow the longer one
        (1, "anak saya demam tinggi dan kejang"),
    ]
    assert groups[0].examples == ("vaksin mr aman ga buat anak saya", "Vaksin MR aman?")


async def test_unanswered_groups_from_the_inbox_are_redacted_and_scoped(
    redis: Redis, redis_prefix: str
) -> None:
    inbox = UnansweredInbox(redis, redis_prefix)
    guesses = [{"name": "imunisasi.kipi", "confidence": 0.3}]
    await inbox.add("vaksin MR aman? wa saya 081234567890", "telegram", guesses, sender_id="tg:1")
    await inbox.add("apakah vaksin mr aman", "whatsapp", guesses, sender_id="tg:2")
    await inbox.add("harga susu formula", "web", [], sender_id="tg:3")

    groups = await unanswered_groups(redis, redis_prefix)
    assert [(g.count, g.guess) for g in groups] == [(2, "imunisasi.kipi"), (1, None)]
    assert "081234567890" not in repr(groups) and "[telepon]" in repr(groups)
    # Items carry no region yet: a scoped viewer sees none of them.
    assert await unanswered_groups(redis, redis_prefix, scope=["31.71.01"]) == []


def test_the_csv_opens_in_a_spreadsheet_with_indonesian_headers() -> None:
    rows = [
        Row(WEEK, "bayi.asi", "desa", GAMBIR_1, 12, 11, "Gambir"),
        Row(WEEK, "bayi.mpasi", "desa", GAMBIR_2, None, None, '=HYPERLINK("x")'),
    ]
    data = to_csv(rows)
    assert data.startswith(codecs.BOM_UTF8)
    read = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert read[0] == [
        "Minggu",
        "Mulai (Senin)",
        "Topik",
        "Tingkat wilayah",
        "Kode wilayah",
        "Nama wilayah",
        "Jumlah pertanyaan",
        "Jumlah penanya",
    ]
    assert read[1] == [
        WEEK,
        MONDAY.isoformat(),
        "bayi.asi",
        "Desa/Kelurahan",
        GAMBIR_1,
        "Gambir",
        "12",
        "11",
    ]
    assert read[2][6:] == [SUPPRESSED, SUPPRESSED]
    assert read[2][5].startswith("'=")  # no formula runs in the spreadsheet
