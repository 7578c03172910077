"""Quiet hours: nothing is sent from 21.00 to 06.00 in the recipient's local time."""

from __future__ import annotations

__all__ = ["QUIET_END_HOUR", "QUIET_START_HOUR", "is_quiet", "next_allowed"]

QUIET_START_HOUR = 21
QUIET_END_HOUR = 6
_DAY = 24 * 3600


def next_allowed(moment: float, utc_offset_hours: int) -> float:
    """`moment` itself outside quiet hours, else the next 06.00 local time (unix seconds)."""
    offset = utc_offset_hours * 3600
    local = moment + offset
    day_start = (local // _DAY) * _DAY
    seconds = local - day_start
    if seconds >= QUIET_START_HOUR * 3600:
        return day_start + _DAY + QUIET_END_HOUR * 3600 - offset
    if seconds < QUIET_END_HOUR * 3600:
        return day_start + QUIET_END_HOUR * 3600 - offset
    return moment


def is_quiet(moment: float, utc_offset_hours: int) -> bool:
    return next_allowed(moment, utc_offset_hours) != moment
