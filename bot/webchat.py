"""The web chat page (a small page that talks to the chat API)."""

from __future__ import annotations

from pathlib import Path

import jinja2
from aiohttp import web

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, enable_async=False
)


async def page(_: web.Request) -> web.Response:
    html = _environment.get_template("chat.html").render(api_path="/api/v1/chat")
    return web.Response(text=html, content_type="text/html", charset="utf-8")
