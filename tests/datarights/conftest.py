"""Data rights on every channel: the real gateway, a scripted Rasa running the real actions,
the fake platforms and real Redis; then a scan of Redis for anything left of the user."""

from __future__ import annotations

import base64
import datetime as dt
import importlib
import json
import re
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest
from aiohttp import web
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Action
from redis.asyncio import Redis

from actions.datarights import ActionEraseMyData, ActionMyData, ActionStopAll, Person
from actions.inbox import ActionLogUnanswered, UnansweredInbox
from actions.posyandu.directory import Directory, MyPosyandu
from actions.posyandu.records import PosyanduRecord
from actions.pseudonym import pseudonym, user_key
from tests.channels.conftest import graph_api, telegram_api  # noqa: F401 (fixtures)
from tests.fakes.rasa_api import refused
from tests.fakes.server import LocalServer

TRACKER_SECONDS = 30 * 24 * 3600
ASK = {
    "text": "Yakin ingin menghapus semua data Anda di Kawan Sehat? Ini tidak bisa dibatalkan.",
    "buttons": [
        {"title": "Ya, hapus semua", "payload": "/confirm_delete_my_data"},
        {"title": "Batal", "payload": "/cancel_delete_my_data"},
    ],
}
GREET = {
    "text": "Halo, saya Kawan Sehat. Mau tahu tentang apa?",
    "buttons": [
        {"title": "Jadwal imunisasi", "payload": "/imunisasi.jadwal"},
        {"title": "Cegah DBD", "payload": "/dbd.pencegahan"},
    ],
}
LONG_MENU = {
    "text": "Pilih kelurahan:",
    "buttons": [
        {"title": f"Kelurahan dengan nama panjang {i}", "payload": f"/p{i}"} for i in range(12)
    ],
}
POSYANDU = PosyanduRecord(
    id="PY74100110081",
    name="Posyandu Teratai I",
    village_code="74.10.01.1008",
    address="Balai Dusun I",
    lat=-4.761078,
    lon=123.157254,
    schedule="Jumat kedua setiap bulan, 08.00-11.00",
)


@dataclass
class ScriptedRasa:
    """Answers like our Rasa channel, with a few rules and the real actions.

    Keeps each conversation as our tracker store does: `<prefix>tracker:<sender id>` (Rasa's
    key prefix is the deployment prefix without its colon), only the events from the last
    `session_started` on, 30 days.
    """

    redis: Redis
    prefix: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    _server: LocalServer = field(default_factory=LocalServer)

    def actions(self) -> dict[str, Action]:
        inbox = UnansweredInbox(self.redis, self.prefix)
        return {
            "action_my_data": ActionMyData(self.redis, self.prefix),
            "action_erase_my_data": ActionEraseMyData(self.redis, self.prefix),
            "action_stop_all": ActionStopAll(self.redis, self.prefix),
            "action_log_unanswered": ActionLogUnanswered(inbox),
        }

    @staticmethod
    def intent_of(text: str) -> str:
        if text.startswith("/"):
            return text[1:].split("{", 1)[0]
        lowered = text.lower()
        for words, intent in (
            ("hapus data", "delete_my_data"),
            ("data saya", "my_data"),
            ("jerawat", "out_of_scope_health"),
            ("jangan kirim", "unsubscribe"),
            ("menu panjang", "long_menu"),
            ("meledak", "broken_answer"),
            ("halo", "greet"),
        ):
            if words in lowered:
                return intent
        return "faq"

    def steps(self, intent: str, text: str) -> list[str | dict[str, Any]]:
        return {
            "greet": [GREET],
            "my_data": ["action_my_data"],
            "delete_my_data": [{"name": "utter_ask_delete_my_data", **ASK}],
            "confirm_delete_my_data": ["action_erase_my_data"],
            "cancel_delete_my_data": [{"text": "Baik, tidak ada yang dihapus."}],
            "out_of_scope_health": [
                {"text": "Maaf, yang itu belum bisa saya jawab."},
                "action_log_unanswered",
            ],
            "unsubscribe": ["action_stop_all"],
            "long_menu": [LONG_MENU],
            # Buttons that are not a list: the gateway fails on it (to make a dead letter).
            "broken_answer": [{"text": f"Jawaban: {text}", "buttons": 5}],
        }.get(intent, [{"text": f"Jawaban: {text}"}])

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/webhooks/gateway/webhook", self.webhook)
        app.router.add_get("/webhooks/gateway/", self.status)
        return app

    async def start(self) -> str:
        return await self._server.start(self.app())

    async def close(self) -> None:
        await self._server.close()

    def tracker_key(self, sender: str) -> str:
        return f"{self.prefix}tracker:{sender}"

    def texts_from(self, sender: str) -> list[str]:
        return [r["message"] for r in self.requests if r["sender"] == sender]

    async def status(self, request: web.Request) -> web.Response:
        return refused(request) or web.json_response({"status": "ok", "model_loaded": True})

    async def webhook(self, request: web.Request) -> web.Response:
        if (refusal := refused(request)) is not None:
            return refusal
        body = await request.json()
        self.requests.append(body)
        sender, text = body["sender"], body["message"]
        stored = await self.redis.get(self.tracker_key(sender))
        events: list[dict[str, Any]] = json.loads(stored)["events"] if stored else []
        intent = self.intent_of(text)
        latest = {
            "text": text,
            "intent": {"name": intent, "confidence": 1.0},
            "intent_ranking": [{"name": intent, "confidence": 1.0}],
            "entities": [],
            "metadata": body.get("metadata") or {},
        }
        events.append({"event": "user", "text": text, "parse_data": latest})
        messages: list[dict[str, Any]] = []
        actions = self.actions()
        for step in self.steps(intent, text):
            if isinstance(step, dict):
                name = step.get("name", "utter_scripted")
                reply = {k: v for k, v in step.items() if k != "name"}
                events += [{"event": "action", "name": name}, {"event": "bot", **reply}]
                messages.append(reply)
                continue
            dispatcher = CollectingDispatcher()
            tracker = Tracker(sender, {}, latest, list(events), False, None, {}, "action_listen")
            returned = await actions[step].run(dispatcher, tracker, {})
            events.append({"event": "action", "name": step})
            for sent in dispatcher.messages:
                reply = {k: sent[k] for k in ("text", "buttons", "custom") if sent.get(k)}
                messages.append(reply)
                events.append({"event": "bot", **reply})
            events += returned
            starts = [i for i, e in enumerate(events) if e.get("event") == "session_started"]
            if starts:
                events = events[starts[-1] :]
        events.append({"event": "action", "name": "action_listen"})
        await self.redis.set(
            self.tracker_key(sender),
            json.dumps({"name": sender, "events": events}),
            ex=TRACKER_SECONDS,
        )
        return web.json_response(
            {
                "messages": [{"recipient_id": sender, **m} for m in messages],
                "intent": intent,
                "confidence": 1.0,
                "faq_id": None,
                "entities": [],
            }
        )


@pytest.fixture
async def scripted(redis: Redis, redis_prefix: str) -> AsyncIterator[tuple[ScriptedRasa, str]]:
    fake = ScriptedRasa(redis, redis_prefix)
    url = await fake.start()
    yield fake, url
    await fake.close()


# --- what is kept, and what is left ---------------------------------------------------------


class Marks(list[str]):
    """What points to one user: strings, and (decoded) WhatsApp message ids of their number."""

    def __init__(self, items: Iterable[str], person: Person | None = None) -> None:
        super().__init__(items)
        self.person = person

    def found_in(self, text: str) -> str | None:
        for mark in self:
            if mark in text:
                return mark
        if self.person is not None:
            for wamid in _WAMIDS.findall(text):
                if self.person.owns_wamid(wamid):
                    return f"wamid.{wamid}"
        return None


_WAMIDS = re.compile(r"wamid\.([A-Za-z0-9+/=]+)")


def as_marks(marks: Iterable[str]) -> Marks:
    return marks if isinstance(marks, Marks) else Marks(marks)


def needles(sender_id: str, *texts: str) -> Marks:
    """Everything by which a key name or value could point to this user."""
    address = sender_id.partition(":")[2]
    found = [
        sender_id,
        address,
        user_key(sender_id),
        user_key(address),
        pseudonym(sender_id, "my-posyandu"),
        pseudonym(sender_id, "web-issued"),
        pseudonym(address, "rate-limit", 24),
        *texts,
    ]
    return Marks([n for n in found if n], Person(sender_id))


def real_wamid(wa_id: str, serial: int) -> str:
    """A message id as WhatsApp makes them: the number in base64 after a 3-byte header."""
    raw = bytes([0x1C, 0x18, len(wa_id)]) + wa_id.encode() + b"\x15\x02\x00\x12\x18\x14"
    raw += f"3AB46A8635A5665F{serial:04d}".encode() + b"\x00"
    return "wamid." + base64.b64encode(raw).decode()


async def dump(redis: Redis, key: bytes | str) -> str:
    """A key's whole content as text, whatever its type."""
    kind = (await redis.type(key)).decode()
    value: Any
    if kind == "string":
        value = await redis.get(key)
    elif kind == "hash":
        value = await redis.hgetall(key)  # type: ignore[misc]
    elif kind == "set":
        value = sorted(await redis.smembers(key))  # type: ignore[misc]
    elif kind == "zset":
        value = await redis.zrange(key, 0, -1)
    elif kind == "list":
        value = await redis.lrange(key, 0, -1)  # type: ignore[misc]
    elif kind == "stream":
        value = await redis.xrange(key)
    else:
        value = kind
    return repr(value)


async def snapshot(redis: Redis, prefix: str) -> dict[str, str]:
    return {
        key.decode(): await dump(redis, key)
        async for key in redis.scan_iter(match=f"{prefix}*", count=1000)
    }


async def residue(redis: Redis, prefix: str, marks: Iterable[str]) -> dict[str, str]:
    """Keys whose name or content points to the user (what matched, by key)."""
    marks = as_marks(marks)
    left: dict[str, str] = {}
    for name, content in (await snapshot(redis, prefix)).items():
        found = marks.found_in(name) or marks.found_in(content)
        if found is not None:
            left[name] = found
    return left


def of_user(state: dict[str, str], marks: Iterable[str]) -> dict[str, str]:
    """The part of a snapshot that names or holds anything of the user."""
    marks = as_marks(marks)
    return {k: v for k, v in state.items() if marks.found_in(k) or marks.found_in(v)}


def assert_untouched(
    before: dict[str, str], after: dict[str, str], kept: Marks, erased: Marks
) -> None:
    """Everything of the `kept` user is as it was: their own keys unchanged, and in keys
    shared with the erased user (indices, the question index) their entries still there."""
    for key, content in of_user(before, kept).items():
        if key.split(":", 2)[-1].startswith("rl:ip:"):
            continue  # shared by everyone behind one address; not about a user
        assert key in after, key
        if of_user({key: content}, erased):
            assert all(m in after[key] for m in kept if m in content), key
        else:
            assert after[key] == content, key


# --- populating through the real writers ----------------------------------------------------


def reminders_store() -> ModuleType | None:
    try:
        return importlib.import_module("actions.reminders.store")
    except ModuleNotFoundError:
        return None


async def save_posyandu(redis: Redis, prefix: str, sender_id: str) -> None:
    """What action_set_my_posyandu writes ("itu posyandu saya")."""
    await Directory(redis, prefix).upsert([POSYANDU])
    await MyPosyandu(redis, prefix).remember(sender_id, POSYANDU.id)


async def subscribe(redis: Redis, prefix: str, sender_id: str) -> bool:
    """A Posyandu subscription, a child and a planned reminder, each with consent, through
    the reminders' own code; False (nothing written) when that code is not there yet."""
    store = reminders_store()
    try:
        consent = importlib.import_module("actions.reminders.consent")
        engine = importlib.import_module("bot.reminders.store")
        model = importlib.import_module("actions.reminders.model")
    except ModuleNotFoundError:
        return False
    if store is None:
        return False
    now = time.time()
    user = user_key(sender_id)
    for purpose in (consent.PURPOSE_POSYANDU, consent.PURPOSE_CHILD):
        version = consent.consent_text(purpose).version
        await consent.record_consent(redis, prefix, user, purpose, version, now)
    directory = Directory(redis, prefix)
    await directory.upsert([POSYANDU])
    contact = store.contact_of(sender_id)
    await store.subscribe_posyandu(
        redis, prefix, user, POSYANDU.id, contact, now, directory=directory
    )
    born = dt.date.today() - dt.timedelta(days=60)
    child = await store.add_child(
        redis, prefix, user, born, contact, now, nickname="adik", directory=directory
    )
    send = model.Send(
        key=f"imm:{child.id}:pcv2:pre",
        due=now + 3 * 24 * 3600,
        channel=contact.channel,
        address=contact.address,
        text="Pengingat: imunisasi PCV 2 untuk adik minggu depan.",
        subscriber=user,
    )
    await engine.schedule(redis, prefix, [send], now=now)
    return True
