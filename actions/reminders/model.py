"""The contract between those who plan messages and the engine that sends them.

Planners (Posyandu session reminders, a child's immunization reminders, change
notices, cadre broadcasts) produce `Send`s; the engine (`bot/reminders/`) keeps
them in Redis, sends each at most once (by `key`) and at least once (acknowledged
only after the platform accepted or refused it for good), outside quiet hours.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CHANNELS = ("telegram", "whatsapp")


@dataclass(frozen=True)
class Send:
    # Idempotency key: the same key is never sent twice, e.g.
    # "pos:<subscription id>:<session date>:<eve|day>", "imm:<child id>:<dose>:<kind>",
    # "chg:<posyandu id>:<session date>:<subscriber>", "bc:<broadcast id>:<subscriber>".
    key: str
    due: float  # unix seconds; never sent before this
    channel: str  # one of CHANNELS
    address: str  # Telegram chat id or WhatsApp wa_id (personal data: kept only while subscribed)
    text: str  # what is sent on Telegram, and on WhatsApp inside the 24-hour window
    utc_offset_hours: int = 7  # the recipient's village: 7 WIB, 8 WITA, 9 WIT (quiet hours 21-06)
    template: str | None = None  # WhatsApp template name for outside the 24-hour window
    params: tuple[str, ...] = ()  # the template's body parameters, in order
    buttons: tuple[tuple[str, str], ...] = ()  # (title, payload), e.g. ("Berhenti", "/unsubscribe")
    broadcast: str | None = None  # the broadcast id, for its delivery report
    subscriber: str = ""  # the recipient's pseudonym (actions.pseudonym), for opt-out checks
    extra: dict[str, str] = field(default_factory=dict)
