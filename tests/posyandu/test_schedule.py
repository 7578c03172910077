import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actions.posyandu.schedule import (
    TIME_ZONES,
    Change,
    ScheduleError,
    format_session,
    next_session,
    parse_rule,
)

UTC = dt.UTC


def at(zone: str, *args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TIME_ZONES[zone])  # type: ignore[misc]


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
    weekday=st.sampled_from(["Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"]),
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
