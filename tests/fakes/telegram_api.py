"""A fake Telegram Bot API server: `/bot<token>/<method>`, answers shaped like Telegram's.

Records every call, validates what Telegram validates (text length, callback data
size, secret token characters), and can be told to fail: 429 with `retry_after`,
5xx, a user who blocked the bot, a webhook that blocks `getUpdates`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.server import LocalServer

__all__ = ["FakeTelegram", "TelegramCall"]

BOT_ID = 7000000001
# Parameters Telegram reads as plain strings; everything else may be JSON-encoded in a form.
STRING_PARAMS = frozenset(
    {"text", "url", "secret_token", "callback_query_id", "parse_mode", "caption", "action"}
)
SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


@dataclass
class TelegramCall:
    method: str
    params: dict[str, Any]
    at: float
    status: int


@dataclass
class _Failure:
    method: str
    status: int
    description: str
    retry_after: int | None
    count: int


@dataclass
class FakeTelegram:
    token: str = "123456:TEST-token"
    delay: float = 0.0
    calls: list[TelegramCall] = field(default_factory=list)
    blocked_chats: set[int] = field(default_factory=set)
    webhook: dict[str, Any] = field(default_factory=dict)
    commands: list[dict[str, Any]] = field(default_factory=list)
    # Called with the parameters of every delivered message (benchmarks time replies with it).
    listeners: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)
    _failures: list[_Failure] = field(default_factory=list)
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _new_update: asyncio.Event = field(default_factory=asyncio.Event)
    _sent_changed: asyncio.Event = field(default_factory=asyncio.Event)
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _server: LocalServer = field(default_factory=LocalServer)

    # -- control ------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int,
        description: str,
        retry_after: int | None = None,
        count: int = 1,
    ) -> None:
        self._failures.append(_Failure(method, status, description, retry_after, count))

    def rate_limit_next(
        self, method: str = "sendMessage", retry_after: int = 1, count: int = 1
    ) -> None:
        description = f"Too Many Requests: retry after {retry_after}"
        self.fail_next(method, 429, description, retry_after=retry_after, count=count)

    def queue_update(self, update: dict[str, Any]) -> None:
        """An update for `getUpdates` (long polling)."""
        self._updates.append(update)
        self._new_update.set()

    @property
    def sent(self) -> list[dict[str, Any]]:
        return [c.params for c in self.calls if c.method == "sendMessage" and c.status == 200]

    def sent_to(self, chat_id: int) -> list[str]:
        return [p["text"] for p in self.sent if p.get("chat_id") == chat_id]

    async def wait_for_sent(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The delivered messages, once there are at least `count` of them."""
        async with asyncio.timeout(timeout):
            while len(self.sent) < count:
                self._sent_changed.clear()
                await self._sent_changed.wait()
        return self.sent

    # -- server -------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        return app

    async def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1; the base URL to give the gateway (TELEGRAM_API_BASE_URL)."""
        return await self._server.start(self.app(), port)

    async def close(self) -> None:
        self._new_update.set()  # wake long polls, as the real server ends them at shutdown
        await self._server.close()

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        if request.match_info["token"] != self.token:
            return self._answer(method, params, _error(401, "Unauthorized"))
        failure = self._take_failure(method)
        if failure is not None:
            return self._answer(method, params, failure)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return self._answer(method, params, _error(404, "Not Found"))
        return self._answer(method, params, await handler(params))

    def _answer(self, method: str, params: dict[str, Any], result: tuple[int, Any]) -> web.Response:
        status, body = result
        self.calls.append(TelegramCall(method, params, time.monotonic(), status))
        if method == "sendMessage" and status == 200:
            for listener in self.listeners:
                listener(params)
            self._sent_changed.set()
        return web.json_response(body, status=status)

    def _take_failure(self, method: str) -> tuple[int, Any] | None:
        for failure in self._failures:
            if failure.method == method and failure.count > 0:
                failure.count -= 1
                extra = {"retry_after": failure.retry_after} if failure.retry_after else None
                return _error(failure.status, failure.description, extra)
        return None

    # -- methods ------------------------------------------------------------------------------

    async def _m_getMe(self, _: dict[str, Any]) -> tuple[int, Any]:
        return _ok(
            {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "Kawan Sehat",
                "username": "kawan_sehat_test_bot",
                "can_join_groups": False,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        )

    async def _m_setWebhook(self, params: dict[str, Any]) -> tuple[int, Any]:
        url = params.get("url", "")
        if not isinstance(url, str) or (url and not url.startswith("https://")):
            return _error(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        secret = params.get("secret_token")
        if secret is not None and not (isinstance(secret, str) and SECRET_TOKEN.match(secret)):
            return _error(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = dict(params) if url else {}
        return _ok(True, "Webhook was set" if url else "Webhook was deleted")

    async def _m_deleteWebhook(self, _: dict[str, Any]) -> tuple[int, Any]:
        self.webhook = {}
        return _ok(True, "Webhook was deleted")

    async def _m_getWebhookInfo(self, _: dict[str, Any]) -> tuple[int, Any]:
        return _ok(
            {
                "url": self.webhook.get("url", ""),
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
        )

    async def _m_setMyCommands(self, params: dict[str, Any]) -> tuple[int, Any]:
        commands = params.get("commands")
        if not isinstance(commands, list) or not all(
            isinstance(c, dict) and re.fullmatch(r"[a-z0-9_]{1,32}", str(c.get("command", "")))
            for c in commands
        ):
            return _error(400, "Bad Request: BOT_COMMAND_INVALID")
        self.commands = commands
        return _ok(True)

    async def _m_getMyCommands(self, _: dict[str, Any]) -> tuple[int, Any]:
        return _ok(self.commands)

    async def _m_sendMessage(self, params: dict[str, Any]) -> tuple[int, Any]:
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, int):
            return _error(400, "Bad Request: chat not found")
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return _error(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        if markup is not None:
            problem = _keyboard_problem(markup)
            if problem:
                return _error(400, f"Bad Request: {problem}")
        if chat_id in self.blocked_chats:
            return _error(403, "Forbidden: bot was blocked by the user")
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Kawan Sehat"},
            "text": text,
        }
        if markup is not None:
            message["reply_markup"] = markup
        return _ok(message)

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> tuple[int, Any]:
        if not params.get("callback_query_id"):
            return _error(400, "Bad Request: query is too old and response timeout expired")
        return _ok(True)

    async def _m_editMessageReplyMarkup(self, _: dict[str, Any]) -> tuple[int, Any]:
        return _ok(True)

    async def _m_sendChatAction(self, _: dict[str, Any]) -> tuple[int, Any]:
        return _ok(True)

    async def _m_getUpdates(self, params: dict[str, Any]) -> tuple[int, Any]:
        if self.webhook:
            return _error(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = params.get("offset")
        if isinstance(offset, int):
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        limit = params.get("limit", 100)
        limit = limit if isinstance(limit, int) and 1 <= limit <= 100 else 100
        timeout = params.get("timeout", 0)
        if not self._updates and isinstance(timeout, int) and timeout > 0:
            self._new_update.clear()
            try:
                async with asyncio.timeout(timeout):
                    await self._new_update.wait()
            except TimeoutError:
                pass
        return _ok(self._updates[:limit])


def _ok(result: Any, description: str | None = None) -> tuple[int, Any]:
    body: dict[str, Any] = {"ok": True, "result": result}
    if description:
        body["description"] = description
    return 200, body


def _error(
    status: int, description: str, parameters: dict[str, Any] | None = None
) -> tuple[int, Any]:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return status, body


def _keyboard_problem(markup: Any) -> str | None:
    if not isinstance(markup, dict):
        return "can't parse reply keyboard markup JSON object"
    rows = markup.get("inline_keyboard")
    if rows is None:
        return None
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        return 'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not button.get("text"):
                return "text buttons are unallowed in the inline keyboard"
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                return "BUTTON_DATA_INVALID"
    return None


async def _params(request: web.Request) -> dict[str, Any]:
    """Telegram takes query strings, url-encoded or multipart forms, and JSON bodies."""
    params: dict[str, Any] = dict(request.query)
    if request.method == "POST":
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                body = {}
            if isinstance(body, dict):
                return {**params, **body}
        else:
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return {key: _decode(key, value) for key, value in params.items()}


def _decode(key: str, value: Any) -> Any:
    if not isinstance(value, str) or key in STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


# -- updates as Telegram sends them ----------------------------------------------------------

_USER = {"is_bot": False, "first_name": "Siti", "language_code": "id"}


def _message(update_id: int, chat_id: int, **content: Any) -> dict[str, Any]:
    return {
        "message_id": update_id % 1_000_000 + 1,
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": "Siti"},
        "from": {"id": chat_id, **_USER},
        **content,
    }


def text_update(update_id: int, chat_id: int, text: str) -> dict[str, Any]:
    return {"update_id": update_id, "message": _message(update_id, chat_id, text=text)}


def command_update(
    update_id: int, chat_id: int, command: str, payload: str | None = None
) -> dict[str, Any]:
    text = f"{command} {payload}" if payload else command
    entity = {"type": "bot_command", "offset": 0, "length": len(command)}
    message = _message(update_id, chat_id, text=text, entities=[entity])
    return {"update_id": update_id, "message": message}


def location_update(update_id: int, chat_id: int, lat: float, lon: float) -> dict[str, Any]:
    location = {"latitude": lat, "longitude": lon}
    return {"update_id": update_id, "message": _message(update_id, chat_id, location=location)}


def callback_update(
    update_id: int, chat_id: int, data: str, callback_id: str = "cb1", message_id: int = 1
) -> dict[str, Any]:
    bot_message = {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": "Siti"},
        "from": {"id": BOT_ID, "is_bot": True, "first_name": "Kawan Sehat"},
        "text": "Pilih salah satu:",
    }
    query = {
        "id": callback_id,
        "from": {"id": chat_id, **_USER},
        "message": bot_message,
        "chat_instance": "-7012345678901234567",
        "data": data,
    }
    return {"update_id": update_id, "callback_query": query}


def edited_text_update(update_id: int, chat_id: int, text: str) -> dict[str, Any]:
    message = _message(update_id, chat_id, text=text, edit_date=int(time.time()))
    return {"update_id": update_id, "edited_message": message}


def sticker_update(update_id: int, chat_id: int) -> dict[str, Any]:
    sticker = {
        "file_id": "CAACAgIAAxkBAAIBfake",
        "file_unique_id": "AgADfake",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "emoji": "👍",
    }
    return {"update_id": update_id, "message": _message(update_id, chat_id, sticker=sticker)}


def voice_update(update_id: int, chat_id: int) -> dict[str, Any]:
    voice = {
        "file_id": "AwACAgIAAxkBAAIBvoice",
        "file_unique_id": "AgADvoice",
        "duration": 4,
        "mime_type": "audio/ogg",
    }
    return {"update_id": update_id, "message": _message(update_id, chat_id, voice=voice)}


def photo_update(update_id: int, chat_id: int) -> dict[str, Any]:
    sizes = [
        {"file_id": f"AgACAgIAAxkBphoto{n}", "file_unique_id": f"AQADp{n}", "width": w, "height": w}
        for n, w in enumerate((90, 320, 800))
    ]
    message = _message(update_id, chat_id, photo=sizes, caption="ini ruam di kulit anak saya")
    return {"update_id": update_id, "message": message}


def my_chat_member_update(update_id: int, chat_id: int, status: str = "kicked") -> dict[str, Any]:
    bot_user = {"id": BOT_ID, "is_bot": True, "first_name": "Kawan Sehat"}
    old = {"user": bot_user, "status": "member"}
    new: dict[str, Any] = {"user": bot_user, "status": status}
    if status == "kicked":
        new["until_date"] = 0
    member = {
        "chat": {"id": chat_id, "type": "private", "first_name": "Siti"},
        "from": {"id": chat_id, **_USER},
        "date": int(time.time()),
        "old_chat_member": old,
        "new_chat_member": new,
    }
    return {"update_id": update_id, "my_chat_member": member}
