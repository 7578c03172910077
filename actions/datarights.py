"""The user's data rights (UU 27/2022 PDP): what is kept about them, STOP, and erasure.

Every per-user key the code writes, after the deployment prefix (`u` is
`user_key(sender id)`, `a` is `user_key(address)`: a WhatsApp wa_id):

    tracker:<sender id>               Rasa conversation (connectors/tracker_store.py; Rasa's
                                      key prefix is the deployment prefix without its colon)
    pos:mine:<pseudonym>              saved Posyandu (actions/posyandu/directory.py)
    web:issued:<pseudonym>            buttons offered in the web chat (bot/chat.py)
    rl:session:<pseudonym>:<minute>   web chat rate counter of the session (bot/access.py)
    flood:<u>:<minute>, answer:<u>:<message id>, notice:down:<u>, unreachable:<u>
                                      (bot/channels/conversation.py, telegram.py, whatsapp.py)
    wa:window:<a>, wa:menu:<a>        WhatsApp window and numbered menu (bot/channels/whatsapp.py)
    inbox:unanswered:user:<u>         ids of the user's unanswered questions (actions/inbox.py)
    u:<u>:rem, u:<u>:cadre, cadre:tries:<u>, and `u` in the reminder indices
                                      reminders (actions/reminders/store.py `describe_user`,
                                      `forget_user`)
    rem:sub:<u>, rem:*<u>*            planned sends (bot/reminders/store.py `forget_subscriber`,
                                      passed in by the gateway)
    optout:<u>                        the opt-out marker (actions/optout.py)

and, inside streams and shared sets: the user's dead letters (`deadletter`: their messages
and replies to them) and their unanswered questions (`inbox:unanswered:item:<id>` and the
index entry).

WhatsApp message ids carry the user's number: `wamid.` and base64 of three header bytes
(0x1C 0x18, the number's length) and the number. Keys named by a wamid (`wa:status:<wamid>`,
`rem:wamid:<wamid>`, and `seen:whatsapp:<wamid>` written before dedup keys were named by a
pseudonym) are found by that prefix and erased when the id decodes to the user's number.

Not erased, because nothing in them points to the user: Telegram update ids (`seen:`), long
button payloads (`button:`), the per-IP web rate counter (`rl:ip:`, two minutes, shared by
everyone behind that address), and the console dashboard's aggregates (`stats:`,
bot/console/stats.py): counts per topic, region and week, and HyperLogLogs of a keyed
pseudonym of the sender id, which keep no element (a HyperLogLog cannot list or remove
one person). Rasa's conversation lock (`lock:<sender id>`) exists only
while Rasa answers a message, and Rasa deletes it then.

Erasure runs in the gateway, after the reply of the turn that confirmed it: an action
cannot delete the tracker (Rasa saves it after the action), and WhatsApp needs the window
key to send that reply. `ActionEraseMyData` checks that the user confirmed, says what
happens, ends the Rasa session (`SessionStarted`: the tracker Rasa saves keeps nothing from
before it) and asks the gateway to erase with `ERASURE_REQUEST`, a custom message only an
action can produce. Besides the keys above, erasure deletes any other key whose name
carries the user's pseudonym `u` as a segment (a safety net for keys added later).

Cost: the inventory only looks up keys of known names (a Rasa turn has seconds, whatever
the size of Redis); erasure also scans the keyspace once for `u` and, on WhatsApp, once
for the wamid prefix (about a second per million keys each).
"""

from __future__ import annotations

import abc
import base64
import binascii
import importlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml
from rasa_sdk.events import SessionStarted
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Action, Tracker
from rasa_sdk.types import DomainDict
from redis.asyncio import Redis
from redis.exceptions import RedisError

from actions.inbox import UnansweredInbox
from actions.optout import OPT_OUT_SECONDS, clear_opt_out, mark_opted_out, opt_out_key
from actions.posyandu.directory import MyPosyandu
from actions.pseudonym import pseudonym, user_key
from actions.store import as_text, redis_prefix, shared_redis

__all__ = [
    "ACTION_ERASE",
    "ACTION_MY_DATA",
    "ACTION_STOP",
    "ERASURE_REQUEST",
    "INTENT_CONFIRM_ERASE",
    "RESPONSE_ASK_ERASE",
    "STOP_REQUEST",
    "ActionEraseMyData",
    "ActionMyData",
    "ActionStopAll",
    "ErasureReport",
    "Forget",
    "Person",
    "confirmation_pending",
    "erase",
    "erasure_requested",
    "inventory",
    "start_again",
    "stop_everything",
    "stop_requested",
]

logger = logging.getLogger(__name__)

ACTION_MY_DATA = "action_my_data"
ACTION_ERASE = "action_erase_my_data"
INTENT_DELETE = "delete_my_data"
INTENT_CONFIRM_ERASE = "confirm_delete_my_data"
RESPONSE_ASK_ERASE = "utter_ask_delete_my_data"
ACTION_STOP = "action_stop_all"
# Custom messages (Rasa `custom`) by which actions ask the gateway to finish their work after
# the turn: erase the user's data; forget the planned sends of the reminder engine.
ERASURE_REQUEST: dict[str, str] = {"kawan_sehat": "erase_user_data"}
STOP_REQUEST: dict[str, str] = {"kawan_sehat": "stop_everything"}

DEAD_LETTERS = "deadletter"
PAGE = 500
SCAN_COUNT = 1000
# Rasa sender ids are "<channel code>:<id>" (bot/channels/message.py CHANNEL_PREFIXES).
CHANNEL_CODES = {"telegram": "tg", "whatsapp": "wa", "web": "web"}
REMINDERS_STORE = "actions.reminders.store"

# Key families after the prefix, first match wins (see the module docstring).
FAMILIES: tuple[tuple[str, str], ...] = (
    ("tracker:", "tracker"),
    ("pos:mine:", "posyandu"),
    ("web:issued:", "web_buttons"),
    ("wa:window:", "wa_window"),
    ("wa:menu:", "wa_menu"),
    ("unreachable:", "unreachable"),
    ("inbox:unanswered:user:", "unanswered"),
    ("optout:", "optout"),
    ("rem:sub:", "planned"),
    ("rem:", "delivery"),
    ("u:", "reminders"),
    ("cadre:", "reminders"),
    ("flood:", "transient"),
    ("answer:", "transient"),
    ("notice:down:", "transient"),
    ("rl:", "transient"),
    ("seen:whatsapp:", "wa_ids"),
    ("wa:status:", "wa_ids"),
)
WAMID = "wamid."

# Forgets what another part keeps about a user: (redis, prefix, user) -> how many items.
Forget = Callable[[Redis, str, str], Awaitable[int]]


@cache
def _texts() -> dict[str, Any]:
    path = Path(__file__).with_name("datarights.yml")
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


def say(*path: str, **values: Any) -> str:
    node: Any = _texts()
    for part in path:
        node = node[part]
    return str(node).format(**values) if values else str(node)


@dataclass(frozen=True)
class Person:
    """A user as the code names them: the Rasa sender id and the pseudonyms made from it."""

    sender_id: str

    @property
    def channel_code(self) -> str:
        return self.sender_id.partition(":")[0]

    @property
    def address(self) -> str:
        """Where replies go (Telegram chat id, WhatsApp wa_id) or the web session id."""
        return self.sender_id.partition(":")[2]

    @property
    def user(self) -> str:
        return user_key(self.sender_id)

    def exact_keys(self, redis: Redis, prefix: str, now: float | None = None) -> list[str]:
        """The user's keys whose whole name is known (they may or may not exist)."""
        user = self.user
        names = [
            f"{prefix}tracker:{self.sender_id}",
            MyPosyandu(redis, prefix).key(self.sender_id),
            f"{prefix}web:issued:{pseudonym(self.sender_id, 'web-issued')}",
            f"{prefix}unreachable:{user}",
            f"{prefix}notice:down:{user}",
            UnansweredInbox(redis, prefix).user_index_key(user),
            f"{prefix}rem:sub:{user}",
            opt_out_key(prefix, user),
        ]
        if self.channel_code == CHANNEL_CODES["whatsapp"]:
            window = user_key(self.address)
            names += [f"{prefix}wa:window:{window}", f"{prefix}wa:menu:{window}"]
        if self.channel_code == CHANNEL_CODES["web"]:
            # Per-minute counters of the session that live two minutes (bot/access.py).
            minute = int((time.time() if now is None else now) // 60)
            session = pseudonym(self.address, "rate-limit", 24)
            names += [f"{prefix}rl:session:{session}:{m}" for m in range(minute - 2, minute + 2)]
        return names

    def wamid_head(self) -> str | None:
        """How the ids of WhatsApp messages from or to this user begin (after `wamid.`)."""
        number = self.address
        if self.channel_code != CHANNEL_CODES["whatsapp"] or not number.isdigit():
            return None
        raw = bytes([0x1C, 0x18, len(number)]) + number.encode()
        return base64.b64encode(raw[: len(raw) // 3 * 3]).decode()

    def owns_wamid(self, wamid: str) -> bool:
        """Whether a WhatsApp message id carries this user's number."""
        try:
            raw = base64.b64decode(wamid + "=" * (-len(wamid) % 4))
        except (binascii.Error, ValueError):
            return False
        number = self.address.encode()
        return raw[:3] == bytes([0x1C, 0x18, len(number)]) and raw[3 : 3 + len(number)] == number

    def wrote(self, fields: dict[str, str]) -> bool:
        """Whether a dead letter holds this user's message or a reply to them."""
        if fields.get("kind") == "reply":
            code = CHANNEL_CODES.get(fields.get("channel", ""))
            return code == self.channel_code and fields.get("recipient") == self.address
        return fields.get("key") == self.sender_id


@dataclass
class ErasureReport:
    keys: int = 0  # keys deleted, the user's questions and dead letters not counted
    unanswered: int = 0  # question ids removed (their texts, if not expired yet, with them)
    dead_letters: int = 0
    reminders: int | None = None  # None: the reminders store is not installed
    forgotten: list[int] = field(default_factory=list)  # per `forget` callable


# --- what is kept --------------------------------------------------------------------------


async def inventory(redis: Redis, prefix: str, sender_id: str) -> list[str]:
    """What is kept about the user, as seen from inside one of their turns: one Indonesian
    sentence per kind (empty: none). Only lookups of known names, no scan: fast enough for
    a Rasa turn whatever the size of Redis."""
    person = Person(sender_id)
    found = await _user_keys(redis, prefix, person, scan=False)
    reminders = await _describe_reminders(redis, prefix, person.user)
    lines: list[str] = []
    code = person.channel_code if person.channel_code in CHANNEL_CODES.values() else "other"
    if found.get("tracker"):
        lines.append(say("inventory", "lines", f"tracker_{code}"))
    lines.extend(reminders or [])
    if found.get("planned"):
        planned = sum([int(await redis.hlen(key)) for key in found["planned"]])
        if planned:
            lines.append(say("inventory", "lines", "planned", count=planned))
    if found.get("posyandu"):
        lines.append(say("inventory", "lines", "posyandu"))
    questions = await UnansweredInbox(redis, prefix).item_ids_of(person.user)
    if questions:
        lines.append(say("inventory", "lines", "unanswered", count=len(questions)))
    letters = await _dead_letter_ids(redis, prefix, person)
    if letters:
        lines.append(say("inventory", "lines", "dead_letters", count=len(letters)))
    for family in ("unreachable", "wa_window", "wa_menu", "web_buttons"):
        if found.get(family):
            lines.append(say("inventory", "lines", family))
    # During a turn on Telegram or WhatsApp, the message waits in the inbox stream and this
    # minute's count exists; on the web, the session's count (looked up).
    if code in ("tg", "wa") or found.get("transient"):
        lines.append(say("inventory", "lines", f"transient_{code}"))
    if found.get("optout"):
        lines.append(say("inventory", "lines", "optout"))
    return lines


# --- erasure -------------------------------------------------------------------------------


async def erase(
    redis: Redis, prefix: str, sender_id: str, *, forget: Sequence[Forget] = ()
) -> ErasureReport:
    """Delete everything keyed to the user; keep only the opt-out marker (no content).

    Idempotent. The marker is written first, so nothing planned meanwhile is sent; the
    other stores forget the user next (`forget_user`, then each of `forget`); then every
    remaining key, question and dead letter of the user goes in one transaction, so a
    failure leaves this part untouched for the retry.
    """
    person = Person(sender_id)
    user = person.user
    report = ErasureReport()
    await mark_opted_out(redis, prefix, user)
    store = _reminders_store()
    if store is not None:
        report.reminders = int(await store.forget_user(redis, prefix, user))
    for forget_one in forget:
        report.forgotten.append(int(await forget_one(redis, prefix, user)))
    found = await _user_keys(redis, prefix, person, scan=True)
    marker = opt_out_key(prefix, user)
    names = [k for family in found.values() for k in family if k != marker]
    inbox = UnansweredInbox(redis, prefix)
    questions = await inbox.item_ids_of(user, kept_only=False)
    letters = await _dead_letter_ids(redis, prefix, person)
    async with redis.pipeline(transaction=True) as pipe:
        if names:
            pipe.delete(*names)
        if questions:
            pipe.delete(*[inbox.item_key(i) for i in questions])
            pipe.zrem(inbox.index_key, *questions)
        if letters:
            pipe.xdel(f"{prefix}{DEAD_LETTERS}", *letters)
        pipe.set(marker, "1", ex=OPT_OUT_SECONDS)
        await pipe.execute()
    report.keys, report.unanswered, report.dead_letters = len(names), len(questions), len(letters)
    return report


def erasure_requested(messages: Iterable[Any]) -> bool:
    """Whether Rasa's messages for a turn carry the erasure request of action_erase_my_data."""
    return _requested(messages, ERASURE_REQUEST)


def stop_requested(messages: Iterable[Any]) -> bool:
    """Whether Rasa's messages for a turn carry the stop request of action_stop_all."""
    return _requested(messages, STOP_REQUEST)


def _requested(messages: Iterable[Any], request: dict[str, str]) -> bool:
    return any(isinstance(m, dict) and m.get("custom") == request for m in messages)


# --- STOP and MULAI ------------------------------------------------------------------------


async def stop_everything(
    redis: Redis, prefix: str, sender_id: str, *, forget: Sequence[Forget] = ()
) -> str:
    """End every subscription and planned send of the user, mark them opted out; the reply.

    The marker goes first, so a reminder planned meanwhile is not sent.
    """
    user = user_key(sender_id)
    await mark_opted_out(redis, prefix, user)
    store = _reminders_store()
    ended = int(await store.unsubscribe_all(redis, prefix, user)) if store is not None else 0
    for forget_one in forget:
        await forget_one(redis, prefix, user)
    return say("stop", "done" if ended else "nothing")


async def start_again(redis: Redis, prefix: str, sender_id: str) -> str | None:
    """MULAI: remove the opt-out marker; the reply says how to subscribe (nothing is restored).

    None when the user had not stopped: then "mulai" is for the assistant (the menu).
    """
    if not await clear_opt_out(redis, prefix, user_key(sender_id)):
        return None
    return say("start", "resumed")


# --- Rasa actions --------------------------------------------------------------------------


class DataRightsAction(Action, abc.ABC):
    """Redis and its prefix are injected in tests; the action server's own otherwise."""

    def __init__(self, redis: Redis | None = None, prefix: str | None = None) -> None:
        self._redis = redis
        self._prefix = prefix

    @property
    def redis(self) -> Redis:
        return self._redis or shared_redis()

    @property
    def prefix(self) -> str:
        return redis_prefix() if self._prefix is None else self._prefix

    @abc.abstractmethod
    def name(self) -> str: ...


class ActionMyData(DataRightsAction):
    """ "data saya apa saja?": everything kept about the user, as it is right now."""

    def name(self) -> str:
        return ACTION_MY_DATA

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        try:
            lines = await inventory(self.redis, self.prefix, tracker.sender_id)
        except RedisError as error:
            logger.warning("Inventory unavailable: Redis (%s)", type(error).__name__)
            dispatcher.utter_message(text=say("unavailable"))
            return []
        if not lines:
            dispatcher.utter_message(text=say("inventory", "empty"))
            return []
        text = "\n".join(
            [
                say("inventory", "header"),
                *(f"• {line}" for line in lines),
                say("inventory", "footer"),
            ]
        )
        button = {"title": say("inventory", "hapus_button"), "payload": f"/{INTENT_DELETE}"}
        dispatcher.utter_message(text=text, buttons=[button])
        return []


class ActionEraseMyData(DataRightsAction):
    """After "Ya, hapus semua": says what happens, ends the session, asks the gateway to erase.

    Erases nothing itself (see the module docstring); refuses unless the user pressed the
    confirmation right after the question.
    """

    def name(self) -> str:
        return ACTION_ERASE

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        if not confirmation_pending(tracker):
            dispatcher.utter_message(text=say("erase", "not_pending"))
            return []
        dispatcher.utter_message(text=say("erase", "done"))
        dispatcher.utter_message(json_message=ERASURE_REQUEST)
        # Everything before this event is left out when Rasa saves the tracker.
        return [SessionStarted()]


class ActionStopAll(DataRightsAction):
    """The `unsubscribe` intent ("tolong jangan kirim pengingat lagi"): what a bare STOP does
    in the gateway. Ends the subscriptions here and asks the gateway, which alone reaches
    the reminder engine, to forget the planned sends too."""

    def name(self) -> str:
        return ACTION_STOP

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        posyandu_id = next(tracker.get_latest_entity_values("posyandu_id"), None)
        try:
            if posyandu_id:  # "Berhenti dari Posyandu ini": that one subscription only
                await self._stop_one(dispatcher, tracker, str(posyandu_id))
                return []
            reply = await stop_everything(self.redis, self.prefix, tracker.sender_id)
        except RedisError as error:
            logger.warning("Stop not done: Redis (%s)", type(error).__name__)
            dispatcher.utter_message(text=say("unavailable_stop"))
            return []
        dispatcher.utter_message(text=reply)
        dispatcher.utter_message(json_message=STOP_REQUEST)
        return []

    async def _stop_one(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, posyandu_id: str
    ) -> None:
        from actions.posyandu.directory import Directory
        from actions.reminders.store import unsubscribe_posyandu

        left = await unsubscribe_posyandu(
            self.redis, self.prefix, user_key(tracker.sender_id), posyandu_id
        )
        record = await Directory(self.redis, self.prefix).get(posyandu_id)
        name = record.name if record else posyandu_id
        dispatcher.utter_message(text=say("stopped_one" if left else "not_subscribed", name=name))


def confirmation_pending(tracker: Tracker) -> bool:
    """The latest message confirms erasure, and the question was asked just before it."""
    intent = (tracker.latest_message or {}).get("intent") or {}
    if intent.get("name") != INTENT_CONFIRM_ERASE:
        return False
    latest_user_seen = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            if latest_user_seen:
                return False
            latest_user_seen = True
        elif latest_user_seen and kind == "action" and event.get("name") == RESPONSE_ASK_ERASE:
            return True
    return False


# --- finding the user's keys ---------------------------------------------------------------


async def _user_keys(
    redis: Redis, prefix: str, person: Person, *, scan: bool
) -> dict[str, list[str]]:
    """The user's keys by family: those of known names that exist and, with `scan`, every
    key whose name has the user's pseudonym as a segment or a WhatsApp message id of
    theirs. A scan walks the whole keyspace (about a second per million keys in Redis)."""
    names: dict[str, None] = {}
    exact = person.exact_keys(redis, prefix)
    async with redis.pipeline(transaction=False) as pipe:
        for name in exact:
            pipe.exists(name)
        present = await pipe.execute()
    names.update((name, None) for name, here in zip(exact, present, strict=True) if here)
    if scan:
        escaped = _glob_escape(prefix)
        async for raw in redis.scan_iter(match=f"{escaped}*{person.user}*", count=SCAN_COUNT):
            name = as_text(raw)
            if person.user in name[len(prefix) :].split(":"):
                names[name] = None
        head = person.wamid_head()
        if head is not None:
            pattern = f"{escaped}*{WAMID}{head}*"
            async for raw in redis.scan_iter(match=pattern, count=SCAN_COUNT):
                name = as_text(raw)
                if person.owns_wamid(name.rpartition(WAMID)[2].split(":", 1)[0]):
                    names[name] = None
    found: dict[str, list[str]] = {}
    for name in names:
        found.setdefault(_family(name[len(prefix) :]), []).append(name)
    return found


def _family(name: str) -> str:
    for start, family in FAMILIES:
        if name.startswith(start):
            return family
    return "other"


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


async def _dead_letter_ids(redis: Redis, prefix: str, person: Person) -> list[str]:
    """Ids of the dead letters holding the user's messages or replies to them."""
    stream = f"{prefix}{DEAD_LETTERS}"
    found: list[str] = []
    start = "-"
    while True:
        page: Any = await redis.xrange(stream, start, "+", count=PAGE) or []
        for entry_id, raw in page:
            fields = {as_text(k): as_text(v) for k, v in raw.items()}
            if person.wrote(fields):
                found.append(as_text(entry_id))
        if len(page) < PAGE:
            return found
        start = "(" + as_text(page[-1][0])


def _reminders_store() -> ModuleType | None:
    """actions/reminders/store.py (describe_user, forget_user, unsubscribe_all), if present."""
    try:
        return importlib.import_module(REMINDERS_STORE)
    except ModuleNotFoundError as error:
        if error.name in ("actions.reminders", REMINDERS_STORE):
            return None
        raise


async def _describe_reminders(redis: Redis, prefix: str, user: str) -> list[str] | None:
    store = _reminders_store()
    if store is None:
        return None
    return [str(line) for line in await store.describe_user(redis, prefix, user)]
