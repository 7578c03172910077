"""The doses a parent says were given: "sudah BCG dan polio 1" -> {"bcg", "opv1"}.

Names are matched per series of the schedule file, with the words parents use:
"polio 1"/"polio tetes 1"/"OPV 1", "pentabio"/"DPT 1", "DPT lanjutan", "campak"/"MR",
"PCV", "rotavirus"/"RV", "IPV"/"polio suntik", "HB0", "JE". Numbers may be digits,
ordinals or roman ("DPT ketiga", "polio ke-2", "DPT III"), lists and ranges
("polio 1, 2 dan 3", "DPT 1-3", "polio 1 sampai 4"). "lanjutan"/"booster" is the last
dose of its series. A name without a number is the first dose.

A parent also says what was *not* given: doses under "belum"/"tidak"/"kecuali" are
left out, whether the word comes before ("sudah BCG, belum polio") or after them
("BCG sudah, polio belum").
"""

from __future__ import annotations

import re
from functools import lru_cache

from actions.immunization.ages import normalise
from actions.immunization.schedule import Schedule, default_schedule

__all__ = ["SERIES_ALIASES", "parse_done"]

# Series id (as in the schedule file) -> what parents call it. Longer names come first
# within a pattern; series are tried in this order (IPV before the plain "polio").
SERIES_ALIASES: dict[str, str] = {
    "ipv": r"ipv|polio\s+(?:suntik|injeksi)|suntik(?:an)?\s+polio",
    "dpt_hb_hib": r"dpt\s*-?\s*hb\s*-?\s*hib|dpt\s*-?\s*hb|dpt|dtp|pentabio|pentavalen|penta",
    "hb0": r"hepatitis\s*b\s*(?:0|nol)?|hep\s*b\s*0?|hb\s*(?:0|nol)?",
    "opv": r"b?opv|polio\s+tetes|tetes\s+polio|polio",
    "pcv": r"pcv|pneumokokus|pneumokok",
    "rv": r"rotavirus|rota\s*virus|rota|rv",
    "mr": r"campak\s*-?\s*rubel+a|campak|mr|measles\s*rubel+a",
    "bcg": r"bcg",
    "je": r"je|japanese\s+en[cs]ephalitis",
}
_ORDINALS = {
    "pertama": 1, "kesatu": 1, "satu": 1, "i": 1, "kedua": 2, "dua": 2, "ii": 2,
    "ketiga": 3, "tiga": 3, "iii": 3, "keempat": 4, "empat": 4, "iv": 4,
}  # fmt: skip
_NUMBER = r"\d|pertama|kesatu|kedua|ketiga|keempat|satu|dua|tiga|empat|iv|iii|ii|i"
_RANGE_WORDS = {"-", "sampai", "s/d", "sd"}
_ONE = rf"(?:ke\s*-?\s*)?(?:{_NUMBER})\b"
_NUMBERS = rf"(?:\s*{_ONE}(?:\s*(?:,|dan|&|-|sampai|s/d|sd)?\s*{_ONE})*)?"
_POLARITY = re.compile(
    r"\b(?P<pos>sudah|udah|udh|sdh|dah|telah|pernah|sempat)\b"
    r"|\b(?P<neg>belum|blm|blom|belom|tidak|tdk|gak|ga|nggak|enggak|ngga|engga|tanpa|kecuali"
    r"|terlewat|kelewat|ketinggalan|lupa)\b"
    r"|(?P<stop>[.;!?]|\b(?:tapi|tetapi|namun|sedangkan|cuma|hanya)\b)"
    r"|(?P<comma>,)"
)


@lru_cache(maxsize=4)
def _mention_pattern(series: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(
        "|".join(
            rf"(?P<{name}>\b(?:{SERIES_ALIASES[name]})\b)(?P<{name}_n>{_NUMBERS})"
            rf"(?P<{name}_boost>\s+(?:lanjutan|booster|ulangan))?"
            for name in SERIES_ALIASES
            if name in series
        )
    )


def _numbers(text: str) -> list[int]:
    numbers: list[int] = []
    ranged = False
    for token in re.findall(rf"(?:{_NUMBER})\b|-|sampai|s/d|sd", text):
        if token in _RANGE_WORDS:
            ranged = bool(numbers)
            continue
        value = int(token) if token.isdigit() else _ORDINALS[token]
        if ranged:
            numbers.extend(range(numbers[-1] + 1, value + 1))
            ranged = False
        else:
            numbers.append(value)
    return numbers


def _mentioned_ids(schedule: Schedule, match: re.Match[str]) -> list[str]:
    series = next(name for name in SERIES_ALIASES if match.groupdict().get(name))
    ids = [dose.id for dose in schedule.series_doses(series)]
    if match.group(f"{series}_boost") and len(ids) > 1:
        return [ids[-1]]
    numbers = _numbers(match.group(f"{series}_n") or "")
    if not numbers:
        return ids[:1]
    return [ids[n - 1] for n in numbers if 1 <= n <= len(ids)]


def parse_done(text: str, *, schedule: Schedule | None = None) -> set[str]:
    """Dose ids a message says were given; see the module docstring for the forms read."""
    schedule = schedule or default_schedule()
    normal = normalise(text)
    series = tuple(sorted({dose.series for dose in schedule.doses} & SERIES_ALIASES.keys()))
    # (position, kind, dose ids, polarity): kind is dose | marker | stop | comma.
    items: list[tuple[int, str, list[str], int]] = [
        (m.start(), "dose", _mentioned_ids(schedule, m), 0)
        for m in _mention_pattern(series).finditer(normal)
    ]
    for match in _POLARITY.finditer(normal):
        if match["pos"] or match["neg"]:
            items.append((match.start(), "marker", [], 1 if match["pos"] else -1))
        else:
            items.append((match.start(), "stop" if match["stop"] else "comma", [], 0))
    items.sort(key=lambda item: item[0])

    given: set[str] = set()
    not_given: set[str] = set()
    pending: list[str] = []
    clause: int | None = None  # the polarity a marker set for the doses after it

    def settle(polarity: int | None) -> None:
        (not_given if polarity == -1 else given).update(pending)
        pending.clear()

    for index, (_, kind, ids, polarity) in enumerate(items):
        if kind == "dose":
            pending.extend(ids)
        elif kind == "marker":
            following = items[index + 1][1] if index + 1 < len(items) else "stop"
            if pending and following != "dose":
                settle(polarity)  # a marker after its doses: "BCG sudah", "polio belum"
            else:
                settle(clause)
                clause = polarity
        else:
            settle(clause)
            if kind == "stop":
                clause = None
    settle(clause)
    return given - not_given
