"""Posyandu schedule rules as people state them, and the next session in local time.

A rule is one or more monthly sessions with one opening time:
  - days of the month: "setiap tanggal 10, 08.00-11.00", "tanggal 10 dan 25 08.00-11.00",
    "tgl 5, 20 jam 08.00-11.00", "every month on day 10, 08:00-11:00";
  - the n-th weekday of the month (n = 1-4 or last): "Selasa kedua setiap bulan 08.00-11.00",
    "Senin pertama dan ketiga", "Rabu ke-2 dan ke-4", "minggu ke-2 hari Selasa",
    "setiap Kamis minggu ketiga", "Jumat terakhir", "second Tuesday of the month",
    "first and third Monday".
"minggu"/"pekan" + an ordinal means a week of the month, and "minggu ke-n hari Selasa" is the
n-th Tuesday (the one on day 7n-6 to 7n). "minggu" is also Sunday: it is read as Sunday only
after "hari" ("hari Minggu kedua"; or write "Ahad"); alone ("Minggu kedua, 08.00-11.00") it
is refused as ambiguous. Every word of a rule must be understood: unknown words, "atau",
ranges of days, a fifth weekday, a weekday without its place in the month ("setiap Senin")
and days of the month mixed with weekdays are refused (ScheduleError), never guessed.

A day that a month does not have (31 in June) falls on the month's last day. Working days are
Monday to Saturday, except listed public holidays. A session on a listed holiday, or a
date-of-month session on a Sunday, moves to the next working day; a session that lands where
the rule already has one at the same hours is the same session. One-off changes cancel a
session or move it to another date and time.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
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
    "upcoming_sessions",
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
ORDINALS_ID = {1: "pertama", 2: "kedua", 3: "ketiga", 4: "keempat", -1: "terakhir"}
SUNDAY = 6
EXAMPLES = (
    "contoh: 'setiap tanggal 10 dan 25, 08.00-11.00', 'Senin pertama dan ketiga, 08.00-11.00' "
    "atau 'minggu ke-2 hari Selasa, 08.00-11.00'"
)

# "Minggu" is missing on purpose: it is a week as often as a Sunday (see _resolve_minggu).
_WEEKDAYS = {
    "senin": 0, "selasa": 1, "rabu": 2, "kamis": 3, "jumat": 4, "jumaat": 4, "sabtu": 5,
    "ahad": 6,
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4,
    "saturday": 5, "sunday": 6,
}  # fmt: skip
# After normalisation every "ke 2", "ke2", "ke-dua", "kedua" reads "ke-2"/"ke-dua".
_ORDINALS_ID = {
    "pertama": 1, "ke-satu": 1, "ke-dua": 2, "ke-tiga": 3, "ke-empat": 4, "ke-lima": 5,
    "ke-enam": 6, "terakhir": -1,
    "i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5,
    "ke-i": 1, "ke-ii": 2, "ke-iii": 3, "ke-iv": 4, "ke-v": 5,
}  # fmt: skip
_ORDINALS_EN = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": -1}
_DAY_WORDS = {"tanggal", "tgl", "tg", "day", "days", "date", "dates"}
_WEEK_WORDS = {"pekan", "week"}
_SEPARATORS = {",", "dan", "serta", "and"}
_OR_WORDS = {"atau", "or", "/"}
_MONTH_WORDS = {"bulan", "bulannya", "bln", "perbulan", "month", "monthly"}
_FILLERS = _MONTH_WORDS | {
    "setiap", "tiap", "tiap-tiap", "tiap2", "per", "pada", "jam", "pukul", "pkl", "mulai",
    "every", "each", "of", "the", "on", "at", "from",
}  # fmt: skip
_ZONES = {"wib": "WIB", "wita": "WITA", "wit": "WIT"}

_HOURS = re.compile(
    r"(?<!\d)(?P<h1>\d{1,2})[.:](?P<m1>\d{2})\s*"
    r"(?:-|–|—|s\.?/?d\.?|sampai|hingga|to|until)"
    r"\s*(?P<h2>\d{1,2})[.:](?P<m2>\d{2})(?!\d)"
)
_KE = re.compile(r"\bke[\s-]*(\d+|iv|v|i{1,3}|satu|dua|tiga|empat|lima|enam)\b")
_DAY_WORD_NUMBER = re.compile(r"\b(tanggal|tgl|tg)\.?(?=\d)")
_RANGE = re.compile(r"\b\d{1,2}\s*(?:-|–|—|s\.?/?d\b\.?|sampai|hingga|to|until)\s*\d")
_EVERY_MONTHS = re.compile(r"\b\d+\s*(?:x\s*)?(?:bulan|bln|months?)\b")
_ORDINAL_NUMBER = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)$")


class ScheduleError(ValueError):
    """A rule that cannot be understood; the message says what to write instead."""


def _ordinal_key(pair: tuple[int, int]) -> tuple[int, int]:
    nth, weekday = pair
    return weekday, 5 if nth == -1 else nth


@dataclass(frozen=True)
class ScheduleRule:
    """Monthly sessions on `days` of the month, or on (nth, weekday) pairs of `weekdays`.

    nth is 1-4 or -1 (last), weekday 0 = Monday. `day`, `nth` and `weekday` are the
    one-session shorthand: `ScheduleRule(start, end, day=10)` is
    `ScheduleRule(start, end, days=(10,))`. On a built rule `day` is set when it has exactly
    one day, `nth` when it has exactly one (nth, weekday) pair, and `weekday` when all its
    sessions share one weekday. `zone` is the time zone the text named, if any.
    """

    start: dt.time
    end: dt.time
    day: int | None = None
    nth: int | None = None
    weekday: int | None = None
    days: tuple[int, ...] = ()
    weekdays: tuple[tuple[int, int], ...] = ()
    zone: str | None = None

    def __post_init__(self) -> None:
        days = set(self.days)
        if self.day is not None:
            days.add(self.day)
        pairs = set(self.weekdays)
        if self.nth is not None:
            if self.weekday is None:
                raise ValueError("nth needs a weekday")
            pairs.add((self.nth, self.weekday))
        elif self.weekday is not None and {w for _, w in pairs} != {self.weekday}:
            raise ValueError("weekday needs nth")
        if bool(days) == bool(pairs):
            raise ValueError("a rule has days of the month or ordinal weekdays (not both)")
        if any(not 1 <= d <= 31 for d in days):
            raise ValueError(f"days must be 1-31: {sorted(days)}")
        if any(n not in ORDINALS_ID or not 0 <= w <= 6 for n, w in pairs):
            raise ValueError(f"(nth, weekday) must be (1-4 or -1, 0-6): {sorted(pairs)}")
        if self.zone is not None and self.zone not in TIME_ZONES:
            raise ValueError(f"unknown time zone {self.zone!r}")
        ordered = tuple(sorted(pairs, key=_ordinal_key))
        weekdays_used = {w for _, w in ordered}
        set_ = object.__setattr__
        set_(self, "days", tuple(sorted(days)))
        set_(self, "weekdays", ordered)
        set_(self, "day", self.days[0] if len(self.days) == 1 else None)
        set_(self, "nth", ordered[0][0] if len(ordered) == 1 else None)
        set_(self, "weekday", weekdays_used.pop() if len(weekdays_used) == 1 else None)

    def dates_in(self, year: int, month: int) -> tuple[dt.date, ...]:
        """The planned dates in a month (before any holiday move), sorted, without repeats."""
        first_weekday, last_day = calendar.monthrange(year, month)
        found = {min(d, last_day) for d in self.days}
        for nth, weekday in self.weekdays:
            first = 1 + (weekday - first_weekday) % 7
            if nth == -1:
                found.add(first + 7 * ((last_day - first) // 7))
            else:
                found.add(first + 7 * (nth - 1))
        return tuple(dt.date(year, month, d) for d in sorted(found))

    def date_in(self, year: int, month: int) -> dt.date:
        """The first planned date in a month (the only one for a one-session rule)."""
        return self.dates_in(year, month)[0]

    def describe(self) -> str:
        """The rule in canonical Indonesian; parse_rule(rule.describe()) == rule."""
        hours = f"{self.start:%H.%M}-{self.end:%H.%M}"
        if self.zone:
            hours = f"{hours} {self.zone}"
        if self.days:
            return f"setiap tanggal {_join(str(d) for d in self.days)}, {hours}"
        groups: dict[int, list[str]] = {}
        for nth, weekday in self.weekdays:
            groups.setdefault(weekday, []).append(ORDINALS_ID[nth])
        parts = [
            f"{'hari Minggu' if weekday == SUNDAY else DAYS_ID[weekday]} {_join(ordinals)}"
            for weekday, ordinals in groups.items()
        ]
        return f"setiap {', '.join(parts)}, {hours}"


def _join(items: Iterable[str]) -> str:
    words = list(items)
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} dan {words[-1]}"


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


# --- parsing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # sep or daykw num ordnum ord weekday minggu week hari
    raw: str
    value: int = 0
    lang: str = ""  # for ord: "id" or "en"


def parse_rule(text: str) -> ScheduleRule:
    """Parse "setiap tanggal 10 dan 25, 08.00-11.00", "Senin pertama dan ketiga 08.00-11.00", ...

    Raises ScheduleError, in Indonesian with an example, for anything not fully understood.
    """
    return _parse_rule(text)


@lru_cache(maxsize=4096)
def _parse_rule(text: str) -> ScheduleRule:
    lowered = " ".join(text.lower().split())
    found = list(_HOURS.finditer(lowered))
    if not found:
        raise ScheduleError(f"jam buka tidak ditemukan dalam {text!r} (contoh: 08.00-11.00)")
    if len(found) > 1:
        raise ScheduleError(
            f"lebih dari satu jam buka dalam {text!r}; satu baris satu jam buka "
            "(contoh: 'tanggal 10 dan 25, 08.00-11.00')"
        )
    hours = found[0]
    try:
        start = dt.time(int(hours["h1"]), int(hours["m1"]))
        end = dt.time(int(hours["h2"]), int(hours["m2"]))
    except ValueError:
        raise ScheduleError(f"jam tidak sah dalam {text!r}") from None
    if end <= start:
        raise ScheduleError(f"jam selesai harus setelah jam mulai dalam {text!r}")
    rest = lowered[: hours.start()] + " " + lowered[hours.end() :]
    if _RANGE.search(rest):
        raise ScheduleError(
            f"rentang dalam {text!r} tidak jelas: tulis setiap tanggal atau hari sesi "
            "(contoh: 'tanggal 5 dan 20')"
        )
    every_months = _EVERY_MONTHS.search(rest)
    if every_months:
        raise ScheduleError(
            f"'{every_months[0]}' dalam {text!r}: jadwal di sini untuk sesi setiap bulan; "
            f"tulis tanggal atau hari sesinya ({EXAMPLES})"
        )
    tokens, zone, month_named = _tokens(rest, text)
    if not tokens:
        raise ScheduleError(f"hari atau tanggal tidak ditemukan dalam {text!r} ({EXAMPLES})")
    kinds = {t.kind for t in tokens}
    has_days = "daykw" in kinds
    has_weekdays = bool(kinds & {"weekday", "minggu", "week", "ord", "hari"})
    if has_days and has_weekdays:
        raise ScheduleError(
            f"tanggal dan hari dicampur dalam {text!r}; tulis salah satu ({EXAMPLES})"
        )
    if has_weekdays:
        pairs = _weekday_rule(tokens, text, month_named)
        return ScheduleRule(start=start, end=end, weekdays=tuple(pairs), zone=zone)
    days = _day_rule(tokens, text)
    return ScheduleRule(start=start, end=end, days=tuple(days), zone=zone)


def _tokens(rest: str, text: str) -> tuple[list[_Token], str | None, bool]:
    """Tokens that carry meaning, the time zone named, and whether "month" was written."""
    rest = re.sub(r"\bjum\s?['’`´]\s?at\b", "jumat", rest)
    rest = _KE.sub(r"ke-\1", rest)
    rest = _DAY_WORD_NUMBER.sub(r"\1 ", rest)
    rest = re.sub(r"[,;&+]", " , ", rest)
    rest = re.sub(r"[()\[\]:\"]", " ", rest)
    rest = rest.replace("/", " / ")
    tokens: list[_Token] = []
    unknown: list[str] = []
    zones: set[str] = set()
    month_named = False
    for word in rest.split():
        word = word.rstrip(".")
        if word in ("", "-", "–", "—"):
            continue
        if word in _OR_WORDS:
            raise ScheduleError(
                f"'{word}' tidak jelas dalam {text!r}: jadwal yang mana? "
                "Tulis semua hari sesi dengan 'dan' (contoh: 'Senin pertama dan ketiga')"
            )
        ordinal_number = _ORDINAL_NUMBER.match(word)
        if word in _SEPARATORS:
            tokens.append(_Token("sep", word))
        elif word in _ZONES:
            zones.add(_ZONES[word])
        elif word in _FILLERS:
            month_named = month_named or word in _MONTH_WORDS
            if word in ("every", "each"):
                tokens.append(_Token("every", word))
        elif word in _DAY_WORDS:
            tokens.append(_Token("daykw", word))
        elif word.isascii() and word.isdigit() and len(word) <= 2:
            tokens.append(_Token("num", word, int(word)))
        elif ordinal_number:
            tokens.append(_Token("ordnum", word, int(ordinal_number[1]), "en"))
        elif word in _ORDINALS_ID or re.fullmatch(r"ke-\d{1,2}", word):
            value = _ORDINALS_ID.get(word) or int(word[3:])
            tokens.append(_Token("ord", word, value, "id"))
        elif word in _ORDINALS_EN:
            tokens.append(_Token("ord", word, _ORDINALS_EN[word], "en"))
        elif word in _WEEKDAYS:
            tokens.append(_Token("weekday", word, _WEEKDAYS[word]))
        elif word == "minggu":
            tokens.append(_Token("minggu", word))
        elif word in _WEEK_WORDS:
            tokens.append(_Token("week", word))
        elif word == "hari":
            tokens.append(_Token("hari", word))
        else:
            unknown.append(word)
    if unknown:
        raise ScheduleError(
            f"kata tidak dikenali dalam {text!r}: {', '.join(repr(w) for w in unknown)} "
            f"({EXAMPLES})"
        )
    if len(zones) > 1:
        raise ScheduleError(f"lebih dari satu zona waktu dalam {text!r}")
    return tokens, (zones.pop() if zones else None), month_named


def _tidy(tokens: list[_Token]) -> list[_Token]:
    """Without leading, trailing and repeated separators ("5, 15, dan 25")."""
    tidy: list[_Token] = []
    for token in tokens:
        if token.kind == "sep" and (not tidy or tidy[-1].kind == "sep"):
            continue
        tidy.append(token)
    while tidy and tidy[-1].kind == "sep":
        tidy.pop()
    return tidy


def _day_rule(tokens: list[_Token], text: str) -> list[int]:
    days: list[int] = []
    named = False  # "tanggal" was written before the numbers
    expect_day = True
    for token in _tidy([t for t in tokens if t.kind != "every"]):
        if token.kind == "daykw":
            if not expect_day or (named and not days):
                raise ScheduleError(f"'{token.raw}' tidak pada tempatnya dalam {text!r}")
            named = True
        elif token.kind in ("num", "ordnum"):
            if not expect_day:
                raise ScheduleError(
                    f"pisahkan tanggal dengan koma atau 'dan' dalam {text!r} "
                    "(contoh: 'tanggal 5 dan 20' atau 'tgl 5, 20')"
                )
            if token.kind == "num" and not named:
                raise ScheduleError(
                    f"angka {token.raw} dalam {text!r}: tulis 'tanggal {token.raw}' ({EXAMPLES})"
                )
            if not 1 <= token.value <= 31:
                raise ScheduleError(f"tanggal {token.value} tidak ada dalam {text!r}")
            if token.value in days:
                raise ScheduleError(f"tanggal {token.value} ditulis dua kali dalam {text!r}")
            days.append(token.value)
            expect_day = False
        elif token.kind == "sep":
            expect_day = True
        else:  # pragma: no cover - every other kind makes a weekday rule
            raise ScheduleError(f"'{token.raw}' tidak pada tempatnya dalam {text!r}")
    if not days or expect_day:
        raise ScheduleError(f"tanggal tidak ditemukan dalam {text!r} ({EXAMPLES})")
    return days


def _resolve_minggu(tokens: list[_Token], text: str) -> list[_Token]:
    """ "hari Minggu" is Sunday; any other "minggu" is a week, if the rule names a weekday."""
    resolved: list[_Token] = []
    for index, token in enumerate(tokens):
        after = tokens[index + 1] if index + 1 < len(tokens) else None
        if token.kind == "hari":
            if after is None or after.kind not in ("weekday", "minggu"):
                raise ScheduleError(
                    f"'hari' harus diikuti nama hari dalam {text!r} (contoh: 'hari Selasa')"
                )
            continue
        if token.kind == "minggu" and index > 0 and tokens[index - 1].kind == "hari":
            token = _Token("weekday", token.raw, SUNDAY)
        resolved.append(token)
    has_weekday = any(t.kind == "weekday" for t in resolved)
    if any(t.kind == "minggu" for t in resolved):
        if not has_weekday:
            raise ScheduleError(
                f"'minggu' dalam {text!r} bisa berarti pekan atau hari Minggu: tulis "
                "'minggu ke-2 hari Selasa' (pekan) atau 'hari Minggu kedua' (hari Minggu)"
            )
        resolved = [_Token("week", t.raw) if t.kind == "minggu" else t for t in resolved]
    return resolved


def _weekday_rule(tokens: list[_Token], text: str, month_named: bool) -> list[tuple[int, int]]:
    for index, token in enumerate(tokens[:-1]):
        after = tokens[index + 1]
        if token.kind == "every" and after.kind in ("ord", "ordnum") and not month_named:
            raise ScheduleError(
                f"{text!r} bisa berarti dua minggu sekali; tulis 'second Tuesday of the month' "
                "atau 'Selasa kedua setiap bulan'"
            )
    tokens = _tidy(_resolve_minggu([t for t in tokens if t.kind != "every"], text))
    pairs: list[tuple[int, int]] = []
    index = 0

    def unexpected(at: int) -> ScheduleError:
        if at >= len(tokens):
            return ScheduleError(f"aturan jadwal tidak lengkap: {text!r} ({EXAMPLES})")
        return ScheduleError(
            f"aturan jadwal tidak dikenali: {text!r} ('{tokens[at].raw}' tidak pada "
            f"tempatnya; {EXAMPLES})"
        )

    while index < len(tokens):
        token = tokens[index]
        if token.kind == "weekday":  # "Senin pertama dan ketiga", "Kamis(,) minggu ketiga"
            weekday = token.value
            index += 1
            if _kinds_at(tokens, index, "sep", "week"):
                index += 1
            week = index < len(tokens) and tokens[index].kind == "week"
            if week:
                index += 1
            first = _ordinal_at(tokens, index, "id", allow_number=week)
            if first is None:
                if index >= len(tokens) or tokens[index].kind == "sep":
                    name = "hari Minggu" if weekday == SUNDAY else DAYS_ID[weekday]
                    raise ScheduleError(
                        f"{name} ke berapa dalam sebulan? {text!r} tidak menyebutnya "
                        f"(Posyandu sebulan sekali; {EXAMPLES})"
                    )
                raise unexpected(index)
            ordinals, index = _ordinal_list(tokens, index + 1, [first], "id", week)
        elif token.kind == "week":  # "minggu ke-2 (dan ke-4) hari Selasa"
            first = _ordinal_at(tokens, index + 1, "id", allow_number=True)
            if first is None:
                raise unexpected(index + 1)
            ordinals, index = _ordinal_list(tokens, index + 2, [first], "id", True)
            if _kinds_at(tokens, index, "sep", "weekday"):  # "minggu ke-2, hari Selasa"
                index += 1
            if index >= len(tokens) or tokens[index].kind != "weekday":
                raise ScheduleError(
                    f"hari apa di minggu itu? {text!r} (contoh: 'minggu ke-2 hari Selasa')"
                )
            weekday = tokens[index].value
            index += 1
        elif token.kind in ("ord", "ordnum") and token.lang == "en":  # "first and third Monday"
            ordinals, index = _ordinal_list(tokens, index + 1, [token.value], "en", False)
            if index >= len(tokens) or tokens[index].kind != "weekday":
                raise unexpected(index)
            weekday = tokens[index].value
            index += 1
        else:
            raise unexpected(index)
        for nth in ordinals:
            pairs.append(_checked_pair(nth, weekday, pairs, text))
        if index < len(tokens):
            if tokens[index].kind != "sep":
                raise unexpected(index)
            index += 1
    return pairs


def _kinds_at(tokens: list[_Token], index: int, *kinds: str) -> bool:
    """Whether the tokens from `index` on start with these kinds."""
    found = tuple(t.kind for t in tokens[index : index + len(kinds)])
    return found == kinds


def _ordinal_at(tokens: list[_Token], index: int, lang: str, allow_number: bool) -> int | None:
    if index >= len(tokens):
        return None
    token = tokens[index]
    if token.kind == "ord" and token.lang == lang:
        return token.value
    if token.kind == "ordnum" and lang == "en":
        return token.value
    if token.kind == "num" and allow_number and lang == "id":
        return token.value
    return None


def _ordinal_list(
    tokens: list[_Token], index: int, ordinals: list[int], lang: str, week: bool
) -> tuple[list[int], int]:
    """More ordinals after separators: "pertama dan ketiga", "ke-2 dan minggu ke-4", "2nd and 4th".

    "minggu" may repeat only where the list began with it.
    """
    while index + 1 < len(tokens) and tokens[index].kind == "sep":
        at = index + 1
        allow_number = lang == "id"
        if tokens[at].kind == "week":
            if not week:
                break
            at += 1
        value = _ordinal_at(tokens, at, lang, allow_number)
        if value is None:
            break
        ordinals.append(value)
        index = at + 1
    return ordinals, index


def _checked_pair(
    nth: int, weekday: int, pairs: list[tuple[int, int]], text: str
) -> tuple[int, int]:
    name = "hari Minggu" if weekday == SUNDAY else DAYS_ID[weekday]
    if nth == 5:
        raise ScheduleError(
            f"tidak setiap bulan punya {name} kelima ({text!r}); tulis '{name} terakhir'"
        )
    if nth not in ORDINALS_ID:
        raise ScheduleError(f"{name} ke-{nth} tidak ada dalam sebulan ({text!r})")
    if (nth, weekday) in pairs:
        raise ScheduleError(f"{name} {ORDINALS_ID[nth]} ditulis dua kali dalam {text!r}")
    if {(4, weekday), (-1, weekday)} <= {*pairs, (nth, weekday)}:
        raise ScheduleError(
            f"{name} keempat sering juga {name} terakhir ({text!r}); tulis salah satu"
        )
    return nth, weekday


# --- sessions ------------------------------------------------------------------------------


def _is_working_day(day: dt.date, holidays: frozenset[dt.date]) -> bool:
    """Monday to Saturday, not a listed holiday (Posyandu run Monday to Saturday)."""
    return day.weekday() != SUNDAY and day not in holidays


def _host_day(planned: dt.date, holidays: frozenset[dt.date], sunday_ok: bool) -> dt.date:
    """Where a planned session is held: the planned day, or the next working day after it."""
    if planned not in holidays and (sunday_ok or planned.weekday() != SUNDAY):
        return planned
    day = planned + dt.timedelta(days=1)
    while not _is_working_day(day, holidays):
        day += dt.timedelta(days=1)
    return day


def _regular_sessions(
    rule: ScheduleRule,
    year: int,
    month: int,
    zone: str,
    changes: dict[dt.date, Change],
    holidays: frozenset[dt.date],
) -> list[Session]:
    """The month's planned sessions that no change touches, moved off holidays."""
    tz = TIME_ZONES[zone]
    sessions = []
    for planned in rule.dates_in(year, month):
        if planned in changes:
            continue
        day = _host_day(planned, holidays, sunday_ok=not rule.days)
        moved = day != planned
        sessions.append(
            Session(
                start=dt.datetime.combine(day, rule.start, tz),
                end=dt.datetime.combine(day, rule.end, tz),
                zone=zone,
                moved=moved,
                note="digeser karena hari libur" if moved else "",
            )
        )
    return sessions


def _changed_sessions(
    rule: ScheduleRule, zone: str, changes: dict[dt.date, Change]
) -> list[Session]:
    """Sessions that one-off changes moved; a change for a day without a session is ignored."""
    tz = TIME_ZONES[zone]
    sessions = []
    for original, change in changes.items():
        if change.cancelled or original not in rule.dates_in(original.year, original.month):
            continue
        day = change.new_date or original
        sessions.append(
            Session(
                start=dt.datetime.combine(day, change.new_start or rule.start, tz),
                end=dt.datetime.combine(day, change.new_end or rule.end, tz),
                zone=zone,
                moved=True,
                note=change.note,
            )
        )
    return sessions


def upcoming_sessions(
    rule: ScheduleRule,
    now: dt.datetime,
    zone: str,
    changes: list[Change] | tuple[Change, ...] = (),
    holidays: frozenset[dt.date] = frozenset(),
    limit: int = 3,
) -> list[Session]:
    """The first `limit` sessions that have not ended at `now` (aware), sorted by start,
    within about the next two years. Two sessions at the same hours on one day are one."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local = now.astimezone(TIME_ZONES[zone])
    by_date = {change.original: change for change in changes}
    # Start a month early: a session moved from last month into this one still counts.
    year, month = (local.year - 1, 12) if local.month == 1 else (local.year, local.month - 1)
    regular: list[Session] = []
    for _ in range(27):
        # Regular sessions never move earlier than their month: stop once enough come before.
        if len(regular) >= limit and regular[limit - 1].start.date() < dt.date(year, month, 1):
            break
        found = _regular_sessions(rule, year, month, zone, by_date, holidays)
        regular = _one_per_time(regular + [s for s in found if s.end > now])
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    changed = [s for s in _changed_sessions(rule, zone, by_date) if s.end > now]
    return _one_per_time(regular + changed)[:limit]


def _one_per_time(sessions: list[Session]) -> list[Session]:
    """Sorted by start; of sessions at the same hours on one day the unmoved one is kept."""
    kept: list[Session] = []
    for session in sorted(sessions, key=lambda s: (s.start, s.end, s.moved)):
        if not kept or (kept[-1].start, kept[-1].end) != (session.start, session.end):
            kept.append(session)
    return kept


def next_session(
    rule: ScheduleRule,
    now: dt.datetime,
    zone: str,
    changes: list[Change] | tuple[Change, ...] = (),
    holidays: frozenset[dt.date] = frozenset(),
) -> Session | None:
    """The first session that has not ended at `now` (aware), within the next two years."""
    sessions = upcoming_sessions(rule, now, zone, changes, holidays, limit=1)
    return sessions[0] if sessions else None


def format_session(session: Session) -> str:
    """ "Selasa, 9 Desember 2025, 08.00-11.00 WITA"."""
    start, end = session.start, session.end
    day = f"{DAYS_ID[start.weekday()]}, {start.day} {MONTHS_ID[start.month - 1]} {start.year}"
    return f"{day}, {start:%H.%M}-{end:%H.%M} {session.zone}"
