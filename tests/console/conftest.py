"""The console on a real gateway app (real Redis; Rasa is never called by these pages)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse, ClientSession, CookieJar
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from actions.content import ContentStore, load_entries
from bot.app import create_app
from bot.console.state import Console
from bot.settings import Settings
from tests.conftest import TEST_REDIS_URL

FAQ = Path(__file__).resolve().parents[2] / "data" / "faq"
PASSWORD = "kata-sandi-uji-123"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def console_settings(prefix: str, **overrides: str) -> Settings:
    values: dict[str, Any] = {
        "REDIS_URL": TEST_REDIS_URL,
        "KS_REDIS_PREFIX": prefix,
        "RASA_URL": "http://127.0.0.1:9",
        "RASA_TOKEN": "rasa-secret-for-tests",
        "KS_SECRET_KEY": "console-test-secret-0123456789",
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Page:
    status: int
    text: str
    url: str

    @property
    def csrf(self) -> str:
        found = _CSRF.search(self.text)
        assert found, "the page has a form with a CSRF token"
        return found.group(1)


class Browser:
    """A visitor with a cookie jar, reading pages and posting their forms as a browser does."""

    def __init__(self, server: TestServer) -> None:
        self.server = server
        self.session = ClientSession(cookie_jar=CookieJar(unsafe=True))  # cookies for 127.0.0.1
        self.page: Page | None = None

    async def _page(self, response: ClientResponse) -> Page:
        self.page = Page(response.status, await response.text(), str(response.url))
        return self.page

    async def get(self, path: str) -> Page:
        return await self._page(await self.session.get(self.server.make_url(path)))

    async def post(self, path: str, data: dict[str, str], csrf: str | None = "page") -> Page:
        """Post a form; `csrf="page"` sends the token of the last page read."""
        fields = dict(data)
        if csrf == "page":
            assert self.page is not None
            fields["csrf"] = self.page.csrf
        elif csrf is not None:
            fields["csrf"] = csrf
        return await self._page(await self.session.post(self.server.make_url(path), data=fields))

    async def login(self, username: str, password: str = PASSWORD) -> Page:
        await self.get("/console/login")
        return await self.post("/console/login", {"username": username, "password": password})


@dataclass
class ConsoleSite:
    console: Console
    redis: Redis
    prefix: str
    server: TestServer
    browsers: list[Browser]

    def browser(self) -> Browser:
        browser = Browser(self.server)
        self.browsers.append(browser)
        return browser

    async def account(self, username: str, role: str, regions: tuple[str, ...] = ()) -> None:
        from bot.console.auth import Role

        await self.console.accounts.create("test", username, Role(role), regions, PASSWORD)


@pytest.fixture
async def site(redis: Redis, redis_prefix: str) -> AsyncIterator[ConsoleSite]:
    await ContentStore(redis, redis_prefix).publish(load_entries(FAQ))
    server = TestServer(create_app(console_settings(redis_prefix)))
    await server.start_server()
    site = ConsoleSite(Console.open(redis, redis_prefix), redis, redis_prefix, server, [])
    yield site
    for browser in site.browsers:
        await browser.session.close()
    await server.close()
