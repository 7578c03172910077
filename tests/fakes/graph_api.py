"""A fake WhatsApp Cloud API (Graph API) server, and webhook payloads as Meta sends them.

`POST /<version>/<phone-number-id>/messages` validates like the real API (token,
body shape, interactive limits, approved templates) and answers with the real
success and error bodies. It can be told to fail: throughput (130429), pair rate
(131056), server errors, undeliverable numbers (131026), outside the window (131047).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.server import LocalServer

__all__ = ["FakeGraph", "GraphRequest"]

APPROVED_TEMPLATES = frozenset({"kawan_sehat_sapaan", "kawan_sehat_pengingat"})


@dataclass
class GraphRequest:
    body: dict[str, Any]
    at: float
    status: int


@dataclass
class _Failure:
    status: int
    code: int
    message: str
    count: int


@dataclass
class FakeGraph:
    access_token: str = "EAAtest"
    phone_number_id: str = "1098765432"
    version: str = "v23.0"
    delay: float = 0.0
    approved_templates: frozenset[str] = APPROVED_TEMPLATES
    enforce_window: bool = False
    open_windows: set[str] = field(default_factory=set)
    undeliverable_to: set[str] = field(default_factory=set)
    requests: list[GraphRequest] = field(default_factory=list)
    read_receipts: list[dict[str, Any]] = field(default_factory=list)
    # Called with every accepted message body (benchmarks time replies with it).
    listeners: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)
    _failures: list[_Failure] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _server: LocalServer = field(default_factory=LocalServer)

    # -- control ------------------------------------------------------------------------------

    def fail_next(self, status: int, code: int, message: str, count: int = 1) -> None:
        self._failures.append(_Failure(status, code, message, count))

    def throughput_limit_next(self, count: int = 1) -> None:
        self.fail_next(400, 130429, "Rate limit hit", count)

    def pair_limit_next(self, count: int = 1) -> None:
        message = "(#131056) (Business Account, Consumer Account) pair rate limit hit"
        self.fail_next(400, 131056, message, count)

    def server_error_next(self, count: int = 1) -> None:
        self.fail_next(500, 1, "An unknown error occurred", count)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Accepted messages (read receipts are in `read_receipts`)."""
        return [r.body for r in self.requests if r.status == 200 and r.body.get("status") != "read"]

    def messages_to(self, wa_id: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("to") == wa_id]

    async def wait_for_messages(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        async with asyncio.timeout(timeout):
            while len(self.messages) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.messages

    # -- server -------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{version}/{phone_id}/messages", self._messages)
        return app

    async def start(self, port: int = 0) -> str:
        """The base URL without the version (WHATSAPP_API_BASE_URL is this plus `/<version>`)."""
        return await self._server.start(self.app(), port)

    async def close(self) -> None:
        await self._server.close()

    async def _messages(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if self.delay:
            await asyncio.sleep(self.delay)
        status, answer = self._answer(request, body)
        recorded = body if isinstance(body, dict) else {"raw": raw.decode(errors="replace")}
        self.requests.append(GraphRequest(recorded, time.monotonic(), status))
        if status == 200:
            if recorded.get("status") == "read":
                self.read_receipts.append(recorded)
            else:
                for listener in self.listeners:
                    listener(recorded)
            self._changed.set()
        return web.json_response(answer, status=status)

    def _answer(self, request: web.Request, body: Any) -> tuple[int, dict[str, Any]]:
        authorization = request.headers.get("Authorization", "")
        if authorization != f"Bearer {self.access_token}":
            return _error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        if request.match_info["version"] != self.version:
            return _error(400, 2635, f"The version {request.match_info['version']} is not valid")
        if request.match_info["phone_id"] != self.phone_number_id:
            phone = request.match_info["phone_id"]
            return _error(
                400,
                100,
                f"Unsupported post request. Object with ID '{phone}' does not exist, cannot be "
                "loaded due to missing permissions, or does not support this operation.",
            )
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
            return _error(400, 100, "The parameter messaging_product is required.")
        for failure in self._failures:
            if failure.count > 0:
                failure.count -= 1
                return _error(failure.status, failure.code, failure.message)
        if body.get("status") == "read":
            if not isinstance(body.get("message_id"), str):
                return _error(400, 100, "The parameter message_id is required.")
            return 200, {"success": True}
        to = body.get("to")
        if not isinstance(to, str) or not to.isdigit():
            return _error(400, 100, "The parameter to is required.")
        problem = _body_problem(body, self.approved_templates)
        if problem is not None:
            return problem
        if to in self.undeliverable_to:
            return _error(400, 131026, "Message Undeliverable")
        if self.enforce_window and body["type"] != "template" and to not in self.open_windows:
            return _error(
                400,
                131047,
                "Re-engagement message: more than 24 hours have passed since the customer "
                "last replied to this number.",
            )
        wamid = f"wamid.HBgM{next(self._ids):012d}"
        return 200, {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": wamid}],
        }


def _body_problem(
    body: dict[str, Any], templates: frozenset[str]
) -> tuple[int, dict[str, Any]] | None:
    kind = body.get("type", "text")
    if kind == "text":
        text = body.get("text")
        content = text.get("body") if isinstance(text, dict) else None
        if not isinstance(content, str) or not content.strip():
            return _error(400, 100, "The parameter text['body'] is required.")
        if len(content) > 4096:
            return _error(400, 100, "Param text['body'] must be at most 4096 characters long.")
        return None
    if kind == "interactive":
        return _interactive_problem(body.get("interactive"))
    if kind == "template":
        template = body.get("template")
        name = template.get("name") if isinstance(template, dict) else None
        if name not in templates:
            return _error(404, 132001, "Template name does not exist in the translation")
        return None
    return _error(400, 100, f"Unsupported message type {kind!r}")


def _interactive_problem(interactive: Any) -> tuple[int, dict[str, Any]] | None:
    if not isinstance(interactive, dict):
        return _error(400, 100, "The parameter interactive is required.")
    text = (interactive.get("body") or {}).get("text")
    if not isinstance(text, str) or not text.strip():
        return _error(400, 100, "The parameter interactive['body']['text'] is required.")
    action = interactive.get("action") or {}
    if interactive.get("type") == "button":
        if len(text) > 1024:
            return _error(400, 100, "Body text must be at most 1024 characters.")
        buttons = action.get("buttons")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            return _error(400, 131009, "Parameter value is not valid: buttons count must be 1-3")
        titles = [b.get("reply", {}).get("title") for b in buttons if isinstance(b, dict)]
        ids = [b.get("reply", {}).get("id") for b in buttons if isinstance(b, dict)]
        if len(titles) != len(buttons) or not all(
            isinstance(t, str) and 1 <= len(t) <= 20 for t in titles
        ):
            return _error(400, 131009, "Button title length invalid. Min length: 1, Max: 20")
        if not all(isinstance(i, str) and 1 <= len(i) <= 256 for i in ids):
            return _error(400, 131009, "Button id length invalid. Max: 256")
        if len(set(titles)) != len(titles) or len(set(ids)) != len(ids):
            return _error(400, 131009, "Buttons must have unique ids and titles")
        return None
    if interactive.get("type") == "list":
        if len(text) > 4096:
            return _error(400, 100, "Body text must be at most 4096 characters.")
        label = action.get("button")
        if not isinstance(label, str) or not 1 <= len(label) <= 20:
            return _error(400, 131009, "Button label length invalid. Max: 20")
        sections = action.get("sections")
        if not isinstance(sections, list) or not sections:
            return _error(400, 131009, "sections is required")
        rows = [r for s in sections if isinstance(s, dict) for r in s.get("rows", [])]
        if not 1 <= len(rows) <= 10:
            return _error(400, 131009, "Total row count exceed max allowed count: 10")
        for row in rows:
            if not (isinstance(row, dict) and isinstance(row.get("title"), str)):
                return _error(400, 131009, "Row title is required")
            if not 1 <= len(row["title"]) <= 24:
                return _error(400, 131009, "Row title length invalid. Max: 24")
            if not isinstance(row.get("id"), str) or not 1 <= len(row["id"]) <= 200:
                return _error(400, 131009, "Row id length invalid. Max: 200")
        return None
    return _error(400, 131009, "Interactive type is not supported")


def _error(status: int, code: int, message: str) -> tuple[int, dict[str, Any]]:
    return status, {
        "error": {
            "message": message if message.startswith("(#") else f"(#{code}) {message}",
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": message},
            "fbtrace_id": "AbCdEfGhIjKlMnOp",
        }
    }


# -- webhook payloads as Meta sends them -----------------------------------------------------


def _now() -> str:
    return str(int(time.time()))


def _base(wamid: str, wa_id: str, kind: str, timestamp: int | None) -> dict[str, Any]:
    return {
        "from": wa_id,
        "id": wamid,
        "timestamp": str(timestamp) if timestamp is not None else _now(),
        "type": kind,
    }


def text_message(wamid: str, wa_id: str, body: str, timestamp: int | None = None) -> dict[str, Any]:
    return {**_base(wamid, wa_id, "text", timestamp), "text": {"body": body}}


def location_message(wamid: str, wa_id: str, lat: float, lon: float) -> dict[str, Any]:
    location = {"latitude": lat, "longitude": lon, "name": "Rumah", "address": "Jl. Poros"}
    return {**_base(wamid, wa_id, "location", None), "location": location}


def button_reply_message(wamid: str, wa_id: str, reply_id: str, title: str) -> dict[str, Any]:
    interactive = {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}}
    return {
        **_base(wamid, wa_id, "interactive", None),
        "context": {"from": "15550000000", "id": "wamid.OUTPREV"},
        "interactive": interactive,
    }


def list_reply_message(wamid: str, wa_id: str, reply_id: str, title: str) -> dict[str, Any]:
    interactive = {
        "type": "list_reply",
        "list_reply": {"id": reply_id, "title": title, "description": ""},
    }
    return {
        **_base(wamid, wa_id, "interactive", None),
        "context": {"from": "15550000000", "id": "wamid.OUTPREV"},
        "interactive": interactive,
    }


def _media(kind: str, mime: str) -> dict[str, Any]:
    return {"mime_type": mime, "sha256": "a" * 44, "id": "1234567890123456"}


def image_message(wamid: str, wa_id: str) -> dict[str, Any]:
    return {**_base(wamid, wa_id, "image", None), "image": _media("image", "image/jpeg")}


def audio_message(wamid: str, wa_id: str) -> dict[str, Any]:
    audio = {**_media("audio", "audio/ogg; codecs=opus"), "voice": True}
    return {**_base(wamid, wa_id, "audio", None), "audio": audio}


def sticker_message(wamid: str, wa_id: str) -> dict[str, Any]:
    sticker = {**_media("sticker", "image/webp"), "animated": False}
    return {**_base(wamid, wa_id, "sticker", None), "sticker": sticker}


def unsupported_message(wamid: str, wa_id: str) -> dict[str, Any]:
    errors = [
        {
            "code": 131051,
            "title": "Message type unknown",
            "message": "Message type unknown",
            "error_data": {"details": "Message type is currently not supported."},
        }
    ]
    return {**_base(wamid, wa_id, "unsupported", None), "errors": errors}


def status_update(
    wamid: str, recipient: str, status: str, errors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    update: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": _now(),
        "recipient_id": recipient,
    }
    if status in ("sent", "delivered", "read"):
        update["conversation"] = {"id": "CONVERSATION_ID", "origin": {"type": "service"}}
        update["pricing"] = {"billable": False, "pricing_model": "PMP", "category": "service"}
    if errors:
        update["errors"] = errors
    return update


def envelope(
    messages: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    phone_number_id: str = "1098765432",
    contacts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One webhook delivery: `whatsapp_business_account` with one entry and one change."""
    messages = messages or []
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": phone_number_id},
    }
    if messages:
        senders = dict.fromkeys(m.get("from") for m in messages if isinstance(m, dict))
        value["contacts"] = contacts or [
            {"profile": {"name": "Ibu Siti"}, "wa_id": sender} for sender in senders
        ]
        value["messages"] = messages
    if statuses:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {"id": "WABA_ID_102290129340398", "changes": [{"value": value, "field": "messages"}]}
        ],
    }


def batch(*envelopes: dict[str, Any]) -> dict[str, Any]:
    """Several deliveries in one POST, as Meta batches them (entries side by side)."""
    return {
        "object": "whatsapp_business_account",
        "entry": [entry for e in envelopes for entry in e["entry"]],
    }


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
