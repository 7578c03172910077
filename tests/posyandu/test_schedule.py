import datetime as dt
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actions.posyandu.schedule import (
    TIME_ZONES,
    Change,
    ScheduleError,
    ScheduleRule,
    format_session,
    next_session,
    parse_rule,
    upcoming_sessions,
)

UTC = dt.UTC


def at(zone: str, *args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TIME_ZONES[zone])  # type: ignore[arg-type,misc]


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("setiap tanggal 10, 08.00-11.00", "setiap tanggal 10, 08.00-11.00"),
        ("tiap tgl 5 jam 08.30 - 11.00", "setiap tanggal 5, 08.30-11.00"),
        ("every month on day 10, 08:00-11:00", "setiap tanggal 10, 08.00-11.00"),
        ("Selasa kedua setiap bulan, 08.00-11.00", "setiap Selasa kedua, 08.00-11.00"),
        ("second Tuesday of the month 08:00-11:00", "setiap Selasa kedua, 08.00-11.00"),
        ("Jumat terakhir 09.00-12.00", "setiap Jumat terakhir, 09.00-12.00"),
        ("Rabu minggu ketiga 08.00 s/d 10.00", "setiap Rabu ketiga, 08.00-10.00"),
    ],
)
def test_rules_as_people_state_them(text: str, description: str) -> None:
    assert parse_rule(text).describe() == description


@pytest.mark.parametrize(
    "text",
    ["setiap tanggal 10", "tanggal 32, 08.00-11.00", "kapan saja 08.00-11.00", "tgl 5 11.00-08.00"],
)
def test_unclear_rules_are_refused_with_an_example(text: str) -> None:
    with pytest.raises(ScheduleError):
        parse_rule(text)


def test_next_session_in_words_and_local_time() -> None:
    rule = parse_rule("Selasa kedua 08.00-11.00")
    session = next_session(rule, dt.datetime(2025, 12, 1, 2, 0, tzinfo=UTC), "WITA")
    assert session is not None
    assert format_session(session) == "Selasa, 9 Desember 2025, 08.00-11.00 WITA"


def test_session_today_counts_until_it_ends() -> None:
    rule = parse_rule("setiap tanggal 10, 08.00-11.00")
    during = next_session(rule, at("WIB", 2026, 3, 10, 10, 30), "WIB")
    after = next_session(rule, at("WIB", 2026, 3, 10, 11, 0), "WIB")
    assert during is not None and during.start.date() == dt.date(2026, 3, 10)
    assert after is not None and after.start.date() == dt.date(2026, 4, 10)


def test_time_zone_decides_whether_today_is_over() -> None:
    rule = parse_rule("setiap tanggal 10, 08.00-11.00")
    now = dt.datetime(2026, 3, 10, 3, 30, tzinfo=UTC)  # 10.30 WIB, 11.30 WITA, 12.30 WIT
    wib, wit = next_session(rule, now, "WIB"), next_session(rule, now, "WIT")
    assert wib is not None and wib.start.date() == dt.date(2026, 3, 10)
    assert wit is not None and wit.start.date() == dt.date(2026, 4, 10)


def test_across_the_year_end() -> None:
    rule = parse_rule("setiap tanggal 20, 08.00-11.00")
    session = next_session(rule, at("WIT", 2025, 12, 25, 9, 0), "WIT")
    assert session is not None and session.start.date() == dt.date(2026, 1, 20)


@pytest.mark.parametrize(
    ("year", "month", "expected"),
    [(2026, 2, 28), (2024, 2, 29), (2026, 4, 30), (2026, 1, 31)],
)
def test_day_31_falls_on_the_last_day_of_short_months(year: int, month: int, expected: int) -> None:
    rule = parse_rule("setiap tanggal 31, 08.00-11.00")
    session = next_session(rule, at("WIB", year, month, 1, 0, 0), "WIB")
    assert session is not None and session.start.date() == dt.date(year, month, expected)


def test_holiday_moves_the_session_to_the_next_working_day() -> None:
    rule = parse_rule("setiap tanggal 17, 08.00-11.00")
    holidays = frozenset({dt.date(2026, 8, 17)})
    session = next_session(rule, at("WIB", 2026, 8, 1, 0, 0), "WIB", holidays=holidays)
    assert session is not None and session.start.date() == dt.date(2026, 8, 18)
    assert session.moved


def test_date_rule_on_a_sunday_moves_to_monday() -> None:
    rule = parse_rule("setiap tanggal 10, 08.00-11.00")  # 10 May 2026 is a Sunday
    session = next_session(rule, at("WIB", 2026, 5, 1, 0, 0), "WIB")
    assert session is not None and session.start.date() == dt.date(2026, 5, 11)


def test_cancelled_session_skips_to_next_month() -> None:
    rule = parse_rule("Selasa kedua 08.00-11.00")
    change = Change(original=dt.date(2026, 3, 10), cancelled=True)
    session = next_session(rule, at("WITA", 2026, 3, 1, 0, 0), "WITA", [change])
    assert session is not None and session.start.date() == dt.date(2026, 4, 14)


def test_moved_session_uses_the_new_date_and_hours() -> None:
    rule = parse_rule("setiap tanggal 10, 08.00-11.00")
    change = Change(
        original=dt.date(2026, 3, 10),
        new_date=dt.date(2026, 3, 12),
        new_start=dt.time(13, 0),
        new_end=dt.time(15, 0),
        note="balai desa dipakai",
    )
    session = next_session(rule, at("WIB", 2026, 3, 11, 0, 0), "WIB", [change])
    assert session is not None
    assert format_session(session) == "Kamis, 12 Maret 2026, 13.00-15.00 WIB"
    assert session.moved and session.note == "balai desa dipakai"


@given(
    day=st.integers(1, 31),
    zone=st.sampled_from(sorted(TIME_ZONES)),
    now=st.datetimes(dt.datetime(2024, 1, 1), dt.datetime(2030, 12, 31), timezones=st.just(UTC)),
)
def test_next_date_session_is_never_past_and_within_six_weeks(
    day: int, zone: str, now: dt.datetime
) -> None:
    rule = parse_rule(f"setiap tanggal {day}, 08.00-11.00")
    session = next_session(rule, now, zone)
    assert session is not None
    assert session.end > now
    assert session.start - now < dt.timedelta(days=42)
    assert session.start.tzinfo is TIME_ZONES[zone]


@given(
    nth=st.sampled_from(["pertama", "kedua", "ketiga", "keempat", "terakhir"]),
    weekday=st.sampled_from(["Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "hari Minggu"]),
    now=st.datetimes(dt.datetime(2024, 1, 1), dt.datetime(2030, 12, 31), timezones=st.just(UTC)),
)
def test_nth_weekday_session_falls_on_that_weekday(
    nth: str, weekday: str, now: dt.datetime
) -> None:
    rule = parse_rule(f"{weekday} {nth} 08.00-11.00")
    session = next_session(rule, now, "WITA")
    assert session is not None and session.end > now
    local = session.start
    assert local.weekday() == rule.weekday
    if nth == "terakhir":
        assert (local + dt.timedelta(days=7)).month != local.month
    else:
        assert (local.day - 1) // 7 + 1 == rule.nth


def dates_of(
    text: str, now: dt.datetime, holidays: frozenset[dt.date] = frozenset()
) -> list[dt.date]:
    rule = parse_rule(text)
    return [s.start.date() for s in upcoming_sessions(rule, now, "WIB", (), holidays, limit=4)]


MARCH_2026 = dt.datetime(2026, 3, 1, 0, 0, tzinfo=TIME_ZONES["WIB"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tanggal 10 dan 25, 08.00-11.00", [(3, 10), (3, 25), (4, 10), (4, 25)]),
        ("tgl 5, 20 jam 08.00-11.00", [(3, 5), (3, 20), (4, 6), (4, 20)]),  # 5 April: Sunday
        ("tgl 5 & 20 setiap bulan 08.00-11.00", [(3, 5), (3, 20), (4, 6), (4, 20)]),
        ("setiap tanggal 5, 15, dan 25, 08.00-11.00", [(3, 5), (3, 16), (3, 25), (4, 6)]),
        ("Senin pertama dan ketiga 08.00-11.00", [(3, 2), (3, 16), (4, 6), (4, 20)]),
        ("Rabu ke-2 dan ke-4, 08.00-11.00", [(3, 11), (3, 25), (4, 8), (4, 22)]),
        ("Rabu ke 2 dan 4, 08.00-11.00", [(3, 11), (3, 25), (4, 8), (4, 22)]),
        ("minggu ke-2 hari Selasa, 08.00-11.00", [(3, 10), (4, 14), (5, 12), (6, 9)]),
        ("minggu kedua hari Selasa 08.00-11.00", [(3, 10), (4, 14), (5, 12), (6, 9)]),
        ("pekan ke-2 hari Selasa 08.00-11.00", [(3, 10), (4, 14), (5, 12), (6, 9)]),
        ("Selasa minggu II, 08.00-11.00", [(3, 10), (4, 14), (5, 12), (6, 9)]),
        ("setiap Kamis minggu ketiga 08.00-11.00", [(3, 19), (4, 16), (5, 21), (6, 18)]),
        ("Kamis, minggu ke-3, 08.00-11.00", [(3, 19), (4, 16), (5, 21), (6, 18)]),
        ("minggu ketiga, hari Kamis, 08.00-11.00", [(3, 19), (4, 16), (5, 21), (6, 18)]),
        ("minggu ke-1 dan ke-3 hari Jum'at, 08.00-11.00", [(3, 6), (3, 20), (4, 3), (4, 17)]),
        ("Selasa kedua dan Kamis keempat 08.00-11.00", [(3, 10), (3, 26), (4, 14), (4, 23)]),
        ("hari Minggu pertama 08.00-11.00", [(3, 1), (4, 5), (5, 3), (6, 7)]),
        ("first and third Monday 08:00-11:00", [(3, 2), (3, 16), (4, 6), (4, 20)]),
        ("2nd and 4th Wednesday of the month 08:00-11:00", [(3, 11), (3, 25), (4, 8), (4, 22)]),
    ],
)
def test_several_sessions_a_month(text: str, expected: list[tuple[int, int]]) -> None:
    assert dates_of(text, MARCH_2026) == [dt.date(2026, m, d) for m, d in expected]


def test_minggu_before_a_weekday_is_the_week_not_sunday() -> None:
    rule = parse_rule("minggu ke-2 hari Selasa, 08.00-11.00")
    assert (rule.weekdays, rule.weekday, rule.nth) == (((2, 1),), 1, 2)
    assert rule.describe() == "setiap Selasa kedua, 08.00-11.00"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Minggu kedua, 08.00-11.00", "pekan atau hari Minggu"),
        ("minggu ke-2 08.00-11.00", "pekan atau hari Minggu"),
        ("setiap minggu 08.00-11.00", "pekan atau hari Minggu"),
        ("Senin pertama atau ketiga 08.00-11.00", "'atau' tidak jelas"),
        ("tgl 5/20 08.00-11.00", "'/' tidak jelas"),
        ("setiap Senin 08.00-11.00", "Senin ke berapa"),
        ("Senin dan Kamis minggu pertama 08.00-11.00", "Senin ke berapa"),
        ("Senin kelima 08.00-11.00", "kelima"),
        ("5th Monday 08:00-11:00", "kelima"),
        ("Senin keempat dan terakhir 08.00-11.00", "salah satu"),
        ("Senin pertama dan pertama 08.00-11.00", "dua kali"),
        ("tanggal 10 dan 10 08.00-11.00", "dua kali"),
        ("tanggal 10 hari Senin 08.00-11.00", "dicampur"),
        ("tgl 5 20 08.00-11.00", "pisahkan"),
        ("tanggal 5-20 08.00-11.00", "rentang"),
        ("tanggal 5 s/d 20, 08.00-11.00", "rentang"),
        ("10 dan 25 setiap bulan 08.00-11.00", "tulis 'tanggal 10'"),
        ("tanggal 10, per 2 bulan 08.00-11.00", "'2 bulan'"),
        ("2 kali sebulan 08.00-11.00", "tidak dikenali"),
        ("tanggal 10 di balai desa 08.00-11.00", "tidak dikenali"),
        ("tanggal 10 08.00-11.00 dan tanggal 25 13.00-15.00", "lebih dari satu jam"),
        ("Selasa kedua dan Minggu keempat 08.00-11.00", "hari apa"),
        ("Selasa minggu ke-2 dan minggu ke-4 hari Kamis 08.00-11.00", "tidak pada tempatnya"),
        ("Selasa 2 08.00-11.00", "tidak pada tempatnya"),
        ("Rabu, minggu ke-2 hari Kamis 08.00-11.00", "tidak pada tempatnya"),
        ("minggu ke-2 dan ke-4, Selasa pertama 08.00-11.00", "tidak pada tempatnya"),
        ("setiap hari 08.00-11.00", "'hari' harus diikuti"),
        ("every second Tuesday 08:00-11:00", "dua minggu sekali"),
        ("tanggal 10, 08.00-11.00 WIB WITA", "zona waktu"),
        ("08.00-11.00", "tidak ditemukan"),
    ],
)
def test_ambiguous_or_unknown_rules_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(ScheduleError, match=re.escape(reason)):
        parse_rule(text)


def test_weekday_session_on_a_holiday_moves_to_the_next_working_day_not_sunday() -> None:
    # Saturday 1 August 2026 is a holiday: Monday 3 August, not Sunday 2 August.
    saturday = frozenset({dt.date(2026, 8, 1)})
    august = dt.datetime(2026, 7, 31, 12, 0, tzinfo=TIME_ZONES["WIB"])
    session = next_session(parse_rule("Sabtu pertama 08.00-11.00"), august, "WIB", (), saturday)
    assert session is not None and session.start.date() == dt.date(2026, 8, 3)
    assert session.moved and session.note == "digeser karena hari libur"
    # Friday 28 and Saturday 29 August both holidays: Monday 31 August.
    both = frozenset({dt.date(2026, 8, 28), dt.date(2026, 8, 29)})
    rule = parse_rule("Jumat terakhir 08.00-11.00")
    session = next_session(rule, august, "WIB", (), both)
    assert session is not None and session.start.date() == dt.date(2026, 8, 31)


def test_a_session_moved_onto_another_of_the_rule_is_one_session() -> None:
    holidays = frozenset({dt.date(2026, 8, 17)})
    dates = dates_of("tanggal 17 dan 18, 08.00-11.00", MARCH_2026.replace(month=8), holidays)
    assert dates == [
        dt.date(2026, 8, 18),  # the 17th's session, moved: one session with the 18th's
        dt.date(2026, 9, 17),
        dt.date(2026, 9, 18),
        dt.date(2026, 10, 17),
    ]


def test_a_change_applies_to_one_of_several_sessions() -> None:
    rule = parse_rule("Senin pertama dan ketiga 08.00-11.00")
    cancel = Change(original=dt.date(2026, 3, 2), cancelled=True)
    sessions = upcoming_sessions(rule, MARCH_2026, "WIB", [cancel], limit=2)
    assert [s.start.date() for s in sessions] == [dt.date(2026, 3, 16), dt.date(2026, 4, 6)]


def test_one_session_shorthand_is_kept() -> None:
    rule = ScheduleRule(start=dt.time(8), end=dt.time(11), day=10)
    assert rule == ScheduleRule(start=dt.time(8), end=dt.time(11), days=(10,))
    assert rule.date_in(2026, 5) == dt.date(2026, 5, 10)
    several = parse_rule("tanggal 25 dan 10, 08.00-11.00")
    assert (several.days, several.day, several.date_in(2026, 3)) == (
        (10, 25),
        None,
        dt.date(2026, 3, 10),
    )
