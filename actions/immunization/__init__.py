"""A child's routine immunizations: the schedule as data, and a pure calculator.

The schedule is `data/immunization/schedule.yml` (reviewed, sourced; `SOURCE.md` beside
it). Nothing here touches Redis or Rasa:

- `load_schedule()` reads and validates the file (`ScheduleError` lists every problem);
  `python -m actions.immunization check` does the same from the command line.
- `parse_age()` / `age_in_days()` read a child's age or birth date from everyday
  Indonesian ("4 bln", "usia 1,5 tahun", "baru lahir", "tgl lahir 3/3/25").
- `parse_done()` reads the doses a parent says were given ("sudah BCG dan polio 1").
- `plan()` sorts every dose that applies in the child's province into done, due now,
  overdue (with the catch-up advice of topic `imunisasi.kejar`), upcoming (with a date)
  or expired (past the age it is offered); `reply_text()` says it in a short, kind reply.
- `dose_due_dates()` gives the date of each remaining dose, for reminder planning.

Dates are calendar dates in the child's own time zone; the caller supplies `today`.
"""

from actions.immunization.ages import ChildAge, age_in_days, parse_age
from actions.immunization.calculator import DoseStatus, ImmunizationPlan, dose_due_dates, plan
from actions.immunization.dates import Duration
from actions.immunization.doses import parse_done
from actions.immunization.reply import MAX_REPLY_CHARS, reply_text
from actions.immunization.schedule import (
    SCHEDULE_FILE,
    Dose,
    Schedule,
    ScheduleError,
    Source,
    default_schedule,
    load_schedule,
    schedule_from_data,
)

__all__ = [
    "MAX_REPLY_CHARS",
    "SCHEDULE_FILE",
    "ChildAge",
    "Dose",
    "DoseStatus",
    "Duration",
    "ImmunizationPlan",
    "Schedule",
    "ScheduleError",
    "Source",
    "age_in_days",
    "default_schedule",
    "dose_due_dates",
    "load_schedule",
    "parse_age",
    "parse_done",
    "plan",
    "reply_text",
    "schedule_from_data",
]
