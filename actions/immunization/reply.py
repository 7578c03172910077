"""The reply to "anak saya 4 bulan imunisasi apa?": short, kind, sourced, in Indonesian.

Lists what is due now, what is behind schedule (with the catch-up advice and a pointer to
topic `imunisasi.kejar`), what has passed its age, and the next scheduled date; asks to
confirm at the Posyandu/Puskesmas and with the Buku KIA; ends with the source. Never a
diagnosis. Always under MAX_REPLY_CHARS.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from actions.immunization.calculator import DoseStatus, ImmunizationPlan
from actions.immunization.dates import add_months, format_date, months_between
from actions.immunization.schedule import Schedule
from actions.immunization.texts import TEXT

__all__ = ["MAX_REPLY_CHARS", "reply_text"]

MAX_REPLY_CHARS = 650  # FAQ answers may have 700; this reply stays well under that
DEADLINE_HORIZON = dt.timedelta(days=92)  # say "paling lambat <date>" when it is this close


def _age_label(birth: dt.date, on: dt.date) -> str:
    months = months_between(birth, on)
    if months == 0:
        days = (on - birth).days
        return f"{days} hari" if days < 7 else f"{days // 7} minggu"
    if months < 24:
        weeks = (on - add_months(birth, months)).days // 7
        return f"{months} bulan" + (f" {weeks} minggu" if weeks else "")
    years, rest = divmod(months, 12)
    return f"{years} tahun" + (f" {rest} bulan" if rest else "")


def _group_names(statuses: Iterable[DoseStatus], schedule: Schedule, near: dt.date | None) -> str:
    """ "polio tetes 1–3, PCV 1–2, BCG": doses grouped by series, in schedule order.

    With `near`, a group whose last day comes before `near` says so ("paling lambat ...").
    """
    groups: dict[str, list[DoseStatus]] = {}
    for status in statuses:
        groups.setdefault(status.dose.series, []).append(status)
    names = []
    for series, members in groups.items():
        numbers = sorted(s.dose.number for s in members)
        label = schedule.label(series)
        if len(schedule.series_doses(series)) > 1:
            if len(numbers) > 1 and numbers == list(range(numbers[0], numbers[-1] + 1)):
                label += f" {numbers[0]}–{numbers[-1]}"
            else:
                label += " " + ", ".join(str(n) for n in numbers)
        limits = [s.deadline for s in members if s.deadline is not None]
        if near is not None and limits and min(limits) <= near:
            label = TEXT["deadline"].format(doses=label, date=format_date(min(limits)))
        names.append(label)
    return ", ".join(names)


def reply_text(plan: ImmunizationPlan) -> str:
    """A short, kind Indonesian reply: due now, overdue with catch-up advice, next, source.

    Always under MAX_REPLY_CHARS: optional lines (notes, hints) are added only while they
    fit; then deadlines are dropped, then the expired list.
    """
    schedule = plan.schedule
    near = plan.today + DEADLINE_HORIZON
    closing = [TEXT["confirm"], schedule.source_line()]
    for deadlines, with_expired, with_next in _SHORTER:
        lines = _main_lines(
            plan, near if deadlines else None, with_expired=with_expired, with_next=with_next
        )
        if len("\n".join([*lines, *closing])) <= MAX_REPLY_CHARS:
            break
    for line in _optional_lines(plan):
        if len("\n".join([*lines, line, *closing])) <= MAX_REPLY_CHARS:
            lines.append(line)
    return "\n".join([*lines, *closing])


# Ever shorter forms of the reply: (deadlines, expired list, next line).
_SHORTER = ((True, True, True), (False, True, True), (False, False, True), (False, False, False))


def _next_on_schedule(plan: ImmunizationPlan) -> tuple[DoseStatus, ...]:
    """The soonest upcoming doses that keep their scheduled date.

    Doses pushed later by a catch-up chain are left to the health worker, who sets the
    catch-up dates; naming them would suggest waiting until then.
    """
    planned = [s for s in plan.upcoming if s.date == s.dose.age.after(plan.birth_date)]
    if not planned:
        return ()
    first = min(s.date for s in planned)
    return tuple(s for s in planned if s.date == first)


def _main_lines(
    plan: ImmunizationPlan, near: dt.date | None, *, with_expired: bool, with_next: bool
) -> list[str]:
    schedule = plan.schedule
    if plan.age_days == 0:
        lines = [TEXT["header_newborn"]]
    else:
        lines = [TEXT["header"].format(age=_age_label(plan.birth_date, plan.today))]
    if plan.due:
        lines.append(TEXT["due"].format(doses=_group_names(plan.due, schedule, None)))
    if plan.overdue:
        lines.append(TEXT["overdue"].format(doses=_group_names(plan.overdue, schedule, near)))
    if plan.expired and with_expired:
        lines.append(TEXT["expired"].format(doses=_group_names(plan.expired, schedule, None)))
    following = _next_on_schedule(plan)
    if following and with_next:
        first = following[0].date
        names = _group_names(following, schedule, None)
        age = _age_label(plan.birth_date, first)
        lines.append(TEXT["next"].format(doses=names, date=format_date(first), age=age))
    if not (plan.due or plan.overdue or plan.expired):
        lines.append(TEXT["up_to_date"] if plan.upcoming else TEXT["complete"])
    if plan.catch_up_advice:
        lines.append(f"{plan.catch_up_advice} {TEXT['catch_up_more']}")
    return lines


def _optional_lines(plan: ImmunizationPlan) -> list[str]:
    optional: list[str] = []
    region = [s.dose.region_note for s in plan.region_unknown if s.dose.region_note]
    optional += [TEXT["region_unknown"].format(note=note) for note in dict.fromkeys(region)]
    if plan.overdue and not plan.done:
        optional.append(TEXT["tell_done"])
    notes = [s.dose.late_note for s in plan.overdue if s.dose.late_note]
    notes += [s.dose.expired_note for s in plan.expired if s.dose.expired_note]
    optional += list(dict.fromkeys(notes))
    return optional
