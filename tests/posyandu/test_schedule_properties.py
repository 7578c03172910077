"""Properties of schedule rules with several sessions a month, checked against a plain oracle.

Rules are generated as cadres write them (Indonesian word orders and spellings, English),
parsed, and every computed session is compared with a day-by-day reading of the rule:
planned on the rule's days, moved off holidays (and date-of-month sessions off Sundays) to
the next working day (Monday to Saturday, not a holiday), sorted, none missed.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actions.posyandu.schedule import (
    TIME_ZONES,
    ScheduleError,
    ScheduleRule,
    parse_rule,
    upcoming_sessions,
)

DAY = dt.timedelta(days=1)
START, END = dt.time(8, 0), dt.time(11, 0)
NAMES = ["Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu"]
WORDS = {1: "pertama", 2: "kedua", 3: "ketiga", 4: "keempat", -1: "terakhir"}
ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}
ENGLISH = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}
ENGLISH_NUMBERS = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th", -1: "last"}
ENGLISH_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
HOURS = [", 08.00-11.00", " jam 08.00 - 11.00", " pukul 08.00 s/d 11.00", " (08:00-11:00)"]
SEPARATORS = [", ", " dan ", " & ", ", dan ", " serta "]

Pairs = frozenset[tuple[int, int]]


# --- the oracle: the rule read day by day, independent of the implementation --------------


def planned(days: frozenset[int], pairs: Pairs, day: dt.date) -> bool:
    last = calendar.monthrange(day.year, day.month)[1]
    if any(min(d, last) == day.day for d in days):
        return True
    for nth, weekday in pairs:
        if day.weekday() != weekday:
            continue
        if nth == -1 and (day + 7 * DAY).month != day.month:
            return True
        if nth > 0 and (day.day - 1) // 7 + 1 == nth:
            return True
    return False


def working(day: dt.date, holidays: frozenset[dt.date]) -> bool:
    return day.weekday() < 6 and day not in holidays


def host(day: dt.date, holidays: frozenset[dt.date], sunday_ok: bool) -> dt.date:
    if day not in holidays and (sunday_ok or day.weekday() < 6):
        return day
    day += DAY
    while not working(day, holidays):
        day += DAY
    return day


def expected_sessions(
    days: frozenset[int], pairs: Pairs, now: dt.datetime, zone: str, holidays: frozenset[dt.date]
) -> list[tuple[dt.date, bool]]:
    """(date, moved) of every session from a month before `now` to ~14 months after."""
    tz = TIME_ZONES[zone]
    first = now.astimezone(tz).date().replace(day=1) - 31 * DAY
    hosted: dict[dt.date, bool] = {}
    for offset in range(450):
        day = first + offset * DAY
        if not planned(days, pairs, day):
            continue
        held = host(day, holidays, sunday_ok=not days)
        hosted[held] = hosted.get(held, True) and held != day
    return [
        (day, moved)
        for day, moved in sorted(hosted.items())
        if dt.datetime.combine(day, END, tz) > now
    ]


def check_sessions(
    rule: ScheduleRule,
    days: frozenset[int],
    pairs: Pairs,
    now: dt.datetime,
    zone: str,
    holidays: frozenset[dt.date],
) -> None:
    sessions = upcoming_sessions(rule, now, zone, (), holidays, limit=6)
    got = [(s.start.date(), s.moved) for s in sessions]
    assert got == expected_sessions(days, pairs, now, zone, holidays)[:6]
    starts = [s.start for s in sessions]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    for session in sessions:
        day = session.start.date()
        assert session.end > now
        assert session.start.tzinfo is TIME_ZONES[zone]
        assert (session.start.time(), session.end.time()) == (START, END)
        assert day not in holidays, "a holiday never hosts a session"
        if days:
            assert day.weekday() != 6, "a date-of-month session never falls on a Sunday"
        if session.moved:
            # The first working day after a planned day that could not host it: only
            # non-working days lie between them.
            assert working(day, holidays)
            origins, before = [], day - DAY
            while not working(before, holidays):
                if planned(days, pairs, before) and (
                    before in holidays or (days and before.weekday() == 6)
                ):
                    origins.append(before)
                before -= DAY
            assert origins, "a moved session comes from a planned holiday (or Sunday)"
            assert session.note == "digeser karena hari libur"
        else:
            assert planned(days, pairs, day)


# --- generated rules, written as people write them ---------------------------------------

nows = st.datetimes(dt.datetime(2024, 1, 1), dt.datetime(2031, 12, 31), timezones=st.just(dt.UTC))
zones = st.sampled_from(sorted(TIME_ZONES))
day_sets = st.frozensets(st.integers(1, 31), min_size=1, max_size=5)
pair_sets = st.frozensets(
    st.tuples(st.sampled_from([1, 2, 3, 4, -1]), st.integers(0, 6)), min_size=1, max_size=5
).filter(lambda pairs: not any((4, w) in pairs and (-1, w) in pairs for _, w in pairs))


@st.composite
def holidays_near(
    draw: st.DrawFn, rule_days: Callable[[dt.date], bool], now: dt.datetime
) -> frozenset[dt.date]:
    """Random days plus some of the rule's own days, around `now`."""
    today = now.date()
    offsets = draw(st.frozensets(st.integers(-35, 200), max_size=30))
    near = [today + offset * DAY for offset in range(-35, 200)]
    own = [day for day in near if rule_days(day)]
    chosen = draw(st.frozensets(st.sampled_from(own), max_size=len(own))) if own else frozenset()
    runs = {day + extra * DAY for day in chosen for extra in range(draw(st.integers(0, 2)) + 1)}
    return frozenset({today + offset * DAY for offset in offsets} | runs)


@st.composite
def day_rule_text(draw: st.DrawFn, days: frozenset[int]) -> str:
    numbers = [str(d) for d in draw(st.permutations(sorted(days)))]
    text = draw(st.sampled_from(["setiap tanggal ", "tanggal ", "tgl ", "tiap tgl ", "tgl."]))
    text += numbers[0]
    for number in numbers[1:]:
        again = draw(st.sampled_from(["", "", "tanggal ", "tgl "]))
        text += draw(st.sampled_from(SEPARATORS)) + again + number
    text += draw(st.sampled_from(["", " setiap bulan", " tiap bulan", " per bulan"]))
    return text + draw(st.sampled_from(HOURS))


def ordinal_id(draw: st.DrawFn, nth: int, first: bool, week: bool) -> str:
    if nth == -1:
        return "terakhir"
    styles = [WORDS[nth], f"ke-{nth}", f"ke {nth}", f"ke{nth}", ROMAN[nth], f"ke-{ROMAN[nth]}"]
    if week or not first:  # a bare number only after "minggu" or in a list
        styles.append(str(nth))
    return draw(st.sampled_from(styles))


def weekday_name(draw: st.DrawFn, weekday: int) -> str:
    if weekday == 6:
        return draw(st.sampled_from(["hari Minggu", "hari minggu", "Ahad"]))
    name = NAMES[weekday]
    if weekday == 4:
        name = draw(st.sampled_from([name, "Jum'at"]))
    name = draw(st.sampled_from([name, name.lower(), name.upper()]))
    return draw(st.sampled_from(["", "hari "])) + name


@st.composite
def weekday_rule_text(draw: st.DrawFn, pairs: Pairs) -> str:
    by_day: dict[int, list[int]] = {}
    for nth, weekday in sorted(pairs):
        by_day.setdefault(weekday, []).append(nth)
    groups = draw(st.permutations(sorted(by_day)))
    if draw(st.booleans()):  # English: "first and third Monday"
        parts = []
        for weekday in groups:
            names = ENGLISH_NUMBERS if draw(st.booleans()) else ENGLISH
            ords = [names[n] for n in draw(st.permutations(by_day[weekday]))]
            parts.append(" and ".join(ords) + " " + ENGLISH_DAYS[weekday])
        tail = draw(st.sampled_from(["", " of the month", " of every month", " each month"]))
        return "every " * (bool(tail)) + " and ".join(parts) + tail + draw(st.sampled_from(HOURS))
    parts = []
    previous_style = ""
    for weekday in groups:
        nths = draw(st.permutations(by_day[weekday]))
        style = draw(st.sampled_from(["day first", "day week", "week first"]))
        if previous_style == "day week" and style == "week first":
            style = "day first"  # "Senin minggu ke-1 dan minggu ke-2 hari Kamis" is ambiguous
        previous_style = style
        week = draw(st.sampled_from(["minggu", "pekan"]))
        ords = []
        for index, nth in enumerate(nths):
            word = ordinal_id(draw, nth, index == 0, style != "day first")
            if index and style != "day first" and draw(st.booleans()):
                word = f"{week} {word}"  # "minggu ke-2 dan minggu ke-4"
            ords.append(word)
        listed = ords[0] + "".join(draw(st.sampled_from(SEPARATORS)) + o for o in ords[1:])
        name = weekday_name(draw, weekday)
        if style == "day first":
            parts.append(f"{name} {listed}")
        elif style == "day week":
            parts.append(f"{name}{draw(st.sampled_from([' ', ', ']))}{week} {listed}")
        else:
            parts.append(f"{week} {listed}{draw(st.sampled_from([' ', ', ']))}{name}")
    prefix = draw(st.sampled_from(["", "setiap ", "tiap "]))
    text = prefix + parts[0] + "".join(draw(st.sampled_from(SEPARATORS)) + p for p in parts[1:])
    text += draw(st.sampled_from(["", " setiap bulan", " tiap bulan"]))
    return text + draw(st.sampled_from(HOURS))


# --- properties ----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(data=st.data(), days=day_sets, now=nows, zone=zones)
def test_days_of_month_rules_are_read_and_scheduled_right(
    data: st.DataObject, days: frozenset[int], now: dt.datetime, zone: str
) -> None:
    text = data.draw(day_rule_text(days), label="text")
    rule = parse_rule(text)
    assert rule.days == tuple(sorted(days)) and rule.weekdays == ()
    holidays = data.draw(
        holidays_near(lambda day: planned(days, frozenset(), day), now), label="holidays"
    )
    check_sessions(rule, days, frozenset(), now, zone, holidays)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), pairs=pair_sets, now=nows, zone=zones)
def test_ordinal_weekday_rules_are_read_and_scheduled_right(
    data: st.DataObject, pairs: Pairs, now: dt.datetime, zone: str
) -> None:
    text = data.draw(weekday_rule_text(pairs), label="text")
    rule = parse_rule(text)
    assert set(rule.weekdays) == pairs and rule.days == ()
    holidays = data.draw(
        holidays_near(lambda day: planned(frozenset(), pairs, day), now), label="holidays"
    )
    check_sessions(rule, frozenset(), pairs, now, zone, holidays)


@given(
    days=day_sets,
    pairs=pair_sets,
    use_days=st.booleans(),
    zone=st.sampled_from([None, *sorted(TIME_ZONES)]),
)
def test_description_reads_back_as_the_same_rule(
    days: frozenset[int], pairs: Pairs, use_days: bool, zone: str | None
) -> None:
    if use_days:
        rule = ScheduleRule(START, END, days=tuple(days), zone=zone)
    else:
        rule = ScheduleRule(START, END, weekdays=tuple(pairs), zone=zone)
    assert parse_rule(rule.describe()) == rule


UNKNOWN = ["kecuali", "libur", "ganjil", "genap", "sekali", "biasanya", "kadang", "awal", "akhir"]


@given(
    data=st.data(),
    days=day_sets,
    pairs=pair_sets,
    use_days=st.booleans(),
    word=st.sampled_from([*UNKNOWN, "atau", "or", "kelima", "ke-5", "/"]),
)
def test_an_unknown_word_anywhere_is_refused_not_skipped(
    data: st.DataObject, days: frozenset[int], pairs: Pairs, use_days: bool, word: str
) -> None:
    text = data.draw(day_rule_text(days) if use_days else weekday_rule_text(pairs))
    words = text.split(" ")
    at = data.draw(st.integers(0, len(words)), label="at")
    with pytest.raises(ScheduleError):
        parse_rule(" ".join([*words[:at], word, *words[at:]]))


@given(
    nths=st.lists(st.sampled_from([1, 2, 3, 4, -1]), min_size=1, max_size=3, unique=True),
    week=st.sampled_from(["Minggu", "minggu", "MINGGU"]),
)
def test_minggu_without_a_weekday_is_refused(nths: list[int], week: str) -> None:
    listed = " dan ".join(WORDS[n] for n in nths)
    with pytest.raises(ScheduleError, match="pekan atau hari Minggu"):
        parse_rule(f"setiap {week} {listed}, 08.00-11.00")
