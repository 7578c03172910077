"""WhatsApp Cloud API: verification handshake, signed webhooks, rendering, 24-hour window."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import re
import time
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.channels.choices import ChoiceStore
from bot.channels.conversation import (
    UNREACHABLE_TTL_SECONDS,
    Conversation,
    first_notice_in_process,
    user_key,
    user_tag,
)
from bot.channels.deadletter import record_reply
from bot.channels.graph import (
    OUTSIDE_WINDOW_CODE,
    PAIR_RATE_CODE,
    THROUGHPUT_CODES,
    TRANSIENT_CODES,
    UNDELIVERABLE_CODES,
    GraphClient,
    GraphError,
)
from bot.channels.inbox import Entry, Inbox
from bot.channels.message import Choice, Inbound, Kind, Outbound
from bot.channels.text import split_message
from bot.errors import ApiError
from bot.metrics import MESSAGES_OUT
from bot.reminders.report import record_status
from bot.settings import Settings

__all__ = ["WhatsAppChannel", "parse_webhook"]

logger = logging.getLogger(__name__)

CHANNEL = "whatsapp"
SIGNATURE_HEADER = "X-Hub-Signature-256"
TEXT_LIMIT = 4096
INTERACTIVE_BODY_LIMIT = 1024
MAX_BUTTONS, BUTTON_TITLE_LIMIT = 3, 20
MAX_ROWS, ROW_TITLE_LIMIT, ROW_ID_LIMIT = 10, 24, 200  # ids counted in bytes (Meta: characters)
WINDOW_SECONDS = 24 * 3600
MENU_TTL_SECONDS = 24 * 3600
STATUS_TTL_SECONDS = 7 * 24 * 3600
# KEYS: window key, unreachable mark. ARGV: when the window closes (unix seconds).
_EXTEND_WINDOW = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('EXPIREAT', KEYS[1], ARGV[1])
end
redis.call('DEL', KEYS[2])
return 1
"""
_WA_ID = re.compile(r"^[0-9]{5,20}$")
_MENU_NUMBER = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")
UNSUPPORTED_TYPES = frozenset(
    {"image", "audio", "video", "document", "sticker", "contacts", "unsupported", "order"}
)


@dataclass(frozen=True)
class Status:
    """A delivery report for a message we sent."""

    message_id: str
    recipient: str
    status: str
    error_code: int | None
    reference: str | None = None  # biz_opaque_callback_data: a reminder's idempotency key


def parse_webhook(body: Any, phone_number_id: str) -> tuple[list[Inbound], list[Status]]:
    """Messages and statuses for our number from a (possibly batched) webhook payload.

    Anything of an unexpected shape is skipped with a log line, never raised.
    """
    inbound: list[Inbound] = []
    statuses: list[Status] = []
    if not isinstance(body, dict) or body.get("object") != "whatsapp_business_account":
        logger.info("WhatsApp webhook: not a WhatsApp Business payload; ignored")
        return inbound, statuses
    for entry in _list(body.get("entry")):
        for change in _list(entry.get("changes") if isinstance(entry, dict) else None):
            if not isinstance(change, dict) or change.get("field") != "messages":
                continue
            value = change.get("value")
            if not isinstance(value, dict):
                continue
            metadata = value.get("metadata")
            if not isinstance(metadata, dict) or metadata.get("phone_number_id") != phone_number_id:
                logger.info("WhatsApp webhook: a change for another phone number; ignored")
                continue
            for raw in _list(value.get("messages")):
                message = _message(raw)
                if message is not None:
                    inbound.append(message)
            for raw in _list(value.get("statuses")):
                status = _status(raw)
                if status is not None:
                    statuses.append(status)
    return inbound, statuses


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _message(raw: Any) -> Inbound | None:
    if not isinstance(raw, dict):
        return None
    sender, wamid, kind = raw.get("from"), raw.get("id"), raw.get("type")
    if not (isinstance(sender, str) and _WA_ID.match(sender)) or not isinstance(wamid, str):
        logger.info("WhatsApp webhook: a message without a valid sender or id; ignored")
        return None
    if not wamid or len(wamid) > 256:
        return None
    timestamp = _timestamp(raw.get("timestamp"))
    found: tuple[Kind, dict[str, Any]] | None = None
    if kind == "text":
        body = (raw.get("text") or {}).get("body") if isinstance(raw.get("text"), dict) else None
        if isinstance(body, str) and body.strip():
            found = ("text", {"text": body[:TEXT_LIMIT]})
    elif kind == "location":
        location = raw.get("location")
        if isinstance(location, dict):
            lat, lon = location.get("latitude"), location.get("longitude")
            if _coordinate(lat, 90) and _coordinate(lon, 180):
                found = ("location", {"lat": lat, "lon": lon})
    elif kind == "interactive":
        interactive = raw.get("interactive")
        if isinstance(interactive, dict):
            reply = interactive.get("button_reply") or interactive.get("list_reply")
            if isinstance(reply, dict) and isinstance(reply.get("id"), str) and reply["id"]:
                found = ("button", {"payload": reply["id"]})
    elif kind == "button":  # a quick-reply button of a template message
        button = raw.get("button")
        if isinstance(button, dict):
            payload, text = button.get("payload"), button.get("text")
            if isinstance(payload, str) and payload.startswith("/"):
                found = ("button", {"payload": payload})
            elif isinstance(text, str) and text.strip():
                found = ("text", {"text": text[:TEXT_LIMIT]})
    elif kind in UNSUPPORTED_TYPES:
        found = ("unsupported", {})
    elif kind in ("reaction", "system", "ephemeral", "request_welcome"):
        return None  # nothing to answer
    else:
        found = ("unsupported", {})
    if found is None:
        logger.info("WhatsApp webhook: a %s message of an unexpected shape; ignored", kind)
        return None
    kind_found, fields = found
    return Inbound(
        channel=CHANNEL,
        user_id=sender,
        address=sender,
        message_id=wamid,
        kind=kind_found,
        timestamp=timestamp,
        **fields,
    )


def _coordinate(value: Any, bound: float) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and value == value  # not NaN
        and -bound <= value <= bound
    )


def _timestamp(value: Any) -> float:
    try:
        stamp = float(value)
    except (TypeError, ValueError):
        return time.time()
    return stamp if 0 < stamp < 10**11 else time.time()


def _status(raw: Any) -> Status | None:
    if not isinstance(raw, dict):
        return None
    wamid, status, recipient = raw.get("id"), raw.get("status"), raw.get("recipient_id")
    if not (isinstance(wamid, str) and isinstance(status, str) and isinstance(recipient, str)):
        return None
    code = None
    errors = raw.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0].get("code")
        code = first if isinstance(first, int) else None
    reference = raw.get("biz_opaque_callback_data")
    reference = reference[:512] if isinstance(reference, str) and reference else None
    return Status(wamid[:256], recipient[:32], status[:16], code, reference)


class WhatsAppChannel:
    name = CHANNEL

    def __init__(
        self,
        settings: Settings,
        redis: Redis,
        inbox: Inbox,
        conversation: Conversation,
        messages: dict[str, str],
        client: GraphClient,
    ) -> None:
        assert settings.whatsapp_phone_number_id is not None
        assert settings.whatsapp_app_secret is not None
        assert settings.whatsapp_verify_token is not None
        self._settings = settings
        self._phone_number_id = settings.whatsapp_phone_number_id
        self._app_secret = settings.whatsapp_app_secret.get_secret_value().encode()
        self._verify_token = settings.whatsapp_verify_token.get_secret_value().encode()
        self._redis = redis
        self._prefix = settings.redis_prefix
        self._choices = ChoiceStore(redis, settings.redis_prefix)
        self._extend_window = redis.register_script(_EXTEND_WINDOW)
        self._inbox = inbox
        self._conversation = conversation
        self._messages = messages
        self.client = client
        inbox.register(CHANNEL, self.process)

    # -- inbound ------------------------------------------------------------------------------

    async def verify(self, request: web.Request) -> web.Response:
        """`GET /webhooks/whatsapp`: Meta's subscription handshake."""
        query = request.query
        mode, token, challenge = (
            query.get("hub.mode"),
            query.get("hub.verify_token"),
            query.get("hub.challenge"),
        )
        if mode != "subscribe" or token is None or not challenge:
            raise ApiError(400, "invalid_handshake", "hub.mode, hub.verify_token and hub.challenge")
        if not hmac.compare_digest(token.encode(), self._verify_token):
            raise ApiError(403, "wrong_verify_token", "The verify token does not match.")
        return web.Response(text=challenge[:256], content_type="text/plain")

    async def webhook(self, request: web.Request) -> web.Response:
        """`POST /webhooks/whatsapp`: signature, then persist every message, then 200."""
        raw = await request.read()
        signature = request.headers.get(SIGNATURE_HEADER)
        if signature is None:
            raise ApiError(401, "missing_signature", f"The {SIGNATURE_HEADER} header is missing.")
        expected = "sha256=" + hmac.new(self._app_secret, raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature.strip().lower().encode(), expected.encode()):
            raise ApiError(403, "wrong_signature", "The signature does not match the body.")
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ApiError(400, "malformed_json", "The request body is not valid JSON.") from None
        messages, statuses = parse_webhook(body, self._phone_number_id)
        try:
            for message in messages:
                accepted = await self._inbox.accept(
                    CHANNEL, message.message_id, message.sender_id, message.to_json()
                )
                if not accepted:
                    logger.info("WhatsApp: message is a duplicate; ignored")
            await self._record_statuses(statuses)
        except RedisError:
            await self._notice_store_down(messages)
            raise ApiError(503, "store_unavailable", "Try again later.") from None
        return web.Response(text="ok")

    async def _record_statuses(self, statuses: list[Status]) -> None:
        for status in statuses:
            await self._redis.set(
                f"{self._prefix}wa:status:{status.message_id}", status.status, ex=STATUS_TTL_SECONDS
            )
            # Reminders and broadcasts: their delivery reports, and sends a crash left in doubt.
            await record_status(
                self._redis,
                self._prefix,
                status.message_id,
                status.status,
                status.error_code,
                status.reference,
            )
            if status.status == "failed":
                logger.info("WhatsApp: a message failed (code %s)", status.error_code)
                sender = f"wa:{status.recipient}"
                if status.error_code in UNDELIVERABLE_CODES:
                    await self._mark_unreachable(sender, f"code {status.error_code}")
                elif status.error_code == OUTSIDE_WINDOW_CODE:
                    await self._redis.delete(
                        f"{self._prefix}wa:window:{user_key(status.recipient)}"
                    )

    async def _notice_store_down(self, messages: list[Inbound]) -> None:
        """Redis is down: Meta redelivers the payload later; tell each sender once, politely."""
        for message in messages:
            if not first_notice_in_process(message.sender_id):
                continue
            notice = _text_body(message.address, self._messages["rasa_unavailable"])
            with contextlib.suppress(GraphError):
                await self.client.send(notice)

    async def process(self, entry: Entry) -> None:
        """Inbox handler: mark read, open the window, answer."""
        message = Inbound.from_json(entry.data)
        if entry.attempt == 0:
            read = asyncio.get_running_loop().create_task(self._mark_read(message.message_id))
            await self._open_window(message)
        else:
            read = None
        if message.kind == "text":
            message = await self._menu_choice(message)
        elif message.kind == "button":
            payload = await self._choices.payload(message.payload)
            if payload is None:
                await self.send(message, [Outbound(self._messages["button_expired"])])
                return
            message = replace(message, payload=payload)
        try:
            await self._conversation.handle(message, self, entry.attempt)
        finally:
            if read is not None:
                await read

    async def _mark_read(self, wamid: str) -> None:
        try:
            await self.client.send({"status": "read", "message_id": wamid})
        except GraphError as error:
            logger.info("WhatsApp: read receipt failed (%s)", error.code)

    async def _open_window(self, message: Inbound) -> None:
        """The 24-hour window from this message; only ever extended (an old message answered
        late, or replayed, must not close the window a newer one opened)."""
        closes = int((message.timestamp or time.time()) + WINDOW_SECONDS)
        await self._extend_window(
            keys=[
                f"{self._prefix}wa:window:{user_key(message.address)}",
                f"{self._prefix}unreachable:{user_key(message.sender_id)}",
            ],
            args=[closes],
        )

    async def _menu_choice(self, message: Inbound) -> Inbound:
        """ "2" after a numbered menu means the second choice."""
        match = _MENU_NUMBER.match(message.text)
        if not match:
            return message
        stored = await self._redis.get(f"{self._prefix}wa:menu:{user_key(message.address)}")
        if stored is None:
            return message
        payloads = json.loads(stored)
        index = int(match.group(1)) - 1
        if not 0 <= index < len(payloads):
            return message
        await self._redis.delete(f"{self._prefix}wa:menu:{user_key(message.address)}")
        return replace(message, kind="button", payload=payloads[index])

    # -- outbound -----------------------------------------------------------------------------

    async def in_window(self, wa_id: str) -> bool:
        return bool(await self._redis.exists(f"{self._prefix}wa:window:{user_key(wa_id)}"))

    async def send(self, to: Inbound, replies: list[Outbound]) -> None:
        wa_id = to.address
        unsent: list[dict[str, Any]] = []
        try:
            if not await self.in_window(wa_id):
                unsent = [self._template(wa_id)]
            else:
                for reply in replies:
                    unsent.extend(await self._render(wa_id, reply))
            while unsent:
                await self.client.send(unsent[0])
                unsent.pop(0)
                MESSAGES_OUT.labels(CHANNEL, "sent").inc()
        except GraphError as error:
            await self._failed(wa_id, error, unsent)

    async def _failed(self, wa_id: str, error: GraphError, unsent: list[dict[str, Any]]) -> None:
        sender = f"wa:{wa_id}"
        if error.code == OUTSIDE_WINDOW_CODE:
            await self._redis.delete(f"{self._prefix}wa:window:{user_key(wa_id)}")
            template = self._template(wa_id)
            try:
                await self.client.send(template)
            except GraphError as template_error:
                logger.warning(
                    "WhatsApp template to %s failed: %s", user_tag(sender), template_error
                )
                await self._dead_letter(wa_id, [template], template_error)
        elif error.code in UNDELIVERABLE_CODES:
            MESSAGES_OUT.labels(CHANNEL, "unreachable").inc()
            await self._mark_unreachable(sender, f"code {error.code}")
        else:
            logger.warning("WhatsApp send to %s failed: %s", user_tag(sender), error)
            await self._dead_letter(wa_id, unsent, error)

    async def _dead_letter(
        self, wa_id: str, unsent: list[dict[str, Any]], error: GraphError
    ) -> None:
        """Keep what could not be delivered (`python -m bot.channels.deadletter` resends it).

        A RedisError is left to fail the inbox entry, which is then retried.
        """
        if not unsent:
            return
        letter = await record_reply(
            self._redis,
            self._prefix,
            channel=CHANNEL,
            recipient=wa_id,
            messages=unsent,
            error=error,
            attempts=_attempts(self.client, error),
        )
        logger.error(
            "WhatsApp: %d message(s) to %s dead-lettered as %s (code %s)",
            len(unsent),
            user_tag(f"wa:{wa_id}"),
            letter,
            error.code,
        )

    def _template(self, wa_id: str) -> dict[str, Any]:
        """Outside the 24-hour window only an approved template may be sent."""
        logger.info("WhatsApp: outside the 24-hour window; sending the re-engagement template")
        return {
            "recipient_type": "individual",
            "to": wa_id,
            "type": "template",
            "template": {
                "name": self._settings.whatsapp_template_reengage,
                "language": {"code": self._settings.whatsapp_template_language},
            },
        }

    async def _render(self, wa_id: str, reply: Outbound) -> list[dict[str, Any]]:
        """Text parts, then reply buttons, a list, or a numbered menu, whichever fits."""
        choices = reply.choices
        if not choices:
            return [_text_body(wa_id, part) for part in split_message(reply.text, TEXT_LIMIT)]
        parts = split_message(reply.text, INTERACTIVE_BODY_LIMIT)
        if len(parts) > 1:
            # The body of a menu is short: the long text goes first, the menu after it.
            leading = split_message(reply.text, TEXT_LIMIT)
            bodies = [_text_body(wa_id, part) for part in leading]
            prompt = self._messages["choose"]
        else:
            bodies, prompt = [], parts[0]
        if len(choices) <= MAX_BUTTONS and all(len(c.title) <= BUTTON_TITLE_LIMIT for c in choices):
            buttons = [
                {"type": "reply", "reply": {"id": await self._button_id(c), "title": c.title}}
                for c in choices
            ]
            action: dict[str, Any] = {"buttons": buttons}
            return [*bodies, _interactive(wa_id, "button", prompt, action)]
        if len(choices) <= MAX_ROWS and all(len(c.title) <= ROW_TITLE_LIMIT for c in choices):
            rows = [{"id": await self._button_id(c), "title": c.title} for c in choices]
            action = {"button": self._messages["choose_button"], "sections": [{"rows": rows}]}
            return [*bodies, _interactive(wa_id, "list", prompt, action)]
        return [*bodies, *await self._numbered(wa_id, prompt, choices)]

    async def _numbered(
        self, wa_id: str, prompt: str, choices: list[Choice]
    ) -> list[dict[str, Any]]:
        """The fallback where a menu does not fit: numbered lines, answered with a number."""
        await self._redis.set(
            f"{self._prefix}wa:menu:{user_key(wa_id)}",
            json.dumps([c.payload for c in choices]),
            ex=MENU_TTL_SECONDS,
        )
        lines = "\n".join(f"{i}. {c.title}" for i, c in enumerate(choices, start=1))
        text = f"{prompt}\n\n{lines}\n\n{self._messages['menu_hint']}"
        return [_text_body(wa_id, part) for part in split_message(text, TEXT_LIMIT)]

    async def _button_id(self, choice: Choice) -> str:
        return await self._choices.button_id(choice.payload, ROW_ID_LIMIT)

    async def _mark_unreachable(self, sender: str, reason: str) -> None:
        logger.info("WhatsApp user %s is unreachable (%s)", user_tag(sender), reason)
        await self._redis.set(
            f"{self._prefix}unreachable:{user_key(sender)}", reason, ex=UNREACHABLE_TTL_SECONDS
        )


def _attempts(client: GraphClient, error: GraphError) -> int:
    """How many times the client tried before giving up with `error` (it retries the
    errors below, up to its maximum, and raises the others at once)."""
    retried = (
        error.status in (0, 429)
        or error.status >= 500
        or error.code in THROUGHPUT_CODES
        or error.code in TRANSIENT_CODES
        or error.code == PAIR_RATE_CODE
    )
    return client._max_attempts if retried else 1


def _text_body(wa_id: str, text: str) -> dict[str, Any]:
    return {
        "recipient_type": "individual",
        "to": wa_id,
        "type": "text",
        "text": {"body": text, "preview_url": False},
    }


def _interactive(wa_id: str, kind: str, body: str, action: dict[str, Any]) -> dict[str, Any]:
    return {
        "recipient_type": "individual",
        "to": wa_id,
        "type": "interactive",
        "interactive": {"type": kind, "body": {"text": body}, "action": action},
    }
