"""What the reminder store, the planner and the cadre tools refuse, and why.

Every error's text (`str(error)`) is the Indonesian sentence to show the user as it is;
actions catch `ReminderError` and say it, nothing else needs translating.
"""

from __future__ import annotations

__all__ = [
    "ConsentRequired",
    "InvalidInput",
    "LimitReached",
    "LinkCodeError",
    "NotAllowed",
    "NotFound",
    "ReminderError",
]


class ReminderError(Exception):
    """Refused; the message is Indonesian, short and kind, ready for the user."""


class ConsentRequired(ReminderError):
    """Nothing is stored without the current consent for `purpose` (ask for "Setuju" first)."""

    def __init__(self, message: str, purpose: str) -> None:
        super().__init__(message)
        self.purpose = purpose


class InvalidInput(ReminderError):
    """A date, nickname, text or code that cannot be used."""


class NotFound(ReminderError):
    """A Posyandu, child, cadre or draft that does not exist (any more)."""


class LimitReached(ReminderError):
    """Too many subscriptions, children, broadcasts or link attempts."""


class NotAllowed(ReminderError):
    """A cadre acting outside their own Posyandu, or an account that is not a cadre."""


class LinkCodeError(ReminderError):
    """A link code that is wrong, expired, already used, or tried too often."""
