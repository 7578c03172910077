"""Telegram through python-telegram-bot: webhook inside the gateway, or long polling.

The webhook checks the secret-token header in constant time, validates the
update with PTB, persists it in the inbox and answers 200 at once. An inbox
worker hands the update to the PTB `Application`, whose handlers turn it into
a channel-neutral `Inbound` for the conversation, and PTB's bot sends the
replies through one rate limiter shared by every sender in the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hmac
import json
import logging
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError
from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.channels.choices import ChoiceStore
from bot.channels.conversation import (
    UNREACHABLE_TTL_SECONDS,
    Conversation,
    first_notice_in_process,
    user_key,
    user_tag,
)
from bot.channels.deadletter import record_reply
from bot.channels.inbox import Entry, Inbox, RetryLater
from bot.channels.message import Inbound, Kind, Outbound
from bot.channels.ratelimit import TelegramRateLimiter, retry_after_seconds
from bot.channels.text import split_message
from bot.errors import ApiError, read_json_object
from bot.metrics import MESSAGES_OUT, RATE_LIMIT_WAIT
from bot.settings import Settings

__all__ = ["TelegramChannel"]

logger = logging.getLogger(__name__)
# httpx (PTB's HTTP client) logs every request URL at INFO, and Bot API URLs carry the token.
logging.getLogger("httpx").setLevel(logging.WARNING)

CHANNEL = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MESSAGE_LIMIT = 4000  # Telegram's limit is 4096; keep a margin for entities
CALLBACK_DATA_LIMIT = 64  # bytes
POLL_TIMEOUT = 30
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
SEND_ATTEMPTS = 4

# The command menu, and what each command asks the assistant (Rasa's payload form).
COMMANDS: dict[str, tuple[str, str]] = {
    "start": ("Mulai", "/greet"),
    "menu": ("Menu utama", "/help"),
    "posyandu": ("Cari jadwal Posyandu", "/ask_posyandu_schedule"),
    "darurat": ("Nomor dan tanda darurat", "/layanan.darurat"),
    "bantuan": ("Cara memakai Kawan Sehat", "/help"),
}


@dataclass(frozen=True)
class _NotSent:
    """Why a message was not delivered; `error` is None when there is nothing to resend
    (the user blocked the bot)."""

    error: TelegramError | None
    attempts: int


_outcome: contextvars.ContextVar[list[BaseException]] = contextvars.ContextVar("tg_outcome")
_attempt: contextvars.ContextVar[int] = contextvars.ContextVar("tg_attempt", default=0)


class TelegramChannel:
    name = CHANNEL

    def __init__(
        self,
        settings: Settings,
        redis: Redis,
        inbox: Inbox,
        conversation: Conversation,
        messages: dict[str, str],
        intents: set[str],
    ) -> None:
        assert settings.telegram_bot_token is not None
        self._settings = settings
        self._redis = redis
        self._prefix = settings.redis_prefix
        self._choices = ChoiceStore(redis, settings.redis_prefix)
        self._inbox = inbox
        self._conversation = conversation
        self._messages = messages
        self._intents = intents
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        configured = settings.telegram_webhook_secret
        self._secret = (
            configured.get_secret_value() if configured else secrets.token_urlsafe(32)
        ).encode()
        base = str(settings.telegram_api_base_url).rstrip("/")
        self.application: Application[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder()
            .token(settings.telegram_bot_token.get_secret_value())
            .base_url(f"{base}/bot")
            .base_file_url(f"{base}/file/bot")
            .updater(None)
            .rate_limiter(
                TelegramRateLimiter(
                    settings.telegram_messages_per_second,
                    settings.telegram_chat_messages_per_second,
                )
            )
            .request(
                HTTPXRequest(
                    connection_pool_size=32,
                    connect_timeout=5.0,
                    read_timeout=10.0,
                    write_timeout=10.0,
                    pool_timeout=10.0,
                )
            )
            .get_updates_request(
                HTTPXRequest(connect_timeout=5.0, read_timeout=POLL_TIMEOUT + 10.0)
            )
            .build()
        )
        self._add_handlers()
        inbox.register(CHANNEL, self.process)

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect in the background: the gateway serves even while Telegram is unreachable."""
        self._tasks.append(asyncio.get_running_loop().create_task(self._connect()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.application._initialized:
            await self.application.shutdown()

    @property
    def status(self) -> str:
        return "ok" if self._ready.is_set() else "connecting"

    async def _connect(self) -> None:
        delay = 1.0
        while True:
            try:
                await self.application.initialize()
                await self._register()
                break
            except InvalidToken:
                logger.error("Telegram refused TELEGRAM_BOT_TOKEN; the channel stays off")
                return
            except TelegramError as error:
                logger.warning("Telegram start-up failed (%s); retrying", type(error).__name__)
                await asyncio.sleep(delay)
                delay = min(60.0, delay * 2)
        self._ready.set()
        logger.info("Telegram channel ready (%s mode)", self._settings.telegram_mode)
        if self._settings.telegram_mode == "polling":
            await self._poll()

    async def _register(self) -> None:
        bot = self.application.bot
        await bot.set_my_commands(
            [BotCommand(command, description) for command, (description, _) in COMMANDS.items()]
        )
        if self._settings.telegram_mode == "polling":
            await bot.delete_webhook(drop_pending_updates=False)
            return
        if self._settings.public_url is None:
            logger.warning("KS_PUBLIC_URL is unset: the Telegram webhook was not registered")
            return
        url = f"{str(self._settings.public_url).rstrip('/')}/webhooks/telegram"
        await bot.set_webhook(
            url=url,
            secret_token=self._secret.decode(),
            allowed_updates=ALLOWED_UPDATES,
            max_connections=40,
        )

    async def _poll(self) -> None:
        """Long polling for local use; each update goes through the same inbox as a webhook."""
        bot = self.application.bot
        offset: int | None = None
        failures = 0
        while True:
            try:
                updates = await bot.get_updates(
                    offset=offset, timeout=POLL_TIMEOUT, allowed_updates=ALLOWED_UPDATES
                )
                for update in updates:
                    await self._accept(update, update.to_dict())
                    offset = update.update_id + 1
                failures = 0
            except (TelegramError, RedisError, OSError) as error:
                failures += 1
                logger.warning("Telegram polling: %s; retrying", type(error).__name__)
                await asyncio.sleep(min(30.0, 2.0**failures))

    # -- inbound ------------------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        """`POST /webhooks/telegram`: verify, persist, acknowledge."""
        given = request.headers.get(SECRET_HEADER)
        if given is None:
            raise ApiError(401, "missing_secret", f"The {SECRET_HEADER} header is missing.")
        if not hmac.compare_digest(given.encode(), self._secret):
            raise ApiError(403, "wrong_secret", f"The {SECRET_HEADER} header is wrong.")
        body = await read_json_object(request)
        if not isinstance(body.get("update_id"), int) or isinstance(body["update_id"], bool):
            raise ApiError(400, "invalid_update", "update_id must be an integer.")
        try:
            update = Update.de_json(body, self.application.bot)
        except Exception:
            logger.info("Telegram webhook: update %s is malformed; ignored", body["update_id"])
            raise ApiError(
                400, "invalid_update", "The update is not a valid Telegram update."
            ) from None
        try:
            await self._accept(update, body)
        except RedisError:
            await self._notice_store_down(update)
            raise ApiError(503, "store_unavailable", "Try again later.") from None
        return web.Response(status=200)

    async def _accept(self, update: Update, body: dict[str, Any]) -> None:
        chat = update.effective_chat
        user = update.effective_user
        if chat is None and user is None:
            logger.info("Telegram: update %d of an unhandled kind; ignored", update.update_id)
            return
        key = f"tg:{chat.id if chat else user.id if user else 0}"
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        if not await self._inbox.accept(CHANNEL, str(update.update_id), key, data):
            logger.info("Telegram: update %d is a duplicate; ignored", update.update_id)

    async def _notice_store_down(self, update: Update) -> None:
        """Redis is down: the update is refused (Telegram redelivers); say so once, politely."""
        chat = update.effective_chat
        if chat is None or chat.type != "private" or not self._ready.is_set():
            return
        if not first_notice_in_process(f"tg:{chat.id}"):
            return
        with contextlib.suppress(TelegramError):
            await self.application.bot.send_message(chat.id, self._messages["rasa_unavailable"])

    async def process(self, entry: Entry) -> None:
        """Inbox handler: the stored update through PTB's handlers."""
        if not self._ready.is_set():
            raise RetryLater("Telegram not connected yet")
        update = Update.de_json(json.loads(entry.data), self.application.bot)
        outcome: list[BaseException] = []
        outcome_token = _outcome.set(outcome)
        attempt_token = _attempt.set(entry.attempt)
        try:
            await self.application.process_update(update)
        finally:
            _outcome.reset(outcome_token)
            _attempt.reset(attempt_token)
        if outcome:
            raise outcome[0]

    def _add_handlers(self) -> None:
        private = filters.ChatType.PRIVATE
        app = self.application
        app.add_handler(CommandHandler("start", _capture(self._on_start), filters=private))
        app.add_handler(CommandHandler(list(COMMANDS), _capture(self._on_command), filters=private))
        app.add_handler(
            MessageHandler(
                private & filters.UpdateType.MESSAGES & filters.TEXT, _capture(self._on_text)
            )
        )
        app.add_handler(
            MessageHandler(
                private & filters.UpdateType.MESSAGE & filters.LOCATION,
                _capture(self._on_location),
            )
        )
        app.add_handler(CallbackQueryHandler(_capture(self._on_button)))
        app.add_handler(
            ChatMemberHandler(_capture(self._on_membership), ChatMemberHandler.MY_CHAT_MEMBER)
        )
        app.add_handler(
            MessageHandler(
                private & filters.UpdateType.MESSAGES & ~filters.StatusUpdate.ALL,
                _capture(self._on_unsupported),
            )
        )

    async def _on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        payload = context.args[0] if context.args else ""
        await self._converse(update, "button", payload=self._deep_link(payload))

    def _deep_link(self, payload: str) -> str:
        """`t.me/<bot>?start=imunisasi_jadwal` opens that topic; anything else greets."""
        if payload == "posyandu":
            return "/ask_posyandu_schedule"
        for intent in self._intents:
            if payload and intent.replace(".", "_") == payload:
                return f"/{intent}"
        return COMMANDS["start"][1]

    async def _on_command(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message and update.effective_message.text
        command = update.effective_message.text.split()[0].lstrip("/").split("@")[0].lower()
        await self._converse(update, "button", payload=COMMANDS[command][1])

    async def _on_text(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.text is not None
        # An unknown command is read as words, never as a Rasa intent payload.
        await self._converse(update, "text", text=message.text.lstrip("/"))

    async def _on_location(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.location is not None
        location = message.location
        await self._converse(update, "location", lat=location.latitude, lon=location.longitude)

    async def _on_button(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        try:
            await query.answer()  # stops the button's loading spinner
        except TelegramError as error:
            logger.info("Telegram: answerCallbackQuery failed (%s)", type(error).__name__)
        payload = await self._choices.payload(query.data or "")
        if payload is None:
            await self._converse(update, "text", text="", notice=self._messages["button_expired"])
            return
        await self._converse(update, "button", payload=payload)

    async def _on_membership(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        member = update.my_chat_member
        if member is None or member.chat.type != "private":
            return
        sender = f"tg:{member.chat.id}"
        if member.new_chat_member.status in ("kicked", "left"):
            await self._mark_unreachable(sender, "blocked")
        else:
            await self._redis.delete(f"{self._prefix}unreachable:{user_key(sender)}")

    async def _on_unsupported(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        await self._converse(update, "unsupported")

    async def _converse(
        self,
        update: Update,
        kind: Kind,
        *,
        text: str = "",
        payload: str = "",
        lat: float | None = None,
        lon: float | None = None,
        notice: str | None = None,
    ) -> None:
        chat, user = update.effective_chat, update.effective_user
        if chat is None:
            return
        message = update.effective_message
        when = message.date if message is not None else None
        edited = message.edit_date if message is not None else None
        language = (user.language_code or "id")[:2] if user else "id"
        inbound = Inbound(
            channel=CHANNEL,
            user_id=str(chat.id),
            address=str(chat.id),
            message_id=str(update.update_id),
            kind=kind,
            text=text,
            payload=payload,
            lat=lat,
            lon=lon,
            locale=language,
            timestamp=moment.timestamp() if (moment := edited or when) else None,
        )
        if notice is not None:
            await self.send(inbound, [Outbound(notice)])
            return
        await self._conversation.handle(inbound, self, _attempt.get())

    # -- outbound -----------------------------------------------------------------------------

    async def send(self, to: Inbound, replies: list[Outbound]) -> None:
        chat_id = int(to.address)
        messages: list[tuple[str, InlineKeyboardMarkup | None]] = []
        for reply in replies:
            parts = split_message(reply.text, MESSAGE_LIMIT)
            for index, part in enumerate(parts):
                last = index == len(parts) - 1
                markup = await self._keyboard(reply) if last and reply.choices else None
                messages.append((part, markup))
        for index, (text, markup) in enumerate(messages):
            failed = await self._send(chat_id, text, markup)
            if failed is not None:
                if failed.error is not None:
                    await self._dead_letter(chat_id, messages[index:], failed)
                return

    async def _keyboard(self, reply: Outbound) -> InlineKeyboardMarkup:
        rows = []
        for choice in reply.choices:
            data = await self._choices.button_id(choice.payload, CALLBACK_DATA_LIMIT)
            rows.append([InlineKeyboardButton(choice.title[:64], callback_data=data)])
        return InlineKeyboardMarkup(rows)

    async def _send(
        self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None
    ) -> _NotSent | None:
        """One message, retried on timeouts and 5xx; None once delivered."""
        sender = f"tg:{chat_id}"
        last: TelegramError | None = None
        for attempt in range(SEND_ATTEMPTS):
            final = attempt == SEND_ATTEMPTS - 1
            try:
                await self.application.bot.send_message(chat_id, text, reply_markup=markup)
                MESSAGES_OUT.labels(CHANNEL, "sent").inc()
                return None
            except Forbidden:
                MESSAGES_OUT.labels(CHANNEL, "unreachable").inc()
                await self._mark_unreachable(sender, "blocked")
                return _NotSent(None, attempt + 1)
            except BadRequest as error:
                logger.warning("Telegram refused a message to %s: %s", user_tag(sender), error)
                return _NotSent(error, attempt + 1)
            except RetryAfter as error:
                last = error
                if not final:
                    RATE_LIMIT_WAIT.labels(CHANNEL).inc(retry_after_seconds(error))
                    await asyncio.sleep(retry_after_seconds(error))
            except NetworkError as error:  # timeouts, 5xx, connection failures
                last = error
                logger.info("Telegram send failed (%s); retrying", type(error).__name__)
                if not final:
                    await asyncio.sleep(0.5 * 2**attempt)
            except TelegramError as error:
                logger.warning("Telegram send to %s failed: %s", user_tag(sender), error)
                return _NotSent(error, attempt + 1)
        logger.error("Telegram: gave up sending to %s", user_tag(sender))
        return _NotSent(last or TelegramError("not sent"), SEND_ATTEMPTS)

    async def _dead_letter(
        self,
        chat_id: int,
        messages: list[tuple[str, InlineKeyboardMarkup | None]],
        failed: _NotSent,
    ) -> None:
        """Keep what could not be delivered (`python -m bot.channels.deadletter` resends it).

        A RedisError is left to fail the inbox entry, which is then retried.
        """
        assert failed.error is not None
        requests: list[dict[str, Any]] = []
        for text, markup in messages:
            request: dict[str, Any] = {"chat_id": chat_id, "text": text}
            if markup is not None:
                request["reply_markup"] = markup.to_dict()
            requests.append(request)
        letter = await record_reply(
            self._redis,
            self._prefix,
            channel=CHANNEL,
            recipient=str(chat_id),
            messages=requests,
            error=failed.error,
            attempts=failed.attempts,
        )
        logger.error(
            "Telegram: %d message(s) to %s dead-lettered as %s (%s)",
            len(requests),
            user_tag(f"tg:{chat_id}"),
            letter,
            type(failed.error).__name__,
        )

    async def _mark_unreachable(self, sender: str, reason: str) -> None:
        logger.info("Telegram user %s is unreachable (%s)", user_tag(sender), reason)
        try:
            await self._redis.set(
                f"{self._prefix}unreachable:{user_key(sender)}", reason, ex=UNREACHABLE_TTL_SECONDS
            )
        except RedisError:
            logger.warning("Could not record that %s is unreachable", user_tag(sender))


Callback = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


def _capture(callback: Callback) -> Callback:
    """PTB hands handler errors to error handlers; the inbox needs them to retry the entry."""

    async def wrapper(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            await callback(update, context)
        except Exception as error:
            outcome = _outcome.get(None)
            if outcome is None:
                raise
            outcome.append(error)

    return wrapper
