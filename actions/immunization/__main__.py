"""`python -m actions.immunization check [file]` validates the schedule file;
`python -m actions.immunization reply "anak saya 4 bulan" [--done ...] [--province 51]`
prints the reply a parent would get (for reviewers).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from actions.immunization.ages import parse_age
from actions.immunization.calculator import plan
from actions.immunization.doses import parse_done
from actions.immunization.reply import reply_text
from actions.immunization.schedule import SCHEDULE_FILE, ScheduleError, load_schedule


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m actions.immunization",
        description="Check the immunization schedule file, or try a reply.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate the schedule file")
    check.add_argument("path", type=Path, nargs="?", default=SCHEDULE_FILE)
    reply = commands.add_parser("reply", help='the reply to e.g. "anak saya 4 bulan"')
    reply.add_argument("text")
    reply.add_argument("--done", default="", help='e.g. "sudah BCG dan polio 1"')
    reply.add_argument("--province", default=None, help="province code, e.g. 51")
    reply.add_argument("--today", type=dt.date.fromisoformat, default=dt.date.today())
    args = parser.parse_args(argv)
    try:
        schedule = load_schedule(args.path if args.command == "check" else SCHEDULE_FILE)
    except ScheduleError as error:
        print(error, file=sys.stderr)
        return 1
    if args.command == "check":
        print(
            f"{len(schedule.doses)} doses are valid "
            f"(version {schedule.version}, reviewed {schedule.reviewed})."
        )
        return 0
    age = parse_age(args.text, args.today)
    if age is None or age.days is None:
        print(age.rejection if age and age.rejection else "No age found.", file=sys.stderr)
        return 1
    found = plan(
        age.days,
        parse_done(args.done, schedule=schedule),
        args.province,
        args.today,
        schedule=schedule,
    )
    print(reply_text(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
