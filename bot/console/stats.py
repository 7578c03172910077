"""Aggregates for the console's PWS-style dashboard: counts only, nobody identifiable.

What is kept (keys after the deployment prefix; `week` is an ISO week such as
"2025-W07"; every key expires two years after its week ended, so at most about
104 weeks exist and memory grows with weeks x topics x regions, never with users):

- `stats:q:{week}:{kabupaten}` hash, field "{topic}|{desa code}" -> questions asked.
  One hash per kabupaten ("unknown" for users whose Posyandu we do not know), so a
  viewer's scope reads only its kabupaten; kecamatan and kabupaten counts are sums
  over the desa codes' prefixes, made when read.
- `stats:p:{week}:{topic}|{desa code}` HyperLogLog of who asked in that cell: the
  element is a keyed pseudonym of the sender id (HMAC with the deployment secret,
  purpose "stats", so it matches neither key names nor log tags). A HyperLogLog keeps
  no elements, only 16,384 small registers (at most 12 KB, a few hundred bytes for
  small cells): it cannot list who asked, yet PFCOUNT tells how many distinct people
  are behind a cell, and PFCOUNT of several cells how many behind their union (a
  person asking in two desa counts once in the kecamatan). Whether one given person
  is in a cell could only be guessed by someone holding the deployment secret, and
  then only with doubt; the aggregates therefore hold nothing to erase on "hapus
  data saya".
- `stats:kabs:{week}` set of the kabupaten codes with questions that week.
- `stats:rem:{week}` hash, field "{posyandu id}|{outcome}" -> reminders and broadcasts
  of that Posyandu sent, delivered, failed... (`record_reminder_outcome`).
- `stats:wamid:{pseudonym}` (7 days) which Posyandu a WhatsApp message was for, so
  its "delivered" status is counted once (`record_reminder_status`).

Recording a turn is one MULTI of O(1) commands (`record_turn`). A turn's week is
the ISO week in the local time of its desa (WIB, WITA or WIT by province, from
`actions.posyandu.regions.time_zone_of`); WIB when the desa is unknown.

Suppression (`dashboard`): a cell (topic x week x region) is shown only when at
least 10 distinct people are behind it; otherwise it reads "<10". Higher levels
are sums, so a shown kecamatan minus its shown desa would reveal the hidden desa
together. The rule, applied top-down (kabupaten, kecamatan, desa) whatever level is
asked for, so every view of the same data hides the same cells:

1. a kecamatan (desa) can be shown only when its kabupaten (kecamatan) is shown;
2. under every shown region, the hidden children together must hold no one or at
   least 10 people (PFCOUNT of their union); otherwise the smallest shown sibling
   is hidden too (complementary suppression; it alone holds 10 or more people).

So whatever a viewer subtracts (a shown total minus its shown parts) is a group of
hidden cells with 10 or more people behind it, never fewer. Totals over topics or
weeks are only ever sums of the cells shown (`topic_totals`, `week_totals`), so
they reveal nothing the table does not. There is no national total. Subscribers of
a Posyandu are people too: a Posyandu with fewer than 10 subscribers shows none of
its counts.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import time
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz, process, utils
from redis.asyncio import Redis

from actions.inbox import UnansweredInbox
from actions.posyandu.records import PosyanduRecord
from actions.posyandu.regions import Regions, time_zone_of
from actions.posyandu.schedule import TIME_ZONES
from actions.pseudonym import pseudonym
from actions.reminders import keys as reminder_keys
from actions.reminders.store import home_desa
from actions.store import as_text

__all__ = [
    "EMERGENCY_TOPIC",
    "KEEP_DAYS",
    "LEVELS",
    "MIN_PEOPLE",
    "NOT_QUESTIONS",
    "REMINDER_OUTCOMES",
    "SUPPRESSED",
    "UNKNOWN",
    "PosyanduRow",
    "Row",
    "StatsError",
    "Total",
    "UnansweredGroup",
    "dashboard",
    "effective_level",
    "group_unanswered",
    "iso_week",
    "last_weeks",
    "posyandu_csv",
    "posyandu_table",
    "record_reminder_outcome",
    "record_reminder_status",
    "record_turn",
    "region_of",
    "to_csv",
    "topic_totals",
    "unanswered_groups",
    "week_label",
    "week_start",
    "week_totals",
]

MIN_PEOPLE = 10  # privacy spec: a cell under 10 people is suppressed
SUPPRESSED = "<10"
UNKNOWN = "unknown"  # region of a user whose Posyandu we do not know
EMERGENCY_TOPIC = "emergency"
KEEP_DAYS = 730  # a week's counts are kept two years after it ended
MAX_WEEKS = 104
WAMID_TTL_SECONDS = 7 * 24 * 3600
RECENT_UNANSWERED = 500  # grouping looks at this many newest unanswered questions
PEOPLE_PURPOSE = "stats"

# Pleasantries and button answers: not questions about health or services.
NOT_QUESTIONS = frozenset(
    {
        "greet",
        "goodbye",
        "thanks",
        "bot_challenge",
        "consent",
        "consent_decline",
        "confirm_delete_my_data",
        "cancel_delete_my_data",
        "share_location",
        "child_dose_done",
    }
)
REMINDER_OUTCOMES = ("sent", "delivered", "failed", "blocked", "opted_out", "cancelled")

LEVELS = {"kabupaten": 5, "kecamatan": 8, "desa": 13}  # code length: "74.10", ...
LEVEL_NAMES = {"kabupaten": "Kabupaten/Kota", "kecamatan": "Kecamatan", "desa": "Desa/Kelurahan"}
_DESA = re.compile(r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$")
_SCOPE = re.compile(r"^\d{2}(?:\.\d{2}(?:\.\d{2}(?:\.\d{4})?)?)?$")
_TOPIC = re.compile(r"^[a-z0-9_.]{1,64}$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")
_OTHER_TOPIC = "lainnya"

# Function words that make unrelated questions look alike ("apa itu herpes" vs
# "apa itu hepatitis"); dropped before comparing.
_FILLERS = frozenset(
    {
        "apa",
        "apakah",
        "itu",
        "yang",
        "dan",
        "di",
        "ke",
        "dari",
        "untuk",
        "buat",
        "saya",
        "aku",
        "ya",
        "ga",
        "gak",
        "nggak",
        "tidak",
        "bagaimana",
        "gimana",
        "cara",
        "kalau",
        "kalo",
        "bisa",
        "ada",
        "dengan",
        "ini",
        "mau",
        "tanya",
        "dok",
        "bu",
        "kak",
        "min",
        "sih",
        "dong",
        "kah",
        "mohon",
        "tolong",
        "boleh",
        "kenapa",
        "mengapa",
        "kok",
    }
)

# KEYS: the WhatsApp message's map, the week's reminder hash. ARGV: field, expire at.
# Counted once however often the status arrives (and not at all once the map expired).
_DELIVERED = """
if redis.call('EXISTS', KEYS[1]) == 1 and redis.call('HSETNX', KEYS[1], 'd', '1') == 1 then
  redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
  redis.call('EXPIREAT', KEYS[2], ARGV[2])
  return 1
end
return 0
"""


class StatsError(ValueError):
    """A dashboard request that cannot be answered; the message is for the viewer."""


@dataclass(frozen=True)
class Row:
    """One cell of the table; `questions` and `people` are None when suppressed."""

    week: str
    topic: str
    level: str
    region_code: str
    questions: int | None
    people: int | None
    region_name: str = ""

    @property
    def shown(self) -> bool:
        return self.questions is not None

    @property
    def questions_text(self) -> str:
        return SUPPRESSED if self.questions is None else str(self.questions)

    @property
    def people_text(self) -> str:
        return SUPPRESSED if self.people is None else str(self.people)


@dataclass(frozen=True)
class Total:
    """A sum of the cells shown (never of hidden ones), and how many cells were hidden."""

    label: str
    questions: int
    hidden_cells: int


@dataclass(frozen=True)
class PosyanduRow:
    """Counts of one Posyandu over the weeks asked for; None when suppressed."""

    posyandu_id: str
    name: str
    village_code: str
    subscribers: int | None
    sent: int | None
    delivered: int | None
    failed: int | None

    @staticmethod
    def text(value: int | None) -> str:
        return SUPPRESSED if value is None else str(value)


@dataclass(frozen=True)
class UnansweredGroup:
    count: int
    example: str  # the newest redacted text of the group
    region: str | None  # the commonest kecamatan code of the group, if any is known
    latest: str  # ISO time of the newest question
    guess: str | None  # the topic the classifier guessed most often, if any
    examples: tuple[str, ...] = ()  # up to 3 other texts


# --- weeks -----------------------------------------------------------------------------------


def iso_week(when: float | dt.datetime, region_code: str | None = None) -> str:
    """The ISO week ("2025-W07") of a moment in the local time of `region_code` (WIB when
    the region is unknown)."""
    zone = time_zone_of(region_code) if region_code and _SCOPE.match(region_code) else "WIB"
    year, week, _ = _moment(when).astimezone(TIME_ZONES[zone]).isocalendar()
    return f"{year}-W{week:02d}"


def week_start(week: str) -> dt.date:
    """The Monday of an ISO week; StatsError for a label that is no week."""
    found = _WEEK.match(week)
    try:
        if found is None:
            raise ValueError(week)
        return dt.date.fromisocalendar(int(found[1]), int(found[2]), 1)
    except ValueError:
        raise StatsError(f"Minggu tidak dikenal: {week[:20]!r} (contoh: 2025-W07).") from None


def week_label(week: str) -> str:
    """A short Indonesian label for charts: the Monday, "3 Feb"."""
    monday = week_start(week)
    return f"{monday.day} {_MONTHS[monday.month - 1]}"


def last_weeks(count: int, now: float | None = None) -> list[str]:
    """The last `count` ISO weeks in WIB, oldest first, the current one last."""
    if not 1 <= count <= MAX_WEEKS:
        raise StatsError(f"Jumlah minggu harus 1 sampai {MAX_WEEKS}.")
    today = _moment(time.time() if now is None else now).astimezone(TIME_ZONES["WIB"]).date()
    monday = today - dt.timedelta(days=today.weekday())
    mondays = [monday - dt.timedelta(weeks=n) for n in range(count - 1, -1, -1)]
    return [f"{d.isocalendar()[0]}-W{d.isocalendar()[1]:02d}" for d in mondays]


def _moment(when: float | dt.datetime) -> dt.datetime:
    if isinstance(when, dt.datetime):
        if when.tzinfo is None:
            raise ValueError("when must be an aware datetime or unix seconds")
        return when
    return dt.datetime.fromtimestamp(float(when), dt.UTC)


def _expire_at(week: str) -> int:
    """Unix seconds when a week's counts go: KEEP_DAYS after the week ended."""
    end = week_start(week) + dt.timedelta(days=7 + KEEP_DAYS)
    return int(dt.datetime.combine(end, dt.time(0), dt.UTC).timestamp())


# --- recording -------------------------------------------------------------------------------


def _keys(prefix: str) -> _Keys:
    return _Keys(prefix)


@dataclass(frozen=True)
class _Keys:
    prefix: str

    def questions(self, week: str, kabupaten: str) -> str:
        return f"{self.prefix}stats:q:{week}:{kabupaten}"

    def people(self, week: str, topic: str, desa: str) -> str:
        return f"{self.prefix}stats:p:{week}:{topic}|{desa}"

    def kabupaten_index(self, week: str) -> str:
        return f"{self.prefix}stats:kabs:{week}"

    def reminders(self, week: str) -> str:
        return f"{self.prefix}stats:rem:{week}"

    def wamid(self, wamid: str) -> str:
        return f"{self.prefix}stats:wamid:{pseudonym(wamid, 'stats-wamid', 24)}"


def _topic_of(intent: str | None, emergency: bool) -> str | None:
    if emergency:
        return EMERGENCY_TOPIC
    if not intent or intent in NOT_QUESTIONS:
        return None
    return intent if _TOPIC.match(intent) else _OTHER_TOPIC


async def record_turn(
    redis: Redis,
    prefix: str,
    *,
    intent: str | None,
    user: str,
    region_code: str | None,
    when: float | dt.datetime,
    emergency: bool = False,
) -> bool:
    """Count one turn: a question of `intent` (the topic) from `user` (the Rasa sender id,
    only ever kept as a keyed pseudonym inside a HyperLogLog) in desa `region_code` (None
    or not a desa code: "unknown"). An emergency (danger signs found, or intent
    "emergency") counts under the topic "emergency". Pleasantries and button answers
    (NOT_QUESTIONS) and turns without an intent are not counted: returns False.
    Raises RedisError."""
    topic = _topic_of(intent, emergency or intent == EMERGENCY_TOPIC)
    if topic is None:
        return False
    desa = region_code if region_code and _DESA.match(region_code) else UNKNOWN
    week = iso_week(when, None if desa == UNKNOWN else desa)
    expire_at = _expire_at(week)
    if expire_at <= time.time():
        return False  # older than what is kept
    kabupaten = desa if desa == UNKNOWN else desa[:5]
    names = _keys(prefix)
    questions = names.questions(week, kabupaten)
    people = names.people(week, topic, desa)
    index = names.kabupaten_index(week)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hincrby(questions, f"{topic}|{desa}", 1)
        pipe.expireat(questions, expire_at)
        if user:
            pipe.pfadd(people, pseudonym(user, PEOPLE_PURPOSE, 16))
            pipe.expireat(people, expire_at)
        pipe.sadd(index, kabupaten)
        pipe.expireat(index, expire_at)
        await pipe.execute()
    return True


async def region_of(redis: Redis, prefix: str, sender_id: str) -> str | None:
    """The desa code of the user's saved Posyandu, else of their oldest live subscription;
    None when neither is known (`actions.reminders.store.home_desa`)."""
    return await home_desa(redis, prefix, sender_id)


async def record_reminder_outcome(
    redis: Redis,
    prefix: str,
    *,
    posyandu_id: str,
    outcome: str,
    when: float | dt.datetime,
    utc_offset_hours: int = 7,
    wamid: str | None = None,
) -> None:
    """Count one reminder or broadcast of a Posyandu by its outcome (REMINDER_OUTCOMES),
    in the week of `when` at the Posyandu's UTC offset. For a WhatsApp message sent, pass
    its `wamid` so that its "delivered" status is counted later (`record_reminder_status`).
    Call it once per send (when the engine records the outcome the first time)."""
    if outcome not in REMINDER_OUTCOMES:
        raise ValueError(f"outcome must be one of {REMINDER_OUTCOMES}")
    if not posyandu_id or "|" in posyandu_id:
        raise ValueError("posyandu_id is empty or holds '|'")
    week = _week_at_offset(when, utc_offset_hours)
    names = _keys(prefix)
    hash_key = names.reminders(week)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hincrby(hash_key, f"{posyandu_id}|{outcome}", 1)
        pipe.expireat(hash_key, _expire_at(week))
        if wamid and outcome == "sent":
            sent = names.wamid(wamid)
            pipe.hset(sent, mapping={"p": posyandu_id, "o": str(utc_offset_hours)})
            pipe.expire(sent, WAMID_TTL_SECONDS)
        await pipe.execute()


async def record_reminder_status(
    redis: Redis, prefix: str, *, wamid: str, status: str, when: float | dt.datetime
) -> bool:
    """A WhatsApp status update: "delivered" (or "read", which implies it) counts the
    message as delivered for its Posyandu, once. False when it was counted already or
    the message is not a Posyandu's (or was sent more than 7 days ago)."""
    if status not in ("delivered", "read"):
        return False
    names = _keys(prefix)
    sent = names.wamid(wamid)
    found = await redis.hmget(sent, ["p", "o"])
    if found[0] is None:
        return False
    posyandu_id = as_text(found[0])
    offset = int(as_text(found[1] or b"7"))
    week = _week_at_offset(when, offset)
    counted = await redis.eval(
        _DELIVERED,
        2,
        sent,
        names.reminders(week),
        f"{posyandu_id}|delivered",
        _expire_at(week),
    )
    return bool(counted)


def _week_at_offset(when: float | dt.datetime, offset_hours: int) -> str:
    zone = dt.timezone(dt.timedelta(hours=max(-12, min(14, offset_hours))))
    year, week, _ = _moment(when).astimezone(zone).isocalendar()
    return f"{year}-W{week:02d}"


# --- reading: questions by topic x week x region ---------------------------------------------


@dataclass
class _Node:
    code: str
    questions: int = 0
    leaves: list[str] = field(default_factory=list)  # HyperLogLog keys of its desa cells
    children: dict[str, _Node] = field(default_factory=dict)
    people: int = 0
    shown: bool = False

    def add(self, count: int, leaf: str) -> None:
        self.questions += count
        self.leaves.append(leaf)


def effective_level(level: str, scope: Sequence[str]) -> str:
    """The level a viewer gets: never coarser than their scope (a kecamatan officer asking
    for kabupaten sees their kecamatan). StatsError for an unknown level or region code."""
    if level not in LEVELS:
        raise StatsError("Tingkat wilayah harus kabupaten, kecamatan, atau desa.")
    for code in scope:
        if not isinstance(code, str) or not _SCOPE.match(code):
            raise StatsError(f"Kode wilayah tidak dikenal: {str(code)[:20]!r}.")
    length = max([LEVELS[level], *(len(code) for code in scope)])
    return next(name for name, size in LEVELS.items() if size >= length)


def _weeks_of(weeks: int | Sequence[str], now: float | None) -> list[str]:
    if isinstance(weeks, int):
        return last_weeks(weeks, now)
    chosen = list(dict.fromkeys(weeks))
    if not 1 <= len(chosen) <= MAX_WEEKS:
        raise StatsError(f"Jumlah minggu harus 1 sampai {MAX_WEEKS}.")
    for week in chosen:
        week_start(week)
    return sorted(chosen)


def _overlaps(kabupaten: str, scope: Sequence[str]) -> bool:
    if not scope:
        return True
    if kabupaten == UNKNOWN:
        return False
    return any(kabupaten.startswith(code) or code.startswith(kabupaten) for code in scope)


async def dashboard(
    redis: Redis,
    prefix: str,
    *,
    weeks: int | Sequence[str],
    level: str,
    scope: Sequence[str],
    topics: Collection[str] | None = None,
    now: float | None = None,
    regions: Regions | None = None,
) -> list[Row]:
    """Questions by topic x week x region at `level` ("kabupaten", "kecamatan", "desa"),
    for the regions inside `scope` (region code prefixes; [] means all, "unknown"
    included), with cells under 10 people suppressed (see the module's docstring).

    `weeks`: the last N weeks (WIB) or a list of ISO weeks. `topics` limits the topics;
    `regions` fills in region names. Rows are sorted by week, topic and region.
    Raises StatsError (an Indonesian message) for a bad level, week or region code."""
    level = effective_level(level, scope)
    depth = list(LEVELS).index(level) + 1
    chosen = _weeks_of(weeks, now)
    names = _keys(prefix)
    async with redis.pipeline(transaction=False) as pipe:
        for week in chosen:
            pipe.smembers(names.kabupaten_index(week))
        indexes = await pipe.execute()
    wanted = [
        (week, kab)
        for week, members in zip(chosen, indexes, strict=True)
        for kab in sorted(as_text(m) for m in members)
        if _overlaps(kab, scope)
    ]
    async with redis.pipeline(transaction=False) as pipe:
        for week, kab in wanted:
            pipe.hgetall(names.questions(week, kab))
        tables = await pipe.execute()

    roots: dict[tuple[str, str, str], _Node] = {}  # (week, topic, kabupaten)
    for (week, kab), table in zip(wanted, tables, strict=True):
        for raw_field, raw_count in table.items():
            topic, _, desa = as_text(raw_field).rpartition("|")
            if topics is not None and topic not in topics:
                continue
            count, leaf = int(raw_count), names.people(week, topic, desa)
            root = roots.setdefault((week, topic, kab), _Node(kab))
            root.add(count, leaf)
            if desa == UNKNOWN:
                continue
            kecamatan = root.children.setdefault(desa[:8], _Node(desa[:8]))
            kecamatan.add(count, leaf)
            kecamatan.children.setdefault(desa, _Node(desa)).add(count, leaf)

    await _decide(redis, list(roots.values()), top=True)
    parents = list(roots.values())
    for _ in range(depth - 1):
        await _decide(redis, parents, top=False)
        parents = [child for parent in parents for child in parent.children.values()]

    rows: list[Row] = []
    for (week, topic, kab), root in roots.items():
        for node in _at_depth(root, 1 if kab == UNKNOWN else depth):
            if scope and not any(node.code.startswith(code) for code in scope):
                continue
            name = "Tidak diketahui" if node.code == UNKNOWN else ""
            if regions is not None and node.code != UNKNOWN:
                region = regions.get(node.code)
                name = region.name if region else ""
            rows.append(
                Row(
                    week=week,
                    topic=topic,
                    level=level,
                    region_code=node.code,
                    questions=node.questions if node.shown else None,
                    people=node.people if node.shown else None,
                    region_name=name,
                )
            )
    rows.sort(key=lambda r: (r.week, r.topic, r.region_code == UNKNOWN, r.region_code))
    return rows


def _at_depth(root: _Node, depth: int) -> list[_Node]:
    nodes = [root]
    for _ in range(depth - 1):
        nodes = [child for node in nodes for child in node.children.values()]
    return nodes


async def _people(redis: Redis, groups: list[list[str]]) -> list[int]:
    """Distinct people behind each group of cells (PFCOUNT of their union)."""
    if not groups:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for leaves in groups:
            pipe.pfcount(*leaves)
        return [int(n) for n in await pipe.execute()]


async def _decide(redis: Redis, parents: list[_Node], *, top: bool) -> None:
    """Which of the nodes (top) or of the shown parents' children are shown."""
    nodes = parents if top else [c for p in parents if p.shown for c in p.children.values()]
    counted = [n for n in nodes if n.questions >= MIN_PEOPLE]  # fewer questions: fewer people
    for node, people in zip(
        counted, await _people(redis, [n.leaves for n in counted]), strict=True
    ):
        node.people = people
    for node in nodes:
        node.shown = node.people >= MIN_PEOPLE
    if top:
        return
    groups = []
    for parent in parents:
        hidden = [c for c in parent.children.values() if not c.shown]
        if parent.shown and hidden:
            groups.append((parent, hidden))
    large = [(p, h) for p, h in groups if sum(c.questions for c in h) >= MIN_PEOPLE]
    together = dict(
        zip(
            [id(p) for p, _ in large],
            await _people(redis, [[leaf for c in h for leaf in c.leaves] for _, h in large]),
            strict=True,
        )
    )
    for parent, _hidden in groups:
        if together.get(id(parent), 0) >= MIN_PEOPLE:
            continue
        # 1-9 people (or askers unknown) hidden under a shown total: hide one more.
        shown = sorted(
            (c for c in parent.children.values() if c.shown), key=lambda c: (c.questions, c.code)
        )
        if shown:
            shown[0].shown = False


def topic_totals(rows: Iterable[Row]) -> list[Total]:
    """Questions per topic, summed over the cells shown; most asked first."""
    return _totals(rows, lambda r: r.topic, by_count=True)


def week_totals(
    rows: Iterable[Row], *, topic: str | None = None, weeks: Sequence[str] = ()
) -> list[Total]:
    """Questions per week (of one topic, e.g. EMERGENCY_TOPIC, or all), summed over the
    cells shown; in week order, with `weeks` that had no question as 0."""
    chosen = [r for r in rows if topic is None or r.topic == topic]
    found = {t.label: t for t in _totals(chosen, lambda r: r.week, by_count=False)}
    for week in weeks:
        found.setdefault(week, Total(week, 0, 0))
    return [found[w] for w in sorted(found)]


def _totals(rows: Iterable[Row], key: Any, *, by_count: bool) -> list[Total]:
    sums: Counter[str] = Counter()
    hidden: Counter[str] = Counter()
    for row in rows:
        label = key(row)
        sums[label] += row.questions or 0
        hidden[label] += 0 if row.shown else 1
    totals = [Total(label, sums[label], hidden[label]) for label in sums]
    if by_count:
        return sorted(totals, key=lambda t: (-t.questions, t.label))
    return sorted(totals, key=lambda t: t.label)


# --- reading: Posyandu -----------------------------------------------------------------------


async def posyandu_table(
    redis: Redis,
    prefix: str,
    *,
    weeks: int | Sequence[str],
    scope: Sequence[str] = (),
    posyandu_ids: Collection[str] | None = None,
    now: float | None = None,
) -> list[PosyanduRow]:
    """Subscribers today (the reminders' own `possubs:{id}` index, live subscriptions
    only) and reminders sent, delivered and failed over `weeks`, per Posyandu inside
    `scope` (region code prefixes; [] all), or of `posyandu_ids` (a cadre's). A Posyandu
    with fewer than 10 subscribers shows none of its counts. Sorted by desa, then name."""
    for code in scope:
        if not _SCOPE.match(code):
            raise StatsError(f"Kode wilayah tidak dikenal: {code[:20]!r}.")
    now = time.time() if now is None else now
    chosen = _weeks_of(weeks, now)
    records = await _posyandu_records(redis, prefix, posyandu_ids)
    records = [r for r in records if not scope or any(r.village_code.startswith(c) for c in scope)]
    if not records:
        return []
    names = _keys(prefix)
    outcomes = ("sent", "delivered", "failed", "blocked")
    async with redis.pipeline(transaction=False) as pipe:
        for record in records:
            pipe.zcount(reminder_keys.subscribers(prefix, record.id), f"({now}", "+inf")
        for week in chosen:
            pipe.hmget(names.reminders(week), [f"{r.id}|{o}" for r in records for o in outcomes])
        found = await pipe.execute()
    subscribers = [int(n) for n in found[: len(records)]]
    sums: Counter[tuple[str, str]] = Counter()
    for values in found[len(records) :]:
        pairs = [(r.id, o) for r in records for o in outcomes]
        for pair, value in zip(pairs, values, strict=True):
            sums[pair] += int(value or 0)
    rows = []
    for record, count in zip(records, subscribers, strict=True):
        shown = count >= MIN_PEOPLE
        failed = sums[(record.id, "failed")] + sums[(record.id, "blocked")]
        rows.append(
            PosyanduRow(
                posyandu_id=record.id,
                name=record.name,
                village_code=record.village_code,
                subscribers=count if shown else None,
                sent=sums[(record.id, "sent")] if shown else None,
                delivered=sums[(record.id, "delivered")] if shown else None,
                failed=failed if shown else None,
            )
        )
    return sorted(rows, key=lambda r: (r.village_code, r.name, r.posyandu_id))


async def _posyandu_records(
    redis: Redis, prefix: str, posyandu_ids: Collection[str] | None
) -> list[PosyanduRecord]:
    key = f"{prefix}pos:rec"
    if posyandu_ids is not None:
        ids = sorted(set(posyandu_ids))
        raws = await redis.hmget(key, ids) if ids else []
        return [PosyanduRecord.model_validate_json(raw) for raw in raws if raw is not None]
    records = []
    async for _, raw in redis.hscan_iter(key, count=1000):
        records.append(PosyanduRecord.model_validate_json(raw))
    return records


# --- reading: unanswered questions -----------------------------------------------------------


async def unanswered_groups(
    redis: Redis,
    prefix: str,
    *,
    scope: Sequence[str] = (),
    recent: int = RECENT_UNANSWERED,
    cutoff: float = 80.0,
    top: int = 10,
) -> list[UnansweredGroup]:
    """The largest groups of similar questions among the `recent` newest unanswered ones
    (actions/inbox.py: texts already redacted). With a `scope`, only questions whose
    region is known and inside it."""
    items = await UnansweredInbox(redis, prefix).latest(recent)
    return group_unanswered(items, scope=scope, cutoff=cutoff, top=top)


def group_unanswered(
    items: Sequence[Mapping[str, Any]],
    *,
    scope: Sequence[str] = (),
    cutoff: float = 80.0,
    top: int = 10,
) -> list[UnansweredGroup]:
    """Greedy leader clustering, newest first: a question joins the first group whose
    leader is at least `cutoff` similar (the mean of rapidfuzz's token_set_ratio and
    token_sort_ratio on the words left after common function words are dropped, so
    "demam" does not swallow every longer question that mentions it); else it leads a
    new group. Largest groups first (then the most recent)."""
    leaders: list[str] = []
    members: list[list[Mapping[str, Any]]] = []
    for item in items:
        text = str(item.get("text") or "").strip()
        region = item.get("region")
        if not text:
            continue
        if scope and not (
            isinstance(region, str) and any(region.startswith(code) for code in scope)
        ):
            continue
        key = _comparable(text)
        index = _leader_of(key, leaders, cutoff)
        if index is None:
            leaders.append(key)
            members.append([item])
        else:
            members[index].append(item)
    groups = sorted((_group(found) for found in members), key=lambda g: g.latest, reverse=True)
    groups.sort(key=lambda g: g.count, reverse=True)  # stable: the most recent first in a tie
    return groups[:top]


def _comparable(text: str) -> str:
    words = utils.default_process(text).split()
    content = [w for w in words if w not in _FILLERS]
    return " ".join(content or words)


def _leader_of(key: str, leaders: list[str], cutoff: float) -> int | None:
    if not leaders:
        return None
    # token_set_ratio is never below token_sort_ratio: a cheap first cut in C.
    candidates = process.extract(
        key, leaders, scorer=fuzz.token_set_ratio, score_cutoff=cutoff, limit=10
    )
    best: tuple[float, int] | None = None
    for _, set_score, index in candidates:
        score = (set_score + fuzz.token_sort_ratio(key, leaders[index])) / 2
        if score >= cutoff and (best is None or score > best[0]):
            best = (score, index)
    return None if best is None else best[1]


def _group(items: list[Mapping[str, Any]]) -> UnansweredGroup:
    regions = Counter(
        str(i["region"])[:8] for i in items if isinstance(i.get("region"), str) and i["region"]
    )
    guesses = Counter(
        str(i["guesses"][0].get("intent"))
        for i in items
        if isinstance(i.get("guesses"), list) and i["guesses"] and i["guesses"][0].get("intent")
    )
    texts = list(dict.fromkeys(str(i.get("text") or "").strip() for i in items))
    return UnansweredGroup(
        count=len(items),
        example=texts[0],
        region=regions.most_common(1)[0][0] if regions else None,
        latest=max(str(i.get("at") or "") for i in items),
        guess=guesses.most_common(1)[0][0] if guesses else None,
        examples=tuple(texts[1:4]),
    )


# --- CSV -------------------------------------------------------------------------------------


def to_csv(rows: Iterable[Row]) -> bytes:
    """The table as CSV for spreadsheets: UTF-8 with BOM (Excel reads it right), Indonesian
    headers, suppressed cells as "<10"."""
    header = [
        "Minggu",
        "Mulai (Senin)",
        "Topik",
        "Tingkat wilayah",
        "Kode wilayah",
        "Nama wilayah",
        "Jumlah pertanyaan",
        "Jumlah penanya",
    ]
    lines = [
        [
            row.week,
            week_start(row.week).isoformat(),
            row.topic,
            LEVEL_NAMES.get(row.level, row.level),
            row.region_code,
            row.region_name,
            row.questions_text,
            row.people_text,
        ]
        for row in rows
    ]
    return _csv(header, lines)


def posyandu_csv(rows: Iterable[PosyanduRow]) -> bytes:
    header = [
        "ID Posyandu",
        "Nama Posyandu",
        "Kode desa",
        "Pelanggan pengingat",
        "Pesan terkirim",
        "Pesan diterima",
        "Pesan gagal",
    ]
    lines = [
        [
            row.posyandu_id,
            row.name,
            row.village_code,
            PosyanduRow.text(row.subscribers),
            PosyanduRow.text(row.sent),
            PosyanduRow.text(row.delivered),
            PosyanduRow.text(row.failed),
        ]
        for row in rows
    ]
    return _csv(header, lines)


def _csv(header: list[str], lines: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([[_cell(value) for value in line] for line in lines])
    return codecs.BOM_UTF8 + buffer.getvalue().encode("utf-8")


def _cell(value: str) -> str:
    """No formula injection: a cell a spreadsheet would run ("=", "+", "-", "@") is quoted."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
