"""`POST /api/v1/chat`: one user message in, the assistant's replies out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import replace
from typing import Any

from aiohttp import web
from pydantic import ValidationError
from redis.exceptions import RedisError

from actions.pseudonym import pseudonym
from bot import datarights
from bot.access import (
    COOKIE_NAME,
    SESSION_MAX_AGE,
    Caller,
    api_key_valid,
    client_ip,
    over_limit,
)
from bot.channels.conversation import count_for_dashboard
from bot.channels.message import Inbound, Outbound
from bot.errors import ApiError, error_response, read_json_object
from bot.keys import MESSAGES, RASA, REDIS, SAFETY, SESSIONS, SETTINGS, WEB_SLOTS
from bot.metrics import MESSAGES_IN, MESSAGES_OUT, RATE_LIMITED, REPLY_SECONDS
from bot.rasa_client import RasaUnavailable
from bot.schemas import Button, ChatRequest, ChatResponse, Reply
from bot.settings import Settings
from bot.stopwords import Command, intent_of, stop_command

logger = logging.getLogger(__name__)

WEB_CHANNEL = "web"
# The web page asks for the greeting and menu when it opens.
PAGE_PAYLOADS = frozenset({"/greet"})
ISSUED_TTL_SECONDS = 24 * 3600


def render_replies(messages: list[dict[str, Any]]) -> list[Reply]:
    """Rasa's bot messages as chat API replies (text with optional buttons)."""
    return [
        Reply(text=r.text, buttons=[Button(title=c.title, payload=c.payload) for c in r.choices])
        for r in Outbound.from_rasa(messages)
    ]


def _parse(body: dict[str, Any], max_chars: int, caller: Caller) -> ChatRequest:
    if not caller.integrator:
        body = {k: v for k, v in body.items() if k != "user_id"}  # bound to the session
    try:
        request = ChatRequest.model_validate(body)
    except ValidationError as error:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in error.errors()
        )
        raise ApiError(400, "invalid_request", details) from None
    if request.text is not None and len(request.text) > max_chars:
        raise ApiError(413, "text_too_long", f"The text is longer than {max_chars} characters.")
    if caller.integrator and not request.user_id:
        raise ApiError(400, "invalid_request", "user_id: required with an API key")
    return request


async def chat(request: web.Request) -> web.Response:
    app = request.app
    settings, messages = app[SETTINGS], app[MESSAGES]
    started = time.monotonic()
    caller = await _caller(request)
    chat_request = _parse(await read_json_object(request), settings.max_text_chars, caller)
    user_id = chat_request.user_id if caller.integrator and chat_request.user_id else caller.user_id

    location = chat_request.location
    message = Inbound(
        channel=WEB_CHANNEL,
        user_id=user_id,
        address=user_id,
        message_id="",
        kind="location" if location is not None else "text",
        text=chat_request.text or "",
        lat=location.lat if location is not None else None,
        lon=location.lon if location is not None else None,
    )
    message = await _as_issued_button(app, message)
    MESSAGES_IN.labels(WEB_CHANNEL).inc()
    command = stop_command(message)  # STOP, MULAI: before NLU, without Rasa
    obeyed = await _obey(app, command, message) if command is not None else None
    if obeyed is not None:
        return _with_session(obeyed, caller, settings)
    text = message.rasa_text()
    metadata = {"channel": message.channel, "locale": message.locale}
    try:
        # Web traffic holds at most its share of Rasa; Telegram and WhatsApp keep the rest.
        async with asyncio.timeout(settings.rasa_timeout_seconds):
            await app[WEB_SLOTS].acquire()
    except TimeoutError:
        return _with_session(_rasa_unavailable(app, text, message.sender_id), caller, settings)
    try:
        turn = await app[RASA].send(message.sender_id, text, metadata)
    except RasaUnavailable as error:
        logger.warning("Rasa unavailable: %s", error)
        return _with_session(_rasa_unavailable(app, text, message.sender_id), caller, settings)
    finally:
        app[WEB_SLOTS].release()

    replies = render_replies(turn.messages) or [Reply(text=messages["no_reply"])]
    await _remember_buttons(app, message.sender_id, replies)
    try:  # "hapus data saya", confirmed: erased before the reply says so
        await datarights.after_turn(
            app[REDIS], settings.redis_prefix, message.sender_id, turn.messages
        )
    except RedisError as error:
        logger.warning("Erasure or stop not done: Redis unavailable (%s)", type(error).__name__)
        return _with_session(_rasa_unavailable(app, text), caller, settings)
    count_for_dashboard(app[REDIS], settings.redis_prefix, message.sender_id, turn.intent)
    MESSAGES_OUT.labels(WEB_CHANNEL, "sent").inc(len(replies))
    REPLY_SECONDS.labels(WEB_CHANNEL).observe(time.monotonic() - started)
    response = ChatResponse(
        replies=replies, intent=turn.intent, confidence=turn.confidence, faq_id=turn.faq_id
    )
    return _with_session(web.json_response(response.model_dump()), caller, settings)


async def _caller(request: web.Request) -> Caller:
    """An integrator (API key), or a web session (cookie; issued now if missing), within limits."""
    app = request.app
    settings, redis, prefix = app[SETTINGS], app[REDIS], app[SETTINGS].redis_prefix
    if api_key_valid(request, settings.api_key_set):
        return Caller(user_id="", integrator=True)
    if request.headers.get("Authorization"):
        raise ApiError(401, "invalid_api_key", "The API key is not valid.")
    ip = client_ip(request, settings.trust_proxy)
    wait = await over_limit(redis, prefix, "ip", ip, settings.web_ip_messages_per_minute)
    scope = "web_ip"
    session_id = app[SESSIONS].verify(request.cookies.get(COOKIE_NAME))
    new_session = None
    if session_id is None:
        new_session = app[SESSIONS].issue()
        session_id = app[SESSIONS].verify(new_session) or ""
    if wait is None:
        scope = "web_session"
        wait = await over_limit(
            redis, prefix, "session", session_id, settings.user_messages_per_minute
        )
    if wait is not None:
        RATE_LIMITED.labels(scope).inc()
        raise ApiError(
            429,
            "too_many_requests",
            app[MESSAGES]["slow_down"],
            headers={"Retry-After": str(wait)},
        )
    return Caller(user_id=session_id, integrator=False, new_session=new_session)


def _with_session(response: web.Response, caller: Caller, settings: Settings) -> web.Response:
    if caller.new_session is not None:
        set_session_cookie(response, caller.new_session, settings)
    return response


def set_session_cookie(response: web.StreamResponse, value: str, settings: Settings) -> None:
    secure = settings.environment == "production" or (
        settings.public_url is not None and settings.public_url.scheme == "https"
    )
    response.set_cookie(
        COOKIE_NAME,
        value,
        max_age=SESSION_MAX_AGE,
        path="/",
        httponly=True,
        secure=secure,
        samesite="Strict",
    )


def _issued_key(app: web.Application, sender_id: str) -> str:
    return f"{app[SETTINGS].redis_prefix}web:issued:{pseudonym(sender_id, 'web-issued')}"


async def _remember_buttons(app: web.Application, sender_id: str, replies: list[Reply]) -> None:
    """The payloads we offered this user: only these may come back as `/intent`."""
    payloads = [b.payload for r in replies for b in r.buttons if b.payload.startswith("/")]
    if not payloads:
        return
    key = _issued_key(app, sender_id)
    with contextlib.suppress(RedisError):
        async with app[REDIS].pipeline(transaction=True) as pipe:
            pipe.sadd(key, *payloads)
            pipe.expire(key, ISSUED_TTL_SECONDS)
            await pipe.execute()


async def _as_issued_button(app: web.Application, message: Inbound) -> Inbound:
    """Typed `/intent` text is words (NLU and the danger-sign rules read it) unless it is a
    payload we offered as a button, or the page's own greeting."""
    text = message.text.strip()
    if message.kind != "text" or not text.startswith("/"):
        return message
    issued = text in PAGE_PAYLOADS
    if not issued:
        with contextlib.suppress(RedisError):
            issued = bool(await app[REDIS].sismember(_issued_key(app, message.sender_id), text))
    return replace(message, kind="button", payload=text) if issued else message


async def _obey(app: web.Application, command: Command, message: Inbound) -> web.Response | None:
    """The answer to STOP or MULAI; None when the message is for the assistant after all."""
    try:
        reply = await datarights.obey(
            app[REDIS], app[SETTINGS].redis_prefix, command, message.sender_id
        )
    except RedisError as error:
        logger.warning("STOP/MULAI not done: Redis unavailable (%s)", type(error).__name__)
        return _rasa_unavailable(app, message.rasa_text())
    if reply is None:
        return None
    MESSAGES_OUT.labels(WEB_CHANNEL, "sent").inc()
    intent = intent_of(command)
    body = ChatResponse(
        replies=[Reply(text=reply)],
        intent=intent,
        confidence=1.0 if intent else None,
        faq_id=None,
    )
    return web.json_response(body.model_dump())


def _rasa_unavailable(
    app: web.Application, text: str, sender_id: str | None = None
) -> web.Response:
    """503 with a polite reply; a danger sign still gets the emergency reply first. With
    `sender_id` (Rasa never answered this message), the emergency is counted for the
    dashboard: the web chat does not retry, so Rasa will not count it later."""
    safety, messages = app[SAFETY], app[MESSAGES]
    emergency = safety.reply_for(text)
    if emergency is not None and sender_id is not None:
        prefix = app[SETTINGS].redis_prefix
        count_for_dashboard(app[REDIS], prefix, sender_id, "emergency", emergency=True)
    replies = [Reply(text=emergency)] if emergency is not None else []
    replies.append(Reply(text=messages["rasa_unavailable"]))
    body = ChatResponse(
        replies=replies,
        intent="emergency" if emergency is not None else None,
        confidence=1.0 if emergency is not None else None,
        faq_id=None,
    ).model_dump()
    return error_response(
        503, "assistant_unavailable", "The assistant is not answering; try again shortly.", **body
    )
