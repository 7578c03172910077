"""One planned message out to Telegram or WhatsApp, and what came of it.

The senders reuse the channels' own clients, so reminders share their rate limits
with the replies of the same process: PTB's bot behind `TelegramRateLimiter`
(about 30/s overall, 1/s per chat, a 429 pauses every request) and the
`GraphClient` of the number (its limiter, and retries of throughput errors).
Each call makes one delivery attempt as far as we can tell; the engine decides
what an outcome means for the send (done, or planned again later).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from actions.reminders.model import Send
from bot.channels.choices import ChoiceStore
from bot.channels.conversation import UNREACHABLE_TTL_SECONDS, user_key, user_tag
from bot.channels.graph import (
    OUTSIDE_WINDOW_CODE,
    PAIR_RATE_CODE,
    THROUGHPUT_CODES,
    TRANSIENT_CODES,
    UNDELIVERABLE_CODES,
    GraphClient,
    GraphError,
)
from bot.channels.ratelimit import retry_after_seconds

__all__ = ["Outcome", "Sender", "TelegramSender", "WhatsAppSender", "template_name"]

logger = logging.getLogger(__name__)

CALLBACK_DATA_LIMIT = 64  # bytes (Telegram)
BUTTON_ID_LIMIT = 200  # WhatsApp reply button ids
MAX_BUTTONS, BUTTON_TITLE_LIMIT, INTERACTIVE_BODY_LIMIT = 3, 20, 1024
OPAQUE_LIMIT = 512  # biz_opaque_callback_data, returned in status webhooks
NETWORK_RETRY_SECONDS = 15.0
PLATFORM_RETRY_SECONDS = 60.0

Kind = Literal["sent", "retry", "failed", "blocked"]


@dataclass(frozen=True)
class Outcome:
    kind: Kind
    reason: str = ""  # why not sent (failed, blocked) or not yet (retry)
    wamid: str = ""  # WhatsApp's message id, for status webhooks
    retry_in: float = 0.0  # seconds, for a retry


SENT = Outcome("sent")


class Sender(Protocol):
    channel: str

    def ready(self) -> bool:
        """False while the platform client is not connected yet (try again shortly)."""

    async def send(self, send: Send) -> Outcome:
        """One delivery attempt; never raises for a platform's answer."""


def _jitter(seconds: float) -> float:
    return seconds * random.uniform(1.0, 1.2)


class TelegramSender:
    channel = "telegram"

    def __init__(
        self, bot: Bot, redis: Redis, prefix: str, ready: Callable[[], bool] = lambda: True
    ) -> None:
        self._bot = bot
        self._redis = redis
        self._prefix = prefix
        self._choices = ChoiceStore(redis, prefix)
        self._ready = ready

    def ready(self) -> bool:
        return self._ready()

    def _unreachable_key(self, chat_id: int) -> str:
        return f"{self._prefix}unreachable:{user_key(f'tg:{chat_id}')}"

    async def send(self, send: Send) -> Outcome:
        try:
            chat_id = int(send.address)
        except ValueError:
            return Outcome("failed", "bad_address")
        # A user who blocked the bot (the channel keeps this mark until they come back).
        if await self._redis.get(self._unreachable_key(chat_id)) in (b"blocked", "blocked"):
            return Outcome("blocked", "blocked")
        markup = await self._keyboard(send.buttons)
        try:
            await self._bot.send_message(chat_id, send.text, reply_markup=markup)
            return SENT
        except Forbidden:
            await self._mark_unreachable(chat_id)
            return Outcome("blocked", "blocked")
        except BadRequest as error:
            reason = "chat_not_found" if "chat not found" in str(error).lower() else "bad_request"
            logger.warning("Telegram refused a reminder to %s (%s)", _tg(chat_id), reason)
            return Outcome("failed", reason)
        except RetryAfter as error:  # still limited after the limiter's own retries
            return Outcome("retry", "rate_limited", retry_in=_jitter(retry_after_seconds(error)))
        except TimedOut:
            return Outcome("retry", "timeout", retry_in=_jitter(NETWORK_RETRY_SECONDS))
        except NetworkError as error:  # 5xx, connection failures
            logger.info("Telegram send failed (%s); planned again", type(error).__name__)
            return Outcome("retry", "unavailable", retry_in=_jitter(NETWORK_RETRY_SECONDS))
        except ChatMigrated:
            return Outcome("failed", "chat_migrated")
        except TelegramError as error:
            logger.warning(
                "Telegram refused a reminder to %s (%s)", _tg(chat_id), type(error).__name__
            )
            return Outcome("failed", "telegram_error")

    async def _keyboard(self, buttons: tuple[tuple[str, str], ...]) -> InlineKeyboardMarkup | None:
        if not buttons:
            return None
        rows = []
        for title, payload in buttons:
            data = await self._choices.button_id(payload, CALLBACK_DATA_LIMIT)
            rows.append([InlineKeyboardButton(title[:64], callback_data=data)])
        return InlineKeyboardMarkup(rows)

    async def _mark_unreachable(self, chat_id: int) -> None:
        logger.info("Telegram user %s is unreachable (blocked)", _tg(chat_id))
        try:
            await self._redis.set(
                self._unreachable_key(chat_id), "blocked", ex=UNREACHABLE_TTL_SECONDS
            )
        except RedisError:
            logger.warning("Could not record that %s is unreachable", _tg(chat_id))


def template_name(send: Send, reminder: str | None, broadcast: str | None) -> str | None:
    """The approved template for `send` outside the 24-hour window, or None.

    `send.template` may name a template, or say which configured one to use
    ("reminder", "broadcast"); unset, a broadcast's send uses the broadcast template
    and any other send the reminder template.
    """
    wanted = send.template or ("broadcast" if send.broadcast else "reminder")
    if wanted == "reminder":
        return reminder
    if wanted == "broadcast":
        return broadcast
    return wanted


class WhatsAppSender:
    channel = "whatsapp"

    def __init__(
        self,
        client: GraphClient,
        redis: Redis,
        prefix: str,
        *,
        reminder_template: str | None,
        broadcast_template: str | None,
        language: str,
    ) -> None:
        self._client = client
        self._redis = redis
        self._prefix = prefix
        self._choices = ChoiceStore(redis, prefix)
        self._templates = (reminder_template, broadcast_template)
        self._language = language

    def ready(self) -> bool:
        return True

    async def send(self, send: Send) -> Outcome:
        window = f"{self._prefix}wa:window:{user_key(send.address)}"
        if await self._redis.exists(window):
            outcome = await self._attempt(send, await self._free_form(send))
            if outcome.reason != f"code_{OUTSIDE_WINDOW_CODE}":
                return outcome
            # The window closed meanwhile: what the channel does too, then the template.
            await self._redis.delete(window)
        template = self._template(send)
        if template is None:
            logger.warning(
                "WhatsApp: no approved template configured for a %s outside the 24-hour window",
                "broadcast" if send.broadcast else "reminder",
            )
            return Outcome("failed", "no_template")
        return await self._attempt(send, template)

    async def _attempt(self, send: Send, body: dict[str, Any]) -> Outcome:
        if len(send.key) <= OPAQUE_LIMIT:
            # Comes back in status webhooks: tells a crashed worker's successor it was sent.
            body["biz_opaque_callback_data"] = send.key
        try:
            answer = await self._client.send(body)
        except GraphError as error:
            return await self._refused(send, error)
        messages = answer.get("messages")
        wamid = ""
        if isinstance(messages, list) and messages and isinstance(messages[0], dict):
            wamid = str(messages[0].get("id", ""))[:256]
        return Outcome("sent", wamid=wamid)

    async def _refused(self, send: Send, error: GraphError) -> Outcome:
        code = error.code
        if code in UNDELIVERABLE_CODES:
            sender = f"wa:{send.address}"
            logger.info("WhatsApp user %s is unreachable (code %s)", user_tag(sender), code)
            try:
                await self._redis.set(
                    f"{self._prefix}unreachable:{user_key(sender)}",
                    f"code {code}",
                    ex=UNREACHABLE_TTL_SECONDS,
                )
            except RedisError:
                logger.warning("Could not record that %s is unreachable", user_tag(sender))
            return Outcome("blocked", f"code_{code}")
        if code == OUTSIDE_WINDOW_CODE:
            return Outcome("failed", f"code_{code}")
        if error.status == 429 or code in THROUGHPUT_CODES or code == PAIR_RATE_CODE:
            return Outcome("retry", "rate_limited", retry_in=_jitter(PLATFORM_RETRY_SECONDS))
        if error.status == 0 or error.status >= 500 or code in TRANSIENT_CODES:
            return Outcome("retry", "unavailable", retry_in=_jitter(PLATFORM_RETRY_SECONDS))
        logger.warning("WhatsApp refused a reminder (HTTP %s, code %s)", error.status, code)
        return Outcome("failed", f"code_{code}" if code is not None else f"http_{error.status}")

    def _template(self, send: Send) -> dict[str, Any] | None:
        name = template_name(send, *self._templates)
        if not name:
            return None
        template: dict[str, Any] = {"name": name, "language": {"code": self._language}}
        if send.params:
            parameters = [{"type": "text", "text": value} for value in send.params]
            template["components"] = [{"type": "body", "parameters": parameters}]
        return {
            "recipient_type": "individual",
            "to": send.address,
            "type": "template",
            "template": template,
        }

    async def _free_form(self, send: Send) -> dict[str, Any]:
        """Inside the window: the text, with reply buttons when they fit."""
        buttons = send.buttons
        if (
            buttons
            and len(buttons) <= MAX_BUTTONS
            and len(send.text) <= INTERACTIVE_BODY_LIMIT
            and all(0 < len(title) <= BUTTON_TITLE_LIMIT for title, _ in buttons)
        ):
            replies = [
                {
                    "type": "reply",
                    "reply": {
                        "id": await self._choices.button_id(payload, BUTTON_ID_LIMIT),
                        "title": title,
                    },
                }
                for title, payload in buttons
            ]
            return {
                "recipient_type": "individual",
                "to": send.address,
                "type": "interactive",
                "interactive": {
                    "type": "button",
                    "body": {"text": send.text},
                    "action": {"buttons": replies},
                },
            }
        return {
            "recipient_type": "individual",
            "to": send.address,
            "type": "text",
            "text": {"body": send.text, "preview_url": False},
        }


def _tg(chat_id: int) -> str:
    return user_tag(f"tg:{chat_id}")
