"""Calendar arithmetic for ages: calendar months plus days, from a birth date."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from actions.immunization.texts import MONTHS_ID

__all__ = ["Duration", "add_months", "format_date", "months_between"]


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` calendar months later (or earlier); a missing day is the month end."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def months_between(start: dt.date, end: dt.date) -> int:
    """Whole calendar months from `start` to `end` (end >= start)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if add_months(start, months) > end:
        months -= 1
    return months


_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)m)?(?:(\d+)w)?(?:(\d+)d)?$")


@dataclass(frozen=True)
class Duration:
    """An age or interval: calendar months plus days ("1y", "6m29d", "6w", "0d")."""

    months: int
    days: int
    text: str

    @classmethod
    def parse(cls, text: str) -> Duration:
        match = _DURATION.match(text.strip()) if text.strip() else None
        if match is None:
            raise ValueError(f"{text!r} is not a duration like '2m', '6w', '7d' or '6m29d'")
        years, months, weeks, days = (int(part) if part else 0 for part in match.groups())
        return cls(years * 12 + months, weeks * 7 + days, text.strip())

    def after(self, start: dt.date) -> dt.date:
        return add_months(start, self.months) + dt.timedelta(days=self.days)

    def __str__(self) -> str:
        return self.text


def format_date(day: dt.date) -> str:
    """ "3 Maret 2025"."""
    return f"{day.day} {MONTHS_ID[day.month - 1]} {day.year}"
