"""The web chat page (a small page that talks to the chat API)."""

from __future__ import annotations

from pathlib import Path

import jinja2
from aiohttp import web

from bot.access import COOKIE_NAME
from bot.chat import set_session_cookie
from bot.keys import SESSIONS, SETTINGS

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, enable_async=False
)


async def page(request: web.Request) -> web.Response:
    """The page, and a session cookie for its conversation when it has none yet."""
    html = _environment.get_template("chat.html").render(api_path="/api/v1/chat")
    response = web.Response(text=html, content_type="text/html", charset="utf-8")
    response.headers["Cache-Control"] = "no-store"
    sessions = request.app[SESSIONS]
    if sessions.verify(request.cookies.get(COOKIE_NAME)) is None:
        set_session_cookie(response, sessions.issue(), request.app[SETTINGS])
    return response
