"""The durable sending engine for reminders and cadre broadcasts.

Planners hand `actions.reminders.model.Send`s to `schedule`; they live in Redis
only (`store`), and every gateway instance's `ReminderWorker` sends them when due,
outside quiet hours (`quiet`), through the channels' own clients and rate limits
(`senders`), at most once and at least once. `report` gives a broadcast's counts.
The gateway starts the worker (`bot.reminders.gateway`); `python -m bot.reminders`
runs one on its own.
"""

from bot.reminders.report import record_status, report
from bot.reminders.store import ScheduleResult, cancel, forget_subscriber, schedule

__all__ = ["ScheduleResult", "cancel", "forget_subscriber", "record_status", "report", "schedule"]
