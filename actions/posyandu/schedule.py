"""Posyandu schedule rules as people state them, and the next session in local time.

Rules: "setiap tanggal 10, 08.00-11.00" / "every month on day 10, 08:00-11:00",
"Selasa kedua setiap bulan 08.00-11.00" / "second Tuesday of the month 08:00-11:00",
"Jumat terakhir ..." / "last Friday ...". A day that a month does not have (31 in
June) falls on the month's last day. A session on a public holiday (when a holiday
list is given) moves to the next working day; so does a date-of-month session that
falls on a Sunday. One-off changes cancel a
session or move it to another date and time.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

__all__ = [
    "TIME_ZONES",
    "Change",
    "ScheduleError",
    "ScheduleRule",
    "Session",
    "format_session",
    "next_session",
    "parse_rule",
]

TIME_ZONES = {
    "WIB": ZoneInfo("Asia/Jakarta"),
    "WITA": ZoneInfo("Asia/Makassar"),
    "WIT": ZoneInfo("Asia/Jayapura"),
}
DAYS_ID = ["Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"]
MONTHS_ID = [
    "Januari", "Februari", "Maret", "April", "Mei", "Juni",
    "Juli", "Agustus", "September", "Oktober", "November", "Desember",
]  # fmt: skip
_WEEKDAYS = {
    **{name.lower(): i for i, name in enumerate(DAYS_ID)},
    "jum'at": 4, "jumat": 4, "ahad": 6,
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4,
    "saturday": 5, "sunday": 6,
}  # fmt: skip
_ORDINALS = {
    "pertama": 1, "kesatu": 1, "ke-1": 1, "ke1": 1, "1": 1, "first": 1, "1st": 1,
    "kedua": 2, "ke-2": 2, "ke2": 2, "2": 2, "second": 2, "2nd": 2,
    "ketiga": 3, "ke-3": 3, "ke3": 3, "3": 3, "third": 3, "3rd": 3,
    "keempat": 4, "ke-4": 4, "ke4": 4, "4": 4, "fourth": 4, "4th": 4,
    "terakhir": -1, "last": -1,
}  # fmt: skip
_HOURS = re.compile(
    r"(?P<h1>\d{1,2})[.:](?P<m1>\d{2})\s*(?:-|–|s/?d|sampai|to|until)\s*(?P<h2>\d{1,2})[.:](?P<m2>\d{2})"
)
_DAY_OF_MONTH = re.compile(
    r"(?:(?:setiap|tiap)\s+)?(?:tanggal|tgl\.?|day)\s+(?P<day>\d{1,2})\b"
    r"|\bday\s+(?P<day2>\d{1,2})\b|\b(?P<day3>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?(?:every|each)\s+month"
)
_WEEKDAY_WORDS = "|".join(sorted(_WEEKDAYS, key=len, reverse=True))
_ORDINAL_WORDS = "|".join(re.escape(o) for o in sorted(_ORDINALS, key=len, reverse=True))
_NTH_WEEKDAY = re.compile(
    rf"(?:(?P<ord1>{_ORDINAL_WORDS})\s+(?P<wd1>{_WEEKDAY_WORDS}))"
    rf"|(?:(?P<wd2>{_WEEKDAY_WORDS})\s+(?:minggu\s+)?(?P<ord2>{_ORDINAL_WORDS}))\b"
)


class ScheduleError(ValueError):
    """A rule that cannot be understood; the message says what to write instead."""


@dataclass(frozen=True)
class ScheduleRule:
    """Monthly: on `day`, or on the `nth` (1-4, -1 = last) `weekday` (0 = Monday)."""

    start: dt.time
    end: dt.time
    day: int | None = None
    nth: int | None = None
    weekday: int | None = None

    def date_in(self, year: int, month: int) -> dt.date:
        last_day = calendar.monthrange(year, month)[1]
        if self.day is not None:
            return dt.date(year, month, min(self.day, last_day))
        assert self.nth is not None and self.weekday is not None
        days = [
            dt.date(year, month, d)
            for d in range(1, last_day + 1)
            if dt.date(year, month, d).weekday() == self.weekday
        ]
        return days[-1] if self.nth == -1 else days[self.nth - 1]

    def describe(self) -> str:
        hours = f"{self.start:%H.%M}-{self.end:%H.%M}"
        if self.day is not None:
            return f"setiap tanggal {self.day}, {hours}"
        assert self.weekday is not None
        order = (
            "terakhir"
            if self.nth == -1
            else ["", "pertama", "kedua", "ketiga", "keempat"][self.nth or 0]
        )
        return f"setiap {DAYS_ID[self.weekday]} {order}, {hours}"


@dataclass(frozen=True)
class Change:
    """A one-off change to the session that the rule puts on `original`."""

    original: dt.date
    cancelled: bool = False
    new_date: dt.date | None = None
    new_start: dt.time | None = None
    new_end: dt.time | None = None
    note: str = ""


@dataclass(frozen=True)
class Session:
    start: dt.datetime  # aware, in the village's time zone
    end: dt.datetime
    zone: str  # WIB / WITA / WIT
    moved: bool = False
    note: str = ""


def parse_rule(text: str) -> ScheduleRule:
    """Parse "setiap tanggal 10, 08.00-11.00", "Selasa kedua 08.00-11.00", ..."""
    lowered = " ".join(text.lower().replace(",", " ").split())
    hours = _HOURS.search(lowered)
    if not hours:
        raise ScheduleError(f"jam buka tidak ditemukan dalam {text!r} (contoh: 08.00-11.00)")
    try:
        start = dt.time(int(hours["h1"]), int(hours["m1"]))
        end = dt.time(int(hours["h2"]), int(hours["m2"]))
    except ValueError:
        raise ScheduleError(f"jam tidak sah dalam {text!r}") from None
    if end <= start:
        raise ScheduleError(f"jam selesai harus setelah jam mulai dalam {text!r}")
    rest = lowered[: hours.start()] + " " + lowered[hours.end() :]
    day_match = _DAY_OF_MONTH.search(rest)
    if day_match:
        day = int(day_match["day"] or day_match["day2"] or day_match["day3"])
        if not 1 <= day <= 31:
            raise ScheduleError(f"tanggal {day} tidak ada dalam {text!r}")
        return ScheduleRule(start=start, end=end, day=day)
    nth_match = _NTH_WEEKDAY.search(rest)
    if nth_match:
        weekday = _WEEKDAYS[nth_match["wd1"] or nth_match["wd2"]]
        nth = _ORDINALS[nth_match["ord1"] or nth_match["ord2"]]
        return ScheduleRule(start=start, end=end, nth=nth, weekday=weekday)
    raise ScheduleError(
        f"aturan jadwal tidak dikenali: {text!r} "
        "(contoh: 'setiap tanggal 10, 08.00-11.00' atau 'Selasa kedua, 08.00-11.00')"
    )


def _working_day(day: dt.date, holidays: frozenset[dt.date], skip_sunday: bool) -> dt.date:
    while day in holidays or (skip_sunday and day.weekday() == 6):
        day += dt.timedelta(days=1)
    return day


def _sessions_of_month(
    rule: ScheduleRule,
    year: int,
    month: int,
    zone: str,
    changes: dict[dt.date, Change],
    holidays: frozenset[dt.date],
) -> Session | None:
    tz = TIME_ZONES[zone]
    planned = rule.date_in(year, month)
    change = changes.get(planned)
    if change is not None and change.cancelled:
        return None
    if change is not None and change.new_date is not None:
        day, start, end = (
            change.new_date,
            change.new_start or rule.start,
            change.new_end or rule.end,
        )
        moved, note = True, change.note
    else:
        day = _working_day(planned, holidays, skip_sunday=rule.day is not None)
        start, end = rule.start, rule.end
        moved, note = day != planned, ("digeser karena hari libur" if day != planned else "")
    return Session(
        start=dt.datetime.combine(day, start, tz),
        end=dt.datetime.combine(day, end, tz),
        zone=zone,
        moved=moved,
        note=note,
    )


def next_session(
    rule: ScheduleRule,
    now: dt.datetime,
    zone: str,
    changes: list[Change] | tuple[Change, ...] = (),
    holidays: frozenset[dt.date] = frozenset(),
) -> Session | None:
    """The first session that has not ended at `now` (aware), within the next two years."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local = now.astimezone(TIME_ZONES[zone])
    by_date = {change.original: change for change in changes}
    candidates = []
    year, month = local.year, local.month
    # Start a month early: a session moved from last month into this one still counts.
    year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    for _ in range(26):
        session = _sessions_of_month(rule, year, month, zone, by_date, holidays)
        if session is not None and session.end > now:
            candidates.append(session)
            if len(candidates) >= 2:
                break
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return min(candidates, key=lambda s: s.start) if candidates else None


def format_session(session: Session) -> str:
    """ "Selasa, 9 Desember 2025, 08.00-11.00 WITA"."""
    start, end = session.start, session.end
    day = f"{DAYS_ID[start.weekday()]}, {start.day} {MONTHS_ID[start.month - 1]} {start.year}"
    return f"{day}, {start:%H.%M}-{end:%H.%M} {session.zone}"
