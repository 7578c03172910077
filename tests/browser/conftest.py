"""The console in a real browser: Debian's chromium driven by Playwright.

`gateway` runs the gateway process alone (pages that need no Rasa); `stack` runs the
whole assistant (scripts/stack.py) for the web chat. Accounts are made with the
console's own functions, straight against Redis. Screenshots go to
$KS_SCREENSHOT_DIR (default build/screenshots; docs/screenshots for the README).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright
from redis.asyncio import Redis

from bot.console.__main__ import create_admin
from bot.console.auth import Role
from bot.console.state import Console
from scripts.stack import APP_PYTHON, MODEL, QUIET_ENV, ROOT, Stack, free_port, wait_http
from tests.conftest import TEST_REDIS_URL

T = TypeVar("T")
PASSWORD = "kata-sandi-browser-1"
# name -> role and regions; "dinkes" is made by the create-admin command's function.
ACCOUNTS = {
    "ani": (Role.PROMOTER, ()),
    "budi": (Role.PROMOTER, ()),
    "kader1": (Role.KADER, ("PY74100110081",)),
}
SCREENSHOTS = Path(os.environ.get("KS_SCREENSHOT_DIR", ROOT / "build" / "screenshots"))
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def run_async(work: Coroutine[Any, Any, T]) -> T:
    """Run async Redis work from a test: Playwright's sync API holds this thread's loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result()


def chromium_path() -> str:
    return os.environ.get("CHROMIUM") or "/usr/bin/chromium"


async def _make_accounts(prefix: str) -> None:
    redis = Redis.from_url(TEST_REDIS_URL)
    try:
        console = Console.open(redis, prefix)
        await create_admin(console, "dinkes", PASSWORD)
        for name, (role, regions) in ACCOUNTS.items():
            await console.accounts.create("test", name, role, regions, PASSWORD)
    finally:
        await redis.aclose()


async def _clean(prefix: str) -> None:
    redis = Redis.from_url(TEST_REDIS_URL)
    keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


@dataclass
class Gateway:
    """The gateway process alone, with the FAQ content published as at start-up."""

    prefix: str = field(default_factory=lambda: f"kstest:{uuid.uuid4().hex[:8]}:")
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> None:
        env = {
            **os.environ,
            **QUIET_ENV,
            "PYTHONPATH": str(ROOT),
            "REDIS_URL": TEST_REDIS_URL,
            "KS_REDIS_PREFIX": self.prefix,
            "PORT": str(self.port),
            "RASA_URL": "http://127.0.0.1:9",  # these pages never ask Rasa
            "RASA_TOKEN": secrets.token_urlsafe(24),
        }
        publish = [str(APP_PYTHON), "-m", "actions.content", "publish", str(ROOT / "data" / "faq")]
        subprocess.run(publish, env=env, cwd=ROOT, check=True, capture_output=True)
        log = ROOT / "build" / "logs" / f"console-gateway-{self.port}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(APP_PYTHON), "-m", "bot"], cwd=ROOT, env=env, stdout=out, stderr=out
            )
        wait_http(f"{self.url}healthz", 60, self.process)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)


@pytest.fixture(scope="session")
def gateway() -> Iterator[Gateway]:
    running = Gateway()
    try:
        running.start()
        run_async(_make_accounts(running.prefix))
        yield running
    finally:
        running.stop()
        run_async(_clean(running.prefix))


# The retrain in tests/browser/test_retrain.py finetunes for this share of the
# configured epochs (production: 0.25), to fit CI's time.
RETRAIN_EPOCH_FRACTION = "0.1"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: `make test` trains it before this test")
    running = Stack(
        redis_url=TEST_REDIS_URL,
        redis_prefix=f"kstest:{uuid.uuid4().hex[:8]}:",
        gateway_port=free_port(),
        rasa_port=free_port(),
        actions_port=free_port(),
        models_dir=tmp_path_factory.mktemp("console-models"),
        extra_env={"KS_RETRAIN_EPOCH_FRACTION": RETRAIN_EPOCH_FRACTION},
    )
    try:
        running.start()
        run_async(_make_accounts(running.redis_prefix))
        yield running
    finally:
        running.stop()
        run_async(_clean(running.redis_prefix))


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=args)
    yield browser
    browser.close()


Login = Callable[..., Page]


@pytest.fixture
def login(chromium: Browser) -> Iterator[Login]:
    """`login(base_url, username, viewport=DESKTOP)`: a logged-in page in its own context."""
    contexts = []

    def open_as(base_url: str, username: str, viewport: dict[str, int] = DESKTOP) -> Page:
        context = chromium.new_context(viewport=viewport, locale="id-ID")  # type: ignore[arg-type]
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{base_url}console/login")
        page.get_by_label("Nama pengguna").fill(username)
        page.get_by_label("Kata sandi").fill(PASSWORD)
        page.get_by_role("button", name="Masuk").click()
        expect(page.get_by_role("heading", name=f"Halo, {username}")).to_be_visible()
        return page

    yield open_as
    for context in contexts:
        context.close()


def screenshot(page: Page, name: str, full_page: bool = False) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
