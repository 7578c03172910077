"""The Posyandu forms of the console: a Posyandu's record, a one-off change of a session,
the next sessions of a rule, and which villages an account may use.

The rules are the directory's own: `PosyanduRecord` validates a record as the importer
does, `parse_rule` reads the schedule, `upcoming_sessions` computes the sessions.
Every message here is Indonesian and shown next to its field.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import cache

from pydantic import ValidationError

from actions.posyandu.directory import Directory
from actions.posyandu.records import PosyanduRecord
from actions.posyandu.regions import Region, Regions, time_zone_of
from actions.posyandu.schedule import (
    TIME_ZONES,
    Change,
    ScheduleError,
    format_session,
    parse_rule,
    upcoming_sessions,
)
from actions.reminders.cadres import MOVE_MAX_DAYS, NOTE_MAX
from actions.reminders.texts import day_words
from bot.console.auth import Account

__all__ = [
    "ChangeForm",
    "PosyanduForm",
    "change_words",
    "new_posyandu_id",
    "next_sessions",
    "parse_change",
    "parse_posyandu",
    "record_values",
    "regions",
    "session_dates",
    "villages_for",
]

FIELDS = ("name", "village_code", "address", "lat", "lon", "schedule", "cadre_contact")
PREVIEW_SESSIONS = 3
CHANGE_MONTHS = 3  # the sessions an officer can move or cancel: this month and the next two
_HOURS = re.compile(r"^(\d{1,2})[.:](\d{2})$")


@cache
def regions() -> Regions:
    """Indonesia's regions, read once per process (about a second, a few MB)."""
    return Regions()


def villages_for(account: Account, area: str | None = None) -> list[Region]:
    """The villages an officer may choose: those of their kecamatan (or of `area`, for an
    admin who sees everything), sorted by name."""
    areas = (area,) if area else account.regions
    found = {v.code: v for code in areas for v in regions().villages_of(code)}
    return sorted(
        (v for v in found.values() if account.covers_region(v.code)), key=lambda v: v.name
    )


@dataclass
class PosyanduForm:
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    record: PosyanduRecord | None = None


def record_values(record: PosyanduRecord) -> dict[str, str]:
    return {
        "name": record.name,
        "village_code": record.village_code,
        "address": record.address,
        "lat": f"{record.lat:.6f}",
        "lon": f"{record.lon:.6f}",
        "schedule": record.schedule,
        "cadre_contact": record.cadre_contact,
    }


def parse_posyandu(posyandu_id: str, posted: dict[str, str], account: Account) -> PosyanduForm:
    """A record from the posted form, or the form with an error for each wrong field."""
    values = {name: " ".join(posted.get(name, "").split()) for name in FIELDS}
    form = PosyanduForm(values)
    errors = form.errors
    if len(values["name"]) < 3 or len(values["name"]) > 120:
        errors["name"] = "Isi nama Posyandu (3-120 huruf)."
    village = regions().get(values["village_code"])
    if village is None or village.level != "village":
        errors["village_code"] = "Pilih desa dari daftar (kode desa, mis. 74.10.01.1008)."
    elif not account.covers_region(village.code):
        errors["village_code"] = "Desa ini di luar wilayah kerja Anda."
    lat, lon = _number(values["lat"]), _number(values["lon"])
    if lat is None or not -11.5 <= lat <= 6.5:
        errors["lat"] = "Lintang harus angka antara -11,5 dan 6,5 (wilayah Indonesia)."
    if lon is None or not 94.0 <= lon <= 141.5:
        errors["lon"] = "Bujur harus angka antara 94 dan 141,5 (wilayah Indonesia)."
    if len(values["address"]) > 300:
        errors["address"] = "Alamat paling banyak 300 huruf."
    if len(values["cadre_contact"]) > 120:
        errors["cadre_contact"] = "Kontak kader paling banyak 120 huruf."
    if problem := _schedule_problem(values["schedule"], values["village_code"]):
        errors["schedule"] = problem
    if errors:
        return form
    try:
        form.record = PosyanduRecord.model_validate({**values, "id": posyandu_id})
    except ValidationError:  # every field is checked above; this is the model's last word
        errors["name"] = "Isian ini tidak bisa disimpan. Periksa lagi, ya."
    return form


def _schedule_problem(text: str, village_code: str) -> str | None:
    if len(text) < 5 or len(text) > 200:
        return "Tulis jadwalnya, mis. 'setiap tanggal 10, 08.00-11.00'."
    try:
        rule = parse_rule(text)
    except ScheduleError as error:
        return f"Jadwal tidak dikenali: {error}."
    zone = time_zone_of(village_code)
    if rule.zone is not None and rule.zone != zone:
        return f"Zona waktu {rule.zone} tidak cocok dengan desa ini ({zone})."
    return None


def _number(raw: str) -> float | None:
    try:
        value = float(raw.replace(",", "."))
    except ValueError:
        return None
    return value if value == value else None  # not NaN


def next_sessions(
    record: PosyanduRecord,
    now: dt.datetime,
    changes: list[Change],
    holidays: frozenset[dt.date],
    limit: int = PREVIEW_SESSIONS,
) -> list[str]:
    """The next sessions in words ("Jumat, 9 Januari 2026, 08.00-11.00 WITA"), with notes."""
    zone = time_zone_of(record.village_code)
    sessions = upcoming_sessions(record.rule, now, zone, changes, holidays, limit=limit)
    return [
        format_session(s) + (f" ({s.note})" if s.note else " (diubah)" if s.moved else "")
        for s in sessions
    ]


def session_dates(record: PosyanduRecord, today: dt.date) -> list[dt.date]:
    """The rule's session dates from today on, for this month and the next two: the
    sessions a one-off change can name (as in the changes file, by the rule's date)."""
    dates: list[dt.date] = []
    year, month = today.year, today.month
    for _ in range(CHANGE_MONTHS):
        dates += [d for d in record.rule.dates_in(year, month) if d >= today]
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return dates


async def new_posyandu_id(directory: Directory, village_code: str) -> str:
    """An unused id in the directory's style: "PY" + the village code's digits + a number."""
    base = "PY" + village_code.replace(".", "")
    number = len(await directory.in_village(village_code)) + 1
    while await directory.get(f"{base}{number}") is not None:
        number += 1
    return f"{base}{number}"


@dataclass
class ChangeForm:
    values: dict[str, str]
    error: str | None = None
    change: Change | None = None


def parse_change(posted: dict[str, str], record: PosyanduRecord, now: dt.datetime) -> ChangeForm:
    """A move or cancellation of one session, checked as the changes importer checks it."""
    names = ("original", "action", "new_date", "new_start", "new_end", "note")
    values = {name: posted.get(name, "").strip() for name in names}
    form = ChangeForm(values)
    today = now.astimezone(TIME_ZONES[time_zone_of(record.village_code)]).date()
    original = _date(values["original"])
    if original is None or original not in session_dates(record, today):
        form.error = "Pilih sesi yang diubah dari daftar."
        return form
    note = " ".join(values["note"].split())
    if len(note) > NOTE_MAX:
        form.error = f"Alasan paling banyak {NOTE_MAX} huruf."
        return form
    if values["action"] == "batal":
        form.change = Change(original, cancelled=True, note=note)
        return form
    if values["action"] != "pindah":
        form.error = "Pilih: pindahkan atau batalkan."
        return form
    new_date = _date(values["new_date"]) or original
    if new_date < today:
        form.error = "Tanggal baru sudah lewat. Pilih hari ini atau sesudahnya."
        return form
    if new_date > today + dt.timedelta(days=MOVE_MAX_DAYS):
        form.error = f"Sesi bisa dipindah paling jauh {MOVE_MAX_DAYS} hari ke depan."
        return form
    start, end = _clock(values["new_start"]), _clock(values["new_end"])
    if (values["new_start"] and start is None) or (values["new_end"] and end is None):
        form.error = "Tulis jam seperti 08.00."
        return form
    start, end = start or record.rule.start, end or record.rule.end
    if end <= start:
        form.error = "Jam selesai harus sesudah jam mulai."
        return form
    if (new_date, start, end) == (original, record.rule.start, record.rule.end):
        form.error = "Tanggal dan jamnya sama dengan jadwal. Tidak ada yang berubah."
        return form
    form.change = Change(original, False, new_date, start, end, note)
    return form


def change_words(change: Change, zone: str) -> dict[str, object]:
    """A change for the audit log and the page (dates in words)."""
    return {
        "sesi": day_words(change.original),
        "batal": change.cancelled,
        "tanggal_baru": day_words(change.new_date) if change.new_date else None,
        "jam_baru": (
            f"{change.new_start:%H.%M}-{change.new_end:%H.%M} {zone}"
            if change.new_start and change.new_end
            else None
        ),
        "alasan": change.note,
    }


def _date(raw: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(raw) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw) else None
    except ValueError:
        return None


def _clock(raw: str) -> dt.time | None:
    match = _HOURS.match(raw)
    if match is None:
        return None
    hour, minute = int(match[1]), int(match[2])
    return dt.time(hour, minute) if hour < 24 and minute < 60 else None
