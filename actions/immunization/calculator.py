"""Where a child stands against the schedule: done, due, overdue, upcoming or expired.

Pure date arithmetic on the schedule file; the caller supplies `today` (in the child's
own time zone) and what is known to be done. A dose can be given from its earliest age,
not before today, and, while the previous dose of its series is not done, not before
that dose's own date plus the minimum interval. A done dose is taken to have been given
on time: its date is not known.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from actions.immunization.dates import Duration
from actions.immunization.schedule import Dose, Schedule, default_schedule

__all__ = ["REGION_NOTE_HORIZON", "DoseStatus", "ImmunizationPlan", "dose_due_dates", "plan"]

REGION_NOTE_HORIZON = dt.timedelta(days=62)  # report a regional dose this close to its date
_NEXT_DAY = Duration(0, 1, "1d")  # two doses of a series are never on the same day


@dataclass(frozen=True)
class DoseStatus:
    dose: Dose
    date: dt.date  # upcoming: when it can be given; due/overdue: its scheduled date
    deadline: dt.date | None = None  # the last day it is still offered, when there is one


@dataclass(frozen=True)
class ImmunizationPlan:
    today: dt.date
    birth_date: dt.date
    age_days: int
    done: frozenset[str]  # including earlier doses of a series implied by a later one
    due: tuple[DoseStatus, ...]  # can be given now, on time
    overdue: tuple[DoseStatus, ...]  # behind schedule, can still be caught up
    upcoming: tuple[DoseStatus, ...]  # later, with the date it can be given
    expired: tuple[DoseStatus, ...]  # past the age it is offered
    region_unknown: tuple[DoseStatus, ...]  # regional doses, province not known (not counted)
    catch_up_advice: str | None  # set when something is overdue
    catch_up_topic: str | None  # topic id with the full catch-up advice (imunisasi.kejar)
    schedule: Schedule

    @property
    def next(self) -> tuple[DoseStatus, ...]:
        """The upcoming doses of the soonest date."""
        if not self.upcoming:
            return ()
        first = min(status.date for status in self.upcoming)
        return tuple(status for status in self.upcoming if status.date == first)

    @property
    def next_date(self) -> dt.date | None:
        return self.next[0].date if self.upcoming else None

    def source_line(self) -> str:
        """ "Sumber: ..." citing the schedule file's sources."""
        return self.schedule.source_line()


def _province(code: str | None) -> str | None:
    if code is None or not code.strip():
        return None
    return code.strip().split(".")[0][:2]


def _with_implied(done: Iterable[str], schedule: Schedule) -> frozenset[str]:
    """Done doses plus the earlier doses of their series (dose 3 is never given before 1)."""
    known = {dose.id: dose for dose in schedule.doses}
    result: set[str] = set()
    for dose_id in done:
        dose = known.get(dose_id)
        if dose is None:
            continue
        result.update(d.id for d in schedule.series_doses(dose.series) if d.number <= dose.number)
    return frozenset(result)


def _classify(
    schedule: Schedule,
    birth: dt.date,
    today: dt.date,
    done: frozenset[str],
    doses: Iterable[Dose],
) -> dict[str, tuple[str, DoseStatus]]:
    """Each dose not done -> (due|overdue|upcoming|expired, status).

    A dose can be given from its earliest age, not before today, and (when the previous
    dose of its series is not done) not before that dose's own date plus the interval.
    A done dose is assumed to have been given on time: its date is not known.
    """
    wanted = {dose.id for dose in doses}
    ordered = sorted(
        (d for d in schedule.doses if d.id in wanted and d.id not in done),
        key=lambda d: (d.series, d.number),
    )
    possible: dict[str, dt.date] = {}
    result: dict[str, tuple[str, DoseStatus]] = {}
    for dose in ordered:
        recommended = dose.age.after(birth)
        limit = dose.catch_up_until.after(birth) if dose.catch_up_until else None
        deadline = limit - dt.timedelta(days=1) if limit else None
        start = max(dose.earliest.after(birth), today)
        previous = schedule.previous(dose)
        if previous is not None and previous.id not in done:
            if previous.id not in possible:  # the previous dose can no longer be given
                result[dose.id] = ("expired", DoseStatus(dose, recommended, deadline))
                continue
            start = max(start, (dose.min_interval or _NEXT_DAY).after(possible[previous.id]))
        if limit is not None and start >= limit:
            result[dose.id] = ("expired", DoseStatus(dose, recommended, deadline))
            continue
        possible[dose.id] = start
        if today >= dose.on_time_until.after(birth):
            result[dose.id] = ("overdue", DoseStatus(dose, recommended, deadline))
        elif recommended <= today and start <= today:
            result[dose.id] = ("due", DoseStatus(dose, recommended, deadline))
        else:
            result[dose.id] = ("upcoming", DoseStatus(dose, max(recommended, start), deadline))
    return result


def _in_schedule_order(
    statuses: Iterable[DoseStatus], schedule: Schedule
) -> tuple[DoseStatus, ...]:
    index = {dose.id: position for position, dose in enumerate(schedule.doses)}
    return tuple(sorted(statuses, key=lambda s: (s.date, index[s.dose.id])))


def plan(
    age_days: int,
    done: Collection[str],
    province_code: str | None,
    today: dt.date,
    *,
    schedule: Schedule | None = None,
) -> ImmunizationPlan:
    """Where a child of `age_days` stands today against the schedule.

    Every dose that applies in the province is in exactly one of: done, due, overdue,
    upcoming, expired. Doses of other regions are left out; with no province, regional
    doses are only reported in `region_unknown`.
    """
    if age_days < 0:
        raise ValueError("age_days must not be negative")
    schedule = schedule or default_schedule()
    birth = today - dt.timedelta(days=age_days)
    province = _province(province_code)
    applicable = [d for d in schedule.doses if d.applies_in(province)]
    unknown = [d for d in schedule.doses if d.applies_in(province) is None]
    all_done = _with_implied(done, schedule)
    done_here = frozenset(d.id for d in applicable if d.id in all_done)
    sorted_out = _classify(schedule, birth, today, all_done, applicable + unknown)

    def pick(kind: str, doses: list[Dose]) -> tuple[DoseStatus, ...]:
        ids = {dose.id for dose in doses}
        chosen = (s for k, s in sorted_out.values() if k == kind and s.dose.id in ids)
        return _in_schedule_order(chosen, schedule)

    overdue = pick("overdue", applicable)
    region_unknown = tuple(
        status
        for kind, status in sorted_out.values()
        if status.dose in unknown
        and (kind in {"due", "overdue"} or status.date <= today + REGION_NOTE_HORIZON)
        and kind != "expired"
    )
    return ImmunizationPlan(
        today=today,
        birth_date=birth,
        age_days=age_days,
        done=done_here,
        due=pick("due", applicable),
        overdue=overdue,
        upcoming=pick("upcoming", applicable),
        expired=pick("expired", applicable),
        region_unknown=region_unknown,
        catch_up_advice=schedule.catch_up_advice if overdue else None,
        catch_up_topic=schedule.catch_up_topic if overdue else None,
        schedule=schedule,
    )


def dose_due_dates(
    birth_date: dt.date,
    done: Collection[str],
    province_code: str | None,
    *,
    today: dt.date | None = None,
    schedule: Schedule | None = None,
) -> list[tuple[str, dt.date]]:
    """(dose id, date) for every remaining dose that applies in the province, by date.

    Without `today`: each dose's scheduled date from birth. With `today`: due and overdue
    doses are dated today, upcoming ones with their date (pushed later while an earlier
    dose of the series is still missing, to keep the minimum interval), and doses past
    their upper age are left out. Regional doses need a province.
    """
    schedule = schedule or default_schedule()
    reference = today if today is not None else birth_date
    if reference < birth_date:
        raise ValueError("today is before the birth date")
    province = _province(province_code)
    applicable = [d for d in schedule.doses if d.applies_in(province)]
    sorted_out = _classify(
        schedule, birth_date, reference, _with_implied(done, schedule), applicable
    )
    dates = []
    for kind, status in sorted_out.values():
        if kind == "expired":
            continue
        if today is None:
            when = status.date if kind == "upcoming" else status.dose.age.after(birth_date)
        else:
            when = status.date if kind == "upcoming" else today
        dates.append((status.dose.id, when))
    index = {dose.id: position for position, dose in enumerate(schedule.doses)}
    return sorted(dates, key=lambda item: (item[1], index[item[0]]))
