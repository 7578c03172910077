"""The web console at /console: accounts, content editing and review (issue 10).

`setup(app)` mounts it on the gateway; the pages are in *_views.py, the rules
behind them in auth.py, sessions.py, invites.py, content.py and audit.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from bot.console import (
    admin_views,
    cadre_views,
    content_views,
    dashboard_views,
    inbox_views,
    login_views,
    posyandu_views,
    retrain_views,
    sheets_views,
)
from bot.console.pages import console_pages, error_page
from bot.console.state import CONSOLE, Console
from bot.keys import REDIS, SETTINGS

__all__ = ["setup"]

PREFIX = "/console"


async def _not_found(request: web.Request) -> web.Response:
    return error_page(request, 404)


async def _to_start(request: web.Request) -> web.Response:
    raise web.HTTPFound(f"{PREFIX}/")


async def _console_ctx(app: web.Application) -> AsyncIterator[None]:
    app[CONSOLE] = Console.open(app[REDIS], app[SETTINGS].redis_prefix)
    yield


def setup(app: web.Application) -> None:
    """Mount the console (call after the Redis cleanup context is registered)."""
    console = web.Application(middlewares=[console_pages])
    for views in (login_views, admin_views, content_views, posyandu_views, cadre_views):
        console.router.add_routes(views.routes)
    for views in (sheets_views, inbox_views, dashboard_views, retrain_views):
        console.router.add_routes(views.routes)
    console.router.add_route("*", "/{tail:.*}", _not_found)
    app.router.add_get(PREFIX, _to_start)
    app.add_subapp(PREFIX, console)
    app.cleanup_ctx.append(_console_ctx)
    app.cleanup_ctx.append(sheets_views.sheets_ctx)
