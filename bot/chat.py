"""`POST /api/v1/chat`: one user message in, the assistant's replies out."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from bot.channels.message import Inbound, Outbound
from bot.errors import ApiError, error_response, read_json_object
from bot.keys import MESSAGES, RASA, SAFETY, SETTINGS
from bot.rasa_client import RasaUnavailable
from bot.schemas import Button, ChatRequest, ChatResponse, Reply

logger = logging.getLogger(__name__)

WEB_CHANNEL = "web"


def render_replies(messages: list[dict[str, Any]]) -> list[Reply]:
    """Rasa's bot messages as chat API replies (text with optional buttons)."""
    return [
        Reply(text=r.text, buttons=[Button(title=c.title, payload=c.payload) for c in r.choices])
        for r in Outbound.from_rasa(messages)
    ]


def _parse(body: dict[str, Any], max_chars: int) -> ChatRequest:
    try:
        request = ChatRequest.model_validate(body)
    except ValidationError as error:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in error.errors()
        )
        raise ApiError(400, "invalid_request", details) from None
    if request.text is not None and len(request.text) > max_chars:
        raise ApiError(413, "text_too_long", f"The text is longer than {max_chars} characters.")
    return request


async def chat(request: web.Request) -> web.Response:
    app = request.app
    settings, messages = app[SETTINGS], app[MESSAGES]
    chat_request = _parse(await read_json_object(request), settings.max_text_chars)

    location = chat_request.location
    message = Inbound(
        channel=WEB_CHANNEL,
        user_id=chat_request.user_id,
        address=chat_request.user_id,
        message_id="",
        kind="location" if location is not None else "text",
        text=chat_request.text or "",
        lat=location.lat if location is not None else None,
        lon=location.lon if location is not None else None,
    )
    text = message.rasa_text()
    metadata = {"channel": message.channel, "locale": message.locale}
    try:
        turn = await app[RASA].send(message.sender_id, text, metadata)
    except RasaUnavailable as error:
        logger.warning("Rasa unavailable: %s", error)
        return _rasa_unavailable(app, text)

    replies = render_replies(turn.messages) or [Reply(text=messages["no_reply"])]
    response = ChatResponse(
        replies=replies, intent=turn.intent, confidence=turn.confidence, faq_id=turn.faq_id
    )
    return web.json_response(response.model_dump())


def _rasa_unavailable(app: web.Application, text: str) -> web.Response:
    """503 with a polite reply; a danger sign still gets the emergency reply first."""
    safety, messages = app[SAFETY], app[MESSAGES]
    emergency = safety.reply_for(text)
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
