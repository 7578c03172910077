"""A child's age or birth date, as parents type it in everyday Indonesian.

"4 bulan", "4 bln", "umur 2 thn", "8 minggu", "usia 1,5 tahun", "baru lahir", "3 hari",
"lahir 3 maret 2025", "lahir 03-03-2025", "tgl lahir 3/3/25". Numbers that are something
else ("4 anak", "hamil 8 bulan", "demam 3 hari", "2 minggu lagi", "tanggal 10 bulan ini")
are not read as an age. A birth date in the future or more than 6 years ago is refused
with a reason the parent can act on.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from actions.immunization.dates import add_months, format_date
from actions.immunization.texts import TEXT

__all__ = ["MAX_CHILD_MONTHS", "ChildAge", "age_in_days", "normalise", "parse_age"]

MAX_CHILD_MONTHS = 72  # ages and birth dates beyond 6 years are refused


@dataclass(frozen=True)
class ChildAge:
    """What a message says about a child's age.

    `days` is the age today; `birth_date` is stated or worked out from the age. A date or
    age that cannot be right (in the future, over 6 years) has `days` None and a
    `rejection` to show the parent.
    """

    days: int | None
    birth_date: dt.date | None
    from_birth_date: bool = False
    approximate: bool = False  # e.g. "lahir maret 2025" (the 15th is assumed)
    rejection: str | None = None


_MONTH_NAMES = {
    "januari": 1, "jan": 1, "februari": 2, "pebruari": 2, "feb": 2, "peb": 2, "maret": 3,
    "mar": 3, "april": 4, "apr": 4, "mei": 5, "juni": 6, "jun": 6, "juli": 7, "jul": 7,
    "agustus": 8, "agu": 8, "agt": 8, "agus": 8, "aug": 8, "september": 9, "sept": 9,
    "sep": 9, "oktober": 10, "okt": 10, "oct": 10, "november": 11, "nov": 11, "nop": 11,
    "desember": 12, "des": 12, "dec": 12,
}  # fmt: skip
_DIGIT_WORDS = {
    "satu": 1, "dua": 2, "tiga": 3, "empat": 4, "lima": 5, "enam": 6, "tujuh": 7,
    "delapan": 8, "sembilan": 9,
}  # fmt: skip
_MONTH_ALT = "|".join(sorted(_MONTH_NAMES, key=len, reverse=True))
_DIGIT_ALT = "|".join(_DIGIT_WORDS)
_WORD_NUMBER = (
    rf"(?:(?:{_DIGIT_ALT})\s+puluh(?:\s+(?:{_DIGIT_ALT}))?|(?:{_DIGIT_ALT})\s+belas"
    rf"|sebelas|sepuluh|{_DIGIT_ALT}|nol)"
)
_UNITS = {
    "y": r"tahun|thn|th|taun|thun|tahon",
    "m": r"bulan|bln|bl|sasi|sasih",
    "w": r"minggu|mgg|mg|pekan",
    "d": r"hari|hr|hri",
}
_UNIT_ALT = "|".join(f"(?P<{key}>{alt})" for key, alt in _UNITS.items())
_AGE_PART = re.compile(
    rf"(?<!\w)(?<!\d[.,])(?:(?P<num>\d{{1,3}}(?:[.,]\d)?|{_WORD_NUMBER})(?:\s+(?P<half>setengah))?"
    rf"|(?P<halfonly>setengah)|(?P<se>se)(?=(?:minggu|bulan|tahun|hari)\b))"
    rf"\s*(?:{_UNIT_ALT})(?![a-z])"
)
_PART_GLUE = re.compile(r"^\s*(?:,|dan|lebih|lewat|\+)?\s*$")
# Words just before a number+unit that make it something other than the child's age.
_BLOCK_BEFORE = {
    "hamil", "kehamilan", "kandungan", "bumil", "usia kandungan", "tanggal", "tgl", "tg",
    "jam", "pukul", "selama", "sejak", "demam", "panas", "diare", "mencret", "batuk",
    "pilek", "sakit", "muntah", "tiap", "setiap", "per", "interval", "jarak", "tunggu",
    "kb", "suntik kb", "nifas", "dalam",
}  # fmt: skip
_BLOCK_AFTER = {
    "lalu", "lagi", "depan", "kedepan", "kemarin", "ini", "sekali", "sebelumnya", "setelah",
    "sesudah", "abis", "habis", "pasca", "sebelum", "yang lalu", "yg lalu", "kemudian",
}  # fmt: skip
_AGE_CUES = {
    "umur", "usia", "umurnya", "usianya", "berumur", "berusia", "anak", "anakku", "bayi",
    "bayiku", "baby", "dedek", "adek", "kecil", "cucu", "keponakan", "sy", "saya", "aku",
    "pas", "baru", "sudah", "udah", "sdh",
}  # fmt: skip
_BIRTH_CUE = re.compile(r"\b(?:lahir\w*|lhr|kelahiran|ttl|dob|born)\b|\b(?:tgl|tanggal)\s*lahir\b")
_DATE_NUMERIC = re.compile(
    r"(?<![\d/-])(?<![\d][.,])(?P<d>\d{1,2})\s*([-/.])\s*(?P<m>\d{1,2})\s*\2\s*"
    r"(?P<y>\d{4}|\d{2})(?!\d)(?![.,/-]\d)"
)
_DATE_ISO = re.compile(r"(?<![\d/-])(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?![\d/-])")
_DATE_TEXT = re.compile(
    rf"(?<![\d.,])(?P<d>\d{{1,2}})\s*(?P<mon>{_MONTH_ALT})\b\.?(?:\s*,?\s*(?P<y>\d{{4}}|\d{{2}})(?!\d))?"
)
_DATE_MONTH_YEAR = re.compile(rf"(?<![\d\s])\s*\b(?P<mon>{_MONTH_ALT})\b\.?\s*(?P<y>\d{{4}})(?!\d)")
_DATE_ONLY = re.compile(r"^\s*(?:(?:tgl|tanggal)\s*)?[\d\s./-]+[a-z]*[\d\s./-]*\s*$")
_NEWBORN = re.compile(r"\b(?:baru\s+(?:saja\s+)?(?:di)?lahir(?:kan)?|lahir\s+hari\s+ini|newborn)\b")
_BORN_YESTERDAY = re.compile(r"\blahir(?:nya)?\s+(?:kemarin|kemaren|kmrn|kmarin)\b(?!\s+\d)")


def normalise(text: str) -> str:
    """Lower case, one space, digits split from letters ("4bln" -> "4 bln", "hb0" -> "hb 0")."""
    lowered = text.lower().replace("\u2013", "-").replace("\u2014", "-")
    lowered = re.sub(r"(\d)([a-z])", r"\1 \2", lowered)
    lowered = re.sub(r"([a-z])(\d)", r"\1 \2", lowered)
    return " ".join(lowered.split())


def _word_number(text: str) -> int:
    words = text.split()
    if words == ["sepuluh"]:
        return 10
    if words == ["sebelas"]:
        return 11
    if words == ["nol"]:
        return 0
    if len(words) >= 2 and words[1] == "belas":
        return 10 + _DIGIT_WORDS[words[0]]
    if len(words) >= 2 and words[1] == "puluh":
        return _DIGIT_WORDS[words[0]] * 10 + (_DIGIT_WORDS[words[2]] if len(words) == 3 else 0)
    return _DIGIT_WORDS[words[0]]


def _part_amount(match: re.Match[str]) -> float:
    if match.group("se"):
        return 1.0
    if match.group("halfonly"):
        return 0.5
    raw = match.group("num")
    amount = float(raw.replace(",", ".")) if raw[0].isdigit() else float(_word_number(raw))
    return amount + (0.5 if match.group("half") else 0.0)


def _last_words(text: str, count: int) -> list[str]:
    words = re.findall(r"[a-z]+", text)[-count:]
    return words + [" ".join(words[i:]) for i in range(len(words) - 1)]


def _first_words(text: str) -> list[str]:
    words = re.findall(r"[a-z]+", text)[:2]
    return [words[0], " ".join(words)] if words else []


def _stated_age(text: str, today: dt.date) -> ChildAge | None:
    parts = list(_AGE_PART.finditer(text))
    candidates: list[tuple[bool, list[re.Match[str]]]] = []
    index = 0
    previous_end = 0
    while index < len(parts):
        group = [parts[index]]
        while index + 1 < len(parts) and _PART_GLUE.match(
            text[group[-1].end() : parts[index + 1].start()]
        ):
            index += 1
            group.append(parts[index])
        index += 1
        # Only the words since the previous number count: "demam 3 hari, umur 2 bulan".
        before = _last_words(text[previous_end : group[0].start()], 3)
        after = _first_words(text[group[-1].end() :])
        previous_end = group[-1].end()
        ago = {"lalu", "yang lalu", "yg lalu"}.intersection(after)
        born_ago = bool(ago) and any(word.startswith("lahir") for word in before)
        if any(word in _BLOCK_BEFORE for word in before) or (
            any(word in _BLOCK_AFTER for word in after) and not born_ago
        ):
            continue
        cued = born_ago or any(word in _AGE_CUES for word in before)
        candidates.append((cued, group))
    if not candidates:
        return None
    _, group = next((c for c in candidates if c[0]), candidates[0])
    months = 0.0
    days = 0.0
    for part in group:
        amount = _part_amount(part)
        if part.group("y"):
            months += amount * 12
        elif part.group("m"):
            months += amount
        elif part.group("w"):
            days += amount * 7
        else:
            days += amount
    whole_months = int(months)
    days += (months - whole_months) * 30.4375
    if months > MAX_CHILD_MONTHS or (months == MAX_CHILD_MONTHS and days > 0):
        return ChildAge(None, None, rejection=TEXT["reject_too_old"])
    # Days first, then months: "6 bulan 2 minggu" reads back as 6 months and 2 weeks.
    birth = add_months(today - dt.timedelta(days=round(days)), -whole_months)
    if birth < add_months(today, -MAX_CHILD_MONTHS):
        return ChildAge(None, None, rejection=TEXT["reject_too_old"])
    return ChildAge((today - birth).days, birth)


def _year(raw: str) -> int:
    return int(raw) + 2000 if len(raw) == 2 else int(raw)


def _birth_from(day: int, month: int, year: int | None, raw: str, today: dt.date) -> ChildAge:
    try:
        if year is None:
            birth = dt.date(today.year, month, day)
            if birth > today:
                birth = dt.date(today.year - 1, month, day)
        else:
            birth = dt.date(year, month, day)
    except ValueError:
        return ChildAge(None, None, rejection=TEXT["reject_bad_date"].format(text=raw.strip()))
    return _checked_birth(birth, today)


def _checked_birth(birth: dt.date, today: dt.date, *, approximate: bool = False) -> ChildAge:
    if birth > today:
        rejection = TEXT["reject_future"].format(date=format_date(birth))
        return ChildAge(None, birth, from_birth_date=True, rejection=rejection)
    if birth < add_months(today, -MAX_CHILD_MONTHS):
        return ChildAge(None, birth, from_birth_date=True, rejection=TEXT["reject_too_old"])
    return ChildAge((today - birth).days, birth, from_birth_date=True, approximate=approximate)


def _birth_date(text: str, today: dt.date) -> ChildAge | None:
    cue = _BIRTH_CUE.search(text)
    if cue is None and not _DATE_ONLY.match(text):
        return None
    found: list[tuple[int, ChildAge]] = []
    for match in _DATE_ISO.finditer(text):
        d, m, y = int(match["d"]), int(match["m"]), int(match["y"])
        found.append((match.start(), _birth_from(d, m, y, match[0], today)))
    for match in _DATE_NUMERIC.finditer(text):
        d, m, y = int(match["d"]), int(match["m"]), _year(match["y"])
        found.append((match.start(), _birth_from(d, m, y, match[0], today)))
    for match in _DATE_TEXT.finditer(text):
        year = _year(match["y"]) if match["y"] else None
        month = _MONTH_NAMES[match["mon"]]
        found.append((match.start(), _birth_from(int(match["d"]), month, year, match[0], today)))
    if not found:
        for match in _DATE_MONTH_YEAR.finditer(text):
            birth = dt.date(int(match["y"]), _MONTH_NAMES[match["mon"]], 15)
            found.append((match.start(), _checked_birth(birth, today, approximate=True)))
    if not found:
        return None
    anchor = cue.start() if cue else 0
    after = [item for item in found if item[0] >= anchor]
    return min(after)[1] if after else max(found, key=lambda item: item[0])[1]


def parse_age(text: str, today: dt.date) -> ChildAge | None:
    """The child's age in a message, or None when it states none.

    A birth date ("lahir 3 maret 2025", "tgl lahir 3/3/25", "lahir 03-03-2025") wins over a
    stated age ("4 bln", "umur 2 thn", "usia 1,5 tahun", "8 minggu", "3 hari", "baru lahir").
    Numbers that are not an age are ignored: "4 anak", "bulan depan", "hamil 8 bulan",
    "demam 3 hari", "2 minggu lagi", "tanggal 10 bulan ini".
    """
    normal = normalise(text)
    if not normal:
        return None
    born = _birth_date(normal, today)
    if born is not None:
        return born
    stated = _stated_age(normal, today)
    if stated is not None:
        return stated
    if _BORN_YESTERDAY.search(normal):
        return ChildAge(1, today - dt.timedelta(days=1))
    if _NEWBORN.search(normal):
        return ChildAge(0, today)
    return None


def age_in_days(text: str, today: dt.date) -> int | None:
    """The child's age today in days, or None (no age in the text, or an impossible one)."""
    found = parse_age(text, today)
    return None if found is None else found.days
