"""Rasa actions for reminders and a child's immunizations.

- `action_child_immunization`: "anak saya 4 bulan imunisasi apa?" answered from the stated
  age (actions.immunization), nothing stored.
- `action_subscribe_posyandu`: Posyandu reminders for the chosen, listed or saved Posyandu;
  asks for consent first (actions.reminders.consent), stores nothing without it.
- `action_register_child`: a child's birth date for immunization reminders; the guardian
  consents first.
- `action_consent`: the "Setuju" button; records the consent and finishes what was asked
  (the birth date is read again from the message that asked, which the conversation
  history already holds).
- `action_child_dose_done`: "sudah imunisasi BCG" marks doses done for a registered child.
"""

from __future__ import annotations

import abc
import datetime as dt
import json
import logging
import re
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Action, Tracker
from rasa_sdk.types import DomainDict
from redis.asyncio import Redis
from redis.exceptions import RedisError

from actions.immunization import default_schedule, parse_age, parse_done, plan, reply_text
from actions.immunization.dates import format_date
from actions.posyandu.directory import Directory, MyPosyandu
from actions.posyandu.regions import time_zone_of
from actions.pseudonym import user_key
from actions.reminders import store
from actions.reminders.consent import (
    PURPOSE_CHILD,
    PURPOSE_POSYANDU,
    PURPOSES,
    consent_text,
    has_consent,
    record_consent,
)
from actions.reminders.errors import ReminderError
from actions.store import redis_prefix, shared_redis

logger = logging.getLogger(__name__)

INTENT_REGISTER_CHILD = "register_child"
INTENT_SUBSCRIBE = "subscribe_reminder"
# A reminder request about a child's doses, not a Posyandu's sessions.
_CHILD_WORDS = re.compile(r"\b(imuni[a-z]*|imun|vaksin[a-z]*|anak[a-z]*|bayi[a-z]*)\b")
SLOT_LISTED = "listed_posyandu"
Clock = Callable[[], float]


@cache
def texts() -> dict[str, str]:
    path = Path(__file__).with_name("dialogue.yml")
    loaded: dict[str, str] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


def payload(intent: str, **entities: str) -> str:
    """A button payload Rasa reads as an intent with entities."""
    return f"/{intent}{json.dumps(entities, ensure_ascii=False)}" if entities else f"/{intent}"


def consent_buttons(purpose: str, **entities: str) -> list[dict[str, str]]:
    return [
        {
            "title": texts()["agree_button"],
            "payload": payload("consent", consent_purpose=purpose, **entities),
        },
        {"title": texts()["decline_button"], "payload": payload("consent_decline")},
    ]


def local_today(now: float, village_code: str | None = None) -> dt.date:
    """Today's date where the user is (their Posyandu's zone; WIB when unknown)."""
    zone = ZoneInfo(time_zone_of(village_code) if village_code else "Asia/Jakarta")
    return dt.datetime.fromtimestamp(now, zone).date()


class ReminderAction(Action, abc.ABC):
    """Shared wiring: Redis, the clock (replaceable in tests), errors as kind replies."""

    def __init__(
        self, redis: Redis | None = None, clock: Clock = time.time, prefix: str | None = None
    ) -> None:
        self._redis = redis
        self._clock = clock
        self._prefix = prefix

    @property
    def redis(self) -> Redis:
        return self._redis or shared_redis()

    @property
    def prefix(self) -> str:
        return self._prefix if self._prefix is not None else redis_prefix()

    @abc.abstractmethod
    def name(self) -> str: ...

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        try:
            await self.answer(dispatcher, tracker)
        except ReminderError as error:
            dispatcher.utter_message(text=str(error))
        except RedisError:
            logger.exception("Reminder store unavailable")
            dispatcher.utter_message(text=texts()["unavailable"])
        return []

    @abc.abstractmethod
    async def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> None: ...

    def user(self, tracker: Tracker) -> str:
        return user_key(tracker.sender_id)

    async def posyandu_for(self, tracker: Tracker) -> str | None:
        """The Posyandu the user means: a button's, the only one just listed, or their own."""
        chosen = next(tracker.get_latest_entity_values("posyandu_id"), None)
        if chosen:
            return str(chosen)
        listed = [str(i) for i in tracker.get_slot(SLOT_LISTED) or []]
        if len(listed) == 1:
            return listed[0]
        return await MyPosyandu(self.redis, self.prefix).get(tracker.sender_id)

    async def subscribe(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, posyandu_id: str
    ) -> None:
        contact = store.contact_of(tracker.sender_id)
        if contact is None:
            dispatcher.utter_message(text=texts()["web_cannot_remind"])
            return
        directory = Directory(self.redis, self.prefix)
        record = await directory.get(posyandu_id)
        if record is None:
            dispatcher.utter_message(text=texts()["unknown_posyandu"])
            return
        await store.subscribe_posyandu(
            self.redis,
            self.prefix,
            self.user(tracker),
            record.id,
            contact,
            self._clock(),
            directory=directory,
        )
        dispatcher.utter_message(
            text=texts()["subscribed"].format(name=record.name),
            buttons=[
                {
                    "title": texts()["stop_one_button"],
                    "payload": payload("unsubscribe", posyandu_id=record.id),
                }
            ],
        )

    async def register_child(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, text: str
    ) -> None:
        contact = store.contact_of(tracker.sender_id)
        if contact is None:
            dispatcher.utter_message(text=texts()["web_cannot_remind"])
            return
        age = parse_age(text, local_today(self._clock()))
        if age is None or age.birth_date is None:
            dispatcher.utter_message(
                text=age.rejection if age and age.rejection else texts()["ask_birth_date"]
            )
            return
        child = await store.add_child(
            self.redis, self.prefix, self.user(tracker), age.birth_date, contact, self._clock()
        )
        dispatcher.utter_message(
            text=texts()["child_registered"].format(birth=format_date(child.birth_date)),
            buttons=[{"title": texts()["stop_button"], "payload": "/unsubscribe"}],
        )


class ActionChildImmunization(ReminderAction):
    def name(self) -> str:
        return "action_child_immunization"

    async def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        text = tracker.latest_message.get("text") or ""
        today = local_today(self._clock())
        age = parse_age(text, today)
        if age is None or age.days is None:
            reply = age.rejection if age and age.rejection else texts()["ask_age"]
            dispatcher.utter_message(text=reply)
            return
        done = parse_done(text)
        child_plan = plan(age.days, done, None, today)
        buttons = []
        if store.contact_of(tracker.sender_id) is not None:
            buttons.append({"title": texts()["register_button"], "payload": "/register_child"})
        dispatcher.utter_message(text=reply_text(child_plan), buttons=buttons)


class ActionSubscribePosyandu(ReminderAction):
    def name(self) -> str:
        return "action_subscribe_posyandu"

    async def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        if store.contact_of(tracker.sender_id) is None:
            dispatcher.utter_message(text=texts()["web_cannot_remind"])
            return
        text = str(tracker.latest_message.get("text") or "").lower()
        if not next(tracker.get_latest_entity_values("posyandu_id"), None) and _CHILD_WORDS.search(
            text
        ):
            # "ingetin jadwal imunisasi anak sy": reminders of the child's doses.
            await ActionRegisterChild(self._redis, self._clock, self._prefix).answer(
                dispatcher, tracker
            )
            return
        posyandu_id = await self.posyandu_for(tracker)
        if posyandu_id is None:
            dispatcher.utter_message(text=texts()["which_posyandu"])
            return
        if not await has_consent(self.redis, self.prefix, self.user(tracker), PURPOSE_POSYANDU):
            dispatcher.utter_message(
                text=consent_text(PURPOSE_POSYANDU).text,
                buttons=consent_buttons(PURPOSE_POSYANDU, posyandu_id=posyandu_id),
            )
            return
        await self.subscribe(dispatcher, tracker, posyandu_id)


class ActionRegisterChild(ReminderAction):
    def name(self) -> str:
        return "action_register_child"

    async def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        if store.contact_of(tracker.sender_id) is None:
            dispatcher.utter_message(text=texts()["web_cannot_remind"])
            return
        if not await has_consent(self.redis, self.prefix, self.user(tracker), PURPOSE_CHILD):
            # Nothing about the child is stored before the guardian agrees.
            dispatcher.utter_message(
                text=consent_text(PURPOSE_CHILD).text, buttons=consent_buttons(PURPOSE_CHILD)
            )
            return
        await self.register_child(dispatcher, tracker, tracker.latest_message.get("text") or "")


class ActionConsent(ReminderAction):
    def name(self) -> str:
        return "action_consent"

    async def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        purpose = next(tracker.get_latest_entity_values("consent_purpose"), None)
        if purpose not in PURPOSES:
            dispatcher.utter_message(text=texts()["consent_unclear"])
            return
        if store.contact_of(tracker.sender_id) is None:
            dispatcher.utter_message(text=texts()["web_cannot_remind"])
            return
        current = consent_text(str(purpose))
        await record_consent(
            self.redis, self.prefix, self.user(tracker), current.purpose, current.version,
            self._clock(),
        )  # fmt: skip
        if purpose == PURPOSE_POSYANDU:
            posyandu_id = await self.posyandu_for(tracker)
            if posyandu_id is None:
                dispatcher.utter_message(text=texts()["which_posyandu"])
                return
            await self.subscribe(dispatcher, tracker, posyandu_id)
            return
        asked = _last_text_of(tracker, (INTENT_REGISTER_CHILD, INTENT_SUBSCRIBE))
        await self.register_child(dispatcher, tracker, asked)


class ActionChildDoseDone(ReminderAction):
    def name(self) -> str:
        return "action_child_dose_done"

    async def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        if store.contact_of(tracker.sender_id) is None:  # no child can be registered here
            dispatcher.utter_message(text=texts()["web_cannot_remind"])
            return
        chosen = next(tracker.get_latest_entity_values("child_id"), None)
        if chosen is not None:  # the "which child?" button carries the doses it was asked for
            listed = next(tracker.get_latest_entity_values("doses"), "")
            doses = {d for d in str(listed).split(",") if d}
        else:
            doses = parse_done(tracker.latest_message.get("text") or "")
        if not doses:
            dispatcher.utter_message(text=texts()["which_doses"])
            return
        user = self.user(tracker)
        children = await store.list_children(self.redis, self.prefix, user)
        if not children:
            dispatcher.utter_message(text=texts()["no_child"])
            return
        if chosen is None and len(children) > 1:
            dispatcher.utter_message(
                text=texts()["which_child"],
                buttons=[
                    {
                        "title": child.nickname or format_date(child.birth_date),
                        "payload": payload(
                            "child_dose_done", child_id=child.id, doses=",".join(sorted(doses))
                        ),
                    }
                    for child in children
                ],
            )
            return
        child_id = str(chosen) if chosen is not None else children[0].id
        schedule = default_schedule()
        child = await store.mark_doses_done(
            self.redis,
            self.prefix,
            user,
            child_id,
            doses,
            self._clock(),
            known_doses={dose.id for dose in schedule.doses},
        )
        names = [dose.name for dose in schedule.doses if dose.id in doses]
        dispatcher.utter_message(
            text=texts()["doses_marked"].format(
                doses=", ".join(names), birth=format_date(child.birth_date)
            )
        )


def _last_text_of(tracker: Tracker, intents: tuple[str, ...]) -> str:
    """The text of the user's latest message with one of `intents` (the one consent was
    asked for)."""
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        if (event.get("parse_data") or {}).get("intent", {}).get("name") in intents:
            return str(event.get("text") or "")
    return ""
